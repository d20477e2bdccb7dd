//===- OpsAttention.cpp - ONNX Runtime's attention contrib ops ------------===//
//
// The com.microsoft ops that ONNX Runtime GenAI's model builder emits for
// decoder attention:
//
//  - RotaryEmbedding(input, position_ids, cos_cache, sin_cache) ->
//    `llmc.rope` of the rows the position ids pick from the caches.
//  - GroupQueryAttention(query, key, value, past_key, past_value, seqlens_k,
//    total_sequence_length[, cos_cache, sin_cache[, position_ids]]) ->
//    (`llmc.rope` of q and k when do_rotary) + `llmc.attention` (its
//    `softcap` the op's).
//
// Both read their rotary tables as cos_cache[position] rows [max_pos, R/2]
// (R the rotary dim); the caches are imported as constants so that FuseRope
// can check them against the standard frequencies and compute the tables
// from the positions instead (`llmc.rope_cos_sin`).
//
// GroupQueryAttention's own masking is written out as the attention's mask
// operand, so that CodeGen's mask check (which evaluates masks at the
// runtime's call sizes) verifies it rather than the importer assuming it.
// For batch b with seqlens_k[b] = (valid keys - 1) and S new tokens, ONNX
// Runtime's query i sees keys j with
//     j <= last(b, i) = seqlens_k[b] + 1 - S + i            (causal)
//     j >  last(b, i) - local_window_size          when local_window_size > 0
// (the window holds local_window_size keys, the query's own included, as
// Hugging Face's sliding_window, which GenAI's builder copies into it; ONNX
// Runtime 1.30 computes exactly this, older CPU kernels one key more). With
// one unpadded sequence (attention_mask all ones) last(b, i) is the query's
// own position P + i.
//
//===----------------------------------------------------------------------===//

#include "OpHelpers.h"
#include "OpRegistry.h"

#include "llmc/LLMCOps.h"

#include "mlir/Dialect/Traits.h"

#include "llvm/ADT/StringSwitch.h"

#include <cmath>

using namespace llmc::onnx_import;
using llvm::Error;
using llvm::SmallVector;

namespace {

constexpr llvm::StringLiteral kMS = "com.microsoft";

/// Rotary caches are imported as constants; beyond this many elements
/// (a [131072, 64] cache of a 128K-context model is 8M) they are refused.
constexpr int64_t kMaxCacheElements = int64_t(1) << 25;

mlir::RankedTensorType tensorType(llvm::ArrayRef<int64_t> shape, mlir::Type elem) {
  return mlir::RankedTensorType::get(shape, elem);
}

mlir::Type i64(NodeContext &nc) { return mlir::IntegerType::get(nc.getContext(), 64); }

/// A rank-0 i64 constant.
mlir::Value scalarI64(NodeContext &nc, int64_t v) {
  auto t = tensorType({}, i64(nc));
  return nc.constantOf(t, mlir::DenseElementsAttr::get(t, llvm::APInt(64, uint64_t(v), true)));
}

/// `v` converted to i64 (same shape).
mlir::Value toI64(NodeContext &nc, mlir::Value v) {
  auto t = llvm::cast<mlir::RankedTensorType>(v.getType());
  if (t.getElementType().isInteger(64))
    return v;
  return nc.builder().create<llmc::CastOp>(nc.loc(), t.clone(i64(nc)), v);
}

/// `v` with its elements laid out as `shape` (entries -1 or static).
mlir::Value reshapeTo(NodeContext &nc, mlir::Value v, llvm::ArrayRef<int64_t> shape) {
  auto t = llvm::cast<mlir::RankedTensorType>(v.getType());
  SmallVector<int64_t, 4> dims;
  for (int64_t d : shape)
    dims.push_back(d < 0 ? mlir::ShapedType::kDynamic : d);
  return nc.builder().create<llmc::ReshapeOp>(
      nc.loc(), mlir::RankedTensorType::get(dims, t.getElementType()), v,
      nc.builder().getDenseI64ArrayAttr(shape));
}

/// An elementwise binary op of two broadcastable tensors (numpy rules; the
/// callers' shapes always broadcast).
template <typename Op>
mlir::Value binary(NodeContext &nc, mlir::Value a, mlir::Value b, mlir::Type elem) {
  SmallVector<int64_t, 4> dims;
  (void)mlir::OpTrait::util::getBroadcastedShape(
      llvm::cast<mlir::RankedTensorType>(a.getType()).getShape(),
      llvm::cast<mlir::RankedTensorType>(b.getType()).getShape(), dims);
  return nc.builder().create<Op>(nc.loc(), mlir::RankedTensorType::get(dims, elem), a, b);
}

/// range(0, n, 1) as i64 [n] for a rank-0 i64 `n`.
mlir::Value iota(NodeContext &nc, mlir::Value n) {
  return nc.builder().create<llmc::RangeOp>(
      nc.loc(), tensorType({mlir::ShapedType::kDynamic}, i64(nc)), scalarI64(nc, 0), n,
      scalarI64(nc, 1));
}

/// Input `i`, an initializer, as an llmc.constant (its values are read by
/// the rope fusion); other values as they are. Every layer reads the same
/// caches: the first converts them, the others reuse that constant.
llvm::Expected<mlir::Value> cacheOperand(NodeContext &nc, unsigned i) {
  TensorInfo &info = nc.input(i);
  if (info.source != TensorInfo::Source::Initializer || info.constant ||
      (info.value && info.value.getDefiningOp<llmc::ConstantOp>()))
    return nc.operand(i);
  auto n = info.staticNumElements();
  if (!n || *n > kMaxCacheElements)
    return nc.error("its rotary cache '" + nc.node().input(int(i)) + "' has more than " +
                    llvm::Twine(kMaxCacheElements) + " elements");
  auto bytes = nc.importer().model().initializerBytes(size_t(info.index));
  if (!bytes)
    return bytes.takeError();
  auto type = tensorTypeOf(info);
  info.value = nc.constantOf(type, denseFromBytes(type, *bytes));
  return info.value;
}

/// Checks of a cos_cache/sin_cache pair [max_pos, R/2] for heads of `headDim`;
/// returns R/2.
llvm::Expected<int64_t> checkCaches(NodeContext &nc, unsigned cosIdx, mlir::Type elem,
                                    int64_t headDim) {
  if (!nc.hasInput(cosIdx) || !nc.hasInput(cosIdx + 1))
    return nc.error("needs both cos_cache and sin_cache");
  TensorInfo &c = nc.input(cosIdx), &s = nc.input(cosIdx + 1);
  if (c.rank() != 2 || s.rank() != 2 || c.dims != s.dims || c.elemType != elem ||
      s.elemType != elem)
    return nc.error("expects cos_cache and sin_cache of one shape [max_position, "
                    "rotary_dim / 2] and the input's element type");
  auto half = c.staticDim(1);
  if (!half || *half <= 0 || 2 * *half > headDim)
    return nc.error("its rotary caches are " + dimsToString(nc, c.dims) +
                    "; rotary_dim / 2 must be static and at most head_size / 2 = " +
                    llvm::Twine(headDim / 2));
  return *half;
}

/// position_ids [B, S] of int32/int64, S the input's sequence dim `seq`.
Error checkPositionIds(NodeContext &nc, unsigned i, const DimExpr &seq) {
  TensorInfo &p = nc.input(i);
  if (!p.elemType.isInteger(64) && !p.elemType.isInteger(32))
    return nc.error("expects integer position_ids");
  if (p.rank() != 2 || p.dims[1] != seq)
    return nc.error("expects position_ids [batch, sequence_length] (" +
                    dimsToString(nc, p.dims) +
                    " given; the single-offset form is not supported)");
  return Error::success();
}

/// cos_cache[positions] and sin_cache[positions] ([B|1, S, R/2]) for
/// positions [B|1, S].
llvm::Expected<std::pair<mlir::Value, mlir::Value>>
gatherTables(NodeContext &nc, unsigned cosIdx, mlir::Value positions) {
  auto c = cacheOperand(nc, cosIdx);
  if (!c)
    return c.takeError();
  auto s = cacheOperand(nc, cosIdx + 1);
  if (!s)
    return s.takeError();
  auto ct = llvm::cast<mlir::RankedTensorType>(c->getType());
  auto pt = llvm::cast<mlir::RankedTensorType>(positions.getType());
  auto type = mlir::RankedTensorType::get(
      {pt.getDimSize(0), pt.getDimSize(1), ct.getDimSize(1)}, ct.getElementType());
  mlir::OpBuilder &b = nc.builder();
  return std::make_pair(
      b.create<llmc::GatherOp>(nc.loc(), type, *c, positions, 0).getResult(),
      b.create<llmc::GatherOp>(nc.loc(), type, *s, positions, 0).getResult());
}

llmc::RopeConventionAttr conventionOf(NodeContext &nc, bool interleaved) {
  return llmc::RopeConventionAttr::get(nc.getContext(),
                                       interleaved ? llmc::RopeConvention::interleaved
                                                   : llmc::RopeConvention::half);
}

/// An integer attribute that must be 0 or 1.
llvm::Expected<bool> flagAttr(NodeContext &nc, llvm::StringRef name) {
  auto v = nc.attrInt(name, 0);
  if (!v)
    return v.takeError();
  if (*v != 0 && *v != 1)
    return nc.error("attribute " + name + " must be 0 or 1");
  return *v == 1;
}

// --- RotaryEmbedding ------------------------------------------------------------------
//
// input [B, S, hidden] (heads of head_size side by side) or [B, N, S, H];
// attributes interleaved, num_heads, rotary_embedding_dim, scale (unused by
// ONNX Runtime's CPU kernel), is_packed_batching.

struct RotaryShape {
  int64_t heads = 0, headDim = 0, half = 0;
};

llvm::Expected<RotaryShape> rotaryShape(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.hasInput(1))
    return nc.error("expects input and position_ids");
  TensorInfo &x = nc.input(0);
  if (!llvm::isa<mlir::FloatType>(x.elemType) || (x.rank() != 3 && x.rank() != 4))
    return nc.error("expects a float input [batch, seq, hidden] or "
                    "[batch, heads, seq, head_size]");
  auto packed = flagAttr(nc, "is_packed_batching");
  if (!packed)
    return packed.takeError();
  if (*packed)
    return nc.error("packed batching (is_packed_batching = 1) is not supported");
  auto interleaved = flagAttr(nc, "interleaved");
  if (!interleaved)
    return interleaved.takeError();
  auto numHeads = nc.attrInt("num_heads", 0);
  if (!numHeads)
    return numHeads.takeError();
  auto rotaryDim = nc.attrInt("rotary_embedding_dim", 0);
  if (!rotaryDim)
    return rotaryDim.takeError();
  auto last = x.staticDim(x.rank() - 1);
  if (!last)
    return nc.error("expects a static last dim");
  if (!nc.hasInput(2) || nc.input(2).rank() != 2 || !nc.input(2).staticDim(1))
    return nc.error("expects cos_cache [max_position, rotary_dim / 2]");
  const int64_t half = *nc.input(2).staticDim(1);
  RotaryShape r;
  if (x.rank() == 4) {
    r.headDim = *last;
    r.heads = 0;
  } else {
    // ONNX Runtime: head_size = 2 * (cos_cache width) unless num_heads says
    // otherwise.
    r.headDim = *numHeads > 0 ? *last / *numHeads : 2 * half;
    if (r.headDim <= 0 || *last % r.headDim)
      return nc.error("hidden size " + llvm::Twine(*last) + " is not a multiple of head_size " +
                      llvm::Twine(r.headDim));
    r.heads = *last / r.headDim;
  }
  if (*rotaryDim != 0 && *rotaryDim != 2 * half)
    return nc.error("rotary_embedding_dim " + llvm::Twine(*rotaryDim) +
                    " disagrees with cos_cache's width " + llvm::Twine(half));
  auto checked = checkCaches(nc, 2, x.elemType, r.headDim);
  if (!checked)
    return checked.takeError();
  r.half = *checked;
  if (Error e = checkPositionIds(nc, 1, x.dims[x.rank() == 4 ? 2 : 1]))
    return std::move(e);
  return r;
}

Error inferRotaryEmbedding(NodeContext &nc) {
  auto r = rotaryShape(nc);
  if (!r)
    return r.takeError();
  auto scale = nc.attrFloat("scale", 1.0f);
  if (!scale)
    return scale.takeError();
  TensorInfo &x = nc.input(0);
  nc.setOutput(0, x.elemType, x.dims);
  return Error::success();
}

Error emitRotaryEmbedding(NodeContext &nc) {
  RotaryShape r = cantFail(rotaryShape(nc));
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  auto pos = nc.operand(1);
  if (!pos)
    return pos.takeError();
  auto tables = gatherTables(nc, 2, *pos);
  if (!tables)
    return tables.takeError();
  mlir::OpBuilder &b = nc.builder();
  nc.setResult(0, b.create<llmc::RopeOp>(
                      nc.loc(), nc.outputType(0), *x, tables->first, tables->second,
                      conventionOf(nc, nc.intAttrOr("interleaved", 0) == 1),
                      r.heads ? b.getI64IntegerAttr(r.heads) : mlir::IntegerAttr()));
  return Error::success();
}

// --- GroupQueryAttention --------------------------------------------------------------

enum GqaInput : unsigned {
  Query, Key, Value, PastKey, PastValue, SeqLensK, TotalSeqLen, CosCache, SinCache,
  PositionIds, AttentionBias, HeadSink
};

struct GqaShape {
  int64_t heads = 0, kvHeads = 0, headDim = 0, half = 0;
  bool packed = false;
};

llvm::Expected<GqaShape> gqaShape(NodeContext &nc) {
  GqaShape g;
  auto heads = nc.attrInt("num_heads", 0);
  if (!heads)
    return heads.takeError();
  auto kvHeads = nc.attrInt("kv_num_heads", 0);
  if (!kvHeads)
    return kvHeads.takeError();
  if (*heads <= 0 || *kvHeads <= 0 || *heads % *kvHeads)
    return nc.error("needs num_heads and kv_num_heads > 0, num_heads a multiple of "
                    "kv_num_heads");
  g.heads = *heads;
  g.kvHeads = *kvHeads;

  // What llmc's attention does not compute is refused by name.
  auto softcap = nc.attrFloat("softcap", 0.0f);
  if (!softcap)
    return softcap.takeError();
  if (!(*softcap >= 0.0f) || std::isinf(*softcap))
    return nc.error("softcap must be 0 (none) or positive and finite");
  for (llvm::StringRef flag : {"smooth_softmax", "use_smooth_softmax"}) {
    auto on = nc.attrInt(flag, 0);
    if (!on)
      return on.takeError();
    if (*on != 0)
      return nc.error(flag + " (an extra zero logit in the softmax) is not supported");
  }
  auto qkOut = nc.attrInt("qk_output", 0);
  if (!qkOut)
    return qkOut.takeError();
  if (*qkOut != 0 || (nc.numOutputs() > 3 && nc.isOutputUsed(3)))
    return nc.error("its attention-score output (qk_output) is not supported");
  if (nc.hasInput(AttentionBias))
    return nc.error("an attention_bias input is not supported (the program computes "
                    "causal attention)");
  if (nc.hasInput(HeadSink))
    return nc.error("a head_sink input is not supported");
  auto window = nc.attrInt("local_window_size", -1);
  if (!window)
    return window.takeError();
  if (*window < -1 || *window == 0)
    return nc.error("local_window_size must be -1 (none) or > 0");
  auto doRotary = flagAttr(nc, "do_rotary");
  if (!doRotary)
    return doRotary.takeError();
  auto interleaved = flagAttr(nc, "rotary_interleaved");
  if (!interleaved)
    return interleaved.takeError();

  if (!nc.hasInput(Query))
    return nc.error("expects a query input");
  TensorInfo &q = nc.input(Query);
  if (!llvm::isa<mlir::FloatType>(q.elemType) || q.rank() != 3 || !q.staticDim(2))
    return nc.error("expects a float query [batch, sequence_length, hidden] with a "
                    "static hidden size");
  g.packed = !nc.hasInput(Key) && !nc.hasInput(Value);
  if (!g.packed && (!nc.hasInput(Key) || !nc.hasInput(Value)))
    return nc.error("needs both key and value, or neither (packed QKV)");
  const int64_t width = *q.staticDim(2);
  const int64_t parts = g.packed ? g.heads + 2 * g.kvHeads : g.heads;
  if (width % parts)
    return nc.error("query width " + llvm::Twine(width) + " is not a multiple of " +
                    llvm::Twine(parts) + " heads");
  g.headDim = width / parts;
  if (!g.packed)
    for (unsigned i : {unsigned(Key), unsigned(Value)}) {
      TensorInfo &t = nc.input(i);
      if (t.elemType != q.elemType || t.rank() != 3 || t.dims[0] != q.dims[0] ||
          t.dims[1] != q.dims[1] || t.staticDim(2) != g.kvHeads * g.headDim)
        return nc.error("expects key and value [batch, sequence_length, " +
                        llvm::Twine(g.kvHeads * g.headDim) + "] like the query (" +
                        dimsToString(nc, t.dims) + " given)");
    }
  if (!nc.hasInput(PastKey) || !nc.hasInput(PastValue))
    return nc.error("needs past_key and past_value (the KV cache)");
  for (unsigned i : {unsigned(PastKey), unsigned(PastValue)}) {
    TensorInfo &t = nc.input(i);
    auto heads = t.rank() == 4 ? t.staticDim(1) : std::nullopt;
    auto dim = t.rank() == 4 ? t.staticDim(3) : std::nullopt;
    if (t.elemType != q.elemType || t.rank() != 4 || (heads && *heads != g.kvHeads) ||
        (dim && *dim != g.headDim))
      return nc.error("expects past_key and past_value [batch, " + llvm::Twine(g.kvHeads) +
                      ", past_sequence_length, " + llvm::Twine(g.headDim) + "] (" +
                      dimsToString(nc, t.dims) + " given)");
  }
  // [batch], or [batch, 1] as older model builders wrote it (ReduceSum with
  // keepdims), which ONNX Runtime reads alike.
  if (!nc.hasInput(SeqLensK) || !nc.input(SeqLensK).elemType.isInteger(32) ||
      !(nc.input(SeqLensK).rank() == 1 ||
        (nc.input(SeqLensK).rank() == 2 &&
         nc.input(SeqLensK).staticDim(1) == std::optional<int64_t>(1))))
    return nc.error("expects seqlens_k, int32 [batch]");
  if (!nc.hasInput(TotalSeqLen) || !nc.input(TotalSeqLen).elemType.isInteger(32) ||
      nc.input(TotalSeqLen).staticNumElements() != std::optional<int64_t>(1))
    return nc.error("expects total_sequence_length, an int32 scalar");
  if (*doRotary) {
    auto half = checkCaches(nc, CosCache, q.elemType, g.headDim);
    if (!half)
      return half.takeError();
    g.half = *half;
    if (nc.hasInput(PositionIds))
      if (Error e = checkPositionIds(nc, PositionIds, q.dims[1]))
        return std::move(e);
  }
  return g;
}

Error inferGroupQueryAttention(NodeContext &nc) {
  auto g = gqaShape(nc);
  if (!g)
    return g.takeError();
  TensorInfo &q = nc.input(Query);
  TensorInfo &past = nc.input(PastKey);
  auto total = add(past.dims[2], q.dims[1]);
  if (!total)
    return nc.error("cache length overflows");
  nc.setOutput(0, q.elemType, {q.dims[0], q.dims[1], DimExpr::constant(g->heads * g->headDim)});
  for (unsigned i : {1u, 2u})
    if (nc.hasOutput(i))
      nc.setOutput(i, q.elemType,
                   {q.dims[0], DimExpr::constant(g->kvHeads), *total,
                    DimExpr::constant(g->headDim)});
  return Error::success();
}

/// The mask ONNX Runtime applies (file comment): [B, 1, S, T] booleans.
llvm::Expected<mlir::Value> gqaMask(NodeContext &nc, mlir::Value tokens) {
  auto seqlens = nc.operand(SeqLensK);
  if (!seqlens)
    return seqlens.takeError();
  auto total = nc.operand(TotalSeqLen);
  if (!total)
    return total.takeError();
  mlir::Type i1 = mlir::IntegerType::get(nc.getContext(), 1);
  mlir::Value t = toI64(nc, *total);
  if (llvm::cast<mlir::RankedTensorType>(t.getType()).getRank() != 0)
    t = reshapeTo(nc, t, {});
  mlir::Value keys = reshapeTo(nc, iota(nc, t), {1, 1, 1, -1});
  mlir::Value queries = reshapeTo(nc, iota(nc, tokens), {1, 1, -1, 1});
  // first(b) = seqlens_k[b] + 1 - S: the position of the call's first token
  // ([batch] or [batch, 1]; either reshapes to [batch, 1, 1, 1]).
  mlir::Value first = binary<llmc::SubOp>(
      nc, binary<llmc::AddOp>(nc, toI64(nc, *seqlens), scalarI64(nc, 1), i64(nc)), tokens,
      i64(nc));
  mlir::Value last = binary<llmc::AddOp>(nc, reshapeTo(nc, first, {-1, 1, 1, 1}), queries,
                                         i64(nc));
  mlir::Value mask = binary<llmc::LessEqualOp>(nc, keys, last, i1);
  int64_t window = nc.intAttrOr("local_window_size", -1);
  if (window > 0) {
    mlir::Value start = binary<llmc::SubOp>(nc, last, scalarI64(nc, window), i64(nc));
    mask = binary<llmc::AndOp>(nc, mask, binary<llmc::GreaterOp>(nc, keys, start, i1), i1);
  }
  return mask;
}

Error emitGroupQueryAttention(NodeContext &nc) {
  GqaShape g = cantFail(gqaShape(nc));
  mlir::OpBuilder &b = nc.builder();
  auto query = nc.operand(Query);
  if (!query)
    return query.takeError();
  mlir::Value q = *query, k, v;
  auto qt = llvm::cast<mlir::RankedTensorType>(q.getType());
  if (g.packed) {
    const int64_t qw = g.heads * g.headDim, kw = g.kvHeads * g.headDim;
    auto piece = [&](int64_t w) {
      return mlir::RankedTensorType::get({qt.getDimSize(0), qt.getDimSize(1), w},
                                         qt.getElementType());
    };
    auto split = b.create<llmc::SplitOp>(nc.loc(),
                                         mlir::TypeRange{piece(qw), piece(kw), piece(kw)}, q,
                                         b.getI64IntegerAttr(2),
                                         b.getDenseI64ArrayAttr({qw, kw, kw}));
    q = split.getResult(0);
    k = split.getResult(1);
    v = split.getResult(2);
  } else {
    auto key = nc.operand(Key);
    if (!key)
      return key.takeError();
    auto value = nc.operand(Value);
    if (!value)
      return value.takeError();
    k = *key;
    v = *value;
  }
  auto pastK = nc.operand(PastKey);
  if (!pastK)
    return pastK.takeError();
  auto pastV = nc.operand(PastValue);
  if (!pastV)
    return pastV.takeError();
  // S, the tokens of this call, read off the graph input that has the
  // query's sequence dim.
  auto tokens = emitRunTimeDim(nc, nc.input(Query).dims[1]);
  if (!tokens)
    return tokens.takeError();

  if (nc.intAttrOr("do_rotary", 0) == 1) {
    // ONNX Runtime numbers the new tokens seqlens_k + 1 - S + i, which for
    // one unpadded sequence is past_sequence_length + i; position_ids, when
    // given, are used instead.
    mlir::Value positions;
    if (nc.hasInput(PositionIds)) {
      auto p = nc.operand(PositionIds);
      if (!p)
        return p.takeError();
      positions = *p;
    } else {
      auto i64t = tensorType({}, i64(nc));
      mlir::Value shape = b.create<llmc::ShapeOfOp>(nc.loc(), tensorType({4}, i64(nc)),
                                                    *pastK);
      mlir::Value past = b.create<llmc::GatherOp>(nc.loc(), i64t, shape, scalarI64(nc, 2), 0);
      mlir::Value end = b.create<llmc::AddOp>(nc.loc(), i64t, past, *tokens);
      mlir::Value range = b.create<llmc::RangeOp>(
          nc.loc(), tensorType({qt.getDimSize(1)}, i64(nc)), past, end, scalarI64(nc, 1));
      positions = reshapeTo(nc, range, {1, -1});
    }
    auto tables = gatherTables(nc, CosCache, positions);
    if (!tables)
      return tables.takeError();
    auto convention = conventionOf(nc, nc.intAttrOr("rotary_interleaved", 0) == 1);
    q = b.create<llmc::RopeOp>(nc.loc(), q.getType(), q, tables->first, tables->second,
                               convention, b.getI64IntegerAttr(g.heads));
    k = b.create<llmc::RopeOp>(nc.loc(), k.getType(), k, tables->first, tables->second,
                               convention, b.getI64IntegerAttr(g.kvHeads));
  }

  auto mask = gqaMask(nc, *tokens);
  if (!mask)
    return mask.takeError();
  float scale = nc.floatAttrOr("scale", 0.0f);
  if (scale == 0.0f)
    scale = 1.0f / std::sqrt(float(g.headDim));
  auto presentType = [&](unsigned i) {
    if (nc.hasOutput(i))
      return nc.outputType(i);
    return tensorType({qt.getDimSize(0), g.kvHeads, mlir::ShapedType::kDynamic, g.headDim},
                      qt.getElementType());
  };
  auto att = b.create<llmc::AttentionOp>(
      nc.loc(), nc.outputType(0), presentType(1), presentType(2), q, k, v, *pastK, *pastV,
      *mask, b.getI64IntegerAttr(g.heads), b.getI64IntegerAttr(g.kvHeads),
      b.getF32FloatAttr(scale), b.getBoolAttr(true),
      b.getF32FloatAttr(nc.floatAttrOr("softcap", 0.0f)));
  nc.setResult(0, att.getOut());
  if (nc.hasOutput(1))
    nc.setResult(1, att.getPresentKey());
  if (nc.hasOutput(2))
    nc.setResult(2, att.getPresentValue());
  return Error::success();
}

} // namespace

void llmc::onnx_import::registerAttentionOps(OpRegistry &r) {
  // Any com.microsoft opset version: later versions only add optional inputs
  // and attributes, each checked above.
  r.add({kMS, "RotaryEmbedding", 1, INT64_MAX, inferRotaryEmbedding, emitRotaryEmbedding});
  r.add({kMS, "GroupQueryAttention", 1, INT64_MAX, inferGroupQueryAttention,
         emitGroupQueryAttention});
}
