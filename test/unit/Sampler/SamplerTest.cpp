//===- SamplerTest.cpp - Sampling distributions against a direct formula ---===//

#include "llmc/Runtime/Sampler.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace llmc;

namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f};

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  Sampler s({0.0f, 0, 1.0f, 1});
  EXPECT_EQ(s.sample(kLogits), 1);
  EXPECT_EQ(argmax(kLogits), 1);
}

TEST(Sampler, TemperatureMatchesSoftmax) {
  const float t = 0.7f;
  Sampler s({t, 0, 1.0f, 1});
  std::vector<float> p = s.distribution(kLogits);
  double z = 0;
  for (float l : kLogits)
    z += std::exp(l / t);
  for (size_t i = 0; i < kLogits.size(); ++i)
    EXPECT_NEAR(p[i], std::exp(kLogits[i] / t) / z, 1e-6) << i;
}

TEST(Sampler, TopKKeepsTheKLargest) {
  Sampler s({1.0f, 3, 1.0f, 1});
  std::vector<float> p = s.distribution(kLogits);
  // Kept: ids 1 and 3 (logit 3) and 2 (logit 2).
  double z = 2 * std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(p[1], std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR(p[3], std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR(p[2], std::exp(2.0) / z, 1e-6);
  EXPECT_EQ(p[0], 0.0f);
  EXPECT_EQ(p[4], 0.0f);
  EXPECT_EQ(p[5], 0.0f);
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // Full softmax at T=1: ids 1,3 carry ~0.33 each, id 2 ~0.12, ...
  // top_p = 0.6 needs both top tokens (0.33 alone is not enough).
  Sampler s({1.0f, 0, 0.6f, 1});
  std::vector<float> p = s.distribution(kLogits);
  EXPECT_NEAR(p[1], 0.5f, 1e-6);
  EXPECT_NEAR(p[3], 0.5f, 1e-6);
  for (int i : {0, 2, 4, 5})
    EXPECT_EQ(p[i], 0.0f) << i;
}

TEST(Sampler, SeededSamplingIsReproducibleAndFollowsTheDistribution) {
  SamplingParams params{1.0f, 0, 1.0f, 42};
  Sampler a(params), b(params);
  std::vector<int> counts(kLogits.size(), 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    int32_t x = a.sample(kLogits);
    ASSERT_EQ(x, b.sample(kLogits));
    ++counts[x];
  }
  std::vector<float> p = a.distribution(kLogits);
  for (size_t i = 0; i < p.size(); ++i) {
    // 5 standard deviations of a binomial count.
    double sd = std::sqrt(n * p[i] * (1 - p[i]));
    EXPECT_NEAR(counts[i], n * p[i], 5 * sd + 1) << i;
  }
}

TEST(Sampler, InvalidParametersAreRejected) {
  EXPECT_TRUE(static_cast<bool>(SamplingParams{-1.0f, 0, 1.0f, 0}.validate()));
  EXPECT_TRUE(static_cast<bool>(SamplingParams{1.0f, -2, 1.0f, 0}.validate()));
  EXPECT_TRUE(static_cast<bool>(SamplingParams{1.0f, 0, 0.0f, 0}.validate()));
  EXPECT_TRUE(static_cast<bool>(SamplingParams{1.0f, 0, 1.5f, 0}.validate()));
  EXPECT_TRUE(static_cast<bool>(SamplingParams{NAN, 0, 1.0f, 0}.validate()));
  EXPECT_FALSE(static_cast<bool>(SamplingParams{0.8f, 40, 0.95f, 0}.validate()));
}

} // namespace
