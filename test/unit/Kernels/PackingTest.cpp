//===- PackingTest.cpp - Quantization and pack/unpack round trips ---------===//
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Packing.h"
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <random>

using namespace llmc;
using namespace llmc::kernels;

namespace {
std::vector<float> randomMatrix(int64_t n, uint32_t seed, float shift = 0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto &x : v)
    x = u(rng) + shift;
  return v;
}

/// Every row read out of packed `p` (dequantizePackedRow, and
/// dequantizePanelRow from copies of its panel's regions, as a reader of a
/// file has them) is bitwise q's dequantized row (QuantizedWeights::weight).
void expectRowsDequantize(const PackedWeights &p, const QuantizedWeights &q) {
  const PackedLayout &l = p.layout();
  std::vector<float> row(size_t(q.K)), fromCopies(size_t(q.K));
  for (int64_t n = 0; n < q.N; ++n) {
    dequantizePackedRow(l, p.data(), n, row.data());
    const PanelRegions r = panelRegions(l, n / l.lanes);
    auto copy = [&](PanelRegions::Range x) {
      return std::vector<uint8_t>(p.data() + x.offset, p.data() + x.offset + x.bytes);
    };
    std::vector<uint8_t> qb = copy(r.q), sb = copy(r.scale), zb = copy(r.zero),
                         tb = copy(r.tensorScale);
    PanelBytes panel;
    panel.q = qb.data();
    panel.scale = sb.data();
    panel.zero = zb.data();
    if (!tb.empty())
      std::memcpy(&panel.tensorScale, tb.data(), 4);
    dequantizePanelRow(l, panel, unsigned(n % l.lanes), fromCopies.data());
    for (int64_t k = 0; k < q.K; ++k) {
      const float want = q.weight(n, k);
      ASSERT_EQ(std::memcmp(&row[size_t(k)], &want, 4), 0)
          << l.format.str() << " lanes " << l.lanes << " n=" << n << " k=" << k
          << ": " << row[size_t(k)] << " vs " << want;
      ASSERT_EQ(std::memcmp(&fromCopies[size_t(k)], &want, 4), 0)
          << l.format.str() << " (panel copies) n=" << n << " k=" << k;
    }
  }
}

double scaleRelError(ScaleType t) {
  switch (t) {
  case ScaleType::F32: return 1e-7;
  case ScaleType::F16: return 0x1p-11;
  case ScaleType::BF16: return 0x1p-8;
  case ScaleType::E4M4: return 0x1p-5;
  }
  return 1;
}
} // namespace

TEST(PackedLayout, BlockSizes) {
  auto l = PackedLayout::get(
      WeightFormat::quantized(WeightType::Int4, 32, true, ScaleType::F16), 40,
      172, 16);
  ASSERT_TRUE(bool(l));
  EXPECT_EQ(l->numPanels, 3);
  EXPECT_EQ(l->Kp, 192);
  EXPECT_EQ(l->numGroups, 6);
  EXPECT_EQ(l->qBytesPerGroup, 256);   // 16 lanes x 32 k x 4 bits
  EXPECT_EQ(l->scaleBytesPerGroup, 32);
  EXPECT_EQ(l->zeroBytesPerGroup, 0);
  EXPECT_EQ(l->qOffset % 64, 0);
  EXPECT_EQ(l->scaleOffset % 64, 0);
  auto pc = PackedLayout::get(
      WeightFormat::quantized(WeightType::Int3, 0, false), 8, 172, 8);
  ASSERT_TRUE(bool(pc));
  EXPECT_EQ(pc->group, 192);
  EXPECT_EQ(pc->qBytesPerGroup, 8 * 192 * 3 / 8);
  EXPECT_EQ(pc->zeroBytesPerGroup, 8);
}

TEST(PackedLayout, RejectsBadGroup) {
  auto l = PackedLayout::get(WeightFormat::quantized(WeightType::Int4, 48, true),
                             8, 64, 16);
  EXPECT_FALSE(bool(l));
  llvm::consumeError(l.takeError());
  auto q = quantizeWeights(nullptr, 0, 0, WeightFormat::floating(WeightType::F32));
  EXPECT_FALSE(bool(q));
  llvm::consumeError(q.takeError());
}

TEST(PackedLayout, Int4NibbleOrder) {
  // Channel 0: k -> code k % 16 written through the layout rules by hand.
  WeightFormat f = WeightFormat::quantized(WeightType::Int4, 32, false);
  QuantizedWeights q;
  q.format = f;
  q.N = 1;
  q.K = 32;
  q.group = 32;
  q.numGroups = 1;
  q.codes.resize(32);
  for (int k = 0; k < 32; ++k)
    q.codes[k] = uint8_t(k % 16);
  q.scales = {1.0f};
  q.zeros = {0};
  auto p = packWeights(q, IsaTier::AVX512_VNNI);
  ASSERT_TRUE(bool(p));
  const uint8_t *d = p->data();
  // Block 0, lane 0, byte j: low nibble k = j, high nibble k = 4 + j.
  for (int j = 0; j < 4; ++j)
    EXPECT_EQ(d[j], uint8_t(j | ((4 + j) << 4)));
  // Block 1 (k 8..15) starts 64 bytes later.
  EXPECT_EQ(d[64], uint8_t(8 | (12 << 4)));
}

struct PackCase {
  WeightType type;
  unsigned group;
  bool sym;
  ScaleType scale;
};

class PackRoundTrip : public ::testing::TestWithParam<PackCase> {};

TEST_P(PackRoundTrip, UnpackEqualsQuantizedAndErrorIsBounded) {
  const PackCase c = GetParam();
  WeightFormat f = WeightFormat::quantized(c.type, c.group, c.sym, c.scale);
  for (auto [N, K] : {std::pair<int64_t, int64_t>{8, 172}, {37, 96}, {16, 256}}) {
    auto W = randomMatrix(N * K, uint32_t(N * 131 + K), c.sym ? 0.f : 0.4f);
    auto q = quantizeWeights(W.data(), N, K, f);
    ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
    // Error bound of round-to-nearest with a rounded scale:
    //   |w - (u - z) s| <= s / 2 + qmax * |s - s_exact| <= s/2 + range * rel(scale dtype)
    // nl4: half of its widest level gap (98 to 123) in place of s / 2; nl2:
    // the distance from its top level 84 to max|w| = 127 s.
    const double halfGap = c.type == WeightType::NL4   ? 12.5
                           : c.type == WeightType::NL2 ? 43.0
                                                       : 0.5;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        int64_t g = k / q->group;
        double s = q->scales[n * q->numGroups + g];
        double bound = halfGap * s * (1 + 1e-6) + 2.5 * scaleRelError(c.scale) +
                       (c.sym ? 0 : s); // asym: zero-point rounding shifts the grid
        EXPECT_LE(std::fabs(double(W[n * K + k]) - q->weight(n, k)), bound)
            << f.str() << " n=" << n << " k=" << k;
      }
    for (IsaTier tier : {IsaTier::AVX2, IsaTier::AVX512_VNNI}) {
      auto p = packWeights(*q, tier);
      ASSERT_TRUE(bool(p)) << llvm::toString(p.takeError());
      QuantizedWeights u = unpackWeights(*p);
      EXPECT_EQ(u.codes, q->codes) << f.str();
      EXPECT_EQ(u.scales, q->scales) << f.str();
      EXPECT_EQ(u.zeros, q->zeros) << f.str();
      expectRowsDequantize(*p, *q);
      // Padding holds the zero point (dequantized 0; nl4, which has no zero
      // level: the code of the level nearest it).
      const PackedLayout &l = p->layout();
      // (A group wholly past K, as 16-k groups can add, uses the symmetric
      // zero point.)
      for (int64_t k = K; k < l.Kp; ++k) {
        int64_t g = k / l.group;
        unsigned z = g < q->numGroups ? unsigned(q->zeros[g]) : f.symZero();
        EXPECT_EQ(packedCode(l, p->data(), 0, k), f.encode(0, z))
            << f.str() << " k=" << k;
      }
    }
  }
}

// e4m4 scales: the matrix's exponent puts its largest scale in the binade
// below the top one, every scale is stored exactly relative to it, and a
// scale off that grid is refused rather than stored as another value.
TEST(PackE4M4, ScaleExponentAndExactScales) {
  const WeightFormat f =
      WeightFormat::quantized(WeightType::NL4, 16, true, ScaleType::E4M4);
  for (float mag : {1e-4f, 0.03f, 1.0f, 300.0f}) {
    auto W = randomMatrix(24 * 96, 5);
    for (float &w : W)
      w *= mag;
    auto q = quantizeWeights(W.data(), 24, 96, f);
    ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
    float largest = 0;
    for (float s : q->scales)
      largest = std::max(largest, s);
    const double top = std::ldexp(double(kE4M4Max), q->scaleExponent);
    EXPECT_LE(largest, top / 2 * (1 + 0x1p-5)) << mag;
    EXPECT_GT(largest, top / 4) << mag;
    for (float s : q->scales) {
      float rel = std::ldexp(s, -q->scaleExponent);
      EXPECT_EQ(e4m4ToFp32(fp32ToE4M4(rel)), rel) << mag << " " << s;
    }
    auto p = packWeights(*q, IsaTier::AVX512_VNNI);
    ASSERT_TRUE(bool(p)) << llvm::toString(p.takeError());
    EXPECT_EQ(packedTensorScale(p->layout(), p->data()),
              std::ldexp(1.0f, q->scaleExponent));
    EXPECT_EQ(unpackWeights(*p).scaleExponent, q->scaleExponent);
  }
  auto W = randomMatrix(8 * 32, 9);
  auto q = quantizeWeights(W.data(), 8, 32, f);
  ASSERT_TRUE(bool(q));
  q->scales[3] = std::ldexp(1.2f, q->scaleExponent - 2); // 19.2 sixteenths
  auto p = packWeights(*q, IsaTier::AVX2);
  ASSERT_FALSE(bool(p));
  EXPECT_NE(llvm::toString(p.takeError()).find("not 2^"), std::string::npos);
  // A damaged tensor scale (a bundle's bytes) is refused at load.
  q->scales[3] = q->scales[4];
  auto good = packWeights(*q, IsaTier::AVX2);
  ASSERT_TRUE(bool(good));
  EXPECT_FALSE(bool(checkPackedTensorScale(good->layout(), good->data())));
  for (float bad : {0.0f, -0.5f, 0.75f, INFINITY, NAN}) {
    std::memcpy(good->mutableData() + good->layout().tensorScaleOffset, &bad, 4);
    llvm::Error e = checkPackedTensorScale(good->layout(), good->data());
    ASSERT_TRUE(bool(e)) << bad;
    EXPECT_NE(llvm::toString(std::move(e)).find("not a power of two"),
              std::string::npos);
  }
}

// Edge cases of the matrix exponent: an all-zero matrix (no scale to fit:
// exponent 0, every scale 0, packs and unpacks), asymmetric ranges (the
// scale is the range over the codes), and the tensor-scale region (64-byte
// aligned, after the others, counted in the streamed bytes).
TEST(PackE4M4, ZeroMatrixAsymmetricRangesAndRegion) {
  const WeightFormat sym =
      WeightFormat::quantized(WeightType::NL2, 16, true, ScaleType::E4M4);
  std::vector<float> Z(8 * 64, 0.0f);
  EXPECT_EQ(chooseScaleExponent(Z.data(), 8, 64, sym), 0);
  auto qz = quantizeWeights(Z.data(), 8, 64, sym);
  ASSERT_TRUE(bool(qz));
  for (float s : qz->scales)
    EXPECT_EQ(s, 0.0f);
  auto pz = packWeights(*qz, IsaTier::AVX512_VNNI);
  ASSERT_TRUE(bool(pz)) << llvm::toString(pz.takeError());
  EXPECT_EQ(unpackWeights(*pz).scales, qz->scales);

  const WeightFormat asym =
      WeightFormat::quantized(WeightType::Int4, 16, false, ScaleType::E4M4);
  auto W = randomMatrix(8 * 64, 13, 3.0f); // all in [2, 4]: range 0..max
  const int e = chooseScaleExponent(W.data(), 8, 64, asym);
  float largest = 0;
  for (int64_t n = 0; n < 8; ++n)
    for (int64_t g = 0; g < 4; ++g) {
      float hi = 0;
      for (int64_t k = 0; k < 16; ++k)
        hi = std::max(hi, W[n * 64 + g * 16 + k]);
      largest = std::max(largest, hi / 15.0f);
    }
  EXPECT_LE(largest, std::ldexp(kE4M4Max, e - 1));
  EXPECT_GT(largest, std::ldexp(kE4M4Max, e - 2));
  auto l = PackedLayout::get(asym, 8, 64, 16);
  ASSERT_TRUE(bool(l));
  EXPECT_EQ(l->tensorScaleOffset % 64, 0);
  EXPECT_GE(l->tensorScaleOffset, l->zeroOffset + l->numPanels * l->numGroups *
                                                      l->zeroBytesPerGroup);
  EXPECT_EQ(l->streamedBytes(), l->tensorScaleOffset + 64);
  auto f16 = PackedLayout::get(
      WeightFormat::quantized(WeightType::Int4, 16, false, ScaleType::F16), 8,
      64, 16);
  ASSERT_TRUE(bool(f16));
  EXPECT_EQ(f16->tensorScaleOffset, -1);
}

static std::vector<PackCase> packCases() {
  std::vector<PackCase> v;
  for (WeightType t : {WeightType::Int8, WeightType::Int4, WeightType::Int3,
                       WeightType::Int2, WeightType::NL4, WeightType::NL2})
    for (unsigned g : {16u, 32u, 64u, 128u, 0u})
      for (bool sym : {true, false})
        for (ScaleType s : {ScaleType::F32, ScaleType::F16, ScaleType::BF16,
                            ScaleType::E4M4})
          if ((g != 16 || t != WeightType::Int3) &&
              (sym || !WeightFormat::quantized(t, g, true).isNonLinear()))
            v.push_back({t, g, sym, s});
  return v;
}

INSTANTIATE_TEST_SUITE_P(
    AllFormats, PackRoundTrip, ::testing::ValuesIn(packCases()),
    [](const ::testing::TestParamInfo<PackCase> &i) {
      return WeightFormat::quantized(i.param.type, i.param.group, i.param.sym,
                                     i.param.scale)
          .str();
    });

TEST(PackFloat, RoundTrip) {
  for (WeightType t : {WeightType::F32, WeightType::F16, WeightType::BF16}) {
    auto W = randomMatrix(13 * 70, 7);
    auto q = quantizeWeights(W.data(), 13, 70, WeightFormat::floating(t));
    ASSERT_TRUE(bool(q));
    for (IsaTier tier : {IsaTier::AVX2, IsaTier::AVX512}) {
      auto p = packWeights(*q, tier);
      ASSERT_TRUE(bool(p));
      EXPECT_EQ(unpackWeights(*p).values, q->values);
      expectRowsDequantize(*p, *q);
    }
  }
}

// Matrices large enough that rounding and packing split their rows over
// threads (ParallelRows.h): every row comes out as when it is quantized
// alone, and the packed bytes unpack to the quantized matrix, for a quantized
// format with zero points, an e4m4 one (the matrix's exponent is chosen
// before the split) and bf16; N = 1030 leaves a partial panel.
TEST(PackParallel, RowsAsWhenAloneAndRoundTrip) {
  const int64_t N = 1030, K = 96;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> W(size_t(N * K));
  for (float &w : W)
    w = nd(rng);
  for (WeightFormat f : {WeightFormat::quantized(WeightType::Int4, 32, false, ScaleType::F16),
                         WeightFormat::quantized(WeightType::NL4, 16, true, ScaleType::E4M4),
                         WeightFormat::floating(WeightType::BF16)}) {
    auto q = quantizeWeights(W.data(), N, K, f);
    ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
    for (int64_t n : {int64_t(0), int64_t(511), int64_t(1029)}) {
      auto row = quantizeWeights(W.data() + n * K, 1, K, f, q->scaleExponent);
      ASSERT_TRUE(bool(row)) << llvm::toString(row.takeError());
      if (!f.isQuantized()) {
        for (int64_t k = 0; k < K; ++k)
          ASSERT_EQ(row->values[size_t(k)], q->values[size_t(n * K + k)]) << f.str();
        continue;
      }
      for (int64_t k = 0; k < K; ++k)
        ASSERT_EQ(row->codes[size_t(k)], q->codes[size_t(n * K + k)]) << f.str() << " n " << n;
      for (int64_t g = 0; g < q->numGroups; ++g) {
        ASSERT_EQ(row->scales[size_t(g)], q->scales[size_t(n * q->numGroups + g)]);
        ASSERT_EQ(row->zeros[size_t(g)], q->zeros[size_t(n * q->numGroups + g)]);
      }
    }
    for (IsaTier t : {IsaTier::AVX2, IsaTier::AVX512}) {
      auto p = packWeights(*q, t);
      ASSERT_TRUE(bool(p)) << llvm::toString(p.takeError());
      QuantizedWeights u = unpackWeights(*p);
      EXPECT_EQ(u.codes, q->codes) << f.str();
      EXPECT_EQ(u.scales, q->scales) << f.str();
      EXPECT_EQ(u.values, q->values) << f.str();
      if (!f.symmetric)
        EXPECT_EQ(u.zeros, q->zeros) << f.str();
    }
  }
}
