//===- LinearAlgebra.cpp - Cholesky, triangular inverse, SPD inverse ------===//
#include "llmc/Quant/LinearAlgebra.h"
#include <cmath>

using namespace llvm;

namespace llmc {
namespace quant {

// Row-oriented Cholesky-Crout: L_ij = (A_ij - sum_{p<j} L_ip L_jp) / L_jj,
// L_jj = sqrt(A_jj - sum_{p<j} L_jp^2). Both sums are dot products of two
// already-computed rows, so the inner loop is unit stride.
Error choleskyLower(std::vector<double> &A, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double *Li = &A[i * n];
    for (int64_t j = 0; j <= i; ++j) {
      const double *Lj = &A[j * n];
      double s = Li[j];
      for (int64_t p = 0; p < j; ++p)
        s -= Li[p] * Lj[p];
      if (j < i) {
        Li[j] = s / Lj[j];
        continue;
      }
      if (!(s > 0) || !std::isfinite(s))
        return createStringError(inconvertibleErrorCode(),
                                 "Cholesky: matrix is not positive definite "
                                 "(pivot %lld of %lld is %g)",
                                 (long long)i, (long long)n, s);
      Li[i] = std::sqrt(s);
    }
    for (int64_t j = i + 1; j < n; ++j)
      Li[j] = 0;
  }
  return Error::success();
}

// Column by column: X = L^-1 solves L X = I. For column j, X_jj = 1/L_jj and
// X_ij = -(sum_{p=j}^{i-1} L_ip X_pj) / L_ii for i > j. Done in place by
// computing into a scratch row per column.
void invertLowerTriangular(std::vector<double> &L, int64_t n) {
  std::vector<double> X(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double *Li = &L[i * n];
    double *Xi = &X[i * n];
    // Row i of X: X_ij = -(sum_{p=j}^{i-1} L_ip X_pj) / L_ii; accumulate
    // row-wise (X_i. -= L_ip X_p.) to keep unit stride.
    for (int64_t p = 0; p < i; ++p) {
      double l = Li[p];
      if (l == 0)
        continue;
      const double *Xp = &X[p * n];
      for (int64_t j = 0; j <= p; ++j)
        Xi[j] -= l * Xp[j];
    }
    double inv = 1.0 / Li[i];
    for (int64_t j = 0; j < i; ++j)
      Xi[j] *= inv;
    Xi[i] = inv;
  }
  L.swap(X);
}

void solveLower(const std::vector<double> &L, int64_t n, double *b) {
  for (int64_t i = 0; i < n; ++i) {
    double s = b[i];
    for (int64_t p = 0; p < i; ++p)
      s -= L[i * n + p] * b[p];
    b[i] = s / L[i * n + i];
  }
}

void solveLowerTransposed(const std::vector<double> &L, int64_t n, double *b) {
  for (int64_t i = n - 1; i >= 0; --i) {
    double s = b[i] / L[i * n + i];
    b[i] = s;
    for (int64_t p = 0; p < i; ++p) // column i of L^T = row i of L
      b[p] -= L[i * n + p] * s;
  }
}

Expected<std::vector<double>> spdInverse(std::vector<double> A, int64_t n) {
  if (Error e = choleskyLower(A, n))
    return std::move(e);
  invertLowerTriangular(A, n); // A = M = L^-1 (lower)
  // A^-1 = M^T M: (M^T M)_ij = sum_{p >= max(i,j)} M_pi M_pj, accumulated as
  // rank-one updates with row p of M (unit stride).
  std::vector<double> R(n * n, 0.0);
  for (int64_t p = 0; p < n; ++p) {
    const double *Mp = &A[p * n];
    for (int64_t i = 0; i <= p; ++i) {
      double m = Mp[i];
      if (m == 0)
        continue;
      double *Ri = &R[i * n];
      for (int64_t j = 0; j <= i; ++j)
        Ri[j] += m * Mp[j];
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j)
      R[j * n + i] = R[i * n + j];
  return std::move(R);
}

Expected<std::vector<double>> upperCholeskyOfInverse(std::vector<double> A,
                                                     int64_t n) {
  auto inv = spdInverse(std::move(A), n);
  if (!inv)
    return inv.takeError();
  if (Error e = choleskyLower(*inv, n))
    return std::move(e);
  std::vector<double> &L = *inv;
  for (int64_t i = 0; i < n; ++i) // U = L^T
    for (int64_t j = 0; j < i; ++j) {
      L[j * n + i] = L[i * n + j];
      L[i * n + j] = 0;
    }
  return std::move(L);
}

std::vector<double> matmul(const std::vector<double> &A,
                           const std::vector<double> &B, int64_t n) {
  std::vector<double> C(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < n; ++p) {
      double a = A[i * n + p];
      for (int64_t j = 0; j < n; ++j)
        C[i * n + j] += a * B[p * n + j];
    }
  return C;
}

} // namespace quant
} // namespace llmc
