//===- GeneratorTest.cpp - Kernel generation: coverage and speed ----------===//
#include "StagedInputs.h"
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Packing.h"
#include <gtest/gtest.h>
#include <set>

using namespace llmc;
using namespace llmc::kernels;

// Every kernel the load-time JIT may have to produce generates, for the
// group sizes of the formats (the catalog takes each descriptor at its largest
// row count: the longest code). How long generation takes is measured by
// `llmc-bench-kernels --gen-time` against the 5 ms budget, not here.
TEST(Generator, EverySupportedKernelGenerates) {
  for (unsigned group : {16u, 32u, 64u, 128u, 0u}) {
    std::vector<MicroKernelDesc> all = largestSupportedKernels(group);
    std::set<IsaTier> tiers;
    unsigned pairs = 0, modelled = 0, avxVnni = 0;
    for (const MicroKernelDesc &d : all) {
      auto fn = generateMicroKernel(d);
      ASSERT_TRUE(bool(fn)) << llvm::toString(fn.takeError());
      tiers.insert(d.tier);
      pairs += d.panels == 2;
      modelled += d.emulateTiles;
      avxVnni += d.avxVnni;
    }
    // The catalog spans every tier, both panel counts and both variants:
    // a generator change that drops a shape shows up here.
    EXPECT_GT(all.size(), 60u) << "group " << group;
    EXPECT_EQ(tiers.size(), 4u);
    EXPECT_GT(pairs, 10u);
    EXPECT_GT(modelled, 5u);
    EXPECT_GT(avxVnni, 5u);
  }
}

TEST(Generator, UnsupportedIsAnError) {
  MicroKernelDesc d;
  d.tier = IsaTier::Scalar; // the scalar tier runs the C++ kernel
  d.format = WeightFormat::quantized(WeightType::Int4, 32, true);
  d.act = ActPath::Int8;
  auto fn = generateMicroKernel(d);
  EXPECT_FALSE(bool(fn));
  llvm::consumeError(fn.takeError());
  d.tier = IsaTier::AVX2;
  d.format = WeightFormat::floating(WeightType::F16); // int8 path needs codes
  d.mr = 4;
  fn = generateMicroKernel(d);
  EXPECT_FALSE(bool(fn));
  llvm::consumeError(fn.takeError());
  d.format = WeightFormat::quantized(WeightType::Int4, 32, true);
  d.mr = 12; // more rows than registers
  fn = generateMicroKernel(d);
  EXPECT_FALSE(bool(fn));
  llvm::consumeError(fn.takeError());
  // The bf16 dot product: bf16 weights on an AVX-512 tier only.
  d.act = ActPath::BF16;
  d.mr = 4;
  d.format = WeightFormat::floating(WeightType::BF16);
  fn = generateMicroKernel(d); // AVX2
  EXPECT_FALSE(bool(fn));
  llvm::consumeError(fn.takeError());
  d.tier = IsaTier::AVX512;
  d.format = WeightFormat::floating(WeightType::F16);
  fn = generateMicroKernel(d);
  EXPECT_FALSE(bool(fn));
  llvm::consumeError(fn.takeError());
}

// The portable kernel's bf16 activation path (same ABI: x staged as bf16)
// against the generated one, on one panel of bf16 weights, 3 rows, K = 96.
TEST(Generator, GenericBf16PathMatchesGenerated) {
  if (!bf16DotAvailable(IsaTier::AVX512, WeightFormat::floating(WeightType::BF16)))
    GTEST_SKIP() << "no AVX512-BF16 on this host";
  const int64_t M = 3, N = staged::ExactBf16Panel::N;
  staged::ExactBf16Panel in(M, 96);
  ASSERT_FALSE(in.packed.empty());
  MicroKernelDesc d;
  d.tier = IsaTier::AVX512;
  d.format = WeightFormat::floating(WeightType::BF16);
  d.act = ActPath::BF16;
  d.mr = unsigned(M);
  auto fn = generateMicroKernel(d);
  ASSERT_TRUE(bool(fn)) << llvm::toString(fn.takeError());
  float yJit[M * 16], yGen[M * 16];
  MicroKernelArgs a = in.args(0);
  a.ldy = 16 * 4;
  a.y = yJit;
  (*fn)(&a);
  a.y = yGen;
  genericMicroKernel(d, 16, a);
  // Exactly representable data (ExactBf16Panel): the two agree bit for bit,
  // and with the exact dot product.
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      EXPECT_EQ(yJit[m * 16 + n], float(in.exact(m, n))) << "m=" << m << " n=" << n;
      EXPECT_EQ(yGen[m * 16 + n], float(in.exact(m, n))) << "m=" << m << " n=" << n;
    }
}

TEST(Generator, RowLimitsPerTier) {
  auto i4 = WeightFormat::quantized(WeightType::Int4, 32, true);
  EXPECT_EQ(jitMaxRows(IsaTier::AVX512_VNNI, i4, ActPath::Int8, false), 8u);
  EXPECT_GE(jitMaxRows(IsaTier::AVX2, i4, ActPath::Int8, false), 4u);
  EXPECT_GE(jitMaxRows(IsaTier::AVX2, i4, ActPath::F32, false), 4u);
  EXPECT_EQ(jitMaxRows(IsaTier::Scalar, i4, ActPath::F32, false), 0u);
  // AMX: a tile holds 16 rows (int8 path, and bf16 weights on the bf16
  // path); the other paths are the VNNI tier's (Matmul::create moves them).
  EXPECT_EQ(jitMaxRows(IsaTier::AMX, i4, ActPath::Int8, false), 16u);
  EXPECT_EQ(jitMaxRows(IsaTier::AMX, i4, ActPath::F32, false), 0u);
  EXPECT_EQ(jitMaxRows(IsaTier::AMX, WeightFormat::floating(WeightType::BF16),
                       ActPath::BF16, false),
            16u);
  EXPECT_EQ(jitMaxRows(IsaTier::AMX, WeightFormat::floating(WeightType::F16),
                       ActPath::BF16, false),
            0u);
}

// Integer decode pairs (panels = 2): two panels' code blocks side by side in
// one call compute exactly what the one-panel kernel computes for each
// (the same integer dots and fp32 epilogue), for every integer format,
// 16-k groups and per channel, sym and asym, and every tier with a kernel.
TEST(Generator, IntegerPairsMatchOnePanelKernels) {
  std::vector<WeightFormat> formats = {
      WeightFormat::quantized(WeightType::Int4, 32, true, ScaleType::F16),
      WeightFormat::quantized(WeightType::Int4, 128, false, ScaleType::BF16),
      WeightFormat::quantized(WeightType::Int4, 16, true, ScaleType::E4M4),
      WeightFormat::quantized(WeightType::Int8, 0, false, ScaleType::F32),
      WeightFormat::quantized(WeightType::Int3, 32, false, ScaleType::F16),
      WeightFormat::quantized(WeightType::Int2, 16, true, ScaleType::F16),
      WeightFormat::quantized(WeightType::NL4, 32, true, ScaleType::E4M4),
      WeightFormat::quantized(WeightType::NL2, 64, true, ScaleType::F16)};
  int compared = 0;
  for (IsaTier tier : {IsaTier::AVX2, IsaTier::AVX512, IsaTier::AVX512_VNNI})
    for (bool vnni : {false, true}) {
      if (tier > hostTarget().maxTier() || (vnni && (tier != IsaTier::AVX2 ||
                                                     !hostTarget().hasAvxVnni())))
        continue;
      const unsigned L = panelLanes(tier);
      for (const WeightFormat &f : formats) {
        const int64_t N = 2 * L, K = 256, M = 4;
        std::vector<float> W(size_t(N * K));
        for (size_t i = 0; i < W.size(); ++i)
          W[i] = float(int(i * 7919 % 201) - 100) / 50.0f + (f.symmetric ? 0.f : 0.5f);
        auto packed = packWeights(W.data(), N, K, f, tier);
        ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
        const PackedLayout &l = packed->layout();
        const staged::StagedInt8 in(l, M, 5);
        for (unsigned mr = 1; mr <= Matmul::kMaxPairRows; ++mr) {
          MicroKernelDesc d;
          d.tier = tier;
          d.format = f;
          d.act = ActPath::Int8;
          d.avxVnni = vnni;
          d.mr = mr;
          d.panels = 2;
          if (jitMaxRows(tier, f, ActPath::Int8, vnni, 2) < mr)
            continue;
          auto pair = generateMicroKernel(d);
          ASSERT_TRUE(bool(pair)) << llvm::toString(pair.takeError());
          d.panels = 1;
          auto one = generateMicroKernel(d);
          ASSERT_TRUE(bool(one)) << llvm::toString(one.takeError());
          std::vector<float> yPair(size_t(mr * N), 0.5f), yOne(size_t(mr * N), 0.5f);
          for (int64_t p = 0; p < 2; ++p) {
            MicroKernelArgs a = in.args(*packed, M, p, 0);
            a.ldy = N * 4;
            a.accumulate = 1;
            a.y = yOne.data() + p * L;
            (*one)(&a);
          }
          MicroKernelArgs a = in.args(*packed, M, 0, 0);
          a.ldy = N * 4;
          a.accumulate = 1;
          a.y = yPair.data();
          (*pair)(&a);
          for (size_t i = 0; i < yOne.size(); ++i)
            ASSERT_EQ(yPair[i], yOne[i]) << d.str() << " i=" << i;
          ++compared;
        }
      }
    }
  EXPECT_GT(compared, 20);
}
