//===- Quantize.cpp - Round-to-nearest reference quantizer ----------------===//
#include "llmc/Kernels/Quantize.h"
#include "llmc/Kernels/Half.h"
#include "ParallelRows.h"
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

float roundToScaleType(float s, ScaleType t, int scaleExponent) {
  switch (t) {
  case ScaleType::F32: return s;
  case ScaleType::F16: return roundToFp16(s);
  case ScaleType::BF16: return roundToBf16(s);
  case ScaleType::E4M4:
    return std::ldexp(e4m4ToFp32(fp32ToE4M4(std::ldexp(s, -scaleExponent))),
                      scaleExponent);
  }
  return s;
}

/// Round-to-nearest scale of one group of one row (before dtype rounding)
/// and, for asymmetric formats, the range's low end.
static float rawGroupScale(const float *w, int64_t len, WeightFormat fmt,
                           float *lowOut = nullptr) {
  if (fmt.symmetric) {
    float amax = 0;
    for (int64_t k = 0; k < len; ++k)
      amax = std::max(amax, std::fabs(w[k]));
    return amax / float(fmt.symSteps());
  }
  float lo = 0, hi = 0; // keep 0 representable
  for (int64_t k = 0; k < len; ++k) {
    lo = std::min(lo, w[k]);
    hi = std::max(hi, w[k]);
  }
  if (lowOut)
    *lowOut = lo;
  return (hi - lo) / float(fmt.maxCode());
}

int chooseScaleExponent(const float *W, int64_t N, int64_t K,
                        WeightFormat fmt) {
  if (!fmt.hasTensorScale())
    return 0;
  const int64_t group = fmt.groupSize ? fmt.groupSize : K;
  float largest = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k0 = 0; k0 < K; k0 += group)
      largest = std::max(
          largest, rawGroupScale(W + n * K + k0, std::min(K, k0 + group) - k0, fmt));
  if (!(largest > 0) || !std::isfinite(largest))
    return 0;
  // largest <= 2^(e - 1) kE4M4Max with the smallest such e.
  int e = int(std::ceil(std::log2(double(largest) / double(kE4M4Max)))) + 1;
  return std::clamp(e, -126, 126);
}

Expected<QuantizedWeights> quantizeWeights(const float *W, int64_t N,
                                           int64_t K, WeightFormat fmt,
                                           std::optional<int> scaleExponent) {
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
    parallelRows(N, kRowsPerThread, [&](int64_t n0, int64_t n1) {
      for (int64_t i = n0 * K; i < n1 * K; ++i)
        q.values[i] = roundToWeightType(W[i], fmt.type);
    });
    return std::move(q);
  }
  q.group = fmt.groupSize ? fmt.groupSize : K;
  q.numGroups = (K + q.group - 1) / q.group;
  q.scaleExponent =
      scaleExponent ? *scaleExponent : chooseScaleExponent(W, N, K, fmt);
  q.codes.resize(N * K);
  q.scales.resize(N * q.numGroups);
  q.zeros.resize(N * q.numGroups);
  const int maxCode = int(fmt.maxCode());
  const int half = int(fmt.symZero());
  // Rows are independent: parts of them round in parallel.
  parallelRows(N, kRowsPerThread, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t g = 0; g < q.numGroups; ++g) {
        int64_t k0 = g * q.group, k1 = std::min(K, k0 + q.group);
        const float *w = W + n * K;
        float lo = 0;
        float s = roundToScaleType(rawGroupScale(w + k0, k1 - k0, fmt, &lo),
                                   fmt.scaleType, q.scaleExponent);
        int z = half;
        if (!fmt.symmetric) {
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
  });
  return std::move(q);
}

} // namespace kernels
} // namespace llmc
