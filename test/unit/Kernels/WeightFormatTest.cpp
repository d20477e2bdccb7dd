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
