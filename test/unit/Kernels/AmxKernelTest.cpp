//===- AmxKernelTest.cpp - AMX tile kernels: the tile model and the kernels -===//
//
// Hosts without AMX run the AMX kernels with their tile instructions replaced
// by calls into the scalar tile model (AmxTiles.h). The model is checked here
// against plain loops; the kernels against the AVX512_VNNI kernels, which
// compute the same integers and the same fp32 epilogue, so they must agree
// bit for bit. Where the host has AMX the same tests run the native kernels.
//
//===----------------------------------------------------------------------===//
#include "../../../lib/Kernels/AmxTiles.h"
#include "StagedInputs.h"
#include <memory>
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Packing.h"
#include <gtest/gtest.h>
#include <cstring>
#include <random>

using namespace llmc;
using namespace llmc::kernels;
using amx::TileConfig;
using amx::TileOp;

namespace {

void tileOp(TileOp op, uint32_t tiles, const void *base = nullptr,
            int64_t stride = 0) {
  amx::modelTileOp(uint32_t(op), tiles,
                   static_cast<const uint8_t *>(base), stride);
}

bool hostHasAmx() { return hostTarget().maxTier() >= IsaTier::AMX; }

} // namespace

// tdpbsud on the model: C (5 x 3 dwords) += A (5 x 8 int8, 2 dwords) .
// B (2 rows x 3 dwords of 4 uint8), against the plain sum; the rows of A
// are read at a stride, and the bytes of a loaded tile beyond its shape are
// zero.
TEST(AmxTileModel, Int8DotMatchesLoops) {
  TileConfig cfg;
  cfg.rows[0] = 5, cfg.colsb[0] = 12; // C
  cfg.rows[1] = 5, cfg.colsb[1] = 8;  // A
  cfg.rows[2] = 2, cfg.colsb[2] = 12; // B
  tileOp(TileOp::LoadConfig, 0, &cfg);
  std::mt19937 rng(7);
  int8_t A[5][20];
  uint8_t B[2][12];
  int32_t C0[5][3], C[5][3];
  for (auto &r : A)
    for (auto &v : r)
      v = int8_t(int(rng() % 256) - 128);
  for (auto &r : B)
    for (auto &v : r)
      v = uint8_t(rng() % 256);
  for (auto &r : C0)
    for (auto &v : r)
      v = int32_t(rng() % 2000001) - 1000000;
  tileOp(TileOp::Load, 0, C0, 12);
  tileOp(TileOp::Load, 1, A, 20); // 20-byte stride, 8 bytes per row
  tileOp(TileOp::Load, 2, B, 12);
  tileOp(TileOp::DotBSUD, 0 | 1 << 4 | 2 << 8);
  tileOp(TileOp::Store, 0, C, 12);
  for (int m = 0; m < 5; ++m)
    for (int n = 0; n < 3; ++n) {
      int64_t ref = C0[m][n];
      for (int k = 0; k < 8; ++k)
        ref += int64_t(A[m][k]) * B[k / 4][4 * n + k % 4];
      EXPECT_EQ(C[m][n], int32_t(ref)) << m << "," << n;
    }
  tileOp(TileOp::Release, 0);
}

// tdpbf16ps on the model: pairs of bf16 products added in order into fp32,
// subnormal inputs read as zero.
TEST(AmxTileModel, Bf16DotMatchesLoops) {
  TileConfig cfg;
  cfg.rows[3] = 2, cfg.colsb[3] = 8;  // C: 2 x 2 fp32
  cfg.rows[4] = 2, cfg.colsb[4] = 12; // A: 2 x 6 bf16 (3 pairs)
  cfg.rows[5] = 3, cfg.colsb[5] = 8;  // B: 3 rows x 2 pairs
  tileOp(TileOp::LoadConfig, 0, &cfg);
  uint16_t A[2][6], B[3][4];
  float a[2][6], b[6][2];
  for (int m = 0; m < 2; ++m)
    for (int k = 0; k < 6; ++k) {
      a[m][k] = float(m * 6 + k - 5) / 4;
      A[m][k] = fp32ToBf16(a[m][k]);
    }
  for (int k = 0; k < 6; ++k)
    for (int n = 0; n < 2; ++n) {
      b[k][n] = float(3 * k - 2 * n + 1) / 8;
      B[k / 2][2 * n + k % 2] = fp32ToBf16(b[k][n]);
    }
  A[1][5] = 0x0001; // a subnormal: read as zero
  a[1][5] = 0;
  tileOp(TileOp::Zero, 3);
  tileOp(TileOp::Load, 4, A, 12);
  tileOp(TileOp::Load, 5, B, 8);
  tileOp(TileOp::DotBF16, 3 | 4 << 4 | 5 << 8);
  float C[2][2];
  tileOp(TileOp::Store, 3, C, 8);
  for (int m = 0; m < 2; ++m)
    for (int n = 0; n < 2; ++n) {
      float ref = 0;
      for (int k = 0; k < 6; ++k)
        ref += a[m][k] * b[k][n];
      EXPECT_EQ(C[m][n], ref) << m << "," << n; // exact: multiples of 1/32
    }
  tileOp(TileOp::Release, 0);
}

TEST(AmxTileModelDeathTest, MisuseIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  TileConfig cfg;
  cfg.rows[0] = 4, cfg.colsb[0] = 64;
  cfg.rows[1] = 4, cfg.colsb[1] = 32;
  cfg.rows[2] = 4, cfg.colsb[2] = 64; // B needs 32 / 4 = 8 rows
  EXPECT_DEATH(tileOp(TileOp::Zero, 0), "before LDTILECFG");
  EXPECT_DEATH(
      {
        tileOp(TileOp::LoadConfig, 0, &cfg);
        tileOp(TileOp::DotBSUD, 0 | 1 << 4 | 2 << 8);
      },
      "tile shapes do not fit");
  EXPECT_DEATH(
      {
        tileOp(TileOp::LoadConfig, 0, &cfg);
        tileOp(TileOp::Zero, 5);
      },
      "tile 5 is not configured");
}

namespace {

/// One panel of `fmt` (N = 16, K) and M rows of int8 activations staged as
/// the driver stages them.
struct PanelCase {
  int64_t M;
  PackedWeights packed;
  std::unique_ptr<staged::StagedInt8> in;

  PanelCase(WeightFormat f, int64_t M_, int64_t K) : M(M_) {
    const int64_t N = 16;
    std::mt19937 rng(unsigned(K * 131 + M));
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> W(size_t(N * K));
    for (float &w : W)
      w = u(rng) + (f.symmetric ? 0.0f : 0.4f);
    auto p = packWeights(W.data(), N, K, f, IsaTier::AVX512_VNNI);
    EXPECT_TRUE(bool(p)) << llvm::toString(p.takeError());
    if (!p)
      return;
    packed = std::move(*p);
    in = std::make_unique<staged::StagedInt8>(packed.layout(), M, uint32_t(K + M));
  }

  /// Runs the kernel of (tier, rows) on rows [m0, m0 + rows) into y
  /// (M x 16, row stride 16).
  void run(IsaTier tier, bool emulate, int64_t m0, unsigned rows,
           bool accumulate, std::vector<float> &y) const {
    MicroKernelDesc d;
    d.tier = tier;
    d.format = packed.layout().format;
    d.act = ActPath::Int8;
    d.mr = rows;
    d.emulateTiles = emulate;
    auto fn = generateMicroKernel(d);
    ASSERT_TRUE(bool(fn)) << llvm::toString(fn.takeError());
    MicroKernelArgs a = in->args(packed, M, 0, m0);
    a.y = y.data() + m0 * 16;
    a.ldy = 16 * 4;
    a.accumulate = accumulate;
    (*fn)(&a);
  }
};

std::vector<float> startY(int64_t M) {
  std::vector<float> y(size_t(M * 16));
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = float(int(i % 7) - 3) / 2;
  return y;
}

} // namespace

// Every integer format the AMX kernels take, row counts a tile holds (the
// driver uses 9..16), 16-k and larger groups, per channel (even and odd
// chunk counts: the two accumulator chains), store and accumulate: the AMX kernel's y equals the VNNI kernels' (rows in blocks of
// at most 8, as the driver would cut them) bit for bit.
TEST(AmxKernel, MatchesVnniKernelsBitForBit) {
  if (hostTarget().maxTier() < IsaTier::AVX512_VNNI)
    GTEST_SKIP() << "the reference kernels need AVX512_VNNI";
  const bool emulate = !hostHasAmx();
  const WeightFormat formats[] = {
      WeightFormat::quantized(WeightType::Int4, 32, true, ScaleType::F16),
      WeightFormat::quantized(WeightType::Int4, 128, false, ScaleType::F16),
      WeightFormat::quantized(WeightType::Int4, 16, true, ScaleType::E4M4),
      WeightFormat::quantized(WeightType::Int8, 0, false, ScaleType::F32),
      WeightFormat::quantized(WeightType::Int8, 16, true, ScaleType::BF16),
      WeightFormat::quantized(WeightType::Int3, 32, false, ScaleType::F16),
      WeightFormat::quantized(WeightType::Int2, 64, true, ScaleType::F32),
      WeightFormat::quantized(WeightType::Int2, 16, false, ScaleType::F16),
      WeightFormat::quantized(WeightType::NL4, 16, true, ScaleType::E4M4),
      WeightFormat::quantized(WeightType::NL2, 32, true, ScaleType::F16),
  };
  int compared = 0;
  // K = 96: per channel, 3 chunks (the two accumulator chains' odd tail).
  for (int64_t K : {256, 96})
  for (const WeightFormat &f : formats)
    for (unsigned mr : {1u, 5u, 9u, 13u, 16u})
      for (bool acc : {false, true}) {
        const int64_t M = 19; // rows beyond the block: strides are M's
        PanelCase c(f, M, K);
        ASSERT_TRUE(c.in != nullptr);
        std::vector<float> yAmx = startY(M), yRef = startY(M);
        c.run(IsaTier::AMX, emulate, 2, mr, acc, yAmx);
        for (unsigned r0 = 0; r0 < mr; r0 += 8)
          c.run(IsaTier::AVX512_VNNI, false, 2 + r0, std::min(8u, mr - r0), acc,
                yRef);
        for (size_t i = 0; i < yAmx.size(); ++i)
          ASSERT_EQ(yAmx[i], yRef[i])
              << f.str() << " mr=" << mr << " acc=" << acc << " i=" << i;
        ++compared;
      }
  EXPECT_EQ(compared, 200);
}

// bf16 weights x bf16 activations on tdpbf16ps tiles: values that are
// multiples of 1/32 below 8 in magnitude keep every product and partial sum
// exact in fp32, so y equals the exact dot product whatever the order of
// the additions; with accumulate, y adds to what was there.
TEST(AmxKernel, Bf16TilesExact) {
  if (!bf16DotAvailable(IsaTier::AVX512, WeightFormat::floating(WeightType::BF16)))
    GTEST_SKIP() << "no AVX512-BF16 on this host";
  const bool emulate = !hostHasAmx();
  const WeightFormat f = WeightFormat::floating(WeightType::BF16);
  for (unsigned mr : {9u, 16u})
    for (bool acc : {false, true}) {
      const int64_t N = staged::ExactBf16Panel::N, M = mr + 3;
      staged::ExactBf16Panel in(M, 96);
      ASSERT_FALSE(in.packed.empty());
      MicroKernelDesc d;
      d.tier = IsaTier::AMX;
      d.format = f;
      d.act = ActPath::BF16;
      d.mr = mr;
      d.emulateTiles = emulate;
      auto fn = generateMicroKernel(d);
      ASSERT_TRUE(bool(fn)) << llvm::toString(fn.takeError());
      std::vector<float> y = startY(M), y0 = y;
      MicroKernelArgs a = in.args(1); // from row 1
      a.accumulate = acc;
      a.ldy = 16 * 4;
      a.y = y.data() + 16;
      (*fn)(&a);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          const size_t i = size_t(m * 16 + n);
          if (m < 1 || m > int64_t(mr)) { // rows outside the block: untouched
            EXPECT_EQ(y[i], y0[i]);
            continue;
          }
          const double ref = (acc ? y0[i] : 0.0) + in.exact(m, n);
          EXPECT_EQ(y[i], float(ref)) << "mr=" << mr << " m=" << m << " n=" << n;
        }
    }
}
