//===- MSEClip.cpp - Per-group clipping search on top of RTN --------------===//
#include "llmc/Quant/MSEClip.h"

using namespace llvm;

namespace llmc {
namespace quant {

// Error of one row of a group under params p: plain or d-weighted squared
// error, or dw^T H_gg dw with H_gg the group's diagonal block of H.
static double rowError(const float *w, int64_t len, int64_t k0, GroupParams p,
                       WeightFormat fmt, const ClipSearch &s, double *dw) {
  for (int64_t j = 0; j < len; ++j)
    dw[j] = double(w[j]) -
            double(decodeWeight(encodeWeight(w[j], p, fmt), p, fmt));
  if (s.H)
    return quadraticForm(s.H + k0 * s.ldH + k0, s.ldH, dw, len);
  double err = 0;
  for (int64_t j = 0; j < len; ++j)
    err += (s.colWeights ? s.colWeights[k0 + j] : 1.0) * dw[j] * dw[j];
  return err;
}

Error computeGroupParams(const float *block, int64_t N, int64_t len, int64_t k0,
                         WeightFormat fmt, const ClipSearch &search,
                         MutableArrayRef<GroupParams> out, int scaleExponent) {
  // One RTN call treats the block as an N x len matrix quantized per output
  // channel: exactly the group's min/max rule, for all rows at once.
  WeightFormat perRow = fmt;
  perRow.groupSize = 0;
  const unsigned steps = std::max(1u, search.steps);
  std::vector<double> best(N, 0.0), dw(len);
  std::vector<float> shrunk;
  for (unsigned i = 0; i < steps; ++i) {
    float c = steps == 1 ? 1.0f
                         : 1.0f - float(i) * (1.0f - search.minShrink) /
                                      float(steps - 1);
    const float *src = block;
    if (i > 0) {
      shrunk.assign(block, block + N * len);
      for (float &v : shrunk)
        v *= c;
      src = shrunk.data();
    }
    auto q = kernels::quantizeWeights(src, N, len, perRow, scaleExponent);
    if (!q)
      return q.takeError();
    for (int64_t n = 0; n < N; ++n) {
      GroupParams p{q->scales[n], q->zeros[n]};
      if (steps == 1) {
        out[n] = p;
        continue;
      }
      double e = rowError(block + n * len, len, k0, p, fmt, search, dw.data());
      if (i == 0 || e < best[n]) {
        best[n] = e;
        out[n] = p;
      }
    }
  }
  return Error::success();
}

Expected<QuantizedWeights> quantizeWeightsMSE(const float *W, int64_t N,
                                              int64_t K, WeightFormat fmt,
                                              const ClipSearch &search) {
  if (!fmt.isQuantized())
    return kernels::quantizeWeights(W, N, K, fmt);
  auto q = makeQuantizedWeights(W, N, K, fmt);
  if (!q)
    return q.takeError();
  std::vector<float> block;
  std::vector<GroupParams> params(N);
  for (int64_t g = 0; g < q->numGroups; ++g) {
    int64_t k0 = g * q->group, len = std::min(K, k0 + q->group) - k0;
    block.resize(N * len);
    for (int64_t n = 0; n < N; ++n)
      std::copy(W + n * K + k0, W + n * K + k0 + len, &block[n * len]);
    if (Error e = computeGroupParams(block.data(), N, len, k0, fmt, search,
                                     params, q->scaleExponent))
      return std::move(e);
    for (int64_t n = 0; n < N; ++n) {
      setGroupParams(*q, n, g, params[n]);
      for (int64_t j = 0; j < len; ++j)
        q->codes[n * K + k0 + j] =
            encodeWeight(W[n * K + k0 + j], params[n], fmt);
    }
  }
  return q;
}

double clipSearchError(const float *W, const QuantizedWeights &q,
                       const ClipSearch &search) {
  std::vector<double> dw(q.group);
  double total = 0;
  for (int64_t n = 0; n < q.N; ++n)
    for (int64_t g = 0; g < q.numGroups; ++g) {
      int64_t k0 = g * q.group, len = std::min(q.K, k0 + q.group) - k0;
      total += rowError(W + n * q.K + k0, len, k0, groupParams(q, n, g),
                        q.format, search, dw.data());
    }
  return total;
}

} // namespace quant
} // namespace llmc
