//===- WeightFormatTest.cpp - WeightFormat names round-trip ----------------===//

#include "llmc/Kernels/WeightFormat.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <random>

using namespace llmc::kernels;

namespace {

TEST(WeightFormat, EveryFormatParsesBackFromItsName) {
  std::vector<WeightFormat> all = {WeightFormat::floating(WeightType::F32),
                                   WeightFormat::floating(WeightType::F16),
                                   WeightFormat::floating(WeightType::BF16)};
  for (WeightType t : {WeightType::Int8, WeightType::Int4, WeightType::Int3,
                       WeightType::Int2, WeightType::NL4, WeightType::NL2})
    for (unsigned g : {0u, 16u, 32u, 64u, 128u})
      for (bool sym : {true, false})
        for (ScaleType s : {ScaleType::F32, ScaleType::F16, ScaleType::BF16,
                            ScaleType::E4M4})
          if ((g != 16 || t != WeightType::Int3) &&
              (sym || !WeightFormat::quantized(t, g, true).isNonLinear()))
            all.push_back(WeightFormat::quantized(t, g, sym, s));
  for (const WeightFormat &f : all) {
    auto back = parseWeightFormat(f.str());
    ASSERT_TRUE(static_cast<bool>(back)) << f.str();
    EXPECT_EQ(*back, f) << f.str();
  }
}

TEST(WeightFormat, MalformedNamesAreErrors) {
  for (const char *bad : {"", "int5", "int4", "int4_g32_sym", "int4_g0_sym_f16",
                          "int4_g48_sym_f16", "int4_g8_sym_f16", "int3_g16_sym_f16",
                          "int4_g32_both_f16", "int4_pc_sym_f8",
                          "f32_pc", "int4_g32_sym_f16_x", "nl4_g32_asym_f16", "nl2_pc_asym_f32"}) {
    auto f = parseWeightFormat(bad);
    ASSERT_FALSE(static_cast<bool>(f)) << bad;
    llvm::consumeError(f.takeError());
  }
}

} // namespace

// Stored bits per weight, counted by hand: codes, then one scale (and one
// zero-point byte when asymmetric) per group, a partial last group whole.
TEST(WeightFormat, StoredBitsPerWeight) {
  using WT = WeightType;
  using ST = ScaleType;
  auto q = [](WT t, unsigned g, bool sym, ST s) {
    return WeightFormat::quantized(t, g, sym, s);
  };
  EXPECT_DOUBLE_EQ(q(WT::Int4, 32, true, ST::F16).storedBitsPerWeight(64), 4.5);
  EXPECT_DOUBLE_EQ(q(WT::Int4, 32, false, ST::F16).storedBitsPerWeight(64), 4.75);
  EXPECT_DOUBLE_EQ(q(WT::Int2, 16, false, ST::BF16).storedBitsPerWeight(4096),
                   2 + 24.0 / 16);
  // K = 172, g32: five full groups and one of 12.
  EXPECT_DOUBLE_EQ(q(WT::Int3, 32, true, ST::F32).storedBitsPerWeight(172),
                   3 + 6 * 32.0 / 172);
  // Per output channel: one scale for the whole row.
  EXPECT_DOUBLE_EQ(q(WT::Int8, 0, true, ST::F32).storedBitsPerWeight(128),
                   8 + 32.0 / 128);
  // e4m4: one byte per group (nl4 g16: 4.5, as nl4 g32 with f16 scales),
  // plus the matrix's fp32 tensor scale.
  EXPECT_DOUBLE_EQ(q(WT::NL4, 16, true, ST::E4M4).storedBitsPerWeight(64), 4.5);
  EXPECT_EQ(q(WT::NL4, 16, true, ST::E4M4).storedBitsPerMatrix(), 32u);
  EXPECT_EQ(q(WT::NL4, 32, true, ST::F16).storedBitsPerMatrix(), 0u);
  EXPECT_DOUBLE_EQ(WeightFormat::floating(WT::BF16).storedBitsPerWeight(64), 16);
  EXPECT_DOUBLE_EQ(WeightFormat::floating(WT::F32).storedBitsPerWeight(64), 32);
}

// nl4's and nl2's levels are the Lloyd-Max quantizer of a Gaussian group of
// 32 divided by its largest magnitude (WeightFormat.h): re-derive them.
// Lloyd's algorithm on a fixed sample (deterministic generator), symmetrized,
// started from a uniform grid; the levels * 127 must be within one of the
// table's (the sample's noise and Lloyd's slow convergence at the ends move
// the last digit: 98.49 for nl4's level 14 here).
static std::vector<double> lloydMaxOfGaussianGroups(int levels) {
  std::mt19937 rng(7);
  std::normal_distribution<double> gauss;
  std::vector<double> x;
  for (int g = 0; g < 40000; ++g) {
    double v[32], amax = 0;
    for (double &e : v) {
      e = gauss(rng);
      amax = std::max(amax, std::fabs(e));
    }
    for (double e : v) {
      x.push_back(e / amax);
      x.push_back(-e / amax);
    }
  }
  std::sort(x.begin(), x.end());
  std::vector<double> c(levels);
  for (int j = 0; j < levels; ++j)
    c[j] = -1 + 2.0 * j / (levels - 1);
  for (int it = 0; it < 200; ++it) {
    std::vector<double> sum(levels), cnt(levels);
    size_t i = 0;
    for (int j = 0; j < levels; ++j) {
      const double hi = j < levels - 1 ? 0.5 * (c[j] + c[j + 1]) : 2.0;
      for (; i < x.size() && x[i] <= hi; ++i) {
        sum[j] += x[i];
        cnt[j] += 1;
      }
    }
    for (int j = 0; j < levels; ++j)
      c[j] = sum[j] / cnt[j];
  }
  return c;
}

TEST(WeightFormat, NonLinearLevelsAreLloydMaxOfGaussianGroups) {
  for (WeightType t : {WeightType::NL4, WeightType::NL2}) {
    WeightFormat f = WeightFormat::quantized(t, 32, true);
    const int n = int(f.maxCode()) + 1;
    std::vector<double> c = lloydMaxOfGaussianGroups(n);
    for (int j = 0; j < n; ++j)
      EXPECT_NEAR(c[j] * 127 + 128, double(f.levels()[j]), 1.0)
          << f.str() << " level " << j << " = " << c[j];
  }
}

// encode() picks the nearest level (nl4, nl2) or rounds half to even
// (uniform); codeValue() is what the kernels multiply.
TEST(WeightFormat, EncodeIsNearestLevel) {
  for (WeightType t : {WeightType::NL4, WeightType::NL2}) {
    WeightFormat nl = WeightFormat::quantized(t, 32, true);
    EXPECT_EQ(nl.symZero(), 128u);
    for (float r = -140; r <= 140; r += 0.25f) {
      unsigned u = nl.encode(r, 128);
      EXPECT_LE(u, nl.maxCode());
      float err = std::fabs(float(nl.codeValue(u)) - 128 - r);
      for (unsigned v = 0; v <= nl.maxCode(); ++v)
        EXPECT_LE(err, std::fabs(float(nl.codeValue(v)) - 128 - r)) << r;
    }
  }
  WeightFormat i4 = WeightFormat::quantized(WeightType::Int4, 32, true);
  EXPECT_EQ(i4.encode(2.5f, 8), 10u); // half to even
  EXPECT_EQ(i4.encode(-100.f, 8), 0u);
  EXPECT_EQ(i4.encode(1e30f, 8), 15u);
  EXPECT_EQ(i4.codeValue(9), 9u);
}
