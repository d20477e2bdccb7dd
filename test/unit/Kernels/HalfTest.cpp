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

TEST(Half, E4M4EveryByteRoundTripsAndAscends) {
  for (unsigned c = 0; c < 256; ++c) {
    EXPECT_EQ(fp32ToE4M4(e4m4ToFp32(uint8_t(c))), c) << c;
    if (c)
      EXPECT_GT(e4m4ToFp32(uint8_t(c)), e4m4ToFp32(uint8_t(c - 1))) << c;
  }
  EXPECT_EQ(e4m4ToFp32(0x00), 0.0f);
  EXPECT_EQ(e4m4ToFp32(0x01), 0x1p-18f); // subnormal: 2^-14 / 16
  EXPECT_EQ(e4m4ToFp32(0x10), 0x1p-14f); // smallest normal
  EXPECT_EQ(e4m4ToFp32(0xf0), 1.0f);
  EXPECT_EQ(e4m4ToFp32(0xff), kE4M4Max);
}

// fp32ToE4M4 against a search of all 256 values: nearest, ties to the even
// byte, saturating above the largest, zero for non-positive or NaN.
TEST(Half, E4M4RoundsToNearestEven) {
  auto nearest = [](float v) {
    unsigned best = 0;
    for (unsigned c = 1; c < 256; ++c) {
      double d = std::fabs(double(e4m4ToFp32(uint8_t(c))) - v),
             b = std::fabs(double(e4m4ToFp32(uint8_t(best))) - v);
      if (d < b || (d == b && (c & 1) == 0))
        best = c;
    }
    return uint8_t(best);
  };
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> ex(-20.f, 1.f);
  for (int i = 0; i < 20000; ++i) {
    float v = std::exp2(ex(rng));
    ASSERT_EQ(fp32ToE4M4(v), nearest(v)) << v;
  }
  for (unsigned c = 0; c + 1 < 256; ++c) { // midpoints: ties
    float lo = e4m4ToFp32(uint8_t(c)), hi = e4m4ToFp32(uint8_t(c + 1));
    float mid = 0.5f * (lo + hi);
    EXPECT_EQ(fp32ToE4M4(mid), (c & 1) ? c + 1 : c) << c;
  }
  EXPECT_EQ(fp32ToE4M4(100.0f), 0xff);
  EXPECT_EQ(fp32ToE4M4(-1.0f), 0x00);
  EXPECT_EQ(fp32ToE4M4(std::nanf("")), 0x00);
}
