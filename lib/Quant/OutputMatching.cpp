//===- OutputMatching.cpp - W* = W C H^-1 by Cholesky solves ---------------===//
#include "llmc/Quant/OutputMatching.h"
#include "llmc/Quant/LinearAlgebra.h"
#include "llmc/Kernels/ThreadPool.h"

using namespace llvm;

namespace llmc {
namespace quant {

Expected<std::vector<float>> matchReferenceOutputs(const float *W, int64_t N,
                                                   int64_t K,
                                                   const CalibrationStats &stats,
                                                   double dampPercent) {
  if (stats.inputSize() != K || !stats.hasReference())
    return createStringError(inconvertibleErrorCode(),
                             "output matching needs paired statistics of %lld "
                             "inputs",
                             (long long)K);
  const std::vector<double> H = stats.sumOuter();
  const std::vector<double> &C = stats.crossMoment();
  double meanDiag = 0;
  for (int64_t k = 0; k < K; ++k)
    meanDiag += H[size_t(k * K + k)];
  meanDiag /= double(K);
  if (!(meanDiag > 0))
    return createStringError(inconvertibleErrorCode(),
                             "output matching: the inputs are all zero");
  // L L^T = H + d I.
  std::vector<double> L;
  double damp = dampPercent * meanDiag;
  for (;; damp *= 10) {
    L = H;
    for (int64_t k = 0; k < K; ++k)
      L[size_t(k * K + k)] += damp;
    Error e = choleskyLower(L, K);
    if (!e)
      break;
    if (damp > 1e6 * meanDiag)
      return std::move(e);
    consumeError(std::move(e));
  }
  // Row n: w*_n = W_n (C + d I) (H + d I)^-1: solve (H + d I) y = (W_n (C + d I))^T.
  // Rows are independent (2 K^2 multiply-adds each): the threads share them.
  std::vector<float> out(size_t(N * K));
  ThreadPool::global().parallelFor(N, [&](int64_t n0, int64_t n1) {
    std::vector<double> y(static_cast<size_t>(K));
    for (int64_t n = n0; n < n1; ++n) {
      std::fill(y.begin(), y.end(), 0.0);
      const float *w = W + n * K;
      for (int64_t i = 0; i < K; ++i) {
        const double wi = w[i];
        if (wi == 0)
          continue;
        y[size_t(i)] += wi * damp;
        axpy(y.data(), wi, &C[size_t(i * K)], K);
      }
      solveLower(L, K, y.data());
      solveLowerTransposed(L, K, y.data());
      for (int64_t j = 0; j < K; ++j)
        out[size_t(n * K + j)] = float(y[size_t(j)]);
    }
  });
  return std::move(out);
}

} // namespace quant
} // namespace llmc
