//===- WeightFormatTest.cpp - WeightFormat names round-trip ----------------===//

#include "llmc/Kernels/WeightFormat.h"

#include "gtest/gtest.h"

using namespace llmc::kernels;

namespace {

TEST(WeightFormat, EveryFormatParsesBackFromItsName) {
  std::vector<WeightFormat> all = {WeightFormat::floating(WeightType::F32),
                                   WeightFormat::floating(WeightType::F16),
                                   WeightFormat::floating(WeightType::BF16)};
  for (WeightType t : {WeightType::Int8, WeightType::Int4, WeightType::Int3,
                       WeightType::Int2})
    for (unsigned g : {0u, 16u, 32u, 64u, 128u})
      for (bool sym : {true, false})
        for (ScaleType s : {ScaleType::F32, ScaleType::F16, ScaleType::BF16})
          if (g != 16 || t != WeightType::Int3)
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
                          "f32_pc", "int4_g32_sym_f16_x"}) {
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
  EXPECT_DOUBLE_EQ(WeightFormat::floating(WT::BF16).storedBitsPerWeight(64), 16);
  EXPECT_DOUBLE_EQ(WeightFormat::floating(WT::F32).storedBitsPerWeight(64), 32);
}
