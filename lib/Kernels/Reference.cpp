//===- Reference.cpp - Scalar reference matmuls and activation quant ------===//
#include "llmc/Kernels/Reference.h"
#include <algorithm>
#include <cmath>

namespace llmc {
namespace kernels {

float quantizeActivationGroup(const float *x, int64_t n, int64_t len,
                              int8_t *q, int32_t *sum) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i)
    amax = std::max(amax, std::fabs(x[i]));
  // q = round(x * 127 / amax): the largest element maps to exactly +-127, so no
  // clamping is needed and |x - s*q| <= s/2 with s = amax / 127.
  const float inv = amax > 0 ? 127.0f / amax : 0.0f;
  int32_t s = 0;
  for (int64_t i = 0; i < n; ++i) {
    // Round to nearest even by adding and removing 1.5 * 2^23 (exact for
    // |v| <= 127; same result as nearbyint, but vectorizes without SSE4.1).
    float r = (x[i] * inv + 12582912.0f) - 12582912.0f;
    int v = std::clamp(int(r), -127, 127);
    q[i] = int8_t(v);
    s += v;
  }
  for (int64_t i = n; i < len; ++i)
    q[i] = 0;
  *sum = s;
  return amax / 127.0f;
}

QuantizedActivations quantizeActivations(const float *x, int64_t M, int64_t K,
                                         int64_t ldx, int64_t group,
                                         int64_t Kp) {
  QuantizedActivations a;
  a.M = M;
  a.K = K;
  a.Kp = Kp;
  a.group = group;
  a.numGroups = Kp / group;
  a.q.assign(M * Kp, 0);
  a.scale.assign(M * a.numGroups, 0);
  a.sum.assign(M * a.numGroups, 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t g = 0; g < a.numGroups; ++g) {
      int64_t k0 = g * group;
      int64_t n = std::max<int64_t>(0, std::min(K - k0, group));
      a.scale[m * a.numGroups + g] = quantizeActivationGroup(
          x + m * ldx + k0, n, group, &a.q[m * Kp + k0],
          &a.sum[m * a.numGroups + g]);
    }
  return a;
}

void referenceMatmulF32(const float *x, int64_t M, const QuantizedWeights &w,
                        float *y) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < w.K; ++k)
        acc += double(x[m * w.K + k]) * double(w.weight(n, k));
      y[m * w.N + n] = float(acc);
    }
}

/// Activation group used by the int8 path: the weight group, or the whole
/// (32-padded) row for per-channel weights.
static int64_t actGroup(const QuantizedWeights &w) {
  return w.format.groupSize ? w.format.groupSize : (w.K + 31) / 32 * 32;
}

void referenceMatmulInt8(const float *x, int64_t M, const QuantizedWeights &w,
                         float *y) {
  const int64_t G = actGroup(w);
  const int64_t numGroups = (w.K + G - 1) / G;
  QuantizedActivations a = quantizeActivations(x, M, w.K, w.K, G, numGroups * G);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n) {
      double acc = 0;
      for (int64_t g = 0; g < numGroups; ++g) {
        int64_t dot = 0;
        int64_t z = w.zeros[n * w.numGroups + g];
        for (int64_t k = g * G; k < std::min(w.K, (g + 1) * G); ++k)
          dot += (int64_t(w.format.codeValue(w.codes[n * w.K + k])) - z) *
                 a.q[m * a.Kp + k];
        acc += double(dot) * double(w.scales[n * w.numGroups + g]) *
               double(a.scale[m * numGroups + g]);
      }
      y[m * w.N + n] = float(acc);
    }
}

std::vector<double> int8PathErrorBound(const float *x, int64_t M,
                                       const QuantizedWeights &w) {
  const int64_t G = actGroup(w);
  const int64_t numGroups = (w.K + G - 1) / G;
  QuantizedActivations a = quantizeActivations(x, M, w.K, w.K, G, numGroups * G);
  std::vector<double> b(M * w.N, 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n) {
      double acc = 0;
      for (int64_t g = 0; g < numGroups; ++g) {
        double wsum = 0;
        for (int64_t k = g * G; k < std::min(w.K, (g + 1) * G); ++k)
          wsum += std::fabs(double(w.weight(n, k)));
        // |x - s q| <= s/2 (rounding) plus the fp32 error of x*inv (~1 ulp of q).
        acc += wsum * double(a.scale[m * numGroups + g]) * 0.5 * (1 + 1e-5);
      }
      b[m * w.N + n] = acc;
    }
  return b;
}

} // namespace kernels
} // namespace llmc
