//===- PerplexityIncreaseTest.cpp - Paired increase and its confidence bound ===//
//
// runtime::perplexityIncrease against the formula computed here by hand on
// small inputs, and normalQuantile against tabulated standard normal
// quantiles (Abramowitz & Stegun, table 26.5, to the digits shown).
//
//===----------------------------------------------------------------------===//
#include "llmc/Runtime/Evaluate.h"
#include <gtest/gtest.h>
#include <cmath>

using namespace llmc::runtime;

namespace {

TEST(NormalQuantile, MatchesTables) {
  EXPECT_NEAR(normalQuantile(0.5), 0.0, 1e-14);
  EXPECT_NEAR(normalQuantile(0.9), 1.2815515655, 1e-9);
  EXPECT_NEAR(normalQuantile(0.95), 1.6448536270, 1e-9);
  EXPECT_NEAR(normalQuantile(0.975), 1.9599639845, 1e-9);
  EXPECT_NEAR(normalQuantile(0.999), 3.0902323062, 1e-9);
  EXPECT_NEAR(normalQuantile(0.05), -1.6448536270, 1e-9);
}

TEST(PerplexityIncrease, PairedMeanAndStandardError) {
  // d = {0.01, 0.03, 0.02, 0.04}: mean 0.025, sample variance
  // (0.015^2 + 0.005^2 + 0.005^2 + 0.015^2) / 3 = 5e-4 / 3, se = sqrt(that / 4).
  const double ref[] = {1.0, 2.0, 1.5, 0.5};
  const double model[] = {1.01, 2.03, 1.52, 0.54};
  auto r = perplexityIncrease(model, ref, 0.95);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  const double se = std::sqrt(5e-4 / 3 / 4);
  EXPECT_NEAR(r->standardError, se, 1e-12);
  EXPECT_NEAR(r->increase, std::exp(0.025) - 1, 1e-12);
  EXPECT_NEAR(r->upper, std::exp(0.025 + 1.6448536270 * se) - 1, 1e-9);
  EXPECT_NEAR(r->lower, std::exp(0.025 - 1.6448536270 * se) - 1, 1e-9);
  // The point estimate at 50%; a wider bound at 99%.
  auto half = perplexityIncrease(model, ref, 0.5);
  ASSERT_TRUE(bool(half));
  EXPECT_DOUBLE_EQ(half->upper, half->increase);
  EXPECT_DOUBLE_EQ(half->lower, half->increase);
  auto strict = perplexityIncrease(model, ref, 0.99);
  ASSERT_TRUE(bool(strict));
  EXPECT_GT(strict->upper, r->upper);
}

TEST(PerplexityIncrease, ChunkDifficultyCancels) {
  // The same increase on every chunk: no spread, whatever the chunks' own
  // perplexities, so the bound is the increase itself.
  const double ref[] = {0.3, 2.5, 1.1};
  const double model[] = {0.32, 2.52, 1.12};
  auto r = perplexityIncrease(model, ref, 0.95);
  ASSERT_TRUE(bool(r));
  EXPECT_NEAR(r->standardError, 0.0, 1e-12);
  EXPECT_NEAR(r->upper, std::exp(0.02) - 1, 1e-12);
}

TEST(PerplexityIncrease, RefusesMismatchedOrBadInput) {
  const double a[] = {1.0, 2.0}, b[] = {1.0};
  auto sizes = perplexityIncrease(a, b, 0.95);
  ASSERT_FALSE(bool(sizes));
  EXPECT_NE(llvm::toString(sizes.takeError()).find("same chunks"), std::string::npos);
  auto none = perplexityIncrease({}, {}, 0.95);
  EXPECT_FALSE(bool(none));
  llvm::consumeError(none.takeError());
  for (double c : {0.4, 1.0, double(NAN)}) {
    auto bad = perplexityIncrease(a, a, c);
    ASSERT_FALSE(bool(bad)) << c;
    EXPECT_NE(llvm::toString(bad.takeError()).find("confidence"), std::string::npos);
  }
}

} // namespace
