//===- AWQ.cpp - Activation-aware scale search and folding ----------------===//
#include "llmc/Quant/AWQ.h"
#include "llmc/Quant/LinearAlgebra.h"
#include "llmc/Quant/MSEClip.h"
#include <cmath>

using namespace llvm;

namespace llmc {
namespace quant {

// s = s_X^alpha / sqrt(max * min), with s_X floored so dead channels stay finite.
static std::vector<float> awqScales(const std::vector<double> &sx, double alpha) {
  const int64_t K = int64_t(sx.size());
  std::vector<double> s(K);
  double lo = INFINITY, hi = 0;
  for (int64_t k = 0; k < K; ++k) {
    s[k] = std::pow(std::max(sx[k], 1e-4), alpha);
    lo = std::min(lo, s[k]);
    hi = std::max(hi, s[k]);
  }
  double norm = 1.0 / std::sqrt(hi * lo);
  std::vector<float> out(K);
  for (int64_t k = 0; k < K; ++k)
    out[k] = alpha == 0 ? 1.0f : float(s[k] * norm);
  return out;
}

void scaleWeightColumns(float *W, int64_t N, int64_t K, const float *s) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      W[n * K + k] *= s[k];
}

void foldScalesIntoNorm(float *gamma, int64_t K, const float *s, float *bias) {
  for (int64_t k = 0; k < K; ++k) {
    gamma[k] /= s[k];
    if (bias)
      bias[k] /= s[k];
  }
}

void foldScalesIntoPrecedingLinear(float *P, int64_t K, int64_t Kin,
                                   const float *s, float *bias) {
  for (int64_t k = 0; k < K; ++k) {
    for (int64_t j = 0; j < Kin; ++j)
      P[k * Kin + j] /= s[k];
    if (bias)
      bias[k] /= s[k];
  }
}

Expected<AWQResult> awqQuantize(const float *W, int64_t N, int64_t K,
                                const CalibrationStats &stats, WeightFormat fmt,
                                const AWQOptions &opts) {
  if (stats.inputSize() != K)
    return createStringError(inconvertibleErrorCode(),
                             "awq: statistics are for %lld inputs, weight has "
                             "%lld",
                             (long long)stats.inputSize(), (long long)K);
  if (!fmt.isQuantized())
    return createStringError(inconvertibleErrorCode(),
                             "awq: %s is not a quantized format",
                             fmt.str().c_str());
  const std::vector<double> H = stats.sumOuter();
  const std::vector<double> sx = stats.meanAbs();
  // The rows the searches score (every row unless N > searchRows). Rows are
  // quantized independently, so the grid search quantizes only these.
  const int64_t S =
      opts.searchRows > 0 && N > opts.searchRows ? opts.searchRows : N;
  std::vector<float> Wsub(size_t(S * K));
  std::vector<int64_t> sampled(static_cast<size_t>(S));
  for (int64_t i = 0; i < S; ++i) {
    sampled[size_t(i)] = S == N ? i : i * N / S;
    std::copy(W + sampled[size_t(i)] * K, W + (sampled[size_t(i)] + 1) * K,
              Wsub.begin() + i * K);
  }
  AWQResult res;
  const unsigned steps = std::max(2u, opts.gridSteps);
  std::vector<float> Ws(size_t(S * K));
  for (unsigned i = 0; i < steps; ++i) {
    double alpha = double(i) / double(steps - 1);
    std::vector<float> s = awqScales(sx, alpha);
    std::copy(Wsub.begin(), Wsub.end(), Ws.begin());
    scaleWeightColumns(Ws.data(), S, K, s.data());
    auto q = kernels::quantizeWeights(Ws.data(), S, K, fmt);
    if (!q)
      return q.takeError();
    double L = proxyLoss(Wsub.data(), *q, H.data(), s.data());
    res.lossPerAlpha.push_back(L);
    if (i == 0)
      res.rtnLoss = L;
    if (i == 0 || L < res.loss) {
      res.loss = L;
      res.alpha = alpha;
      res.scales = std::move(s);
      if (S == N)
        res.weights = std::move(*q);
    }
  }
  Ws.resize(size_t(N * K));
  if (S < N) {
    std::copy(W, W + N * K, Ws.begin());
    scaleWeightColumns(Ws.data(), N, K, res.scales.data());
    auto q = kernels::quantizeWeights(Ws.data(), N, K, fmt);
    if (!q)
      return q.takeError();
    res.weights = std::move(*q);
  }
  if (opts.clipSteps > 1) {
    // The scaled layer sees x / s: its second moment is diag(1/s) H diag(1/s).
    const std::vector<float> &s = res.scales;
    std::vector<double> Hs(K * K);
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j)
        Hs[i * K + j] = H[i * K + j] / (double(s[i]) * double(s[j]));
    std::copy(W, W + N * K, Ws.begin());
    scaleWeightColumns(Ws.data(), N, K, s.data());
    ClipSearch clip;
    clip.steps = opts.clipSteps;
    clip.minShrink = opts.minShrink;
    clip.H = Hs.data();
    clip.ldH = K;
    auto q = quantizeWeightsMSE(Ws.data(), N, K, fmt, clip);
    if (!q)
      return q.takeError();
    // Scored on the rows the grid search scored.
    double L = proxyLoss(W, *q, H.data(), s.data(), sampled);
    if (L < res.loss) {
      res.loss = L;
      res.weights = std::move(*q);
      res.clipped = true;
    }
  }
  return std::move(res);
}

} // namespace quant
} // namespace llmc
