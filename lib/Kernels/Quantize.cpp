//===- Quantize.cpp - Round-to-nearest reference quantizer ----------------===//
#include "llmc/Kernels/Quantize.h"
#include "llmc/Kernels/Half.h"
#include <algorithm>
#include <cmath>

using namespace llvm;

namespace llmc {
namespace kernels {

float roundToWeightType(float v, WeightType t) {
  if (t == WeightType::F16)
    return roundToFp16(v);
  if (t == WeightType::BF16)
    return roundToBf16(v);
  return v;
}

float roundToScaleType(float s, ScaleType t) {
  if (t == ScaleType::F16)
    return roundToFp16(s);
  if (t == ScaleType::BF16)
    return roundToBf16(s);
  return s;
}

Expected<QuantizedWeights> quantizeWeights(const float *W, int64_t N,
                                           int64_t K, WeightFormat fmt) {
  if (Error e = fmt.validate())
    return std::move(e);
  if (N <= 0 || K <= 0)
    return createStringError(inconvertibleErrorCode(),
                             "quantizeWeights: empty matrix");
  QuantizedWeights q;
  q.format = fmt;
  q.N = N;
  q.K = K;
  if (!fmt.isQuantized()) {
    q.group = K;
    q.numGroups = 1;
    q.values.resize(N * K);
    for (int64_t i = 0; i < N * K; ++i)
      q.values[i] = roundToWeightType(W[i], fmt.type);
    return std::move(q);
  }
  q.group = fmt.groupSize ? fmt.groupSize : K;
  q.numGroups = (K + q.group - 1) / q.group;
  q.codes.resize(N * K);
  q.scales.resize(N * q.numGroups);
  q.zeros.resize(N * q.numGroups);
  const int maxCode = int(fmt.maxCode());
  const int half = int(fmt.symZero());
  const float symSteps = float(fmt.symSteps());
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t g = 0; g < q.numGroups; ++g) {
      int64_t k0 = g * q.group, k1 = std::min(K, k0 + q.group);
      const float *w = W + n * K;
      float s = 0;
      int z = half;
      if (fmt.symmetric) {
        float amax = 0;
        for (int64_t k = k0; k < k1; ++k)
          amax = std::max(amax, std::fabs(w[k]));
        s = roundToScaleType(amax / symSteps, fmt.scaleType);
      } else {
        float lo = 0, hi = 0; // keep 0 representable
        for (int64_t k = k0; k < k1; ++k) {
          lo = std::min(lo, w[k]);
          hi = std::max(hi, w[k]);
        }
        s = roundToScaleType((hi - lo) / float(maxCode), fmt.scaleType);
        z = s > 0 ? int(std::nearbyint(-lo / s)) : 0;
        z = std::clamp(z, 0, maxCode);
      }
      float inv = s > 0 ? 1.0f / s : 0.0f;
      for (int64_t k = k0; k < k1; ++k)
        q.codes[n * K + k] = uint8_t(fmt.encode(w[k] * inv, unsigned(z)));
      q.scales[n * q.numGroups + g] = s;
      q.zeros[n * q.numGroups + g] = uint8_t(z);
    }
  }
  return std::move(q);
}

} // namespace kernels
} // namespace llmc
