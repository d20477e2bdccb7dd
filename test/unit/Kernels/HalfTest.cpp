//===- HalfTest.cpp - fp16/bf16 conversions against F16C ------------------===//
#include "llmc/Kernels/Half.h"
#include <gtest/gtest.h>
#include <cmath>
#include <random>

using namespace llmc::kernels;

TEST(Half, RoundTripsEveryFp16) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    uint16_t v = uint16_t(h);
    if ((v & 0x7c00) == 0x7c00 && (v & 0x3ff))
      continue; // nan payloads
    EXPECT_EQ(fp32ToFp16(fp16ToFp32(v)), v) << std::hex << h;
  }
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(fp32ToFp16(1.0f + 1.0f / 2048), 0x3c00);          // tie -> even
  EXPECT_EQ(fp32ToFp16(1.0f + 3.0f / 2048), 0x3c02);          // tie -> even (up)
  EXPECT_EQ(fp32ToFp16(65504.0f), 0x7bff);
  EXPECT_EQ(fp32ToFp16(65520.0f), 0x7c00);                    // overflow
  EXPECT_EQ(fp32ToFp16(std::ldexp(1.0f, -24)), 0x0001);       // smallest subnormal
  EXPECT_EQ(fp32ToFp16(std::ldexp(1.0f, -25)), 0x0000);       // tie -> even (0)
  EXPECT_EQ(fp32ToBf16(1.0f + 1.0f / 256), 0x3f80);           // tie -> even
  EXPECT_EQ(fp32ToBf16(1.0f + 3.0f / 256), 0x3f82);
  EXPECT_EQ(bf16ToFp32(0x3f80), 1.0f);
}

TEST(Half, RelativeErrorBounds) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-100.f, 100.f);
  for (int i = 0; i < 10000; ++i) {
    float f = u(rng);
    if (std::fabs(f) < 1e-3f)
      continue;
    EXPECT_LE(std::fabs(roundToFp16(f) - f), std::fabs(f) * 0x1p-11f);
    EXPECT_LE(std::fabs(roundToBf16(f) - f), std::fabs(f) * 0x1p-8f);
  }
}
