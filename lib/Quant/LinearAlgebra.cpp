//===- LinearAlgebra.cpp - Cholesky, triangular inverse, SPD inverse ------===//
#include "llmc/Quant/LinearAlgebra.h"
#include "llmc/Kernels/ThreadPool.h"
#include <algorithm>
#include <cmath>

using namespace llvm;

namespace llmc {
namespace quant {

// sum_p a[p] b[p] with eight independent partial sums: a single running sum
// is one dependent add per element (its latency, not the multipliers, sets
// the speed), and the compiler may not reassociate it on its own.
// Compiled for AVX-512, AVX2 and the baseline, picked at load time: the
// library is built for any x86-64, but these loops are most of a GPTQ run.
__attribute__((target_clones("avx512f", "avx2", "default"))) double
dot(const double *a, const double *b, int64_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t p = 0;
  for (; p + 8 <= n; p += 8)
    for (int q = 0; q < 8; ++q)
      s[q] += a[p + q] * b[p + q];
  double t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; p < n; ++p)
    t += a[p] * b[p];
  return t;
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void
axpy(double *y, double a, const double *x, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] += a * x[i];
}

double sumQuadraticForms(const double *H, int64_t K, int64_t N,
                         function_ref<void(int64_t, double *)> row) {
  // T = D_b H for a block D_b of R rows, over column tiles of H (R x 1024
  // doubles of T = 128 KiB, L2-resident while H's rows stream past), then
  // the block's sum is sum_r t_r . d_r.
  constexpr int64_t R = 16, kColTile = 1024;
  const int64_t nb = (N + R - 1) / R;
  std::vector<double> partial(size_t(nb), 0.0);
  auto blocks = [&](int64_t b0, int64_t b1) {
    std::vector<double> D(size_t(R * K)), T(size_t(R * K));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t n0 = b * R, rows = std::min(R, N - n0);
      for (int64_t r = 0; r < rows; ++r)
        row(n0 + r, D.data() + r * K);
      std::fill(T.begin(), T.end(), 0.0);
      for (int64_t j0 = 0; j0 < K; j0 += kColTile) {
        const int64_t len = std::min(kColTile, K - j0);
        for (int64_t i = 0; i < K; ++i) {
          const double *h = H + i * K + j0;
          for (int64_t r = 0; r < rows; ++r)
            if (const double a = D[size_t(r * K + i)]; a != 0)
              axpy(T.data() + r * K + j0, a, h, len);
        }
      }
      double sum = 0;
      for (int64_t r = 0; r < rows; ++r)
        sum += dot(T.data() + r * K, D.data() + r * K, K);
      partial[size_t(b)] = sum;
    }
  };
  if (double(N) * double(K) * double(K) < double(1 << 22))
    blocks(0, nb);
  else
    ThreadPool::global().parallelFor(nb, blocks);
  double total = 0;
  for (double p : partial)
    total += p;
  return total;
}

// Row-oriented Cholesky-Crout: L_ij = (A_ij - sum_{p<j} L_ip L_jp) / L_jj,
// L_jj = sqrt(A_jj - sum_{p<j} L_jp^2). Both sums are dot products of two
// already-computed rows, so the inner loop is unit stride.
//
// Blocked by rows: one row after another would stream every earlier row once
// per row, n^3/6 doubles from memory once the matrix outgrows the caches
// (K = 5632: 250 MB). A block of kRowBlock rows first takes its columns left
// of the block from the finished rows -- each finished row is read once per
// block, and the block's rows are independent there, so the threads share
// them -- then its own triangle in order.
static constexpr int64_t kRowBlock = 32;

Error choleskyLower(std::vector<double> &A, int64_t n) {
  for (int64_t i0 = 0; i0 < n; i0 += kRowBlock) {
    const int64_t i1 = std::min(n, i0 + kRowBlock);
    ThreadPool::global().parallelFor(i1 - i0, [&](int64_t r0, int64_t r1) {
      for (int64_t j = 0; j < i0; ++j) {
        const double *Lj = &A[j * n];
        for (int64_t i = i0 + r0; i < i0 + r1; ++i) {
          double *Li = &A[i * n];
          Li[j] = (Li[j] - dot(Li, Lj, j)) / Lj[j];
        }
      }
    });
    for (int64_t i = i0; i < i1; ++i) {
      double *Li = &A[i * n];
      for (int64_t j = i0; j <= i; ++j) {
        const double *Lj = &A[j * n];
        double s = Li[j] - dot(Li, Lj, j);
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
  }
  return Error::success();
}

// X = L^-1 solves L X = I, row by row: X_ij = -(sum_{p=j}^{i-1} L_ip X_pj) /
// L_ii for j < i and X_ii = 1/L_ii, accumulated row-wise (X_i. -= L_ip X_p.)
// to keep unit stride. Blocked like choleskyLower: a block of rows first
// takes the contributions of the finished rows p < i0 (read once per block,
// rows of the block in parallel), then those of its own earlier rows.
void invertLowerTriangular(std::vector<double> &L, int64_t n) {
  std::vector<double> X(n * n, 0.0);
  auto accumulate = [&](int64_t i, int64_t p0, int64_t p1) {
    const double *Li = &L[i * n];
    double *Xi = &X[i * n];
    for (int64_t p = p0; p < p1; ++p) {
      double l = Li[p];
      if (l == 0)
        continue;
      axpy(Xi, -l, &X[p * n], p + 1);
    }
  };
  for (int64_t i0 = 0; i0 < n; i0 += kRowBlock) {
    const int64_t i1 = std::min(n, i0 + kRowBlock);
    ThreadPool::global().parallelFor(i1 - i0, [&](int64_t r0, int64_t r1) {
      // Column blocks of the finished rows, so that a stretch of them stays
      // in cache while every row of this thread's share passes over it.
      for (int64_t p0 = 0; p0 < i0; p0 += kRowBlock)
        for (int64_t i = i0 + r0; i < i0 + r1; ++i)
          accumulate(i, p0, std::min(i0, p0 + kRowBlock));
    });
    for (int64_t i = i0; i < i1; ++i) {
      accumulate(i, i0, i);
      double *Xi = &X[i * n];
      double inv = 1.0 / L[i * n + i];
      for (int64_t j = 0; j < i; ++j)
        Xi[j] *= inv;
      Xi[i] = inv;
    }
  }
  L.swap(X);
}

void solveLower(const std::vector<double> &L, int64_t n, double *b) {
  for (int64_t i = 0; i < n; ++i)
    b[i] = (b[i] - dot(&L[i * n], b, i)) / L[i * n + i];
}

void solveLowerTransposed(const std::vector<double> &L, int64_t n, double *b) {
  for (int64_t i = n - 1; i >= 0; --i) {
    double s = b[i] / L[i * n + i];
    b[i] = s;
    axpy(b, -s, &L[i * n], i); // column i of L^T = row i of L
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

// With J the reversal permutation, factor J A J = L' L'^T. Then
// A = (J L' J)(J L'^T J) = R R^T with R = J L' J upper triangular, so
// A^-1 = R^-T R^-1 = U^T U with U = R^-1 = J L'^-1 J, upper triangular with a
// positive diagonal: the transposed Cholesky factor of A^-1, which is unique.
// One factorization and one triangular inverse (n^3/2 multiply-adds) instead
// of forming A^-1 and factoring it (about 2n^3/3 more).
Expected<std::vector<double>> upperCholeskyOfInverse(std::vector<double> A,
                                                     int64_t n) {
  std::reverse(A.begin(), A.end()); // (J A J)_ij = A_{n-1-i, n-1-j}
  if (Error e = choleskyLower(A, n))
    return std::move(e);
  invertLowerTriangular(A, n);
  std::reverse(A.begin(), A.end()); // U = J L'^-1 J
  return std::move(A);
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
