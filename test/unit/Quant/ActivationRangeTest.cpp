//===- ActivationRangeTest.cpp - Calibrated activation ranges -------------===//
#include "llmc/Quant/ActivationRange.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using namespace llmc::quant;

// Percentiles from the histogram against the exact order statistic of the
// same values (within the 2^(1/32) bin width), max exact, strided rows.
TEST(ActivationRange, PercentilesMatchSortedValues) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t M = 400, K = 50, ldx = 64;
  std::vector<float> X(M * ldx, 1e9f); // the padding must not be read
  std::vector<float> all;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      float v = normal(rng) * (k == 7 ? 30.0f : 1.0f); // one outlier channel
      if (m % 10 == 0 && k == 3)
        v = 0; // zeros count
      X[m * ldx + k] = v;
      all.push_back(std::fabs(v));
    }
  ActivationRange r;
  r.addBatch(X.data(), M / 2, K, ldx);
  r.addBatch(X.data() + (M / 2) * ldx, M - M / 2, K, ldx);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(r.count(), uint64_t(M * K));
  EXPECT_EQ(r.maxAbs(), all.back());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    float exact = all[size_t(std::ceil(p / 100 * all.size())) - 1];
    float got = r.percentile(p);
    EXPECT_GE(got, exact * 0.999f) << p;
    EXPECT_LE(got, exact * 1.022f) << p;
  }
  EXPECT_EQ(r.percentile(100), all.back());
  EXPECT_EQ(ActivationRange().percentile(99), 0.0f);
}
