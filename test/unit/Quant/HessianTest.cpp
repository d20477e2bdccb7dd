//===- HessianTest.cpp - Calibration statistics vs a naive X^T X ----------===//
#include "llmc/Quant/Hessian.h"
#include <gtest/gtest.h>
#include <cmath>
#include <random>

using namespace llmc::quant;

TEST(CalibrationStats, MatchesNaiveAcrossBatches) {
  const int64_t K = 23, M = 57, ld = 30;
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  std::vector<float> X(M * ld);
  for (float &x : X)
    x = g(rng);
  // Naive references.
  std::vector<double> H(K * K, 0.0), absMean(K, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < K; ++i) {
      absMean[i] += std::fabs(double(X[m * ld + i])) / double(M);
      for (int64_t j = 0; j < K; ++j)
        H[i * K + j] += double(X[m * ld + i]) * X[m * ld + j] / M;
    }
  CalibrationStats one(K), split(K);
  one.addBatch(X.data(), M, ld);
  split.addBatch(X.data(), 20, ld);
  split.addBatch(X.data() + 20 * ld, 1, ld);
  split.addBatch(X.data() + 21 * ld, M - 21, ld);
  EXPECT_EQ(one.numRows(), M);
  EXPECT_EQ(split.numRows(), M);
  std::vector<double> h1 = one.hessian(), h2 = split.hessian();
  std::vector<double> sum = one.sumOuter();
  for (int64_t i = 0; i < K * K; ++i) {
    EXPECT_NEAR(h1[i], H[i], 1e-12 * (1 + std::fabs(H[i])));
    EXPECT_NEAR(h2[i], H[i], 1e-12 * (1 + std::fabs(H[i])));
    EXPECT_NEAR(sum[i], H[i] * M, 1e-10 * (1 + std::fabs(H[i] * M)));
  }
  std::vector<double> a = split.meanAbs();
  for (int64_t k = 0; k < K; ++k)
    EXPECT_NEAR(a[k], absMean[k], 1e-12);
}

TEST(CalibrationStats, EmptyIsZero) {
  CalibrationStats s(4);
  EXPECT_EQ(s.numRows(), 0);
  for (double v : s.hessian())
    EXPECT_EQ(v, 0.0);
  for (double v : s.meanAbs())
    EXPECT_EQ(v, 0.0);
}

// Wide enough for several row blocks, a partial one, and more than one column
// tile of the blocked accumulation, and large enough to run threaded; the
// paired cross moment goes through the same tiles without the triangle.
TEST(CalibrationStats, BlockedAccumulationMatchesNaiveOnWideInputs) {
  const int64_t K = 1043, M = 37, ldx = 1050, ldr = 1047;
  std::mt19937 rng(11);
  std::normal_distribution<float> g;
  std::vector<float> X(M * ldx), R(M * ldr);
  for (float &x : X)
    x = g(rng);
  for (float &r : R)
    r = g(rng);
  for (int64_t m = 0; m < M; ++m) // zero inputs are skipped: cover them
    X[m * ldx + 5] = 0.0f;
  CalibrationStats s(K);
  s.addPairedBatch(X.data(), R.data(), 30, ldx, ldr);
  s.addPairedBatch(X.data() + 30 * ldx, R.data() + 30 * ldr, M - 30, ldx, ldr);
  std::vector<double> H = s.sumOuter();
  const std::vector<double> &C = s.crossMoment();
  for (int64_t i = 0; i < K; i += 7)
    for (int64_t j = 0; j < K; ++j) {
      double h = 0, c = 0;
      for (int64_t m = 0; m < M; ++m) {
        h += double(X[m * ldx + i]) * X[m * ldx + j];
        c += double(R[m * ldr + i]) * X[m * ldx + j];
      }
      ASSERT_NEAR(H[i * K + j], h, 1e-9 * (1 + std::fabs(h))) << i << "," << j;
      ASSERT_NEAR(C[i * K + j], c, 1e-9 * (1 + std::fabs(c))) << i << "," << j;
    }
}

// mean() and covariance() against a naive two-pass computation: the
// covariance is the second moment of x - mu (what bias correction rounds for).
TEST(CalibrationStats, MeanAndCovarianceMatchNaive) {
  const int64_t K = 9, M = 41;
  std::mt19937 rng(11);
  std::normal_distribution<float> g;
  std::vector<float> X(M * K);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k)
      X[m * K + k] = g(rng) + 0.5f * float(k); // a mean per channel
  std::vector<double> mu(K, 0.0), C(K * K, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k)
      mu[k] += X[m * K + k] / double(M);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j)
        C[i * K + j] += (X[m * K + i] - mu[i]) * (X[m * K + j] - mu[j]) / double(M);
  CalibrationStats s(K);
  s.addBatch(X.data(), 30);
  s.addBatch(X.data() + 30 * K, M - 30);
  std::vector<double> gotMu = s.mean(), gotC = s.covariance();
  for (int64_t k = 0; k < K; ++k)
    EXPECT_NEAR(gotMu[k], mu[k], 1e-12);
  for (int64_t i = 0; i < K * K; ++i)
    EXPECT_NEAR(gotC[i], C[i], 1e-10);
}
