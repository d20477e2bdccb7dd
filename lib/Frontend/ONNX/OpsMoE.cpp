//===- OpsMoE.cpp - ONNX Runtime's mixture-of-experts contrib op ----------===//
//
// com.microsoft MoE(input, router_probs, fc1_experts_weights,
// fc1_experts_bias, fc2_experts_weights, fc2_experts_bias
// [, fc3_experts_weights, fc3_experts_bias]) -> `llmc.moe`.
//
// ONNX Runtime's semantics (contrib_ops/cpu/moe): router_probs are the
// router's logits [rows, E]; each row goes to the k experts of largest
// softmax probability, weighted by those probabilities (renormalized over
// the k with normalize_routing_weights); expert e computes
// fc2_e(act(fc1_e(x))) with fc1_experts_weights [E, F1, H] and
// fc2_experts_weights [E, H, I] holding each expert's [N, K] matrix
// (y = x W^T). The gated `swiglu` activation reads fc1's 2I outputs as
// gate/linear pairs (swiglu_fusion = 1, interleaved) or halves
// (swiglu_fusion = 2), with gpt-oss's alpha, beta and clamp limit.
//
// Each expert's matrices become `llmc.weight`s of their own, slices of the
// stacked initializer's bytes (no copy: the expert's [N, K] is contiguous),
// read as the matmul's [K, N] through a transpose, as CodeGen packs any
// [N, K] initializer. Their names are the initializer's with the expert's
// index appended (`...fc1_experts_weights.3`), so --quant-recipe rules can
// single out experts.
//
// fc3_experts_weights [E, I, H] (Mixtral's gated experts, the form ONNX
// Runtime's CUDA kernel takes and its CPU kernel refuses) gates an
// elementwise activation: h = act(fc1 x) * (fc3 x).
//
// Not imported, with an error that says so: fc3 with swiglu,
// use_sparse_mixer, and weights that are not raw or external initializers.
//
//===----------------------------------------------------------------------===//

#include "OpHelpers.h"
#include "OpRegistry.h"

#include "llmc/LLMCOps.h"

#include "llvm/ADT/StringSwitch.h"

#include <cmath>
#include <limits>
#include <optional>
#include <string>

using namespace llmc::onnx_import;
using llvm::Error;
using llvm::SmallVector;

namespace {

enum MoEInput : unsigned {
  Input, RouterProbs, Fc1Weights, Fc1Bias, Fc2Weights, Fc2Bias, Fc3Weights, Fc3Bias,
  NumMoEInputs
};

/// The node's attributes and the experts' shapes, checked.
struct MoEDesc {
  int64_t experts = 0, hidden = 0, fc1Out = 0, inter = 0, k = 0;
  llmc::MoEActivation activation = llmc::MoEActivation::identity;
  bool normalize = false, interleaved = true;
  /// fc3 given: h = act(fc1 x) * (fc3 x) (Mixtral's gated experts).
  bool gated = false;
  float alpha = 1.0f, beta = 0.0f;
  std::optional<float> limit;
};

/// Static dims of input `i`, or an error naming it.
llvm::Expected<SmallVector<int64_t, 3>> staticDims(NodeContext &nc, unsigned i,
                                                   llvm::StringRef what) {
  TensorInfo &t = nc.input(i);
  if (!t.hasStaticShape())
    return nc.error(what + " '" + nc.node().input(int(i)) + "' must have a static shape");
  SmallVector<int64_t, 3> d;
  for (int64_t j = 0; j < t.rank(); ++j)
    d.push_back(*t.staticDim(j));
  return d;
}

llvm::Expected<MoEDesc> moeDesc(NodeContext &nc) {
  MoEDesc d;
  if (nc.numInputs() > NumMoEInputs)
    return nc.error("has " + llvm::Twine(nc.numInputs()) + " inputs; MoE takes at most " +
                    llvm::Twine(unsigned(NumMoEInputs)));
  for (auto [i, name] : {std::pair{Input, "input"}, std::pair{RouterProbs, "router_probs"},
                         std::pair{Fc1Weights, "fc1_experts_weights"},
                         std::pair{Fc2Weights, "fc2_experts_weights"}})
    if (!nc.hasInput(i))
      return nc.error(llvm::Twine("needs its input ") + llvm::Twine(unsigned(i)) + ", " + name);
  if (nc.hasInput(Fc3Bias) && !nc.hasInput(Fc3Weights))
    return nc.error("fc3_experts_bias is given without fc3_experts_weights");
  auto sparse = nc.attrInt("use_sparse_mixer", 0);
  if (!sparse)
    return sparse.takeError();
  if (*sparse != 0)
    return nc.error("use_sparse_mixer is not supported");
  // Defaults as ONNX Runtime's schema gives them.
  auto k = nc.attrInt("k", 1);
  if (!k)
    return k.takeError();
  auto normalize = nc.attrInt("normalize_routing_weights", 0);
  if (!normalize)
    return normalize.takeError();
  auto act = nc.attrString("activation_type", "relu");
  if (!act)
    return act.takeError();
  auto fusion = nc.attrInt("swiglu_fusion", 0);
  if (!fusion)
    return fusion.takeError();
  auto alpha = nc.attrFloat("activation_alpha", 1.0f);
  if (!alpha)
    return alpha.takeError();
  auto beta = nc.attrFloat("activation_beta", 0.0f);
  if (!beta)
    return beta.takeError();
  auto limit = nc.attrFloat("swiglu_limit", std::numeric_limits<float>::infinity());
  if (!limit)
    return limit.takeError();
  auto kind = llvm::StringSwitch<std::optional<llmc::MoEActivation>>(*act)
                  .Case("identity", llmc::MoEActivation::identity)
                  .Case("relu", llmc::MoEActivation::relu)
                  .Case("gelu", llmc::MoEActivation::gelu_tanh)
                  .Case("silu", llmc::MoEActivation::silu)
                  .Case("swiglu", llmc::MoEActivation::swiglu)
                  .Default(std::nullopt);
  if (!kind)
    return nc.error("activation_type '" + *act +
                    "' is not one of identity, relu, gelu, silu, swiglu");
  d.activation = *kind;
  const bool swiglu = d.activation == llmc::MoEActivation::swiglu;
  d.gated = nc.hasInput(Fc3Weights);
  if (swiglu && d.gated)
    return nc.error("fc3_experts_weights with activation_type 'swiglu' is not supported "
                    "(fc3 gates an elementwise activation, Mixtral's silu)");
  if (swiglu && (*fusion < 1 || *fusion > 2))
    return nc.error("swiglu_fusion " + llvm::Twine(*fusion) +
                    " is not supported; the swiglu activation needs fc1's gate and "
                    "linear outputs fused, interleaved (1) or in halves (2)");
  if (!swiglu && *fusion != 0)
    return nc.error("swiglu_fusion is set but activation_type is '" + *act + "'");
  d.interleaved = !swiglu || *fusion == 1;
  d.normalize = *normalize != 0;
  d.alpha = *alpha;
  d.beta = *beta;
  // ONNX Runtime: an infinite limit (the default) clamps nothing.
  if (!(*limit > 0))
    return nc.error("swiglu_limit must be positive, got " + std::to_string(*limit));
  if (std::isfinite(*limit))
    d.limit = *limit;

  TensorInfo &x = nc.input(Input), &router = nc.input(RouterProbs);
  if (x.rank() < 2 || x.rank() > 3)
    return nc.error("input must be [rows, hidden] or [batch, seq, hidden]");
  if (router.rank() != 2 && router.rank() != x.rank())
    return nc.error("router_probs must be [rows, experts] or have the input's rank");
  if (x.elemType != router.elemType)
    return nc.error("input and router_probs must have the same element type");
  if (router.rank() == x.rank())
    for (int64_t i = 0; i + 1 < x.rank(); ++i)
      if (x.dims[i] != router.dims[i])
        return nc.error("input and router_probs must have the same rows");
  auto w1 = staticDims(nc, Fc1Weights, "fc1_experts_weights");
  if (!w1)
    return w1.takeError();
  auto w2 = staticDims(nc, Fc2Weights, "fc2_experts_weights");
  if (!w2)
    return w2.takeError();
  if (w1->size() != 3 || w2->size() != 3)
    return nc.error("fc1_experts_weights and fc2_experts_weights must be 3-D "
                    "[experts, N, K]");
  d.experts = (*w1)[0];
  d.fc1Out = (*w1)[1];
  d.hidden = (*w1)[2];
  d.inter = (*w2)[2];
  auto H = x.staticDim(x.rank() - 1), E = router.staticDim(router.rank() - 1);
  if (!H || *H != d.hidden)
    return nc.error("fc1_experts_weights is [" + llvm::Twine(d.experts) + ", " +
                    llvm::Twine(d.fc1Out) + ", " + llvm::Twine(d.hidden) +
                    "] but the input's hidden size is " +
                    (H ? llvm::Twine(*H) : llvm::Twine("not static")));
  if (!E || *E != d.experts)
    return nc.error("router_probs' last dim must be the " + llvm::Twine(d.experts) +
                    " experts of fc1_experts_weights");
  if ((*w2)[0] != d.experts || (*w2)[1] != d.hidden)
    return nc.error("fc2_experts_weights must be [" + llvm::Twine(d.experts) + ", " +
                    llvm::Twine(d.hidden) + ", inter]");
  if (d.fc1Out != (swiglu ? 2 * d.inter : d.inter))
    return nc.error("fc1_experts_weights' N (" + llvm::Twine(d.fc1Out) + ") must be " +
                    (swiglu ? "twice " : "") + "fc2's K (" + llvm::Twine(d.inter) + ")");
  if (d.gated) {
    auto w3 = staticDims(nc, Fc3Weights, "fc3_experts_weights");
    if (!w3)
      return w3.takeError();
    if (*w3 != SmallVector<int64_t, 3>{d.experts, d.inter, d.hidden})
      return nc.error("fc3_experts_weights must be [" + llvm::Twine(d.experts) + ", " +
                      llvm::Twine(d.inter) + ", " + llvm::Twine(d.hidden) + "]");
  }
  for (auto [i, n, what] : {std::tuple{Fc1Bias, d.fc1Out, "fc1_experts_bias"},
                            std::tuple{Fc2Bias, d.hidden, "fc2_experts_bias"},
                            std::tuple{Fc3Bias, d.inter, "fc3_experts_bias"}}) {
    if (!nc.hasInput(i))
      continue;
    auto b = staticDims(nc, i, what);
    if (!b)
      return b.takeError();
    if (*b != SmallVector<int64_t, 3>{d.experts, n})
      return nc.error(llvm::Twine(what) + " must be [" + llvm::Twine(d.experts) + ", " +
                      llvm::Twine(n) + "]");
  }
  for (unsigned i : {Fc1Weights, Fc1Bias, Fc2Weights, Fc2Bias, Fc3Weights, Fc3Bias})
    if (nc.hasInput(i) && nc.input(i).elemType != x.elemType)
      return nc.error("'" + nc.node().input(int(i)) +
                      "' must have the input's element type");
  if (*k < 1 || *k > d.experts)
    return nc.error("k must be in [1, " + llvm::Twine(d.experts) + "], got " +
                    llvm::Twine(*k));
  d.k = *k;
  return d;
}

Error inferMoE(NodeContext &nc) {
  auto d = moeDesc(nc);
  if (!d)
    return d.takeError();
  TensorInfo &x = nc.input(Input);
  nc.setOutput(0, x.elemType, x.dims);
  return Error::success();
}

/// The E per-expert slices of the stacked initializer of input `i`
/// ([E, ...] -> E tensors of shape `slice`), transposed to [K, N] when
/// `transpose`.
llvm::Expected<SmallVector<mlir::Value>> expertSlices(NodeContext &nc, unsigned i,
                                                     int64_t experts,
                                                     llvm::ArrayRef<int64_t> slice,
                                                     bool transpose) {
  TensorInfo &info = nc.input(i);
  const std::string &name = nc.node().input(int(i));
  if (info.source != TensorInfo::Source::Initializer)
    return nc.error("'" + name + "' must be an initializer (each expert's matrix is "
                    "read from its bytes)");
  auto loc = nc.importer().initializerLocation(info);
  if (!loc)
    return loc.takeError();
  if (loc->kind != TensorLocation::Kind::Inline &&
      loc->kind != TensorLocation::Kind::External)
    return nc.error("'" + name + "' must be stored as raw_data or external data");
  int64_t elems = 1;
  for (int64_t s : slice)
    elems *= s;
  const int64_t bytes = elems * int64_t(info.elemType.getIntOrFloatBitWidth() / 8);
  if (uint64_t(bytes * experts) != loc->length)
    return nc.error("'" + name + "' holds " + llvm::Twine(loc->length) + " bytes, not " +
                    llvm::Twine(bytes * experts));
  mlir::OpBuilder &b = nc.builder();
  auto type = mlir::RankedTensorType::get(slice, info.elemType);
  SmallVector<mlir::Value> out;
  for (int64_t e = 0; e < experts; ++e) {
    std::string ename = name + "." + std::to_string(e);
    auto wloc = mlir::NameLoc::get(b.getStringAttr(ename), nc.loc());
    mlir::Value w = b.create<llmc::WeightOp>(
        wloc, type, b.getStringAttr(ename), b.getStringAttr(loc->file),
        b.getI64IntegerAttr(int64_t(loc->offset) + e * bytes), b.getI64IntegerAttr(bytes));
    if (transpose)
      w = b.create<llmc::TransposeOp>(
          wloc, mlir::RankedTensorType::get({slice[1], slice[0]}, info.elemType), w,
          b.getDenseI64ArrayAttr({1, 0}));
    out.push_back(w);
  }
  return out;
}

Error emitMoE(NodeContext &nc) {
  MoEDesc d = cantFail(moeDesc(nc));
  auto x = nc.operand(Input);
  if (!x)
    return x.takeError();
  auto router = nc.operand(RouterProbs);
  if (!router)
    return router.takeError();
  // Each given weight or bias input as its E slices (none when absent), in
  // the op's operand order; the weights through a transpose (the matmul's
  // [K, N]).
  struct Part {
    unsigned input;
    SmallVector<int64_t, 2> slice;
    bool transpose;
  };
  const Part parts[] = {{Fc1Weights, {d.fc1Out, d.hidden}, true},
                        {Fc2Weights, {d.hidden, d.inter}, true},
                        {Fc1Bias, {d.fc1Out}, false},
                        {Fc2Bias, {d.hidden}, false},
                        {Fc3Weights, {d.inter, d.hidden}, true},
                        {Fc3Bias, {d.inter}, false}};
  SmallVector<mlir::Value> sliced[std::size(parts)];
  for (auto [p, out] : llvm::zip(parts, sliced)) {
    if (!nc.hasInput(p.input))
      continue;
    auto v = expertSlices(nc, p.input, d.experts, p.slice, p.transpose);
    if (!v)
      return v.takeError();
    out = std::move(*v);
  }
  // The experts work on rows. A GenAI-style export flattens [B, S, H] to
  // [B * S, H] around the MoE and restores the shape after it; the MoE is
  // built on the [B, S, ...] values instead (a flatten's source, when both
  // operands have one with the same leading dims), so the restoring
  // Reshape is the identity rather than a split of a run-time dim.
  auto rowsOf = [&](mlir::Value v, llvm::ArrayRef<DimExpr> dims) {
    auto &flattened = nc.importer().flattened;
    auto f = flattened.find(v);
    return f == flattened.end()
               ? std::pair{v, SmallVector<DimExpr, 4>(dims)}
               : std::pair{f->second.source, SmallVector<DimExpr, 4>(f->second.dims)};
  };
  auto [xs, xDims] = rowsOf(*x, nc.input(Input).dims);
  auto [rs, rDims] = rowsOf(*router, nc.input(RouterProbs).dims);
  const bool onSources = xDims.size() <= 3 && llvm::ArrayRef<DimExpr>(xDims).drop_back() ==
                                               llvm::ArrayRef<DimExpr>(rDims).drop_back();
  if (!onSources) {
    xs = *x;
    rs = *router;
    xDims.assign(nc.input(Input).dims.begin(), nc.input(Input).dims.end());
  }
  mlir::OpBuilder &b = nc.builder();
  auto moe = b.create<llmc::MoEOp>(
      nc.loc(), typeFromDims(nc.input(Input).elemType, xDims), xs, rs, sliced[0], sliced[1],
      sliced[2], sliced[3], sliced[4], sliced[5],
      b.getI64IntegerAttr(d.k), b.getBoolAttr(d.normalize),
      llmc::MoEActivationAttr::get(nc.getContext(), d.activation),
      b.getBoolAttr(d.interleaved), b.getF32FloatAttr(d.alpha), b.getF32FloatAttr(d.beta),
      d.limit ? b.getF32FloatAttr(*d.limit) : mlir::FloatAttr());
  auto y = emitReshape(nc, moe.getResult(), xDims, nc.output(0).dims, nc.outputType(0));
  if (!y)
    return y.takeError();
  nc.setResult(0, *y);
  return Error::success();
}

} // namespace

void llmc::onnx_import::registerMoEOps(OpRegistry &r) {
  r.add({"com.microsoft", "MoE", 1, INT64_MAX, inferMoE, emitMoE});
}
