//===- OpsQuantized.cpp - Pre-quantized ONNX weights -----------------------===//
//
// Three ways a model arrives quantized, all imported straight into
// `llmc.qmatmul` on an `!llmc.qweight` that references the ONNX bytes (codes,
// scales, zero points) where they lie; nothing is dequantized here.
// lib/CodeGen/PrequantizedWeights.cpp turns those bytes into the kernels'
// [N][K] codes when `llmc compile` packs the weight.
//
//  - com.microsoft MatMulNBits (4 or 8 bits): layout "onnx.matmulnbits".
//  - DequantizeLinear(W const) -> MatMul B (per tensor, per column, or blocks
//    along K, opset 21's block_size): layout "onnx.kn".
//  - DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W const) -> Cast(float)
//    -> Mul(., x_scale * w_scale), as onnxruntime's quantize_dynamic emits it:
//    layout "onnx.kn", with x itself as the qmatmul's activation.
//
// And one quantized table: com.microsoft GatherBlockQuantized (GenAI's int4
// tied embeddings) becomes llmc.gather of llmc.dequantize of such a weight.
//
// The last two matmul forms and the table are graph patterns:
// rewriteQuantizedPatterns() replaces each match by one importer-internal
// node (domain "llmc.internal", op QMatMul or QGather) before import.
// Nodes of those op types that are left over (no match) are
// reported by their infer functions with the reason.
//
//===----------------------------------------------------------------------===//

#include "OpHelpers.h"
#include "OpRegistry.h"

#include "llmc/LLMCAttrs.h"
#include "llmc/LLMCOps.h"
#include "llmc/LLMCTypes.h"

#include "llvm/ADT/StringMap.h"

#include <cstring>
#include <map>
#include <set>

using namespace llmc::onnx_import;
using llvm::Error;
using llvm::SmallVector;

namespace {

constexpr llvm::StringLiteral kInternalDomain = "llmc.internal";

// --- Helpers ----------------------------------------------------------------------

bool isFloatType(mlir::Type t) { return t && (t.isF32() || t.isF16() || t.isBF16()); }

/// Bits and signedness of an ONNX weight code type (int4/uint4/int8/uint8).
std::optional<std::pair<unsigned, bool>> codeType(mlir::Type t) {
  auto it = llvm::dyn_cast_or_null<mlir::IntegerType>(t);
  if (!it || (it.getWidth() != 4 && it.getWidth() != 8))
    return std::nullopt;
  return std::make_pair(it.getWidth(), !it.isUnsigned());
}

bool isValidGroup(int64_t g) {
  return g == 16 || g == 32 || g == 64 || g == 128 || g == 256;
}

/// A block size `#llmc.quant` can hold, or the error naming the ones it can.
Error checkBlockSize(NodeContext &nc, int64_t block) {
  if (isValidGroup(block))
    return Error::success();
  return nc.error("block_size " + llvm::Twine(block) +
                  " is not supported (llmc's quantized weights take blocks "
                  "of 16, 32, 64, 128 or 256 along K)");
}

std::string typeStr(mlir::Type t) {
  std::string s;
  llvm::raw_string_ostream(s) << t;
  return s;
}

/// What the emitter needs besides the node's inputs.
struct PrequantDesc {
  llvm::StringRef layout; // "onnx.matmulnbits" or "onnx.kn"
  unsigned bits = 4;
  int64_t groupSize = 0; // #llmc.quant group_size (0: one group per column)
  int64_t K = 0, N = 0;
  bool codesSigned = false;
  unsigned codes = 1, scales = 2, zeroPoints = 3; // input indices
  std::optional<unsigned> bias;
};

/// Emit the `llmc.weight` (!llmc.qweight) of node `nc`'s codes, scales and
/// zero points.
llvm::Expected<llmc::WeightOp> emitPrequantWeight(NodeContext &nc, const PrequantDesc &d) {
  GraphImporter &imp = nc.importer();
  mlir::OpBuilder &b = nc.builder();
  TensorInfo &codes = nc.input(d.codes);
  TensorInfo &scales = nc.input(d.scales);
  auto codesLoc = imp.initializerLocation(codes);
  if (!codesLoc)
    return codesLoc.takeError();
  if (codesLoc->kind != TensorLocation::Kind::Inline &&
      codesLoc->kind != TensorLocation::Kind::External)
    return nc.error("the quantized weight '" + nc.node().input(int(d.codes)) +
                    "' must be stored as raw_data or external data");
  bool hasZp = nc.hasInput(d.zeroPoints);
  SmallVector<mlir::NamedAttribute> parts;
  parts.push_back(b.getNamedAttr("codes_length",
                                 b.getI64IntegerAttr(int64_t(codesLoc->length))));
  if (d.layout == "onnx.kn")
    parts.push_back(b.getNamedAttr("codes_signed", b.getBoolAttr(d.codesSigned)));
  auto sref = imp.initializerRef(scales);
  if (!sref)
    return sref.takeError();
  parts.push_back(b.getNamedAttr("scales", *sref));
  if (hasZp) {
    TensorInfo &zp = nc.input(d.zeroPoints);
    auto zref = imp.initializerRef(zp);
    if (!zref)
      return zref.takeError();
    parts.push_back(b.getNamedAttr("zero_points", *zref));
    parts.push_back(b.getNamedAttr("zero_point_type", mlir::TypeAttr::get(zp.elemType)));
  }
  // Symmetric: no zero points stored and the implied one is the midpoint
  // (signed codes, or MatMulNBits's default 2^(bits-1)).
  bool symmetric = !hasZp && (d.layout == "onnx.matmulnbits" || d.codesSigned);
  auto quant = llmc::QuantAttr::get(nc.getContext(), d.bits, unsigned(d.groupSize),
                                    symmetric, scales.elemType, d.layout);
  auto qtype = llmc::QWeightType::get(nc.getContext(), d.K, d.N, quant);
  const std::string &name = nc.node().input(int(d.codes));
  auto wloc = mlir::NameLoc::get(b.getStringAttr(name), nc.loc());
  auto w = b.create<llmc::WeightOp>(wloc, qtype, b.getStringAttr(name),
                                    b.getStringAttr(codesLoc->file),
                                    b.getI64IntegerAttr(int64_t(codesLoc->offset)),
                                    mlir::IntegerAttr());
  w->setAttr("llmc.prequant", b.getDictionaryAttr(parts));
  return w;
}

/// Emit `llmc.weight` (!llmc.qweight) + `llmc.qmatmul` for node `nc`.
Error emitPrequantMatMul(NodeContext &nc, const PrequantDesc &d) {
  mlir::OpBuilder &b = nc.builder();
  auto w = emitPrequantWeight(nc, d);
  if (!w)
    return w.takeError();
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  mlir::Value bias;
  if (d.bias) {
    auto bv = nc.operand(*d.bias);
    if (!bv)
      return bv.takeError();
    bias = *bv;
  }
  // Rows of a flatten: the product of the unflattened rows (GPT-2's Conv1D).
  auto y = emitOnRows(nc, *x, nc.input(0).rank() == 2,
                      [&](mlir::Value rows, mlir::RankedTensorType type) -> llvm::Expected<mlir::Value> {
                        return b.create<llmc::QMatMulOp>(nc.loc(), type, rows,
                                                         w->getResult(), bias)
                            .getResult();
                      });
  if (!y)
    return y.takeError();
  nc.setResult(0, *y);
  return Error::success();
}

/// Common checks of the activation: float, last dim K. Sets output 0.
Error inferActivation(NodeContext &nc, int64_t K, int64_t N, mlir::Type scaleType) {
  TensorInfo &a = nc.input(0);
  if (!isFloatType(a.elemType))
    return nc.error("input A must be f32, f16 or bf16, got " + typeStr(a.elemType));
  if (a.rank() < 1)
    return nc.error("input A must have rank >= 1");
  if (auto k = a.dims.back().getConstant(); k && *k != K)
    return nc.error("input A has " + llvm::Twine(*k) +
                    " input channels but the weight has K = " + llvm::Twine(K));
  if (scaleType && scaleType != a.elemType)
    return nc.error("the scales are " + typeStr(scaleType) + " but input A is " +
                    typeStr(a.elemType));
  SmallVector<DimExpr, 4> dims(a.dims.begin(), a.dims.end());
  dims.back() = DimExpr::constant(N);
  nc.setOutput(0, a.elemType, dims);
  return Error::success();
}

Error requireInitializer(NodeContext &nc, unsigned i, llvm::StringRef what) {
  if (!nc.hasInput(i))
    return nc.error("missing input '" + what + "'");
  if (nc.input(i).source != TensorInfo::Source::Initializer)
    return nc.error("input '" + what + "' ('" + nc.node().input(int(i)) +
                    "') must be a graph initializer (a constant weight)");
  if (!nc.input(i).hasStaticShape())
    return nc.error("input '" + what + "' must have a static shape");
  return Error::success();
}

int64_t numElements(const TensorInfo &t) { return t.staticNumElements().value_or(-1); }

// --- com.microsoft MatMulNBits ----------------------------------------------------------
//
// A [..., K] x B [N, ceil(K/block), block*bits/8] uint8 (row n's codes in K
// order, low nibble first) -> Y [..., N]; scales [N * n_blocks] (T1),
// zero_points uint8 [N * ceil(n_blocks*bits/8)] (packed like the codes, rows
// padded to whole bytes) or T1 [N * n_blocks], default 2^(bits-1); g_idx
// int32 [K] (refused); bias T1 [N]. accuracy_level only tells ORT which activation
// precision it may use: llmc's is chosen by `llmc compile --activations`.

Error inferMatMulNBits(NodeContext &nc) {
  auto K = nc.attrInt("K", -1), N = nc.attrInt("N", -1), bits = nc.attrInt("bits", 4),
       block = nc.attrInt("block_size", -1);
  if (!K) return K.takeError();
  if (!N) return N.takeError();
  if (!bits) return bits.takeError();
  if (!block) return block.takeError();
  if (*K <= 0 || *N <= 0)
    return nc.error("attributes K and N must be given and positive");
  if (*bits != 4 && *bits != 8)
    return nc.error("bits = " + llvm::Twine(*bits) +
                    " is not supported (llmc imports 4- and 8-bit MatMulNBits)");
  if (*block < 16 || (*block & (*block - 1)))
    return nc.error("block_size must be a power of two >= 16, got " +
                    llvm::Twine(*block));
  if (Error e = checkBlockSize(nc, *block))
    return e;
  if (Error e = requireInitializer(nc, 1, "B"))
    return e;
  if (Error e = requireInitializer(nc, 2, "scales"))
    return e;
  int64_t nb = (*K + *block - 1) / *block, blob = *block * *bits / 8;
  TensorInfo &B = nc.input(1), &S = nc.input(2);
  auto u8 = mlir::IntegerType::get(nc.getContext(), 8, mlir::IntegerType::Unsigned);
  if (B.elemType != u8 || numElements(B) != *N * nb * blob)
    return nc.error("B must be uint8 [N, n_blocks, blob] = [" + llvm::Twine(*N) +
                    ", " + llvm::Twine(nb) + ", " + llvm::Twine(blob) + "] (" +
                    llvm::Twine(*N * nb * blob) + " bytes), got " +
                    typeStr(tensorTypeOf(B)));
  if (!isFloatType(S.elemType) || numElements(S) != *N * nb)
    return nc.error("scales must be " + llvm::Twine(*N * nb) +
                    " floats (N x n_blocks), got " + typeStr(tensorTypeOf(S)));
  if (nc.hasInput(3)) {
    if (Error e = requireInitializer(nc, 3, "zero_points"))
      return e;
    TensorInfo &Z = nc.input(3);
    int64_t packed = *N * ((nb * *bits + 7) / 8);
    if (isFloatType(Z.elemType))
      return nc.error("float zero points (" + typeStr(Z.elemType) +
                      ") are not supported: llmc's quantized weights hold "
                      "integer zero points (use uint8 packed zero_points)");
    if (Z.elemType != u8 || numElements(Z) != packed)
      return nc.error("zero_points must be uint8 [N * ceil(n_blocks * bits / 8)] = [" +
                      llvm::Twine(packed) + "], got " + typeStr(tensorTypeOf(Z)));
  }
  if (nc.hasInput(4))
    // ORT reads zero points differently when g_idx is given (measured: even
    // g_idx[k] = k / block_size changes its output), so none is imported.
    return nc.error("g_idx ('" + nc.node().input(4) +
                    "') is not supported: llmc imports MatMulNBits with groups of "
                    "consecutive input channels only (export without g_idx / act-order)");
  if (nc.hasInput(5)) {
    TensorInfo &bias = nc.input(5);
    if (bias.elemType != nc.input(0).elemType || bias.rank() != 1 ||
        bias.dims[0].getConstant() != std::optional<int64_t>(*N))
      return nc.error("bias must be [" + llvm::Twine(*N) + "] of A's element type");
  }
  if (nc.numInputs() > 6)
    return nc.error("expects at most 6 inputs");
  for (unsigned i = 1; i <= 3; ++i)
    nc.consumeAsAttribute(i);
  return inferActivation(nc, *K, *N, S.elemType);
}

/// MatMulNBits' layout of an [N, K] weight from node `nc`'s bits,
/// block_size, K and N attributes (validated by its infer function).
PrequantDesc matmulNBitsDesc(NodeContext &nc, int64_t defaultBlock) {
  PrequantDesc d;
  d.layout = "onnx.matmulnbits";
  d.bits = unsigned(nc.intAttrOr("bits", 4));
  d.groupSize = nc.intAttrOr("block_size", defaultBlock);
  d.K = nc.intAttrOr("K", 0);
  d.N = nc.intAttrOr("N", 0);
  return d;
}

Error emitMatMulNBits(NodeContext &nc) {
  PrequantDesc d = matmulNBitsDesc(nc, 32);
  if (nc.hasInput(5))
    d.bias = 5;
  return emitPrequantMatMul(nc, d);
}

// --- llmc.internal QMatMul: x [..., K] by codes [K, N] (layout "onnx.kn") -------------
//
// Inputs: x, codes (int4/uint4/int8/uint8 [K, N]), scales (scalar or [1]:
// per tensor; [N]: per column; [ceil(K/block), N]: blocks along K), zero
// points (codes' type, scales' shape; absent = 0). Attributes: block_size
// (0 unless blocked), origin (the replaced nodes, for messages).

Error inferQMatMul(NodeContext &nc) {
  if (Error e = requireInitializer(nc, 1, "weight"))
    return e;
  if (Error e = requireInitializer(nc, 2, "scale"))
    return e;
  TensorInfo &W = nc.input(1), &S = nc.input(2);
  auto ct = codeType(W.elemType);
  if (!ct || W.rank() != 2)
    return nc.error("the weight must be a 2-D int4, uint4, int8 or uint8 "
                    "initializer, got " + typeStr(tensorTypeOf(W)));
  int64_t K = *W.staticDim(0), N = *W.staticDim(1);
  int64_t block = nc.intAttrOr("block_size", 0);
  if (!isFloatType(S.elemType))
    return nc.error("the weight scale must be f32, f16 or bf16, got " +
                    typeStr(S.elemType));
  int64_t ns = numElements(S);
  if (block > 0) {
    if (Error e = checkBlockSize(nc, block))
      return e;
    if (S.rank() != 2 || ns != ((K + block - 1) / block) * N)
      return nc.error("blocked scales must be [ceil(K/block_size), N] = [" +
                      llvm::Twine((K + block - 1) / block) + ", " + llvm::Twine(N) +
                      "], got " + typeStr(tensorTypeOf(S)));
  } else if (ns != 1 && ns != N) {
    return nc.error("the weight scale must be per tensor or per output column ([" +
                    llvm::Twine(N) + "]), got " + typeStr(tensorTypeOf(S)));
  }
  if (nc.hasInput(3)) {
    if (Error e = requireInitializer(nc, 3, "zero point"))
      return e;
    TensorInfo &Z = nc.input(3);
    if (Z.elemType != W.elemType || numElements(Z) != ns)
      return nc.error("the weight zero point must have the weight's type and the "
                      "scale's shape, got " + typeStr(tensorTypeOf(Z)));
  }
  for (unsigned i = 1; i <= 3; ++i)
    nc.consumeAsAttribute(i);
  if (nc.hasInput(4)) {
    TensorInfo &bias = nc.input(4);
    if (bias.elemType != nc.input(0).elemType || bias.rank() != 1 ||
        bias.dims[0].getConstant() != std::optional<int64_t>(N))
      return nc.error("bias must be [" + llvm::Twine(N) + "] of x's element type");
  }
  return inferActivation(nc, K, N, S.elemType);
}

Error emitQMatMul(NodeContext &nc) {
  TensorInfo &W = nc.input(1);
  PrequantDesc d;
  d.layout = "onnx.kn";
  auto ct = *codeType(W.elemType);
  d.bits = ct.first;
  d.codesSigned = ct.second;
  d.groupSize = nc.intAttrOr("block_size", 0);
  d.K = *W.staticDim(0);
  d.N = *W.staticDim(1);
  if (nc.hasInput(4))
    d.bias = 4;
  return emitPrequantMatMul(nc, d);
}

// --- llmc.internal QGather: rows of a quantized table (GatherBlockQuantized) ----------
//
// Inputs: codes (a uint8 initializer of N rows, K * bits / 8 bytes each, in
// MatMulNBits' order: row n's codes in K order, low nibble first; any
// shape), indices (int32/int64), scales [N, K / block_size]
// (float), zero points (optional, uint8 [N, ceil(n_blocks * bits / 8)],
// packed like the codes; default 2^(bits-1)). Attributes: bits, block_size,
// N, K, origin. Output: indices' shape + [K], of the scales' type.
//
// Those are MatMulNBits' bytes of an [N, K] weight exactly (K a whole number
// of blocks), which is what lets the tied lm_head and the table share one
// initializer. The table is imported as the dequantized weight read by a
// gather: CodeGen writes it as a dense fp32 table (the runtime reads one
// row per token from the bundle), the lm_head stays packed.

Error inferQGather(NodeContext &nc) {
  if (Error e = requireInitializer(nc, 0, "data"))
    return e;
  if (Error e = requireInitializer(nc, 2, "scales"))
    return e;
  const int64_t bits = nc.intAttrOr("bits", 4), block = nc.intAttrOr("block_size", 128),
                K = nc.intAttrOr("K", 0), N = nc.intAttrOr("N", 0);
  TensorInfo &D = nc.input(0), &idx = nc.input(1), &S = nc.input(2);
  if (bits != 4 && bits != 8)
    return nc.error("bits = " + llvm::Twine(bits) +
                    " is not supported (llmc imports 4- and 8-bit quantized tables)");
  if (Error e = checkBlockSize(nc, block))
    return e;
  if (K <= 0 || K % block)
    return nc.error("the table's rows hold " + llvm::Twine(K) +
                    " values, which is not a whole number of blocks of " +
                    llvm::Twine(block));
  const int64_t nb = K / block;
  auto u8 = mlir::IntegerType::get(nc.getContext(), 8, mlir::IntegerType::Unsigned);
  if (D.elemType != u8 || N <= 0 || numElements(D) != N * K * bits / 8)
    return nc.error("data must be uint8 holding " + llvm::Twine(K) + " " +
                    llvm::Twine(bits) + "-bit codes per row, got " +
                    typeStr(tensorTypeOf(D)));
  if (!isFloatType(S.elemType) || S.rank() != 2 || S.staticDim(0) != N ||
      S.staticDim(1) != nb)
    return nc.error("scales must be float [" + llvm::Twine(N) + ", " + llvm::Twine(nb) +
                    "] (rows x blocks), got " + typeStr(tensorTypeOf(S)));
  if (nc.hasInput(3)) {
    if (Error e = requireInitializer(nc, 3, "zero_points"))
      return e;
    TensorInfo &Z = nc.input(3);
    const int64_t packed = (nb * bits + 7) / 8;
    if (Z.elemType != u8 || Z.rank() != 2 || Z.staticDim(0) != N ||
        Z.staticDim(1) != packed)
      return nc.error("zero_points must be uint8 [" + llvm::Twine(N) + ", " +
                      llvm::Twine(packed) + "] (packed like the data), got " +
                      typeStr(tensorTypeOf(Z)));
  }
  if (!idx.elemType.isInteger(32) && !idx.elemType.isInteger(64))
    return nc.error("indices must be int32 or int64");
  nc.consumeAsAttribute(0);
  nc.consumeAsAttribute(2);
  if (nc.hasInput(3))
    nc.consumeAsAttribute(3);
  SmallVector<DimExpr, 4> dims(idx.dims.begin(), idx.dims.end());
  dims.push_back(DimExpr::constant(K));
  nc.setOutput(0, S.elemType, dims);
  return Error::success();
}

Error emitQGather(NodeContext &nc) {
  PrequantDesc d = matmulNBitsDesc(nc, 128);
  d.codes = 0;
  auto w = emitPrequantWeight(nc, d);
  if (!w)
    return w.takeError();
  auto ids = nc.operand(1);
  if (!ids)
    return ids.takeError();
  mlir::OpBuilder &b = nc.builder();
  mlir::Type elem = nc.input(2).elemType;
  // dequant(w) is the [K, N] matrix a qmatmul multiplies by; the table's
  // rows are its columns.
  auto kn = b.create<llmc::DequantizeOp>(
      nc.loc(), mlir::RankedTensorType::get({d.K, d.N}, elem), w->getResult());
  auto table = b.create<llmc::TransposeOp>(
      nc.loc(), mlir::RankedTensorType::get({d.N, d.K}, elem), kn.getResult(),
      llvm::ArrayRef<int64_t>{1, 0});
  nc.setResult(0, b.create<llmc::GatherOp>(nc.loc(), nc.outputType(0), table.getResult(),
                                           *ids, 0));
  return Error::success();
}

// --- Left-over quantization ops: say why they were not imported -------------------------

Error inferUnmatchedDequantizeLinear(NodeContext &nc) {
  return nc.error(
      "llmc imports DequantizeLinear only as a pre-quantized weight: input x a "
      "2-D int4/uint4/int8/uint8 initializer [K, N] with a per-tensor scale, a "
      "per-column scale (axis 1) or blocks along K (axis 0, block_size 16, 32, "
      "64, 128 or 256), whose output is read only as the B input of MatMul "
      "nodes (and is not a graph output)");
}

Error inferUnmatchedGatherBlockQuantized(NodeContext &nc) {
  return nc.error(
      "llmc imports GatherBlockQuantized as ONNX Runtime GenAI's quantized "
      "embedding table: uint8 data (bits 4 or 8; an initializer, or a Reshape "
      "of one such as the tied lm_head's MatMulNBits weight) of rows a whole "
      "number of blocks long, gather_axis 0 and quantize_axis the last, scales "
      "[rows, blocks] and optional packed uint8 zero points, all initializers");
}

Error inferUnmatchedDynamicQuantizeLinear(NodeContext &nc) {
  return nc.error(
      "llmc imports DynamicQuantizeLinear only in onnxruntime quantize_dynamic's "
      "pattern: its outputs feed MatMulInteger(x_q, W, x_zero_point[, W_zero_point]) "
      "-> Cast(to float) -> Mul(., Mul(x_scale, W_scale)) and nothing else");
}

Error inferUnmatchedMatMulInteger(NodeContext &nc) {
  return nc.error(
      "llmc imports MatMulInteger only in onnxruntime quantize_dynamic's pattern: "
      "A from DynamicQuantizeLinear (with its zero point), B a 2-D int8/uint8 "
      "initializer [K, N] with a per-tensor or per-column zero point, the result "
      "read only by Cast(to float) -> Mul(., Mul(x_scale, W_scale))");
}

// --- The graph rewrite ------------------------------------------------------------------

struct Graph {
  onnx::GraphProto &g;
  std::map<std::string, int> producer;               // value -> node index
  std::map<std::string, std::vector<std::pair<int, int>>> consumers; // (node, input)
  std::set<std::string> graphOutputs;
  std::map<std::string, const onnx::TensorProto *> inits;

  explicit Graph(onnx::GraphProto &g) : g(g) { reindex(); }
  void reindex() {
    producer.clear();
    consumers.clear();
    graphOutputs.clear();
    inits.clear();
    for (int n = 0; n < g.node_size(); ++n) {
      const auto &node = g.node(n);
      for (const std::string &o : node.output())
        if (!o.empty())
          producer.emplace(o, n);
      for (int i = 0; i < node.input_size(); ++i)
        if (!node.input(i).empty())
          consumers[node.input(i)].push_back({n, i});
    }
    for (const auto &o : g.output())
      graphOutputs.insert(o.name());
    for (const auto &t : g.initializer())
      inits.emplace(t.name(), &t);
  }
  const onnx::NodeProto *producerOf(const std::string &v) const {
    auto it = producer.find(v);
    return it == producer.end() ? nullptr : &g.node(it->second);
  }
  const std::vector<std::pair<int, int>> &usesOf(const std::string &v) const {
    static const std::vector<std::pair<int, int>> none;
    auto it = consumers.find(v);
    return it == consumers.end() ? none : it->second;
  }
  /// Only read by the listed node and not a graph output.
  bool onlyUsedBy(const std::string &v, int node) const {
    if (graphOutputs.count(v))
      return false;
    for (auto [n, i] : usesOf(v))
      if (n != node)
        return false;
    return !usesOf(v).empty();
  }
  const onnx::TensorProto *init(const std::string &v) const {
    auto it = inits.find(v);
    return it == inits.end() ? nullptr : it->second;
  }
};

bool isDefaultDomain(const onnx::NodeProto &n) {
  return n.domain().empty() || n.domain() == "ai.onnx";
}

const onnx::AttributeProto *findAttr(const onnx::NodeProto &n, llvm::StringRef name) {
  for (const auto &a : n.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t intAttr(const onnx::NodeProto &n, llvm::StringRef name, int64_t dflt) {
  const auto *a = findAttr(n, name);
  return a && a->type() == onnx::AttributeProto::INT ? a->i() : dflt;
}

bool isCodeInit(const onnx::TensorProto *t, bool allow4) {
  if (!t || t->dims_size() != 2)
    return false;
  int32_t dt = t->data_type();
  return dt == onnx::TensorProto::INT8 || dt == onnx::TensorProto::UINT8 ||
         (allow4 && (dt == kOnnxInt4 || dt == kOnnxUInt4));
}

int64_t initNumel(const onnx::TensorProto *t) {
  int64_t n = 1;
  for (int64_t d : t->dims())
    n *= d;
  return n;
}

onnx::NodeProto makeQMatMul(const std::string &name, const std::string &x,
                            const std::string &w, const std::string &scale,
                            const std::string &zp, const std::string &out,
                            int64_t block, const std::string &origin) {
  onnx::NodeProto q;
  q.set_name(name);
  q.set_op_type("QMatMul");
  q.set_domain(kInternalDomain.str());
  q.add_input(x);
  q.add_input(w);
  q.add_input(scale);
  q.add_input(zp);
  q.add_output(out);
  auto *a = q.add_attribute();
  a->set_name("block_size");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(block);
  auto *o = q.add_attribute();
  o->set_name("origin");
  o->set_type(onnx::AttributeProto::STRING);
  o->set_s(origin);
  return q;
}

/// DequantizeLinear(W) feeding MatMul B inputs: the DQ node index, and a
/// QMatMul replacing each MatMul (by node index); nothing when it does not fit.
bool matchDequantizeLinear(const Graph &G, int dq, std::map<int, onnx::NodeProto> &repl) {
  const onnx::NodeProto &n = G.g.node(dq);
  if (n.input_size() < 2 || n.output_size() != 1 || n.output(0).empty())
    return false;
  const onnx::TensorProto *w = G.init(n.input(0));
  const onnx::TensorProto *s = G.init(n.input(1));
  const onnx::TensorProto *z =
      n.input_size() > 2 && !n.input(2).empty() ? G.init(n.input(2)) : nullptr;
  if (!isCodeInit(w, true) || !s || (n.input_size() > 2 && !n.input(2).empty() && !z))
    return false;
  int64_t axis = intAttr(n, "axis", 1), block = intAttr(n, "block_size", 0);
  if (axis < 0)
    axis += 2;
  int64_t K = w->dims(0), N = w->dims(1), ns = initNumel(s);
  if (block > 0) {
    if (axis != 0 || s->dims_size() != 2 || s->dims(0) != (K + block - 1) / block ||
        s->dims(1) != N)
      return false;
  } else if (!(ns == 1 && s->dims_size() <= 1) &&
             !(s->dims_size() == 1 && ns == N && axis == 1)) {
    return false;
  }
  const std::string &out = n.output(0);
  if (G.graphOutputs.count(out) || G.usesOf(out).empty())
    return false;
  std::map<int, onnx::NodeProto> mine;
  for (auto [m, i] : G.usesOf(out)) {
    const onnx::NodeProto &mm = G.g.node(m);
    if (!isDefaultDomain(mm) || mm.op_type() != "MatMul" || i != 1 ||
        mm.input_size() != 2 || mm.output_size() != 1 || mm.input(0) == out)
      return false;
    std::string origin = "DequantizeLinear '" + n.name() + "' + MatMul '" + mm.name() + "'";
    mine[m] = makeQMatMul(mm.name(), mm.input(0), n.input(0), n.input(1),
                          z ? n.input(2) : std::string(), mm.output(0), block, origin);
  }
  for (auto &[m, q] : mine)
    repl[m] = std::move(q);
  return true;
}

/// MatMulInteger node `mi` of quantize_dynamic's chain; on success the
/// QMatMul replaces the final Mul and the other nodes of the chain are dropped.
bool matchMatMulInteger(const Graph &G, int mi, std::map<int, onnx::NodeProto> &repl,
                        std::set<int> &drop) {
  const onnx::NodeProto &n = G.g.node(mi);
  if (n.input_size() < 3 || n.output_size() != 1 || n.output(0).empty())
    return false;
  auto dqIt = G.producer.find(n.input(0));
  if (dqIt == G.producer.end())
    return false;
  const onnx::NodeProto &dq = G.g.node(dqIt->second);
  if (!isDefaultDomain(dq) || dq.op_type() != "DynamicQuantizeLinear" ||
      dq.input_size() != 1 || dq.output_size() != 3 || dq.output(0) != n.input(0) ||
      dq.output(2) != n.input(2))
    return false;
  const onnx::TensorProto *w = G.init(n.input(1));
  if (!isCodeInit(w, false))
    return false;
  int64_t N = w->dims(1);
  std::string wzp = n.input_size() > 3 ? n.input(3) : std::string();
  if (!wzp.empty()) {
    const onnx::TensorProto *z = G.init(wzp);
    if (!z || z->data_type() != w->data_type() ||
        !(initNumel(z) == 1 || (z->dims_size() == 1 && initNumel(z) == N)))
      return false;
  }
  // Cast(to FLOAT), the only reader of the product.
  auto soleReader = [&](const std::string &v) -> int {
    const auto &uses = G.usesOf(v);
    if (uses.size() != 1 || G.graphOutputs.count(v))
      return -1;
    return uses.front().first;
  };
  int ci = soleReader(n.output(0));
  if (ci < 0)
    return false;
  const onnx::NodeProto &cast = G.g.node(ci);
  if (!isDefaultDomain(cast) || cast.op_type() != "Cast" || cast.output_size() != 1 ||
      intAttr(cast, "to", 0) != onnx::TensorProto::FLOAT)
    return false;
  // Mul(cast, scale) with scale = Mul(x_scale, w_scale).
  const std::string &co = cast.output(0);
  int mo = soleReader(co);
  if (mo < 0)
    return false;
  const onnx::NodeProto &mul = G.g.node(mo);
  if (!isDefaultDomain(mul) || mul.op_type() != "Mul" || mul.input_size() != 2 ||
      mul.output_size() != 1 || mul.input(0) == mul.input(1))
    return false;
  const std::string &sv = mul.input(0) == co ? mul.input(1) : mul.input(0);
  auto smIt = G.producer.find(sv);
  if (smIt == G.producer.end() || !G.onlyUsedBy(sv, mo))
    return false;
  const onnx::NodeProto &sm = G.g.node(smIt->second);
  if (!isDefaultDomain(sm) || sm.op_type() != "Mul" || sm.input_size() != 2)
    return false;
  std::string wscale;
  if (sm.input(0) == dq.output(1))
    wscale = sm.input(1);
  else if (sm.input(1) == dq.output(1))
    wscale = sm.input(0);
  const onnx::TensorProto *ws = G.init(wscale);
  if (!ws || ws->data_type() != onnx::TensorProto::FLOAT ||
      !(initNumel(ws) == 1 || (ws->dims_size() == 1 && initNumel(ws) == N)))
    return false;
  std::string origin = "DynamicQuantizeLinear '" + dq.name() + "' + MatMulInteger '" +
                       n.name() + "' + Cast + Mul";
  repl[mo] = makeQMatMul(n.name(), dq.input(0), n.input(1), wscale, wzp, mul.output(0),
                         /*block=*/0, origin);
  drop.insert(mi);
  drop.insert(ci);
  drop.insert(smIt->second);
  return true;
}

/// The int64 values of a small initializer (a Reshape's shape).
std::optional<std::vector<int64_t>> initInts(const onnx::TensorProto *t) {
  if (!t || t->data_type() != onnx::TensorProto::INT64 || t->has_data_location())
    return std::nullopt;
  std::vector<int64_t> v(t->int64_data().begin(), t->int64_data().end());
  if (v.empty() && t->raw_data().size() == size_t(initNumel(t)) * 8) {
    v.resize(size_t(initNumel(t)));
    std::memcpy(v.data(), t->raw_data().data(), v.size() * 8);
  }
  if (int64_t(v.size()) != initNumel(t))
    return std::nullopt;
  return v;
}

/// The int64 values of `v`: an initializer or a Constant node's `value`.
std::optional<std::vector<int64_t>> constInts(const Graph &G, const std::string &v) {
  if (const onnx::TensorProto *t = G.init(v))
    return initInts(t);
  const onnx::NodeProto *c = G.producerOf(v);
  if (!c || !isDefaultDomain(*c) || c->op_type() != "Constant")
    return std::nullopt;
  const onnx::AttributeProto *a = findAttr(*c, "value");
  if (!a || a->type() != onnx::AttributeProto::TENSOR)
    return std::nullopt;
  return initInts(&a->t());
}

/// com.microsoft GatherBlockQuantized node `gi` on uint8 data that is an
/// initializer [N, C] or a Reshape of one to a constant [N, C] (GenAI's tied embedding
/// reads the lm_head's MatMulNBits weight so): a QGather replaces it, and the
/// Reshape is dropped when nothing else reads it.
bool matchGatherBlockQuantized(const Graph &G, int gi,
                               std::map<int, onnx::NodeProto> &repl,
                               std::set<int> &drop) {
  const onnx::NodeProto &n = G.g.node(gi);
  if (n.input_size() < 3 || n.input_size() > 4 || n.output_size() != 1 ||
      n.output(0).empty() || n.input(0).empty())
    return false;
  // (bits other than 4 and 8 are matched for QGather to name them)
  const int64_t bits = intAttr(n, "bits", 4);
  if (intAttr(n, "gather_axis", 0) != 0 || (bits != 2 && bits != 4 && bits != 8))
    return false;
  std::string codes = n.input(0);
  const onnx::TensorProto *t = G.init(codes);
  std::vector<int64_t> shape;
  int reshape = -1;
  if (t) {
    shape.assign(t->dims().begin(), t->dims().end());
  } else {
    auto it = G.producer.find(codes);
    if (it == G.producer.end())
      return false;
    const onnx::NodeProto &r = G.g.node(it->second);
    if (!isDefaultDomain(r) || r.op_type() != "Reshape" || r.input_size() != 2)
      return false;
    t = G.init(r.input(0));
    auto s = constInts(G, r.input(1));
    if (!t || !s)
      return false;
    shape = *s;
    // Reshape's 0 (copy the input's dim) and -1 (the rest) on a 2-D target.
    for (size_t i = 0; i < shape.size(); ++i)
      if (shape[i] == 0 && int(i) < t->dims_size())
        shape[i] = t->dims(int(i));
    if (shape.size() == 2 && (shape[0] == -1) != (shape[1] == -1)) {
      const int64_t known = shape[0] == -1 ? shape[1] : shape[0];
      if (known <= 0 || initNumel(t) % known)
        return false;
      (shape[0] == -1 ? shape[0] : shape[1]) = initNumel(t) / known;
    }
    codes = r.input(0);
    if (G.onlyUsedBy(n.input(0), gi))
      reshape = it->second;
  }
  // 2-D data whose last axis is the quantized one.
  int64_t qaxis = intAttr(n, "quantize_axis", 1);
  if (shape.size() != 2 || (qaxis != 1 && qaxis != -1) || shape[0] <= 0 ||
      shape[1] <= 0 || t->data_type() != onnx::TensorProto::UINT8 ||
      initNumel(t) != shape[0] * shape[1])
    return false;
  onnx::NodeProto q;
  q.set_name(n.name());
  q.set_op_type("QGather");
  q.set_domain(kInternalDomain.str());
  q.add_input(codes);
  q.add_input(n.input(1));
  q.add_input(n.input(2));
  q.add_input(n.input_size() > 3 ? n.input(3) : std::string());
  q.add_output(n.output(0));
  auto addInt = [&](const char *name, int64_t v) {
    auto *a = q.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  };
  addInt("bits", bits);
  addInt("block_size", intAttr(n, "block_size", 128));
  addInt("N", shape[0]);
  addInt("K", shape[1] * 8 / bits);
  auto *o = q.add_attribute();
  o->set_name("origin");
  o->set_type(onnx::AttributeProto::STRING);
  o->set_s("node '" + n.name() + "' (GatherBlockQuantized)");
  repl[gi] = std::move(q);
  if (reshape >= 0)
    drop.insert(reshape);
  return true;
}

} // namespace

bool llmc::onnx_import::rewriteQuantizedPatterns(LoadedModel &model) {
  onnx::GraphProto &g = model.mutableGraph();
  Graph G(g);
  std::map<int, onnx::NodeProto> repl;
  std::set<int> drop;
  for (int n = 0; n < g.node_size(); ++n) {
    const onnx::NodeProto &node = g.node(n);
    if (node.domain() == "com.microsoft" && node.op_type() == "GatherBlockQuantized") {
      matchGatherBlockQuantized(G, n, repl, drop);
      continue;
    }
    if (!isDefaultDomain(node))
      continue;
    if (node.op_type() == "DequantizeLinear") {
      if (matchDequantizeLinear(G, n, repl))
        drop.insert(n);
    } else if (node.op_type() == "MatMulInteger") {
      matchMatMulInteger(G, n, repl, drop);
    }
  }
  if (repl.empty())
    return false;
  // Rebuild the node list: replacements in place (the final node's position
  // keeps the order topological), dropped nodes removed.
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (int n = 0; n < g.node_size(); ++n) {
    if (auto it = repl.find(n); it != repl.end())
      *nodes.Add() = std::move(it->second);
    else if (!drop.count(n))
      *nodes.Add() = g.node(n);
  }
  g.mutable_node()->Swap(&nodes);
  // DynamicQuantizeLinear nodes nobody reads any more.
  G.reindex();
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (int n = 0; n < g.node_size(); ++n) {
    const onnx::NodeProto &node = g.node(n);
    bool dead = isDefaultDomain(node) && node.op_type() == "DynamicQuantizeLinear";
    for (const std::string &o : node.output())
      if (!o.empty() && (G.graphOutputs.count(o) || !G.usesOf(o).empty()))
        dead = false;
    if (!dead)
      *kept.Add() = node;
  }
  g.mutable_node()->Swap(&kept);
  if (!model.opsetVersion(kInternalDomain))
    model.addOpsetImport(kInternalDomain, 1);
  return true;
}

void llmc::onnx_import::registerQuantizedOps(OpRegistry &r) {
  // Any com.microsoft opset version: the op's definition has not changed.
  r.add({"com.microsoft", "MatMulNBits", 1, INT64_MAX, inferMatMulNBits,
         emitMatMulNBits});
  r.add({kInternalDomain, "QMatMul", 1, 1, inferQMatMul, emitQMatMul});
  r.add({kInternalDomain, "QGather", 1, 1, inferQGather, emitQGather});
  r.add({"com.microsoft", "GatherBlockQuantized", 1, INT64_MAX,
         inferUnmatchedGatherBlockQuantized, inferUnmatchedGatherBlockQuantized});
  // Only reached when rewriteQuantizedPatterns left them: errors with reasons.
  r.add({"", "DequantizeLinear", kMinOpset, kMaxOpset, inferUnmatchedDequantizeLinear,
         inferUnmatchedDequantizeLinear});
  r.add({"", "DynamicQuantizeLinear", kMinOpset, kMaxOpset,
         inferUnmatchedDynamicQuantizeLinear, inferUnmatchedDynamicQuantizeLinear});
  r.add({"", "MatMulInteger", kMinOpset, kMaxOpset, inferUnmatchedMatMulInteger,
         inferUnmatchedMatMulInteger});
}
