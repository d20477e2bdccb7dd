//===- ActQuantTest.cpp - SIMD activation prologue == scalar reference ----===//
#include "../../../lib/Kernels/ActQuant.h"
#include "llmc/Kernels/Reference.h"
#include <gtest/gtest.h>
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
