//===- LinearAlgebraTest.cpp - Cholesky & co. against naive references ----===//
#include "Synthetic.h"
#include "llmc/Quant/LinearAlgebra.h"
#include <gtest/gtest.h>
#include <cmath>
#include <random>

using namespace llmc::quant;
using llmc::quant::test::naiveInverse;

namespace {
std::vector<double> randomSPD(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g;
  std::vector<double> B(n * n), A(n * n, 0.0);
  for (double &b : B)
    b = g(rng);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t p = 0; p < n; ++p)
        A[i * n + j] += B[i * n + p] * B[j * n + p];
      if (i == j)
        A[i * n + j] += 0.1;
    }
  return A;
}

double maxAbsDiff(const std::vector<double> &a, const std::vector<double> &b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

std::vector<double> transpose(const std::vector<double> &A, int64_t n) {
  std::vector<double> T(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      T[j * n + i] = A[i * n + j];
  return T;
}
} // namespace

TEST(LinearAlgebra, CholeskyReconstructs) {
  const int64_t n = 37;
  std::vector<double> A = randomSPD(n, 1), L = A;
  ASSERT_FALSE(bool(choleskyLower(L, n)));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j)
      EXPECT_EQ(L[i * n + j], 0.0);
  EXPECT_LT(maxAbsDiff(matmul(L, transpose(L, n), n), A), 1e-9);
}

TEST(LinearAlgebra, NotPositiveDefiniteIsAnError) {
  std::vector<double> A = {1, 2, 2, 1}; // eigenvalues 3, -1
  llvm::Error e = choleskyLower(A, 2);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find("not positive definite"),
            std::string::npos);
}

TEST(LinearAlgebra, TriangularInverseAndSolves) {
  const int64_t n = 29;
  std::vector<double> L = randomSPD(n, 2);
  ASSERT_FALSE(bool(choleskyLower(L, n)));
  std::vector<double> Li = L;
  invertLowerTriangular(Li, n);
  std::vector<double> I(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    I[i * n + i] = 1;
  EXPECT_LT(maxAbsDiff(matmul(L, Li, n), I), 1e-9);
  // L x = b and L^T x = b against the explicit inverse.
  std::vector<double> b(n);
  for (int64_t i = 0; i < n; ++i)
    b[i] = std::sin(double(i));
  std::vector<double> x = b, y = b;
  solveLower(L, n, x.data());
  solveLowerTransposed(L, n, y.data());
  for (int64_t i = 0; i < n; ++i) {
    double xi = 0, yi = 0;
    for (int64_t j = 0; j < n; ++j) {
      xi += Li[i * n + j] * b[j];
      yi += Li[j * n + i] * b[j];
    }
    EXPECT_NEAR(x[i], xi, 1e-9);
    EXPECT_NEAR(y[i], yi, 1e-9);
  }
}

TEST(LinearAlgebra, SpdInverseMatchesNaiveInverse) {
  const int64_t n = 41;
  std::vector<double> A = randomSPD(n, 3);
  auto inv = spdInverse(A, n);
  ASSERT_TRUE(bool(inv)) << llvm::toString(inv.takeError());
  std::vector<double> ref = naiveInverse(A, n);
  double scale = 0;
  for (double v : ref)
    scale = std::max(scale, std::fabs(v));
  EXPECT_LT(maxAbsDiff(*inv, ref), 1e-8 * scale);
}

TEST(LinearAlgebra, UpperCholeskyOfInverse) {
  const int64_t n = 33;
  std::vector<double> A = randomSPD(n, 4);
  auto U = upperCholeskyOfInverse(A, n);
  ASSERT_TRUE(bool(U)) << llvm::toString(U.takeError());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < i; ++j)
      EXPECT_EQ((*U)[i * n + j], 0.0);
  std::vector<double> UtU = matmul(transpose(*U, n), *U, n);
  std::vector<double> ref = naiveInverse(A, n);
  double scale = 0;
  for (double v : ref)
    scale = std::max(scale, std::fabs(v));
  EXPECT_LT(maxAbsDiff(UtU, ref), 1e-8 * scale);
  // The Cholesky factor is unique: U is chol(A^-1)^T, here from the naive
  // inverse.
  std::vector<double> L = ref;
  ASSERT_FALSE(bool(choleskyLower(L, n)));
  double uscale = 0;
  for (double v : L)
    uscale = std::max(uscale, std::fabs(v));
  EXPECT_LT(maxAbsDiff(*U, transpose(L, n)), 1e-8 * uscale);
  for (int64_t i = 0; i < n; ++i)
    EXPECT_GT((*U)[i * n + i], 0.0);
}

// sum_n d_n^T H d_n against one quadratic form per row: K spans two column
// tiles, N a partial row block, the size runs threaded, and a row with zeros
// exercises the skipped terms. The sum must not depend on the threads (the
// same value from a second call, bit for bit).
TEST(LinearAlgebra, SumQuadraticFormsMatchesPerRowForms) {
  const int64_t K = 1100, N = 37;
  std::mt19937 rng(5);
  std::normal_distribution<double> g;
  std::vector<double> H(K * K), D(N * K);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j <= i; ++j)
      H[i * K + j] = H[j * K + i] = g(rng);
  for (double &d : D)
    d = g(rng);
  for (int64_t k = 0; k < K; k += 3)
    D[4 * K + k] = 0;
  double naive = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j)
        naive += D[n * K + i] * H[i * K + j] * D[n * K + j];
  auto row = [&](int64_t n, double *d) {
    std::copy(D.begin() + n * K, D.begin() + (n + 1) * K, d);
  };
  const double s = sumQuadraticForms(H.data(), K, N, row);
  EXPECT_NEAR(s, naive, 1e-9 * std::fabs(naive) + 1e-6);
  EXPECT_EQ(sumQuadraticForms(H.data(), K, N, row), s);
  // One row, below the threading threshold.
  double one = 0;
  for (int64_t i = 0; i < 40; ++i)
    for (int64_t j = 0; j < 40; ++j)
      one += D[i] * H[i * K + j] * D[j];
  std::vector<double> H40(40 * 40);
  for (int64_t i = 0; i < 40; ++i)
    std::copy(H.begin() + i * K, H.begin() + i * K + 40, H40.begin() + i * 40);
  EXPECT_NEAR(sumQuadraticForms(H40.data(), 40, 1,
                                [&](int64_t, double *d) {
                                  std::copy(D.begin(), D.begin() + 40, d);
                                }),
              one, 1e-9 * std::fabs(one) + 1e-9);
}
