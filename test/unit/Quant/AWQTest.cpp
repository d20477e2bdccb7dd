//===- AWQTest.cpp - AWQ scale search, clipping and folding ---------------===//
#include "Synthetic.h"
#include "llmc/Quant/AWQ.h"
#include <gtest/gtest.h>

using namespace llmc::quant;
using namespace llmc::quant::test;
using namespace llmc::kernels;

namespace {
// y = W (gamma * x / rms(x)), the RMSNorm -> Linear pair AWQ folds into.
std::vector<double> normLinear(const std::vector<float> &W, int64_t N, int64_t K,
                               const std::vector<float> &gamma, const float *x) {
  double ss = 0;
  for (int64_t k = 0; k < K; ++k)
    ss += double(x[k]) * x[k];
  float inv = float(1.0 / std::sqrt(ss / double(K) + 1e-5));
  std::vector<float> h(K);
  for (int64_t k = 0; k < K; ++k)
    h[k] = x[k] * inv * gamma[k]; // fp32, as the runtime computes it
  std::vector<double> y(N, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      y[n] += double(W[n * K + k]) * h[k];
  return y;
}
} // namespace

TEST(AWQ, FoldingPreservesTheLayer) {
  SyntheticLayer L(24, 128, 16, 81);
  std::vector<float> gamma(L.K), s(L.K);
  for (int64_t k = 0; k < L.K; ++k) {
    gamma[k] = 0.5f + 0.01f * float(k % 17);
    s[k] = std::exp(0.8f * std::sin(float(k)));
  }
  std::vector<float> W2 = L.W, gamma2 = gamma;
  scaleWeightColumns(W2.data(), L.N, L.K, s.data());
  foldScalesIntoNorm(gamma2.data(), L.K, s.data());
  for (int64_t m = 0; m < L.M; ++m) {
    const float *x = &L.X[m * L.K];
    std::vector<double> a = normLinear(L.W, L.N, L.K, gamma, x),
                        b = normLinear(W2, L.N, L.K, gamma2, x);
    for (int64_t n = 0; n < L.N; ++n)
      EXPECT_NEAR(a[n], b[n], 1e-5 * (1 + std::fabs(a[n])));
  }
  // Preceding linear layer P[K][Kin]: its outputs feed W.
  const int64_t Kin = 20;
  std::vector<float> P(L.K * Kin), bias(L.K), z(Kin);
  for (size_t i = 0; i < P.size(); ++i)
    P[i] = std::cos(0.1f * float(i));
  for (int64_t k = 0; k < L.K; ++k)
    bias[k] = 0.01f * float(k);
  for (int64_t j = 0; j < Kin; ++j)
    z[j] = std::sin(float(j));
  std::vector<float> P2 = P, bias2 = bias;
  foldScalesIntoPrecedingLinear(P2.data(), L.K, Kin, s.data(), bias2.data());
  for (int64_t n = 0; n < L.N; ++n) {
    double a = 0, b = 0;
    for (int64_t k = 0; k < L.K; ++k) {
      double h = bias[k], h2 = bias2[k];
      for (int64_t j = 0; j < Kin; ++j) {
        h += double(P[k * Kin + j]) * z[j];
        h2 += double(P2[k * Kin + j]) * z[j];
      }
      a += double(L.W[n * L.K + k]) * h;
      b += double(W2[n * L.K + k]) * h2;
    }
    EXPECT_NEAR(a, b, 1e-4 * (1 + std::fabs(a)));
  }
}

// The done-when: AWQ never worse than RTN on its objective.
TEST(AWQ, NeverWorseThanRTN) {
  SyntheticLayer L(32, 256, 384, 91);
  CalibrationStats stats(L.K);
  stats.addBatch(L.X.data(), L.M);
  std::vector<double> Hsum = stats.sumOuter();
  for (WeightType t : {WeightType::Int8, WeightType::Int4, WeightType::Int3,
                       WeightType::Int2})
    for (unsigned g : {0u, 32u, 128u})
      for (bool sym : {true, false}) {
        if (t == WeightType::Int8 && g != 0)
          continue;
        WeightFormat f = WeightFormat::quantized(t, g, sym, ScaleType::F16);
        AWQOptions noClip;
        noClip.clipSteps = 1;
        auto a = awqQuantize(L.W.data(), L.N, L.K, stats, f, noClip);
        auto b = awqQuantize(L.W.data(), L.N, L.K, stats, f);
        ASSERT_TRUE(a && b) << f.str();
        auto rtn = quantizeWeights(L.W.data(), L.N, L.K, f);
        double lr = proxyLoss(L.W.data(), *rtn, Hsum.data());
        EXPECT_DOUBLE_EQ(a->rtnLoss, lr);
        EXPECT_EQ(a->lossPerAlpha.size(), 20u);
        EXPECT_DOUBLE_EQ(a->lossPerAlpha[0], lr);
        EXPECT_LE(a->loss, lr) << f.str();
        EXPECT_LE(b->loss, a->loss) << f.str();
        // The reported loss is that of the returned weights and scales.
        EXPECT_NEAR(proxyLoss(L.W.data(), b->weights, Hsum.data(),
                              b->scales.data()),
                    b->loss, 1e-9 * b->loss);
        // Outlier input channels: scaling must pay off at 3-4 bits.
        if (t == WeightType::Int4 || t == WeightType::Int3) {
          EXPECT_GT(a->alpha, 0.0) << f.str();
          EXPECT_LT(a->loss, 0.9 * lr) << f.str();
        }
      }
}

// With searchRows below N the searches score a row sample: the returned
// weights still cover every row, the reported losses are those of the sampled
// rows (RTN's among them: never worse), and on this layer the sample picks a
// result within 10% of the full search's loss on all rows.
TEST(AWQ, RowSampleSearch) {
  SyntheticLayer L(32, 256, 384, 91);
  CalibrationStats stats(L.K);
  stats.addBatch(L.X.data(), L.M);
  std::vector<double> Hsum = stats.sumOuter();
  WeightFormat f = WeightFormat::quantized(WeightType::Int4, 32, true, ScaleType::F16);
  AWQOptions all, sample;
  all.searchRows = 0;
  sample.searchRows = 12; // of N = 32 rows
  auto a = awqQuantize(L.W.data(), L.N, L.K, stats, f, all);
  auto b = awqQuantize(L.W.data(), L.N, L.K, stats, f, sample);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(b->weights.N, L.N);
  // The sampled rows: 0, 32/12, 2*32/12, ...
  double sampledRtn = 0, sampledResult = 0;
  auto rtn = quantizeWeights(L.W.data(), L.N, L.K, f);
  for (int64_t i = 0; i < 12; ++i) {
    const int64_t n = i * L.N / 12;
    std::vector<double> dr(L.K), db(L.K);
    for (int64_t k = 0; k < L.K; ++k) {
      dr[k] = double(rtn->weight(n, k)) - L.W[n * L.K + k];
      db[k] = double(b->weights.weight(n, k)) / b->scales[k] - L.W[n * L.K + k];
    }
    sampledRtn += quadraticForm(Hsum.data(), L.K, dr.data(), L.K);
    sampledResult += quadraticForm(Hsum.data(), L.K, db.data(), L.K);
  }
  EXPECT_NEAR(b->rtnLoss, sampledRtn, 1e-9 * sampledRtn);
  EXPECT_NEAR(b->loss, sampledResult, 1e-9 * sampledResult);
  // proxyLoss restricted to the sampled rows is the same sum.
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < 12; ++i)
    rows.push_back(i * L.N / 12);
  EXPECT_NEAR(proxyLoss(L.W.data(), b->weights, Hsum.data(), b->scales.data(), rows),
              sampledResult, 1e-9 * sampledResult);
  EXPECT_LE(b->loss, b->rtnLoss);
  const double fullA = proxyLoss(L.W.data(), a->weights, Hsum.data(), a->scales.data());
  const double fullB = proxyLoss(L.W.data(), b->weights, Hsum.data(), b->scales.data());
  EXPECT_LT(fullB, 1.1 * fullA);
  EXPECT_NEAR(fullA, a->loss, 1e-9 * fullA);
}

TEST(AWQ, ScalesFoldToTheSameLayer) {
  // The quantized weights are of W diag(s): dequantized / s approximates W.
  SyntheticLayer L(16, 128, 256, 95);
  CalibrationStats stats(L.K);
  stats.addBatch(L.X.data(), L.M);
  WeightFormat f = WeightFormat::quantized(WeightType::Int8, 0, true);
  AWQOptions o;
  o.clipSteps = 1; // no clipping: every weight within half a step
  auto r = awqQuantize(L.W.data(), L.N, L.K, stats, f, o);
  ASSERT_TRUE(bool(r));
  EXPECT_GT(r->alpha, 0.0);
  for (int64_t n = 0; n < L.N; ++n)
    for (int64_t k = 0; k < L.K; ++k) {
      float s = r->weights.scales[n];
      EXPECT_NEAR(r->weights.weight(n, k) / r->scales[k], L.W[n * L.K + k],
                  0.51 * s / r->scales[k] + 1e-6);
    }
}

TEST(AWQ, Errors) {
  CalibrationStats stats(8);
  std::vector<float> W(4 * 16, 0.5f);
  auto r = awqQuantize(W.data(), 4, 16, stats,
                       WeightFormat::quantized(WeightType::Int4, 32, true));
  ASSERT_FALSE(bool(r));
  EXPECT_NE(llvm::toString(r.takeError()).find("16"), std::string::npos);
  CalibrationStats s16(16);
  auto f = awqQuantize(W.data(), 4, 16, s16, WeightFormat::floating(WeightType::F16));
  ASSERT_FALSE(bool(f));
  llvm::consumeError(f.takeError());
}
