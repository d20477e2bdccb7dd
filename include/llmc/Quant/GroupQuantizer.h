//===- GroupQuantizer.h - Per-(row, group) scales shared by all quantizers -*- C++ -*-===//
//
// Every quantizer in lib/Quant (plain RTN with clipping search, GPTQ, LDLQ in a
// rotated basis, AWQ) ends the same way: pick a scale and zero point for each
// (output row n, group g of K) and encode each weight as
//
//     u = clamp(round(w / s) + z, 0, 2^bits - 1),    w ~= (u - z) * s,
//
// (nl4/nl2: u = the level nearest to w / s, w ~= (v[u] - 128) * s), the
// convention of llmc::kernels::QuantizedWeights. The scale of a group is
// always the one kernels::quantizeWeights (the round-to-nearest reference)
// computes -- on the group's values, or on the values shrunk by a clipping
// factor -- so this file calls it rather than repeating its min/max rules.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_GROUPQUANTIZER_H
#define LLMC_QUANT_GROUPQUANTIZER_H

#include "llmc/Kernels/Quantize.h"
#include "llvm/ADT/ArrayRef.h"
#include <algorithm>
#include <cmath>

namespace llmc {
namespace quant {

using kernels::QuantizedWeights;
using kernels::WeightFormat;
using kernels::WeightType;
using kernels::ScaleType;

/// Scale (already rounded to the scale dtype) and zero point of one group.
struct GroupParams {
  float scale = 0;
  uint8_t zero = 0;
};

/// The code of w under p, bit-identical to kernels::quantizeWeights' rounding
/// (w * (1/s) in fp32, then WeightFormat::encode).
inline uint8_t encodeWeight(float w, GroupParams p, WeightFormat fmt) {
  float inv = p.scale > 0 ? 1.0f / p.scale : 0.0f;
  return uint8_t(fmt.encode(w * inv, p.zero));
}
/// (codeValue(u) - z) * s in fp32, as QuantizedWeights::weight computes it.
inline float decodeWeight(uint8_t u, GroupParams p, WeightFormat fmt) {
  return (float(fmt.codeValue(u)) - float(p.zero)) * p.scale;
}

/// How the error of a candidate group quantization is measured, and the grid
/// of clipping factors to try (see MSEClip.h).
struct ClipSearch {
  /// Number of shrink factors c_i = 1 - i (1 - minShrink) / (steps - 1),
  /// i = 0..steps-1. 1 = no search: the plain min/max range.
  unsigned steps = 1;
  float minShrink = 0.5f;
  /// Optional per-input-channel importance d_k (length K of the whole matrix):
  /// the error of a row is sum_k d_k (w_k - q_k)^2. Null: d_k = 1 (plain MSE).
  const double *colWeights = nullptr;
  /// Optional full K x K second moment H of the layer input (row stride K):
  /// the error of a row is the group's output error dw_g^T H_gg dw_g
  /// (AWQ's clipping objective). Takes precedence over colWeights.
  const double *H = nullptr;
  int64_t ldH = 0;
};

/// Group parameters for rows [0, N) of a block of `len` consecutive columns
/// (block[n * len + j] is column k0 + j of row n), one per row, found with
/// kernels::quantizeWeights on the (optionally shrunk) block and, when
/// search.steps > 1, the clipping factor minimising the row's error.
/// `k0` locates the block in the whole matrix for the error weights; e4m4
/// scales are rounded on the whole matrix's grid, 2^scaleExponent.
llvm::Error computeGroupParams(const float *block, int64_t N, int64_t len,
                               int64_t k0, WeightFormat fmt,
                               const ClipSearch &search,
                               llvm::MutableArrayRef<GroupParams> out,
                               int scaleExponent = 0);

/// An empty QuantizedWeights of the shape of W[N][K] for a quantized format
/// (group, numGroups and the vectors sized; for e4m4 scales, W's
/// chooseScaleExponent), to be filled by a quantizer.
llvm::Expected<QuantizedWeights> makeQuantizedWeights(const float *W, int64_t N,
                                                      int64_t K,
                                                      WeightFormat fmt);

/// Stores params p for (n, g) in q.
inline void setGroupParams(QuantizedWeights &q, int64_t n, int64_t g,
                           GroupParams p) {
  q.scales[n * q.numGroups + g] = p.scale;
  q.zeros[n * q.numGroups + g] = p.zero;
}
inline GroupParams groupParams(const QuantizedWeights &q, int64_t n,
                               int64_t g) {
  return {q.scales[n * q.numGroups + g], q.zeros[n * q.numGroups + g]};
}

/// v^T A v for an n x n block of A with row stride lda (A symmetric).
inline double quadraticForm(const double *A, int64_t lda, const double *v,
                            int64_t n) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (v[i] == 0)
      continue;
    const double *Ai = A + i * lda;
    double t = 0;
    for (int64_t j = 0; j < n; ++j)
      t += Ai[j] * v[j];
    total += v[i] * t;
  }
  return total;
}

/// Dequantizes q into W[N][K] (fp32, exactly as QuantizedWeights::weight).
std::vector<float> dequantize(const QuantizedWeights &q);

/// tr(dW H dW^T) with dW = deq(q) diag(1/colScale) - W: the layer-output
/// error sum_m ||dW x_m||^2 when H = sum_m x_m x_m^T (GPTQ's proxy loss).
/// colScale may be null (all ones); AWQ passes its scales. rows, if not
/// empty, restricts the sum to those rows of W and q (AWQ scores tall layers
/// on a row sample).
double proxyLoss(const float *W, const QuantizedWeights &q, const double *H,
                 const float *colScale = nullptr,
                 llvm::ArrayRef<int64_t> rows = {});

} // namespace quant
} // namespace llmc

#endif
