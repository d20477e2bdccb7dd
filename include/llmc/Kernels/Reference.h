//===- Reference.h - Scalar reference matmuls -*- C++ -*-===//
//
// The references define what every kernel must compute:
//
//  * fp32 activation path:  y[m][n] = sum_k x[m][k] * w[n][k], with w the exactly
//    dequantized weight ((u - z) * s in fp32), accumulated in double.
//  * int8 activation path:  x is first quantized per (row, group) with
//    quantizeActivations() (the same function the kernels' prologue uses), then
//    y[m][n] = sum_g s_w[n][g] * s_x[m][g] * sum_{k in g} (u - z) * q_x,
//    with the integer sums exact and the rest in double.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_REFERENCE_H
#define LLMC_KERNELS_REFERENCE_H

#include "llmc/Kernels/Quantize.h"
#include <cstdint>
#include <vector>

namespace llmc {
namespace kernels {

/// Activations quantized to int8 per (row, group of `group` k), symmetric:
/// s = max|x| / 127, q = nearbyint(x * (127 / max|x|)) in [-127, 127].
/// Rows are padded with zeros up to Kp.
struct QuantizedActivations {
  int64_t M = 0, K = 0, Kp = 0, group = 0, numGroups = 0;
  std::vector<int8_t> q;      // [M][Kp]
  std::vector<float> scale;   // [M][numGroups]
  std::vector<int32_t> sum;   // [M][numGroups], sum of q over the group
};

/// Quantize one group of `n` activations into `q` (n <= len; q[n..len) = 0);
/// returns the scale and writes the code sum. Shared by reference and kernels.
float quantizeActivationGroup(const float *x, int64_t n, int64_t len,
                              int8_t *q, int32_t *sum);

QuantizedActivations quantizeActivations(const float *x, int64_t M, int64_t K,
                                         int64_t ldx, int64_t group,
                                         int64_t Kp);

/// fp32-activation reference: y[M][N] (ldy = N).
void referenceMatmulF32(const float *x, int64_t M, const QuantizedWeights &w,
                        float *y);

/// int8-activation reference: y[M][N]. Activation groups = weight groups
/// (the whole row for per-channel weights).
void referenceMatmulInt8(const float *x, int64_t M, const QuantizedWeights &w,
                         float *y);

/// Per-element error bound of the int8 path against the fp32 reference:
/// |y8 - y32|[m][n] <= sum_g (s_x[m][g] / 2) * sum_{k in g} |w[n][k]|, plus
/// fp32 rounding. Returns that bound for all (m, n), [M][N].
std::vector<double> int8PathErrorBound(const float *x, int64_t M,
                                       const QuantizedWeights &w);

} // namespace kernels
} // namespace llmc

#endif
