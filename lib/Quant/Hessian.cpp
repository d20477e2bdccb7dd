//===- Hessian.cpp - Streaming X^T X and mean |x| in fp64 -----------------===//
#include "llmc/Quant/Hessian.h"
#include "llmc/Kernels/ThreadPool.h"
#include "llmc/Quant/LinearAlgebra.h"
#include <algorithm>
#include <cmath>

namespace llmc {
namespace quant {

namespace {

/// Rows X[m][k] = X[m * ldx + k] widened to fp64, densely (ld = K).
std::vector<double> widenRows(const float *X, int64_t M, int64_t K, int64_t ldx) {
  std::vector<double> d(size_t(M * K));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k)
      d[size_t(m * K + k)] = X[m * ldx + k];
  return d;
}

// Tiles of the K x K accumulator: kRowBlock rows by kColTile columns (16 x 512
// doubles = 64 KiB, L2-resident while the batch's rows stream past it). A
// batch then reads the accumulator once instead of once per row, which is
// what made the rank-one form memory-bound: for K = 5632 the upper triangle
// is 127 MB, and it was swept once for every calibration token.
constexpr int64_t kRowBlock = 16;
constexpr int64_t kColTile = 512;

/// C[i][j] += sum_m A[m][i] B[m][j] for the rows i of [i0, i1) and the
/// columns j >= (upperOnly ? i : 0); A and B are M x K, dense.
void accumulateRowBlock(double *C, int64_t K, const double *A, const double *B,
                        int64_t M, int64_t i0, int64_t i1, bool upperOnly) {
  for (int64_t j0 = upperOnly ? i0 : 0; j0 < K; j0 += kColTile) {
    const int64_t j1 = std::min(K, j0 + kColTile);
    for (int64_t m = 0; m < M; ++m) {
      const double *a = A + m * K, *b = B + m * K;
      for (int64_t i = i0; i < i1; ++i) {
        const double ai = a[i];
        const int64_t j = upperOnly ? std::max(j0, i) : j0;
        if (ai != 0 && j < j1)
          axpy(C + i * K + j, ai, b + j, j1 - j);
      }
    }
  }
}

/// C += A^T B (upperOnly: only C's upper triangle, for A = B), threaded over
/// row blocks. An upper triangle's row blocks shrink with i, so each thread
/// takes pairs of blocks from both ends (b, nb - 1 - b): equal work per pair.
void accumulateProducts(double *C, int64_t K, const double *A, const double *B,
                        int64_t M, bool upperOnly) {
  const int64_t nb = (K + kRowBlock - 1) / kRowBlock;
  auto block = [&](int64_t b) {
    accumulateRowBlock(C, K, A, B, M, b * kRowBlock,
                       std::min(K, (b + 1) * kRowBlock), upperOnly);
  };
  // Small problems (stories-size layers, single rows) are not worth a fork.
  if (double(M) * double(K) * double(K) < double(1 << 20)) {
    for (int64_t b = 0; b < nb; ++b)
      block(b);
    return;
  }
  if (!upperOnly) {
    ThreadPool::global().parallelFor(nb, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b)
        block(b);
    });
    return;
  }
  ThreadPool::global().parallelFor((nb + 1) / 2, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      block(p);
      if (nb - 1 - p != p)
        block(nb - 1 - p);
    }
  });
}

} // namespace

CalibrationStats::CalibrationStats(int64_t K)
    : K(K), upper(K * K, 0.0), absSum(K, 0.0), sum(K, 0.0) {}

void CalibrationStats::addWidened(const std::vector<double> &x, int64_t M) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      absSum[k] += std::fabs(x[size_t(m * K + k)]);
      sum[k] += x[size_t(m * K + k)];
    }
  // H_ij += sum_m x_mi x_mj on the upper triangle (j >= i).
  accumulateProducts(upper.data(), K, x.data(), x.data(), M, /*upperOnly=*/true);
  rows += M;
}

void CalibrationStats::addBatch(const float *X, int64_t M, int64_t ldx) {
  if (ldx == 0)
    ldx = K;
  if (M <= 0)
    return;
  addWidened(widenRows(X, M, K, ldx), M);
}

void CalibrationStats::addPairedBatch(const float *X, const float *R, int64_t M,
                                      int64_t ldx, int64_t ldr) {
  if (ldx == 0)
    ldx = K;
  if (ldr == 0)
    ldr = K;
  if (cross.empty())
    cross.assign(size_t(K * K), 0.0);
  if (M <= 0)
    return;
  // X is widened once for both moments; C_ij += sum_m r_mi x_mj (full).
  const std::vector<double> x = widenRows(X, M, K, ldx), r = widenRows(R, M, K, ldr);
  addWidened(x, M);
  accumulateProducts(cross.data(), K, r.data(), x.data(), M, /*upperOnly=*/false);
  pairedRows += M;
}

std::vector<double> CalibrationStats::sumOuter() const {
  std::vector<double> H(upper);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < i; ++j)
      H[i * K + j] = H[j * K + i];
  return H;
}

/// Sums over the rows seen, divided by their number (zero when none).
static std::vector<double> perRow(std::vector<double> sums, int64_t rows) {
  if (rows > 0)
    for (double &v : sums)
      v /= double(rows);
  return sums;
}

std::vector<double> CalibrationStats::hessian() const {
  return perRow(sumOuter(), rows);
}

std::vector<double> CalibrationStats::mean() const { return perRow(sum, rows); }

std::vector<double> CalibrationStats::covariance() const {
  std::vector<double> C = hessian();
  const std::vector<double> mu = mean();
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j)
      C[i * K + j] -= mu[i] * mu[j];
  return C;
}

std::vector<double> CalibrationStats::meanAbs() const {
  return perRow(absSum, rows);
}

} // namespace quant
} // namespace llmc
