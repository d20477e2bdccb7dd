//===- RotationFoldingTest.cpp - QuaRot's rewrites preserve a block -------===//
//
// One pre-norm block on random data, in double: embedding row -> residual
// x -> RMSNorm(gamma) -> reader W -> writer W_out adds into x. With the
// weights rewritten by rotateRows/rotateColumns and the residual stream
// rotated, every layer output is the original's (the reader's exactly, the
// stream's rotated by U), for d a power of two, with a Paley factor and with
// a random orthogonal factor.
//
//===----------------------------------------------------------------------===//
#include "llmc/Quant/RotationFolding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace llmc::quant;

namespace {

std::vector<float> randomVector(std::mt19937 &rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = u(rng);
  return v;
}

// out[N] = A[N][K] x[K]
std::vector<double> matvec(const std::vector<float> &A, const std::vector<double> &x,
                           int64_t N) {
  const int64_t K = int64_t(x.size());
  std::vector<double> y(N, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      y[n] += double(A[n * K + k]) * x[k];
  return y;
}

// x / rms(x) * gamma (gamma null: weightless)
std::vector<double> rmsNorm(const std::vector<double> &x, const float *gamma) {
  double ss = 0;
  for (double v : x)
    ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / double(x.size()) + 1e-5);
  std::vector<double> y(x.size());
  for (size_t k = 0; k < x.size(); ++k)
    y[k] = x[k] * inv * (gamma ? double(gamma[k]) : 1.0);
  return y;
}

double maxAbsDiff(const std::vector<double> &a, const std::vector<double> &b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

} // namespace

TEST(RotationFolding, PreNormBlockIsInvariant) {
  for (int64_t d : {64, 48, 40}) { // 2^6, 12 * 4 (Paley), 5 * 8 (random)
    SCOPED_TRACE(d);
    std::mt19937 rng{uint32_t(d)};
    const int64_t V = 7, N = 24, F = 20;
    auto U = RandomizedHadamard::create(d, 0x1234 + d);
    ASSERT_TRUE(static_cast<bool>(U)) << llvm::toString(U.takeError());
    std::vector<float> E = randomVector(rng, V * d, -1, 1);
    std::vector<float> gamma = randomVector(rng, d, 0.2f, 2.0f);
    std::vector<float> W = randomVector(rng, N * d, -1, 1);     // reader [N][d]
    std::vector<float> Wout = randomVector(rng, d * F, -1, 1);  // writer [d][F]
    std::vector<float> z = randomVector(rng, F, -1, 1);          // writer input

    // The original block, for token 3.
    std::vector<double> x(E.begin() + 3 * d, E.begin() + 4 * d);
    std::vector<double> y = matvec(W, rmsNorm(x, gamma.data()), N);
    std::vector<double> zd(z.begin(), z.end());
    std::vector<double> add = matvec(Wout, zd, d);
    std::vector<double> x1(d);
    for (int64_t k = 0; k < d; ++k)
      x1[k] = x[k] + add[k];

    // The rewritten block: the residual stream is U x, norms have no weight.
    std::vector<float> E2 = E, W2 = W, Wout2 = Wout;
    rotateRows(E2.data(), V, *U);
    rotateRows(W2.data(), N, *U, gamma.data());
    rotateColumns(Wout2.data(), F, *U);
    std::vector<double> xr(E2.begin() + 3 * d, E2.begin() + 4 * d);
    std::vector<double> yr = matvec(W2, rmsNorm(xr, nullptr), N);
    std::vector<double> addr = matvec(Wout2, zd, d);
    std::vector<double> x1r(d);
    for (int64_t k = 0; k < d; ++k)
      x1r[k] = xr[k] + addr[k];

    // The reader's output is unchanged; the stream is the original rotated.
    EXPECT_LT(maxAbsDiff(y, yr), 1e-5);
    std::vector<double> want = x1;
    U->apply(want.data());
    EXPECT_LT(maxAbsDiff(want, x1r), 1e-5);
    // And the rotation did move the stream (U is not the identity).
    EXPECT_GT(maxAbsDiff(x1, x1r), 1e-2);
  }
}

TEST(RotationFolding, RowsAndColumnsAreTheTransformsOfU) {
  const int64_t d = 48, cols = 5;
  std::mt19937 rng(7);
  auto U = RandomizedHadamard::create(d, 99);
  ASSERT_TRUE(static_cast<bool>(U));
  std::vector<float> A = randomVector(rng, d * cols, -1, 1);
  std::vector<float> s = randomVector(rng, d, -2, 2);
  // rotateColumns: column c becomes U a_c.
  std::vector<float> C = A;
  rotateColumns(C.data(), cols, *U);
  for (int64_t c = 0; c < cols; ++c) {
    std::vector<double> col(d);
    for (int64_t n = 0; n < d; ++n)
      col[n] = A[n * cols + c];
    U->apply(col.data());
    for (int64_t n = 0; n < d; ++n)
      EXPECT_NEAR(C[n * cols + c], col[n], 1e-6);
  }
  // rotateRows with a scale: row r becomes U (s .* a_r); the inverse gives
  // s .* a_r back.
  std::vector<float> R(A.begin(), A.begin() + 2 * d);
  rotateRows(R.data(), 2, *U, s.data());
  for (int64_t r = 0; r < 2; ++r) {
    std::vector<double> row(R.begin() + r * d, R.begin() + (r + 1) * d);
    U->applyInverse(row.data());
    for (int64_t k = 0; k < d; ++k)
      EXPECT_NEAR(row[k], double(A[r * d + k]) * s[k], 1e-5);
  }
}
