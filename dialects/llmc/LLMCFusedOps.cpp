//===- LLMCFusedOps.cpp - verifiers of the fused llmc operations ----------===//

#include "llmc/LLMCOps.h"
#include "LLMCVerify.h"

#include <cmath>

using namespace mlir;
using namespace llmc;
using namespace llmc::detail;

static RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

static bool isStatic(int64_t d) { return !ShapedType::isDynamic(d); }

//===----------------------------------------------------------------------===//
// Normalizations
//===----------------------------------------------------------------------===//

LogicalResult RMSNormOp::verify() {
  RankedTensorType x = tensorType(getX()), w = tensorType(getWeight());
  if (failed(checkMinRank(*this, "x", x, 1)) ||
      failed(checkRank(*this, "weight", w, 1)))
    return failure();
  return checkSameDim(*this, w.getDimSize(0), "size of 'weight'",
                      x.getDimSize(x.getRank() - 1), "the last dim of 'x'");
}

LogicalResult LayerNormOp::verify() {
  RankedTensorType x = tensorType(getX()), w = tensorType(getWeight());
  FailureOr<int64_t> axis = normalizeAxis(*this, "axis", getAxis(), x.getRank());
  if (failed(axis))
    return failure();
  ArrayRef<int64_t> normalized = x.getShape().drop_front(*axis);
  if (failed(checkShape(*this, "weight", w, normalized)))
    return failure();
  if (Value bias = getBias()) {
    if (failed(checkSameElementType(*this, "bias", bias.getType(), "x", x)) ||
        failed(checkShape(*this, "bias", tensorType(bias), normalized)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Rotary embedding
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  RankedTensorType x = tensorType(getX()), cos = tensorType(getCos());
  std::optional<uint64_t> numHeads = getNumHeads();
  // Heads-first [B, H, S, D], or token-major [B, S, H * D] with num_heads.
  int64_t seq, d;
  if (numHeads) {
    if (failed(checkRank(*this, "x (token-major, with num_heads)", x, 3)))
      return failure();
    int64_t h = int64_t(*numHeads), e = x.getDimSize(2);
    if (h <= 0)
      return emitOpError() << "num_heads must be positive, got " << h;
    if (isStatic(e) && e % h != 0)
      return emitOpError() << "last dim of 'x' (" << e
                           << ") is not a multiple of num_heads (" << h << ")";
    seq = x.getDimSize(1);
    d = isStatic(e) ? e / h : ShapedType::kDynamic;
  } else {
    if (failed(checkRank(*this, "x", x, 4)))
      return failure();
    seq = x.getDimSize(2);
    d = x.getDimSize(3);
  }
  if (failed(checkRank(*this, "cos", cos, 3)))
    return failure();
  if (isStatic(d) && d % 2 != 0)
    return emitOpError() << "head dim of 'x' must be even, got " << d;
  if (failed(checkDimOneOr(*this, cos.getDimSize(0), "batch dim of 'cos'",
                           x.getDimSize(0), "batch dim of 'x'")) ||
      failed(checkSameDim(*this, cos.getDimSize(1), "sequence dim of 'cos'",
                          seq, numHeads ? "sequence dim of 'x' (dim 1)"
                                        : "sequence dim of 'x' (dim 2)")))
    return failure();
  int64_t half = cos.getDimSize(2);
  if (isStatic(half) && half == 0)
    return emitOpError() << "last dim of 'cos' (rotary dim / 2) must be > 0";
  if (isStatic(half) && isStatic(d) && 2 * half > d)
    return emitOpError() << "rotary dim (2 * " << half
                         << " from 'cos') exceeds the head dim of 'x' (" << d
                         << ")";
  return success();
}

LogicalResult RopeCosSinOp::verify() {
  RankedTensorType pos = tensorType(getPositionIds());
  if (failed(checkRank(*this, "position_ids", pos, 2)))
    return failure();
  int64_t dim = getDim();
  if (dim <= 0 || dim % 2 != 0)
    return emitOpError() << "dim must be a positive even number, got " << dim;
  double theta = getTheta().convertToDouble();
  if (!(theta > 0.0))
    return emitOpError() << "theta must be positive, got " << theta;
  if (auto f = getInvFreq()) {
    if (int64_t(f->size()) != dim / 2)
      return emitOpError() << "inv_freq has " << f->size() << " values, expected dim/2 = "
                           << dim / 2;
    for (float v : *f)
      if (!(v > 0.0f) || !std::isfinite(v))
        return emitOpError() << "inv_freq values must be positive and finite, got " << v;
  }
  double factor = getAttentionFactor().convertToDouble();
  if (!(factor > 0.0) || !std::isfinite(factor))
    return emitOpError() << "attention_factor must be positive and finite, got " << factor;
  if (bool(getUseLong()) != bool(getLongInvFreq()) || (getUseLong() && !getInvFreq()))
    return emitOpError() << "use_long needs inv_freq and long_inv_freq, and long_inv_freq "
                            "needs use_long";
  if (auto f = getLongInvFreq()) {
    if (int64_t(f->size()) != dim / 2)
      return emitOpError() << "long_inv_freq has " << f->size()
                           << " values, expected dim/2 = " << dim / 2;
    for (float v : *f)
      if (!(v > 0.0f) || !std::isfinite(v))
        return emitOpError() << "long_inv_freq values must be positive and finite, got "
                             << v;
  }
  double longFactor = getLongAttentionFactor().convertToDouble();
  if (!(longFactor > 0.0) || !std::isfinite(longFactor))
    return emitOpError() << "long_attention_factor must be positive and finite, got "
                         << longFactor;
  SmallVector<int64_t> expected(pos.getShape());
  expected.push_back(dim / 2);
  return checkShape(*this, "cos", tensorType(getCos()), expected);
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

LogicalResult SoftcapOp::verify() {
  float cap = getCap().convertToFloat();
  if (!(cap > 0.0f) || std::isinf(cap))
    return emitOpError() << "cap must be positive and finite, got " << cap;
  return success();
}

LogicalResult AttentionOp::verify() {
  int64_t numHeads = getNumHeads(), numKvHeads = getNumKvHeads();
  if (numHeads <= 0 || numKvHeads <= 0)
    return emitOpError() << "num_heads (" << numHeads << ") and num_kv_heads ("
                         << numKvHeads << ") must be positive";
  if (numHeads % numKvHeads != 0)
    return emitOpError() << "num_heads (" << numHeads
                         << ") must be a multiple of num_kv_heads ("
                         << numKvHeads << ")";
  float scale = getScale().convertToFloat();
  if (!(scale > 0.0f) || std::isinf(scale))
    return emitOpError() << "scale must be positive and finite, got " << scale;
  float softcap = getSoftcap().convertToFloat();
  if (!(softcap >= 0.0f) || std::isinf(softcap))
    return emitOpError() << "softcap must be 0 (none) or positive and finite, got "
                         << softcap;

  RankedTensorType q = tensorType(getQ()), k = tensorType(getK()),
                   v = tensorType(getV());
  // Heads-first [B, H, S, D] or token-major [B, S, H * D] (all four alike).
  const bool tokenMajor = q.getRank() == 3;
  const int64_t rank = tokenMajor ? 3 : 4;
  if (failed(checkRank(*this, "q", q, rank)) ||
      failed(checkRank(*this, "k", k, rank)) ||
      failed(checkRank(*this, "v", v, rank)) ||
      failed(checkRank(*this, "out", tensorType(getOut()), rank)))
    return failure();
  // The head dim of a token-major operand with `heads` heads.
  auto headDim = [&](StringRef name, RankedTensorType t, int64_t heads,
                     int64_t &hd) -> LogicalResult {
    int64_t e = t.getDimSize(2);
    hd = ShapedType::kDynamic;
    if (!isStatic(e))
      return success();
    if (e % heads != 0)
      return emitOpError() << "last dim of '" << name << "' (" << e
                           << ") is not a multiple of its head count (" << heads
                           << ")";
    hd = e / heads;
    return success();
  };
  int64_t b = q.getDimSize(0), s, d, dv;
  if (tokenMajor) {
    s = q.getDimSize(1);
    int64_t dk;
    if (failed(headDim("q", q, numHeads, d)) ||
        failed(headDim("k", k, numKvHeads, dk)) ||
        failed(headDim("v", v, numKvHeads, dv)) ||
        failed(checkSameDim(*this, dk, "head dim of 'k'", d, "head dim of 'q'")))
      return failure();
    for (auto [name, t] : {std::pair<StringRef, RankedTensorType>{"k", k},
                           {"v", v}})
      if (failed(checkSameDim(*this, t.getDimSize(0), ("batch dim of '" + name + "'").str(),
                              b, "batch dim of 'q'")) ||
          failed(checkSameDim(*this, t.getDimSize(1),
                              ("sequence dim of '" + name + "'").str(), s,
                              "sequence dim of 'q'")))
        return failure();
  } else {
    s = q.getDimSize(2);
    d = q.getDimSize(3);
    dv = v.getDimSize(3);
    if (failed(checkSameDim(*this, q.getDimSize(1), "head dim 1 of 'q'",
                            numHeads, "num_heads")))
      return failure();
    // k and v: [B, Hkv, S, D] / [B, Hkv, S, Dv].
    for (auto [name, t, last] :
         {std::tuple<StringRef, RankedTensorType, int64_t>{"k", k, d},
          {"v", v, dv}}) {
      if (failed(checkShape(*this, name, t, {b, numKvHeads, s, last})))
        return failure();
    }
  }

  // Past and present: [B, Hkv, P, D] -> [B, Hkv, P+S, D].
  Value pastKey = getPastKey(), pastValue = getPastValue();
  if (static_cast<bool>(pastKey) != static_cast<bool>(pastValue))
    return emitOpError() << "past_key and past_value must be given together";
  int64_t p = 0;
  if (pastKey) {
    RankedTensorType pk = tensorType(pastKey), pv = tensorType(pastValue);
    if (failed(checkSameElementType(*this, "past_key", pk, "q", q)) ||
        failed(checkSameElementType(*this, "past_value", pv, "q", q)) ||
        failed(checkRank(*this, "past_key", pk, 4)))
      return failure();
    p = pk.getDimSize(2);
    if (failed(checkShape(*this, "past_key", pk, {b, numKvHeads, p, d})) ||
        failed(checkShape(*this, "past_value", pv, {b, numKvHeads, p, dv})))
      return failure();
  }
  int64_t total = (isStatic(p) && isStatic(s)) ? p + s : ShapedType::kDynamic;
  if (failed(checkShape(*this, "present_key", tensorType(getPresentKey()),
                        {b, numKvHeads, total, d})) ||
      failed(checkShape(*this, "present_value", tensorType(getPresentValue()),
                        {b, numKvHeads, total, dv})) ||
      failed(checkShape(*this, "out", tensorType(getOut()),
                        tokenMajor ? SmallVector<int64_t>{b, s, isStatic(dv) ? numHeads * dv : ShapedType::kDynamic}
                                   : SmallVector<int64_t>{b, numHeads, s, dv})))
    return failure();

  // Mask: [B|1, 1|Hq, 1|S, P+S] or [B|1, P+S], additive (q's element type)
  // or boolean (i1 or integer, nonzero = attend).
  if (Value maskValue = getMask()) {
    RankedTensorType mask = tensorType(maskValue);
    Type et = mask.getElementType();
    if (!et.isSignlessInteger() && et != q.getElementType())
      return emitOpError() << "mask must be boolean (i1 or integer) or additive "
                              "with the element type of 'q' ("
                           << q.getElementType() << "), got " << et;
    if (mask.getRank() == 2) {
      if (failed(checkDimOneOr(*this, mask.getDimSize(0), "batch dim of 'mask'",
                               b, "the batch size")) ||
          failed(checkSameDim(*this, mask.getDimSize(1), "dim 1 of 'mask'",
                              total, "the total key length (past + new)")))
        return failure();
      return success();
    }
    if (failed(checkRank(*this, "mask", mask, 4)) ||
        failed(checkDimOneOr(*this, mask.getDimSize(0), "batch dim of 'mask'",
                             b, "the batch size")) ||
        failed(checkDimOneOr(*this, mask.getDimSize(1), "head dim of 'mask'",
                             numHeads, "num_heads")) ||
        failed(checkDimOneOr(*this, mask.getDimSize(2), "dim 2 of 'mask'", s,
                             "the query length")) ||
        failed(checkSameDim(*this, mask.getDimSize(3), "dim 3 of 'mask'",
                            total, "the total key length (past + new)")))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Merged matmul
//===----------------------------------------------------------------------===//

LogicalResult MergedMatMulOp::verify() {
  RankedTensorType x = tensorType(getX());
  if (failed(checkMinRank(*this, "x", x, 1)))
    return failure();
  if (getWeights().empty())
    return emitOpError() << "needs at least one weight";
  if (getWeights().size() != getResults().size())
    return emitOpError() << "has " << getWeights().size() << " weights but "
                         << getResults().size() << " results";
  int64_t k = x.getDimSize(x.getRank() - 1);
  for (auto [i, w, r] : llvm::enumerate(getWeights(), getResults())) {
    RankedTensorType wt = tensorType(w), rt = tensorType(r);
    std::string wn = "weight #" + std::to_string(i),
                rn = "result #" + std::to_string(i);
    if (failed(checkRank(*this, wn, wt, 2)) ||
        failed(checkSameElementType(*this, wn, wt, "x", x)) ||
        failed(checkSameElementType(*this, rn, rt, "x", x)) ||
        failed(checkSameDim(*this, wt.getDimSize(0), "K of " + wn, k,
                            "the last dim of 'x'")))
      return failure();
    SmallVector<int64_t> expected(x.getShape());
    expected.back() = wt.getDimSize(1);
    if (failed(checkShape(*this, rn, rt, expected)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// SwiGLU
//===----------------------------------------------------------------------===//

LogicalResult SwiGLUOp::verify() {
  RankedTensorType gate = tensorType(getGate());
  RankedTensorType out = tensorType(getResult());
  if (failed(checkSameElementType(*this, "result", out, "gate", gate)) ||
      failed(checkMinRank(*this, "gate", gate, 1)))
    return failure();
  SmallVector<int64_t> expected(gate.getShape());
  if (Value up = getUp()) {
    if (up.getType() != gate)
      return emitOpError() << "'up' type " << up.getType()
                           << " must match 'gate' type " << gate;
  } else {
    int64_t last = gate.getDimSize(gate.getRank() - 1);
    if (isStatic(last) && last % 2 != 0)
      return emitOpError() << "last dim of the merged gate/up operand must be "
                              "even, got "
                           << last;
    expected.back() = isStatic(last) ? last / 2 : ShapedType::kDynamic;
  }
  return checkShape(*this, "result", out, expected);
}

//===----------------------------------------------------------------------===//
// MoE
//===----------------------------------------------------------------------===//

LogicalResult MoEOp::verify() {
  RankedTensorType x = tensorType(getX()), router = tensorType(getRouter());
  if (failed(checkMinRank(*this, "x", x, 1)) ||
      failed(checkMinRank(*this, "router", router, 1)) ||
      failed(checkSameElementType(*this, "router", router, "x", x)) ||
      failed(checkShape(*this, "result", tensorType(getResult()), x.getShape())) ||
      failed(checkSameElementType(*this, "result", getResult().getType(), "x", x)))
    return failure();
  const int64_t E = int64_t(getFc1().size());
  if (E == 0)
    return emitOpError("needs at least one expert");
  if (failed(checkSameDim(*this, router.getDimSize(router.getRank() - 1),
                          "the router's last dim", E, "the number of experts")))
    return failure();
  // The same number of rows, when both counts are static (a dynamic count,
  // a decoder's [B, S], is checked when the op runs).
  auto rows = [](RankedTensorType t) {
    int64_t n = 1;
    for (int64_t d : t.getShape().drop_back())
      n = (n == ShapedType::kDynamic || !isStatic(d)) ? ShapedType::kDynamic : n * d;
    return n;
  };
  if (rows(x) != ShapedType::kDynamic && rows(router) != ShapedType::kDynamic &&
      rows(x) != rows(router))
    return emitOpError() << "'x' has " << rows(x) << " rows but 'router' "
                         << rows(router);
  if (int64_t(getFc2().size()) != E)
    return emitOpError() << "has " << E << " fc1 weights but "
                         << getFc2().size() << " fc2 weights";
  for (auto [name, values] : {std::pair{"fc1_bias", getFc1Bias()},
                              std::pair{"fc2_bias", getFc2Bias()},
                              std::pair{"fc3", getFc3()}})
    if (!values.empty() && int64_t(values.size()) != E)
      return emitOpError() << name << " must be empty or one per expert (" << E
                           << "), got " << values.size();
  if (const int64_t k = int64_t(getK()); k < 1 || k > E)
    return emitOpError() << "k must be in [1, " << E << "], got " << k;
  if (auto limit = getLimit(); limit && !(limit->convertToFloat() > 0))
    return emitOpError() << "limit must be positive, got "
                         << limit->convertToFloat();
  const int64_t H = x.getDimSize(x.getRank() - 1);
  auto fc1 = tensorType(getFc1().front()), fc2 = tensorType(getFc2().front());
  if (failed(checkRank(*this, "fc1 #0", fc1, 2)) ||
      failed(checkRank(*this, "fc2 #0", fc2, 2)))
    return failure();
  // Every expert's weights and biases (the names below in this order).
  const OperandRange groups[] = {getFc1(),     getFc2(), getFc1Bias(),
                                 getFc2Bias(), getFc3(), getFc3Bias()};
  // Weights are references to bytes: their shapes are known.
  for (OperandRange ws : groups)
    for (Value w : ws)
      if (!tensorType(w).hasStaticShape())
        return emitOpError() << "expert weights and biases must have static shapes, got "
                             << w.getType();
  const int64_t F1 = fc1.getDimSize(1), I = fc2.getDimSize(0);
  const bool swiglu = getActivation() == MoEActivation::swiglu;
  const bool gated = !getFc3().empty();
  if (!getFc3Bias().empty() && int64_t(getFc3Bias().size()) != int64_t(getFc3().size()))
    return emitOpError() << "fc3_bias must be empty or one per fc3 weight ("
                         << getFc3().size() << "), got " << getFc3Bias().size();
  if (gated && swiglu)
    return emitOpError("fc3 gates an elementwise activation; swiglu is gated by fc1's "
                       "own second half");
  if (failed(checkSameDim(*this, F1, "fc1's N", swiglu ? 2 * I : I,
                          swiglu ? "twice fc2's K (swiglu)" : "fc2's K")))
    return failure();
  // Their shapes, and x's element type.
  const std::pair<const char *, SmallVector<int64_t, 2>> shapes[] = {
      {"fc1", {H, F1}}, {"fc2", {I, H}},   {"fc1_bias", {F1}},
      {"fc2_bias", {H}}, {"fc3", {H, I}}, {"fc3_bias", {I}}};
  for (auto [shape, values] : llvm::zip(shapes, groups))
    for (auto [e, v] : llvm::enumerate(values)) {
      std::string n = std::string(shape.first) + " #" + std::to_string(e);
      if (failed(checkShape(*this, n, tensorType(v), shape.second)) ||
          failed(checkSameElementType(*this, n, v.getType(), "x", x)))
        return failure();
    }
  return success();
}

//===----------------------------------------------------------------------===//
// QMatMul
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  QWeightType w = cast<QWeightType>(getW().getType());
  RankedTensorType r = tensorType(getResult());
  if (r.getElementType() != w.getQuant().getScaleType())
    return emitOpError("result element type must be the weight's scale type ")
           << w.getQuant().getScaleType() << ", got " << r.getElementType();
  return checkShape(*this, "result", r, {w.getK(), w.getN()});
}

LogicalResult QMatMulOp::verify() {
  RankedTensorType x = tensorType(getX());
  QWeightType w = cast<QWeightType>(getW().getType());
  if (failed(checkMinRank(*this, "x", x, 1)) ||
      failed(checkSameDim(*this, x.getDimSize(x.getRank() - 1),
                          "last dim of 'x'", w.getK(),
                          "K of the quantized weight")))
    return failure();
  if (Value bias = getBias()) {
    RankedTensorType bt = tensorType(bias);
    if (failed(checkSameElementType(*this, "bias", bt, "x", x)) ||
        failed(checkShape(*this, "bias", bt, {w.getN()})))
      return failure();
  }
  SmallVector<int64_t> expected(x.getShape());
  expected.back() = w.getN();
  return checkShape(*this, "result", tensorType(getResult()), expected);
}
