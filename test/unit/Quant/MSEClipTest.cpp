//===- MSEClipTest.cpp - RTN round-trip bounds and the clipping search ----===//
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/Quant/MSEClip.h"
#include <gtest/gtest.h>
#include <cmath>
#include <random>

using namespace llmc::quant;
using namespace llmc::kernels;

namespace {
std::vector<float> heavyTailed(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> t(3.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = 0.05f * t(rng);
  return v;
}

double scaleRel(ScaleType t) {
  return t == ScaleType::F32 ? 1e-6 : t == ScaleType::F16 ? 0x1p-11 : 0x1p-8;
}

std::vector<WeightFormat> allQuantFormats() {
  std::vector<WeightFormat> fs;
  for (WeightType t : {WeightType::Int8, WeightType::Int4, WeightType::Int3,
                       WeightType::Int2})
    for (unsigned g : {0u, 32u, 64u, 128u})
      for (bool sym : {true, false})
        for (ScaleType st : {ScaleType::F32, ScaleType::F16, ScaleType::BF16})
          fs.push_back(WeightFormat::quantized(t, g, sym, st));
  return fs;
}

// Independent reference for one group's dequantization error bound:
// every weight is within half a step of its reconstruction, up to the scale's
// own rounding (which can push the extreme values a fraction of a step past
// the last code).
double rtnBound(const WeightFormat &f, float s) {
  return double(s) * (0.5 + double(f.maxCode()) * scaleRel(f.scaleType)) + 1e-9;
}
} // namespace

TEST(RTN, RoundTripErrorBoundEveryFormat) {
  const int64_t N = 6, K = 200; // partial last group for g64/g128
  std::vector<float> W = heavyTailed(N * K, 1);
  for (const WeightFormat &f : allQuantFormats()) {
    auto q = quantizeWeightsMSE(W.data(), N, K, f, ClipSearch());
    ASSERT_TRUE(bool(q)) << f.str();
    auto ref = quantizeWeights(W.data(), N, K, f);
    ASSERT_TRUE(bool(ref));
    EXPECT_EQ(q->codes, ref->codes) << f.str();
    EXPECT_EQ(q->scales, ref->scales) << f.str();
    EXPECT_EQ(q->zeros, ref->zeros) << f.str();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        float s = q->scales[n * q->numGroups + k / q->group];
        ASSERT_LE(std::fabs(q->weight(n, k) - W[n * K + k]), rtnBound(f, s))
            << f.str() << " n=" << n << " k=" << k;
      }
  }
}

TEST(RTN, FloatFormatsRoundOnce) {
  const int64_t N = 3, K = 50;
  std::vector<float> W = heavyTailed(N * K, 2);
  for (auto [t, rel] : {std::pair{WeightType::F16, 0x1p-11},
                        std::pair{WeightType::BF16, 0x1p-8}}) {
    auto q = quantizeWeightsMSE(W.data(), N, K, WeightFormat::floating(t),
                                ClipSearch{20});
    ASSERT_TRUE(bool(q));
    for (int64_t i = 0; i < N * K; ++i)
      EXPECT_LE(std::fabs(q->values[i] - W[i]), rel * std::fabs(W[i]) + 1e-7f);
  }
}

TEST(MSEClip, NeverWorseThanPlainPerGroup) {
  const int64_t N = 16, K = 300;
  std::vector<float> W = heavyTailed(N * K, 3);
  std::vector<double> d(K);
  for (int64_t k = 0; k < K; ++k)
    d[k] = 0.1 + double(k % 7);
  for (const WeightFormat &f : allQuantFormats()) {
    if (f.scaleType == ScaleType::BF16)
      continue; // covered by the round-trip test; keeps the test fast
    for (const double *weights : {(const double *)nullptr, (const double *)d.data()}) {
      ClipSearch plain, mse;
      plain.colWeights = mse.colWeights = weights;
      mse.steps = 20;
      auto a = quantizeWeightsMSE(W.data(), N, K, f, plain);
      auto b = quantizeWeightsMSE(W.data(), N, K, f, mse);
      ASSERT_TRUE(a && b);
      // Per (row, group): the search includes c = 1, so it cannot lose.
      for (int64_t n = 0; n < N; ++n)
        for (int64_t g = 0; g < a->numGroups; ++g) {
          double ea = 0, eb = 0;
          for (int64_t k = g * a->group; k < std::min(K, (g + 1) * a->group);
               ++k) {
            double w = weights ? weights[k] : 1.0;
            ea += w * std::pow(a->weight(n, k) - W[n * K + k], 2);
            eb += w * std::pow(b->weight(n, k) - W[n * K + k], 2);
          }
          ASSERT_LE(eb, ea * (1 + 1e-12) + 1e-30) << f.str() << " n=" << n;
        }
      double ta = clipSearchError(W.data(), *a, mse),
             tb = clipSearchError(W.data(), *b, mse);
      EXPECT_LE(tb, ta) << f.str();
      // Heavy tails at few bits: clipping must actually help.
      if (f.bits() <= 3)
        EXPECT_LT(tb, 0.95 * ta) << f.str();
    }
  }
}

TEST(MSEClip, FullHessianBlockMetricNeverWorse) {
  const int64_t N = 8, K = 128;
  std::vector<float> W = heavyTailed(N * K, 4);
  std::mt19937 rng(5);
  std::normal_distribution<double> g;
  std::vector<double> B(K * K), H(K * K, 0.0);
  for (double &b : B)
    b = g(rng);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j)
      for (int64_t p = 0; p < K; p += 8) // low-rank-ish, correlated
        H[i * K + j] += B[i * K + p] * B[j * K + p];
  WeightFormat f = WeightFormat::quantized(WeightType::Int3, 32, false);
  ClipSearch plain, mse;
  plain.H = mse.H = H.data();
  plain.ldH = mse.ldH = K;
  mse.steps = 16;
  auto a = quantizeWeightsMSE(W.data(), N, K, f, plain);
  auto b = quantizeWeightsMSE(W.data(), N, K, f, mse);
  ASSERT_TRUE(a && b);
  EXPECT_LE(clipSearchError(W.data(), *b, mse), clipSearchError(W.data(), *a, mse));
}

TEST(MSEClip, OutputIsPackable) {
  const int64_t N = 40, K = 160;
  std::vector<float> W = heavyTailed(N * K, 6);
  WeightFormat f = WeightFormat::quantized(WeightType::Int4, 64, false,
                                           ScaleType::F16);
  auto q = quantizeWeightsMSE(W.data(), N, K, f, ClipSearch{20});
  ASSERT_TRUE(bool(q));
  auto p = packWeights(*q, llmc::IsaTier::Scalar);
  ASSERT_TRUE(bool(p)) << llvm::toString(p.takeError());
  QuantizedWeights u = unpackWeights(*p);
  EXPECT_EQ(u.codes, q->codes);
  EXPECT_EQ(u.scales, q->scales);
  EXPECT_EQ(u.zeros, q->zeros);
}
