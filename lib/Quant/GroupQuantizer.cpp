//===- GroupQuantizer.cpp - QuantizedWeights helpers shared by quantizers -===//
#include "llmc/Quant/GroupQuantizer.h"
#include "llmc/Quant/LinearAlgebra.h"

using namespace llvm;

namespace llmc {
namespace quant {

Expected<QuantizedWeights> makeQuantizedWeights(const float *W, int64_t N,
                                                int64_t K, WeightFormat fmt) {
  if (Error e = fmt.validate())
    return std::move(e);
  if (!fmt.isQuantized())
    return createStringError(inconvertibleErrorCode(),
                             "%s is not a quantized format", fmt.str().c_str());
  if (N <= 0 || K <= 0)
    return createStringError(inconvertibleErrorCode(),
                             "quantizer: empty matrix (%lld x %lld)",
                             (long long)N, (long long)K);
  QuantizedWeights q;
  q.format = fmt;
  q.N = N;
  q.K = K;
  q.group = fmt.groupSize ? fmt.groupSize : K;
  q.numGroups = (K + q.group - 1) / q.group;
  q.codes.assign(N * K, 0);
  q.scales.assign(N * q.numGroups, 0.0f);
  q.zeros.assign(N * q.numGroups, uint8_t(fmt.symZero()));
  q.scaleExponent = kernels::chooseScaleExponent(W, N, K, fmt);
  return std::move(q);
}

std::vector<float> dequantize(const QuantizedWeights &q) {
  std::vector<float> W(q.N * q.K);
  for (int64_t n = 0; n < q.N; ++n)
    for (int64_t k = 0; k < q.K; ++k)
      W[n * q.K + k] = q.weight(n, k);
  return W;
}

double proxyLoss(const float *W, const QuantizedWeights &q, const double *H,
                 const float *colScale, llvm::ArrayRef<int64_t> rows) {
  const int64_t K = q.K;
  const int64_t count = rows.empty() ? q.N : int64_t(rows.size());
  return sumQuadraticForms(H, K, count, [&](int64_t i, double *dw) {
    const int64_t n = rows.empty() ? i : rows[size_t(i)];
    for (int64_t k = 0; k < K; ++k) {
      double w = q.weight(n, k);
      if (colScale)
        w /= double(colScale[k]);
      dw[k] = w - double(W[n * K + k]);
    }
  });
}

} // namespace quant
} // namespace llmc
