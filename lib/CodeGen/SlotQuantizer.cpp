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

std::vector<float> meanOutputError(const float *W,
                                   const kernels::QuantizedWeights &rounded,
                                   ArrayRef<double> mu,
                                   const quant::RandomizedHadamard *U) {
  const int64_t N = rounded.N, K = rounded.K;
  // The rounded weights see U mu when they were rounded in a rotated basis.
  std::vector<double> muQ(mu.begin(), mu.end());
  if (U)
    U->apply(muQ.data());
  std::vector<float> b(size_t(N), 0.0f);
  for (int64_t n = 0; n < N; ++n) {
    double exact = 0, approx = 0;
    for (int64_t k = 0; k < K; ++k) {
      exact += double(W[n * K + k]) * mu[k];
      approx += double(rounded.weight(n, k)) * muQ[k];
    }
    b[size_t(n)] = float(exact - approx);
  }
  return b;
}

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

  // Round to nearest, of W U^T when rotated (the activation follows online).
  auto roundToNearest = [&](const float *w,
                            std::optional<quant::RandomizedHadamard> &U)
      -> Expected<kernels::QuantizedWeights> {
    std::vector<float> rotated;
    if (rotate) {
      auto made = quant::RandomizedHadamard::create(K, seed);
      if (!made)
        return made.takeError();
      U = std::move(*made);
      rotated = U->rotateWeights(w, N);
      w = rotated.data();
      out.rotationSeed = seed;
    }
    if (!spec.mseClip || !fmt.isQuantized())
      return kernels::quantizeWeights(w, N, K, fmt);
    quant::ClipSearch search;
    search.steps = 20; // range factors 1.0, 0.975, ..., 0.5
    return quant::quantizeWeightsMSE(w, N, K, fmt, search);
  };

  if (!fmt.isQuantized() || !recipe.needsCalibration()) {
    std::optional<quant::RandomizedHadamard> U;
    if (Error e = pack(roundToNearest(W, U)))
      return std::move(e);
    return std::move(out);
  }

  if (!stats || stats->numRows() == 0)
    return createStringError(inconvertibleErrorCode(),
                             "--quant method '%s'%s needs calibration statistics "
                             "of this weight's input (--calib FILE)",
                             quant::quantMethodName(spec.method).data(),
                             spec.biasCorrection ? " with bias correction" : "");
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
  // With a free bias b = (W - W_hat) mu the expected error of the rounding
  // is tr(dW Cov dW^T): round for the covariance, then add the mean back.
  const std::vector<double> H =
      spec.biasCorrection ? stats->covariance() : stats->hessian();
  quant::GPTQOptions g;
  g.actOrder = spec.actOrder;
  g.clipSteps = spec.mseClip ? 20 : 1;
  // Two rounds of scale refitting: one and three gave stories260K's int4
  // gptq perplexity within 0.02% of each other.
  g.refitRounds = spec.refitScales ? 2 : 0;
  std::optional<quant::RandomizedHadamard> U; // the rounded weights' basis
  Expected<kernels::QuantizedWeights> rounded = kernels::QuantizedWeights{};
  if (spec.method == QuantMethod::RTN) { // bias correction alone
    rounded = roundToNearest(W, U);
  } else if (spec.method == QuantMethod::GPTQ && !rotate) {
    auto r = quant::gptqQuantize(W, N, K, H, fmt, g);
    if (!r)
      return r.takeError();
    rounded = std::move(r->weights);
  } else if (rotate) { // quip, or gptq of a rotated input: LDLQ
    auto r = quant::quantizeIncoherent(W, N, K, H, fmt, g, seed);
    if (!r)
      return r.takeError();
    rounded = std::move(r->weights);
    U = std::move(r->transform);
    out.rotationSeed = seed;
  } else if (spec.method == QuantMethod::AWQ) {
    // AWQ's own clipping search is part of the method (AWQOptions).
    auto r = quant::awqQuantize(W, N, K, *stats, fmt);
    if (!r)
      return r.takeError();
    rounded = std::move(r->weights);
    out.awqScales = std::move(r->scales);
  } else {
    return createStringError(inconvertibleErrorCode(),
                             "quantization method '%s' is not handled here",
                             quant::quantMethodName(spec.method).data());
  }
  if (!rounded)
    return rounded.takeError();
  if (spec.biasCorrection)
    out.bias = meanOutputError(W, *rounded, stats->mean(), U ? &*U : nullptr);
  if (Error e = pack(std::move(*rounded)))
    return std::move(e);
  return std::move(out);
}

} // namespace llmc::codegen
