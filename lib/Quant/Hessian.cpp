//===- Hessian.cpp - Streaming X^T X and mean |x| in fp64 -----------------===//
#include "llmc/Quant/Hessian.h"
#include <cmath>

namespace llmc {
namespace quant {

CalibrationStats::CalibrationStats(int64_t K)
    : K(K), upper(K * K, 0.0), absSum(K, 0.0) {}

void CalibrationStats::addBatch(const float *X, int64_t M, int64_t ldx) {
  if (ldx == 0)
    ldx = K;
  std::vector<double> x(K);
  for (int64_t m = 0; m < M; ++m) {
    const float *row = X + m * ldx;
    for (int64_t k = 0; k < K; ++k) {
      x[k] = row[k];
      absSum[k] += std::fabs(x[k]);
    }
    // Rank-one update of the upper triangle: H_ij += x_i x_j, j >= i.
    for (int64_t i = 0; i < K; ++i) {
      double xi = x[i];
      if (xi == 0)
        continue;
      double *Hi = &upper[i * K];
      for (int64_t j = i; j < K; ++j)
        Hi[j] += xi * x[j];
    }
  }
  rows += M;
}

void CalibrationStats::addPairedBatch(const float *X, const float *R, int64_t M,
                                      int64_t ldx, int64_t ldr) {
  if (ldx == 0)
    ldx = K;
  if (ldr == 0)
    ldr = K;
  addBatch(X, M, ldx);
  if (cross.empty())
    cross.assign(size_t(K * K), 0.0);
  for (int64_t m = 0; m < M; ++m) {
    const float *x = X + m * ldx, *r = R + m * ldr;
    for (int64_t i = 0; i < K; ++i) {
      const double ri = r[i];
      if (ri == 0)
        continue;
      double *Ci = &cross[size_t(i * K)];
      for (int64_t j = 0; j < K; ++j)
        Ci[j] += ri * double(x[j]);
    }
  }
  pairedRows += M;
}

std::vector<double> CalibrationStats::sumOuter() const {
  std::vector<double> H(upper);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < i; ++j)
      H[i * K + j] = H[j * K + i];
  return H;
}

std::vector<double> CalibrationStats::hessian() const {
  std::vector<double> H = sumOuter();
  if (rows > 0)
    for (double &h : H)
      h /= double(rows);
  return H;
}

std::vector<double> CalibrationStats::meanAbs() const {
  std::vector<double> m(absSum);
  if (rows > 0)
    for (double &v : m)
      v /= double(rows);
  return m;
}

} // namespace quant
} // namespace llmc
