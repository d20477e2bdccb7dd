//===- SlotQuantizer.cpp - One matmul weight: quantize by recipe, then pack -===//
#include "llmc/CodeGen/SlotQuantizer.h"

#include "llmc/Kernels/Packing.h"
#include "llmc/Quant/AWQ.h"
#include "llmc/Quant/GPTQ.h"
#include "llmc/Quant/Hadamard.h"
#include "llmc/Quant/MSEClip.h"
#include "llmc/Quant/OutputMatching.h"

using namespace llvm;

namespace llmc::codegen {

Expected<SlotQuantization> quantizeSlot(const float *W, int64_t N, int64_t K,
                                        const QuantRecipe &recipe,
                                        const quant::CalibrationStats *stats,
                                        IsaTier tier, uint64_t seed,
                                        bool rotateInput) {
  using quant::QuantMethod;
  const quant::QuantSpec &spec = recipe.weights;
  const kernels::WeightFormat &fmt = spec.format;
  if (Error e = fmt.validate())
    return std::move(e);
  SlotQuantization out;
  const bool rotate =
      fmt.isQuantized() && (rotateInput || spec.method == QuantMethod::Incoherent);
  if (rotate && spec.method == QuantMethod::AWQ)
    return createStringError(inconvertibleErrorCode(),
                             "awq cannot quantize a rotated input");
  auto pack = [&](Expected<kernels::QuantizedWeights> q) -> Error {
    if (!q)
      return q.takeError();
    auto p = kernels::packWeights(*q, tier);
    if (!p)
      return p.takeError();
    out.packed = std::move(*p);
    return Error::success();
  };

  if (!fmt.isQuantized() || !recipe.needsCalibration()) {
    // Round to nearest, of W U^T when rotated (the activation follows online).
    std::vector<float> rotated;
    if (rotate) {
      auto U = quant::RandomizedHadamard::create(K, seed);
      if (!U)
        return U.takeError();
      rotated = U->rotateWeights(W, N);
      W = rotated.data();
      out.rotationSeed = seed;
    }
    if (!spec.mseClip || !fmt.isQuantized()) {
      auto p = kernels::packWeights(W, N, K, fmt, tier);
      if (!p)
        return p.takeError();
      out.packed = std::move(*p);
      return std::move(out);
    }
    quant::ClipSearch search;
    search.steps = 20; // range factors 1.0, 0.975, ..., 0.5
    if (Error e = pack(quant::quantizeWeightsMSE(W, N, K, fmt, search)))
      return std::move(e);
    return std::move(out);
  }

  if (!stats || stats->numRows() == 0)
    return createStringError(inconvertibleErrorCode(),
                             "--quant method '%s' needs calibration statistics "
                             "of this weight's input (--calib FILE)",
                             quant::quantMethodName(spec.method).data());
  if (stats->inputSize() != K)
    return createStringError(inconvertibleErrorCode(),
                             "calibration statistics are for %lld inputs, the "
                             "weight has %lld",
                             (long long)stats->inputSize(), (long long)K);
  // Paired statistics (a further calibration round): round W* = the weights
  // that best reproduce the fp32 model's outputs from this model's inputs.
  std::vector<float> matched;
  if (stats->hasReference()) {
    if (spec.method == QuantMethod::AWQ)
      return createStringError(inconvertibleErrorCode(),
                               "awq does not take paired calibration statistics");
    auto m = quant::matchReferenceOutputs(W, N, K, *stats);
    if (!m)
      return m.takeError();
    matched = std::move(*m);
    W = matched.data();
  }
  quant::GPTQOptions g;
  g.actOrder = spec.actOrder;
  g.clipSteps = spec.mseClip ? 20 : 1;
  // Two rounds of scale refitting: one and three gave stories260K's int4
  // gptq perplexity within 0.02% of each other.
  g.refitRounds = spec.refitScales ? 2 : 0;
  if (spec.method == QuantMethod::GPTQ && !rotate) {
    auto r = quant::gptqQuantize(W, N, K, stats->hessian(), fmt, g);
    if (!r)
      return r.takeError();
    if (Error e = pack(std::move(r->weights)))
      return std::move(e);
  } else if (rotate) { // quip, or gptq of a rotated input: LDLQ
    auto r = quant::quantizeIncoherent(W, N, K, stats->hessian(), fmt, g, seed);
    if (!r)
      return r.takeError();
    if (Error e = pack(std::move(r->weights)))
      return std::move(e);
    out.rotationSeed = seed;
  } else if (spec.method == QuantMethod::AWQ) {
    // AWQ's own clipping search is part of the method (AWQOptions).
    auto r = quant::awqQuantize(W, N, K, *stats, fmt);
    if (!r)
      return r.takeError();
    if (Error e = pack(std::move(r->weights)))
      return std::move(e);
    out.awqScales = std::move(r->scales);
  } else {
    return createStringError(inconvertibleErrorCode(),
                             "quantization method '%s' is not handled here",
                             quant::quantMethodName(spec.method).data());
  }
  return std::move(out);
}

} // namespace llmc::codegen
