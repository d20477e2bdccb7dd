//===- ActQuantTest.cpp - SIMD activation prologue == scalar reference ----===//
#include "../../../lib/Kernels/ActQuant.h"
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Matmul.h"
#include "llmc/Kernels/Reference.h"
#include <gtest/gtest.h>
#include <cmath>
#include <random>
#include <vector>

using namespace llmc;
using namespace llmc::kernels;

TEST(ActQuant, BitIdenticalToReferenceOnEveryTier) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  for (IsaTier t : {IsaTier::Scalar, IsaTier::AVX2, IsaTier::AVX512}) {
    if (t > hostTarget().maxTier())
      continue;
    for (int64_t G : {16, 32, 64, 128, 192})
      for (int64_t n : {G, G - 1, G - 8, int64_t(13), int64_t(0)}) {
        std::vector<float> x(static_cast<size_t>(G));
        for (auto &v : x)
          v = u(rng);
        if (n > 0)
          x[size_t(n / 2)] = 7.5f; // exact max maps to 127
        std::vector<int8_t> ref(static_cast<size_t>(G));
        int32_t refSum = 0;
        float refScale = quantizeActivationGroup(x.data(), n, G, ref.data(), &refSum);
        const int64_t stride = 96; // chunk stride, as with M = 3 rows
        // 55 marks bytes the staging must not touch: a 16-k group fills only
        // the first half of its chunk (the other half is the next group's).
        std::vector<int8_t> out(size_t((G + 31) / 32 * stride), 55);
        int32_t sum = 0;
        float scale = quantizeGroupChunked(t, x.data(), n, G, out.data(), stride, &sum);
        EXPECT_EQ(scale, refScale);
        EXPECT_EQ(sum, refSum) << "tier " << int(t) << " G " << G << " n " << n;
        for (int64_t k = 0; k < G; ++k)
          ASSERT_EQ(out[size_t(k / 32 * stride + k % 32)], ref[size_t(k)])
              << "tier " << int(t) << " G " << G << " n " << n << " k " << k;
        for (int64_t k = G % 32; G % 32 && k < 32; ++k)
          ASSERT_EQ(out[size_t(G / 32 * stride + k)], 55) << "G " << G << " k " << k;
      }
  }
}

// The bf16 path's staging: the AVX512-BF16 version equals the scalar one bit
// for bit (normal values rounded to nearest even as fp32ToBf16 does, ties
// included; subnormals to signed zeros; inf and NaN kept), the padding is
// zero, and nothing between chunks is touched.
TEST(ActQuant, Bf16StagingBitIdentical) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  const bool simd = bf16DotAvailable(IsaTier::AVX512, WeightFormat::floating(WeightType::BF16));
  for (int64_t G : {32, 64, 96})
    for (int64_t n : {G, G - 1, G - 17, int64_t(5), int64_t(0)}) {
      std::vector<float> x(static_cast<size_t>(G));
      for (auto &v : x)
        v = u(rng);
      const float specials[] = {0x1.00fep0f /* below a tie */, 0x1.01p0f /* tie, to even */,
                                0x1.03p0f /* tie, odd: up */,  0x1p-130f /* subnormal */,
                                -0x1p-149f,                   -0.0f,
                                INFINITY,                     NAN,
                                0x1.fffffep127f /* rounds to inf */};
      for (size_t i = 0; i < std::size(specials) && int64_t(i) < n; ++i)
        x[i] = specials[i];
      const int64_t stride = 96; // elements between chunks, as with M = 3 rows
      std::vector<uint16_t> ref(size_t(G / 32 * stride), 0x5555), out(ref);
      stageBf16Chunked(false, x.data(), n, G, ref.data(), stride);
      for (int64_t k = 0; k < G; ++k) {
        const uint16_t r = ref[size_t(k / 32 * stride + k % 32)];
        if (k >= n)
          EXPECT_EQ(r, 0) << "padding k " << k;
        else if (std::fpclassify(x[size_t(k)]) == FP_SUBNORMAL)
          EXPECT_EQ(r, std::signbit(x[size_t(k)]) ? 0x8000 : 0) << "k " << k;
        else if (!std::isnan(x[size_t(k)]))
          EXPECT_EQ(r, fp32ToBf16(x[size_t(k)])) << "k " << k;
        else
          EXPECT_TRUE(std::isnan(bf16ToFp32(r)));
      }
      EXPECT_EQ(ref[32], 0x5555); // between the first and second chunk
      if (!simd)
        continue;
      stageBf16Chunked(true, x.data(), n, G, out.data(), stride);
      for (size_t i = 0; i < out.size(); ++i)
        ASSERT_EQ(out[i], ref[i]) << "G " << G << " n " << n << " i " << i;
    }
}
