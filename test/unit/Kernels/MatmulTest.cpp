//===- MatmulTest.cpp - Every tier x format x path against the references -===//
//
// Error bounds (eps = 2^-24, per output element y[m][n]):
//  * fp32 path vs referenceMatmulF32 (double): the kernel sums, per group,
//    x*u in fp32 and adds comp = -z*sum(x); then y += acc * s. Standard
//    summation analysis gives |err| <= gamma_n * sum_k |x_k| (u_k + z) s_g with
//    n = G + numGroups + 4 (group sum, zero-point sum, scale and group
//    accumulation). Float weights: n = Kp + 4, terms |x_k w_k|.
//  * int8 path vs referenceMatmulInt8 (same activation quantization): the
//    integer dot products are exact, so only the epilogue rounds:
//    |err| <= gamma_{numGroups+3} * sum_g s_w s_x |dot_g|_abs.
//  * int8 path vs the fp32 reference: activation rounding |x - s_x q| <= s_x/2
//    gives |err| <= sum_g s_x,g/2 * sum_{k in g} |w_k| (int8PathErrorBound),
//    plus the fp rounding above.
//  * bf16 path (bf16 weights, AVX512-BF16) vs referenceMatmulF32 on x rounded
//    to bf16: the products of two bf16 numbers are exact in fp32, so the fp32
//    bound above applies to the rounded x. Against the unrounded x, rounding
//    to nearest bf16 adds at most 2^-9 |x_k| per term: 2^-9 sum_k |x_k w_k|.
//
//===----------------------------------------------------------------------===//
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Matmul.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/Kernels/Reference.h"
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <atomic>
#include <random>
#include <thread>

using namespace llmc;
using namespace llmc::kernels;

namespace {

constexpr double kEps = 0x1p-24;

std::vector<float> randomVec(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto &x : v)
    x = u(rng);
  return v;
}

/// A descriptor pinned to one tier and activation path (forHost would pick
/// the host's): rows 1..mMax.
MatmulDesc pinnedDesc(int64_t N, int64_t K, int64_t mMax, WeightFormat f,
                      IsaTier tier, ActPath act = ActPath::F32) {
  MatmulDesc d;
  d.N = N;
  d.K = K;
  d.mMin = 1;
  d.mMax = mMax;
  d.format = f;
  d.act = act;
  d.tier = tier;
  return d;
}

ThreadPool &pool2() {
  static ThreadPool p(2);
  return p;
}

/// fp32-path bound per element.
std::vector<double> f32Bound(const float *x, int64_t M,
                             const QuantizedWeights &w) {
  std::vector<double> b(size_t(M * w.N));
  const bool quant = w.format.isQuantized();
  const int64_t G = quant ? (w.format.groupSize ? w.format.groupSize
                                                : (w.K + 31) / 32 * 32)
                          : (w.K + 31) / 32 * 32;
  const double n = double(G + w.numGroups + 4);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t nn = 0; nn < w.N; ++nn) {
      double s = 0;
      for (int64_t k = 0; k < w.K; ++k) {
        double ax = std::fabs(x[m * w.K + k]);
        if (!quant) {
          s += ax * std::fabs(w.weight(nn, k));
          continue;
        }
        int64_t g = k / w.group;
        double z = w.zeros[nn * w.numGroups + g];
        s += ax * (w.codes[nn * w.K + k] + z) * w.scales[nn * w.numGroups + g];
      }
      b[size_t(m * w.N + nn)] = 2 * n * kEps * s + 1e-30;
    }
  return b;
}

/// int8-path bound per element against referenceMatmulInt8.
std::vector<double> int8FpBound(const float *x, int64_t M,
                                const QuantizedWeights &w) {
  const int64_t G = w.format.groupSize ? w.format.groupSize : (w.K + 31) / 32 * 32;
  const int64_t nG = (w.K + G - 1) / G;
  QuantizedActivations a = quantizeActivations(x, M, w.K, w.K, G, nG * G);
  std::vector<double> b(size_t(M * w.N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n) {
      double s = 0;
      for (int64_t g = 0; g < nG; ++g) {
        double dot = 0;
        int64_t z = w.zeros[n * w.numGroups + g];
        for (int64_t k = g * G; k < std::min(w.K, (g + 1) * G); ++k)
          dot += std::fabs(double(w.codes[n * w.K + k] - z) * a.q[m * a.Kp + k]);
        s += dot * w.scales[n * w.numGroups + g] * a.scale[m * nG + g];
      }
      b[size_t(m * w.N + n)] = 2 * double(nG + 3) * kEps * s + 1e-30;
    }
  return b;
}

struct Case {
  IsaTier tier;
  WeightFormat fmt;
  ActPath act;
  bool avxVnni = true; // AVX2 tier: allow AVX-VNNI (else vpmaddubsw)
};

std::string caseName(const Case &c) {
  std::string s = isaTierName(c.tier).str() + "_" + c.fmt.str() +
                  (c.act == ActPath::Int8   ? "_act8"
                   : c.act == ActPath::BF16 ? "_actbf16"
                                            : "_actf32") +
                  (c.avxVnni ? "" : "_maddubs");
  for (auto &ch : s)
    if (!isalnum(static_cast<unsigned char>(ch)))
      ch = '_';
  return s;
}

class MatmulMatrix : public ::testing::TestWithParam<Case> {};

/// Turns the AMX tile model on for a scope (restores the previous setting).
struct AmxEmulationScope {
  bool prev = amxTileEmulation();
  explicit AmxEmulationScope(bool on) { setAmxTileEmulation(on); }
  ~AmxEmulationScope() { setAmxTileEmulation(prev); }
};

TEST_P(MatmulMatrix, MatchesReference) {
  const Case c = GetParam();
  // AMX on a host without it: the tile kernels with the scalar tile model.
  AmxEmulationScope amx(c.tier == IsaTier::AMX &&
                        hostTarget().maxTier() < IsaTier::AMX);
  if (c.tier > hostTarget().maxTier() &&
      !(c.tier == IsaTier::AMX && amxTierUsable()))
    GTEST_SKIP() << "tier not available on this host";
  struct Shape {
    int64_t N, K;
  };
  // K tails (172: stories260K), N tails (8, 37), a multi-panel case.
  const Shape shapes[] = {{8, 172}, {37, 96}, {48, 320}};
  // 16, 37 (16 + 16 + 5), 128: AMX tiles; 13: one 13-row tile.
  const int64_t Ms[] = {1, 3, 13, 16, 37, 128};
  for (const Shape &sh : shapes) {
    const float shift = c.fmt.symmetric ? 0.f : 0.3f;
    auto W = randomVec(sh.N * sh.K, uint32_t(sh.N * 7 + sh.K), -1 + shift, 1 + shift);
    auto q = quantizeWeights(W.data(), sh.N, sh.K, c.fmt);
    ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
    auto packed = packWeights(*q, c.tier);
    ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
    for (int64_t M : Ms) {
      if (c.tier == IsaTier::Scalar && M * sh.N * sh.K > 600000)
        continue; // the generic kernel is slow; bigger M adds no new code path
      MatmulDesc d = pinnedDesc(sh.N, sh.K, M, c.fmt, c.tier, c.act);
      d.allowAvxVnni = c.avxVnni;
      auto mm = Matmul::create(d);
      ASSERT_TRUE(bool(mm)) << llvm::toString(mm.takeError());
      auto x = randomVec(M * sh.K, uint32_t(M * 31 + sh.K), -1, 1);
      std::vector<float> y(size_t(M * sh.N), NAN);
      llvm::Error e = mm->run(x.data(), M, *packed, y.data(), pool2());
      ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));

      std::vector<float> ref(y.size());
      std::vector<double> bound;
      const bool int8 = mm->desc().act == ActPath::Int8;
      const bool bf16 = mm->desc().act == ActPath::BF16;
      if (c.act == ActPath::BF16)
        EXPECT_EQ(bf16, bf16DotAvailable(mm->desc().tier, c.fmt)) << caseName(c);
      if (c.tier == IsaTier::AMX) { // tiles for the int8 and bf16 paths
        const bool tiles = c.act == ActPath::Int8 ||
                           (c.act == ActPath::BF16 &&
                            bf16DotAvailable(IsaTier::AMX, c.fmt));
        EXPECT_EQ(mm->desc().tier, tiles ? IsaTier::AMX : IsaTier::AVX512_VNNI)
            << caseName(c);
        if (tiles) // row blocks of up to a tile's 16 rows
          EXPECT_EQ(mm->blocking().mr, unsigned(std::min<int64_t>(M, 16)));
      }
      if (int8) {
        referenceMatmulInt8(x.data(), M, *q, ref.data());
        bound = int8FpBound(x.data(), M, *q);
      } else if (bf16) {
        std::vector<float> xr(x);
        for (float &v : xr)
          v = roundToBf16(v);
        referenceMatmulF32(xr.data(), M, *q, ref.data());
        bound = f32Bound(xr.data(), M, *q);
      } else {
        referenceMatmulF32(x.data(), M, *q, ref.data());
        bound = f32Bound(x.data(), M, *q);
      }
      std::vector<float> ref32(y.size());
      referenceMatmulF32(x.data(), M, *q, ref32.data());
      std::vector<double> actBound;
      if (int8)
        actBound = int8PathErrorBound(x.data(), M, *q);
      if (bf16) { // float weights: 2^-9 sum_k |x_k w_k|
        actBound.assign(y.size(), 0.0);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < sh.N; ++n)
            for (int64_t k = 0; k < sh.K; ++k)
              actBound[size_t(m * sh.N + n)] +=
                  0x1p-9 * std::fabs(double(x[m * sh.K + k]) * q->weight(n, k));
      }
      int bad = 0;
      for (size_t i = 0; i < y.size() && bad < 5; ++i) {
        double err = std::fabs(double(y[i]) - double(ref[i]));
        if (!(err <= bound[i])) {
          ++bad;
          ADD_FAILURE() << caseName(c) << " N=" << sh.N << " K=" << sh.K
                        << " M=" << M << " i=" << i << " y=" << y[i]
                        << " ref=" << ref[i] << " err=" << err
                        << " bound=" << bound[i];
        }
        if (int8 || bf16) {
          double e32 = std::fabs(double(y[i]) - double(ref32[i]));
          if (!(e32 <= actBound[i] + bound[i] + 1e-6)) {
            ++bad;
            ADD_FAILURE() << caseName(c) << " vs fp32 reference: M=" << M
                          << " i=" << i << " err=" << e32
                          << " bound=" << actBound[i];
          }
        }
      }
      if (bad)
        return;
    }
  }
}

std::vector<Case> allCases() {
  std::vector<Case> v;
  const IsaTier tiers[] = {IsaTier::Scalar, IsaTier::AVX2, IsaTier::AVX512,
                           IsaTier::AVX512_VNNI};
  int i = 0;
  for (IsaTier t : tiers) {
    for (WeightType wt : {WeightType::Int8, WeightType::Int4, WeightType::Int3,
                          WeightType::Int2, WeightType::NL4,
                          WeightType::NL2})
      for (unsigned g : {16u, 32u, 64u, 128u, 0u})
        for (bool sym : {true, false})
          for (ActPath act : {ActPath::F32, ActPath::Int8}) {
            if (g == 16 && wt == WeightType::Int3)
              continue; // int3's 32-k super block cannot hold 16-k groups
            if (!sym && (wt == WeightType::NL4 || wt == WeightType::NL2))
              continue; // nl4/nl2 are symmetric only
            // Rotate the scale dtype so every one meets every tier, bits and
            // activation path: both paths of a format share one dtype, and
            // the dtype moves on with the format.
            ScaleType st = ScaleType((i++ / 2) % 4);
            v.push_back({t, WeightFormat::quantized(wt, g, sym, st), act});
            // AVX2 int8 path: AVX-VNNI where the host has it, and vpmaddubsw.
            if (t == IsaTier::AVX2 && act == ActPath::Int8 && hostTarget().hasAvxVnni())
              v.push_back({t, WeightFormat::quantized(wt, g, sym, st), act, false});
          }
    for (WeightType wt : {WeightType::F32, WeightType::F16, WeightType::BF16}) {
      v.push_back({t, WeightFormat::floating(wt), ActPath::F32});
      // bf16 dot where the tier and host have it; elsewhere (and for f32 /
      // f16 weights) the request must run the fp32 path.
      v.push_back({t, WeightFormat::floating(wt), ActPath::BF16});
    }
  }
  // AMX: tiles for the int8 path and for bf16 weights on the bf16 path (row
  // blocks of 9..16; fewer rows and the other paths run the VNNI kernels).
  for (WeightType wt : {WeightType::Int8, WeightType::Int4, WeightType::Int3,
                        WeightType::Int2, WeightType::NL4, WeightType::NL2})
    for (unsigned g : {16u, 32u, 128u, 0u})
      for (bool sym : {true, false}) {
        if ((g == 16 && wt == WeightType::Int3) ||
            (!sym && (wt == WeightType::NL4 || wt == WeightType::NL2)))
          continue;
        ScaleType st = ScaleType((i++ / 2) % 4);
        v.push_back({IsaTier::AMX, WeightFormat::quantized(wt, g, sym, st),
                     ActPath::Int8});
      }
  v.push_back({IsaTier::AMX, WeightFormat::quantized(WeightType::Int4, 32, true),
               ActPath::F32});
  for (WeightType wt : {WeightType::F32, WeightType::F16, WeightType::BF16})
    for (ActPath act : {ActPath::F32, ActPath::BF16})
      v.push_back({IsaTier::AMX, WeightFormat::floating(wt), act});
  return v;
}

INSTANTIATE_TEST_SUITE_P(AllTiers, MatmulMatrix, ::testing::ValuesIn(allCases()),
                         [](const ::testing::TestParamInfo<Case> &i) {
                           return caseName(i.param);
                         });

TEST(Matmul, RejectsMismatchedWeights) {
  auto W = randomVec(16 * 64, 1, -1, 1);
  auto p = packWeights(W.data(), 16, 64,
                       WeightFormat::quantized(WeightType::Int4, 32, true),
                       IsaTier::AVX2);
  ASSERT_TRUE(bool(p));
  MatmulDesc d = pinnedDesc(16, /*wrong K*/ 128, 1,
                            WeightFormat::quantized(WeightType::Int4, 32, true),
                            IsaTier::AVX2);
  if (hostTarget().maxTier() < IsaTier::AVX2)
    GTEST_SKIP();
  auto mm = Matmul::create(d);
  ASSERT_TRUE(bool(mm));
  std::vector<float> x(128), y(16);
  llvm::Error e = mm->run(x.data(), 1, *p, y.data(), pool2());
  EXPECT_TRUE(bool(e));
  llvm::consumeError(std::move(e));
}

// Float prefill whose staged activations exceed Blocking::largeXBytes blocks
// K and sweeps wide panel chunks: every output still sums all K blocks once
// (accumulate), across the N tail and K tail, on each float path.
TEST(Matmul, LargeActivationsBlockK) {
  const IsaTier tier = std::min(hostTarget().maxTier(), IsaTier::AVX512_VNNI);
  if (tier < IsaTier::AVX2)
    GTEST_SKIP() << "no two-panel float kernels below AVX2";
  struct Path {
    WeightType wt;
    ActPath act;
  };
  for (Path pth : {Path{WeightType::F32, ActPath::F32}, Path{WeightType::F16, ActPath::F32},
                   Path{WeightType::BF16, ActPath::BF16}}) {
    const WeightFormat f = WeightFormat::floating(pth.wt);
    const int64_t N = 40, M = 515;
    MatmulDesc d = pinnedDesc(N, 4096, M, f, tier, pth.act);
    auto probe = Matmul::create(d);
    ASSERT_TRUE(bool(probe)) << llvm::toString(probe.takeError());
    const Blocking &b0 = probe->blocking();
    ASSERT_GT(b0.largeXBytes, 0) << f.str();
    const int64_t eb = probe->desc().act == ActPath::BF16 ? 2 : 4;
    // K (not a multiple of 32) whose M x Kp staged activations pass the threshold.
    const int64_t K = (b0.largeXBytes / (M * eb) + 63) / 32 * 32 + 9;
    d.K = K;
    auto mm = Matmul::create(d);
    ASSERT_TRUE(bool(mm)) << llvm::toString(mm.takeError());
    const Blocking &b = mm->blocking();
    ASSERT_GT(b.kBlockChunksLargeX, 0) << b.str();
    ASSERT_LT(b.kBlockChunksLargeX, (K + 31) / 32) << b.str();
    ASSERT_GT(M * ((K + 31) / 32 * 32) * eb, b.largeXBytes);
    auto W = randomVec(N * K, 17, -1, 1);
    auto q = quantizeWeights(W.data(), N, K, f);
    ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
    auto packed = packWeights(*q, tier);
    ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
    auto x = randomVec(M * K, 18, -1, 1);
    std::vector<float> y(size_t(M * N), NAN), ref(y.size());
    llvm::Error e = mm->run(x.data(), M, *packed, y.data(), pool2());
    ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
    const bool bf16 = mm->desc().act == ActPath::BF16;
    std::vector<float> xr(x);
    if (bf16)
      for (float &v : xr)
        v = roundToBf16(v);
    referenceMatmulF32(xr.data(), M, *q, ref.data());
    std::vector<double> bound = f32Bound(xr.data(), M, *q);
    int bad = 0;
    for (size_t i = 0; i < y.size() && bad < 5; ++i)
      if (!(std::fabs(double(y[i]) - double(ref[i])) <= bound[i])) {
        ++bad;
        ADD_FAILURE() << f.str() << " act=" << actPathName(mm->desc().act) << " K=" << K
                      << " i=" << i << " y=" << y[i] << " ref=" << ref[i]
                      << " bound=" << bound[i];
      }
  }
}

// The runtime passes strided activations/outputs (ldx, ldy); rows must not
// bleed into the padding.
TEST(Matmul, RowStrides) {
  const int64_t N = 37, K = 172, M = 5, ldx = K + 7, ldy = N + 3;
  WeightFormat f = WeightFormat::quantized(WeightType::Int4, 32, false, ScaleType::F16);
  auto W = randomVec(N * K, 11, -1, 1);
  auto q = quantizeWeights(W.data(), N, K, f);
  ASSERT_TRUE(bool(q));
  for (IsaTier tier : {IsaTier::Scalar, IsaTier::AVX2, IsaTier::AVX512_VNNI}) {
    if (tier > hostTarget().maxTier())
      continue;
    for (ActPath act : {ActPath::F32, ActPath::Int8}) {
      auto p = packWeights(*q, tier);
      ASSERT_TRUE(bool(p));
      auto mm = Matmul::create(pinnedDesc(N, K, M, f, tier, act));
      ASSERT_TRUE(bool(mm));
      auto xs = randomVec(M * ldx, 12, -1, 1);
      std::vector<float> y(static_cast<size_t>(M * ldy), -7.0f);
      ASSERT_FALSE(bool(mm->run(xs.data(), M, *p, y.data(), pool2(), ldx, ldy)));
      // Dense copy of x for the reference.
      std::vector<float> x(static_cast<size_t>(M * K)), ref(static_cast<size_t>(M * N));
      for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k)
          x[size_t(m * K + k)] = xs[size_t(m * ldx + k)];
      if (act == ActPath::Int8)
        referenceMatmulInt8(x.data(), M, *q, ref.data());
      else
        referenceMatmulF32(x.data(), M, *q, ref.data());
      for (int64_t m = 0; m < M; ++m) {
        for (int64_t n = 0; n < N; ++n)
          EXPECT_NEAR(y[size_t(m * ldy + n)], ref[size_t(m * N + n)], 1e-3)
              << int(tier) << " m=" << m << " n=" << n;
        for (int64_t n = N; n < ldy; ++n)
          EXPECT_EQ(y[size_t(m * ldy + n)], -7.0f) << "padding written";
      }
    }
  }
}

// One Matmul may be run concurrently from several threads, each with its own
// pool (scratch is per calling thread).
TEST(Matmul, ConcurrentCallers) {
  const int64_t N = 64, K = 256, M = 3;
  WeightFormat f = WeightFormat::quantized(WeightType::Int4, 64, true);
  auto W = randomVec(N * K, 21, -1, 1);
  MatmulDesc d = MatmulDesc::forHost(N, K, f, M);
  auto p = packWeights(W.data(), N, K, f, d.tier);
  ASSERT_TRUE(bool(p));
  auto mm = Matmul::create(d);
  ASSERT_TRUE(bool(mm));
  auto x = randomVec(M * K, 22, -1, 1);
  std::vector<float> want(static_cast<size_t>(M * N));
  ASSERT_FALSE(bool(mm->run(x.data(), M, *p, want.data(), pool2())));
  std::atomic<int> mismatches{0};
  auto worker = [&] {
    ThreadPool own(1);
    std::vector<float> y(static_cast<size_t>(M * N));
    for (int i = 0; i < 200; ++i) {
      llvm::cantFail(mm->run(x.data(), M, *p, y.data(), own));
      if (y != want)
        mismatches++;
    }
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// The shared schedule (per-slot panel ranges with stealing, claimed staging
// and K parts) computes every output exactly once whatever the number of
// threads and however late they join: pools of 3 and 5 threads oversubscribe
// a 2-core host, so workers often arrive after the caller took their range.
// Outputs start as NaN (a panel left out shows), repeated runs must be
// bitwise equal, and equal to one thread's result; with a K split (a narrow
// matrix) the partial sums differ by rounding only.
TEST(Matmul, SharedScheduleAnyThreadCount) {
  WeightFormat f = WeightFormat::quantized(WeightType::Int4, 32, true);
  struct Shape {
    int64_t N, K, M;
    bool kSplit;
  };
  // Decode (M = 1) over many panels; prefill (M = 16) with claimed staging;
  // a 2-panel matrix over 256 KiB, which splits K at M = 1.
  const Shape shapes[] = {{2048, 512, 1, false}, {2048, 512, 16, false},
                          {32, 16384, 1, true}};
  for (const Shape &sh : shapes) {
    auto W = randomVec(sh.N * sh.K, 31, -1, 1);
    auto x = randomVec(sh.M * sh.K, 32, -1, 1);
    MatmulDesc d = MatmulDesc::forHost(sh.N, sh.K, f, sh.M);
    auto p = packWeights(W.data(), sh.N, sh.K, f, d.tier);
    ASSERT_TRUE(bool(p));
    auto mm = Matmul::create(d);
    ASSERT_TRUE(bool(mm));
    const size_t outs = size_t(sh.M * sh.N);
    std::vector<float> one(outs);
    {
      ThreadPool single(1);
      ASSERT_FALSE(bool(mm->run(x.data(), sh.M, *p, one.data(), single)));
    }
    for (unsigned threads : {3u, 5u}) {
      ThreadPool pool(threads);
      std::vector<float> first;
      for (int rep = 0; rep < 30; ++rep) {
        std::vector<float> y(outs, std::nanf(""));
        ASSERT_FALSE(bool(mm->run(x.data(), sh.M, *p, y.data(), pool)));
        if (first.empty())
          first = y;
        ASSERT_EQ(0, std::memcmp(y.data(), first.data(), outs * 4))
            << "N=" << sh.N << " M=" << sh.M << " threads=" << threads
            << " rep=" << rep;
      }
      for (size_t i = 0; i < outs; ++i) {
        ASSERT_FALSE(std::isnan(first[i])) << i;
        if (sh.kSplit)
          ASSERT_NEAR(first[i], one[i], 1e-4 * (1 + std::fabs(one[i]))) << i;
        else
          ASSERT_EQ(first[i], one[i]) << i;
      }
    }
  }
}

/// Float weights (N x K, uniform in [-1, 1)) quantized and packed for `tier`.
struct PackedFloat {
  QuantizedWeights q;
  PackedWeights packed;
};
PackedFloat packFloat(int64_t N, int64_t K, WeightType wt, IsaTier tier,
                      uint32_t seed) {
  auto W = randomVec(N * K, seed, -1, 1);
  auto q = quantizeWeights(W.data(), N, K, WeightFormat::floating(wt));
  EXPECT_TRUE(bool(q));
  auto packed = packWeights(*q, tier);
  EXPECT_TRUE(bool(packed));
  return {std::move(*q), std::move(*packed)};
}

/// y = x W^T for M random rows on `pool`, every element checked against the
/// double reference with the fp32-path bound (any summation order).
std::vector<float> runCheckedFloat(const Matmul &mm, const PackedFloat &w,
                                   int64_t M, uint32_t seed, ThreadPool &pool) {
  const int64_t N = w.q.N, K = w.q.K;
  auto x = randomVec(M * K, seed, -1, 1);
  std::vector<float> y(size_t(M * N), NAN), ref(y.size());
  EXPECT_FALSE(bool(mm.run(x.data(), M, w.packed, y.data(), pool)));
  referenceMatmulF32(x.data(), M, w.q, ref.data());
  std::vector<double> bound = f32Bound(x.data(), M, w.q);
  for (size_t i = 0; i < y.size(); ++i)
    if (!(std::fabs(double(y[i]) - double(ref[i])) <= bound[i])) {
      ADD_FAILURE() << isaTierName(mm.desc().tier).str() << " "
                    << w.q.format.str() << " M=" << M << " i=" << i << ": "
                    << y[i] << " vs " << ref[i];
      break;
    }
  return y;
}

// f32 prefill runs in K blocks (Blocking::kBlockChunks: the microkernel
// accumulates into y block by block, also through the tail panel's scratch).
// K = 1000 gives several blocks on every tier; N = 40 ends in a partial panel.
// f16/bf16 are not blocked. Checked against the double reference with the
// fp32-path bound, which holds for any summation order.
TEST(Matmul, FloatWeightsKBlockedPrefill) {
  const int64_t N = 40, K = 1000;
  for (IsaTier tier : {IsaTier::Scalar, IsaTier::AVX2, IsaTier::AVX512,
                       IsaTier::AVX512_VNNI}) {
    if (tier > hostTarget().maxTier())
      continue;
    for (WeightType wt : {WeightType::F32, WeightType::F16, WeightType::BF16}) {
      PackedFloat w = packFloat(N, K, wt, tier, 41);
      for (int64_t M : {16, 37}) {
        auto mm = Matmul::create(pinnedDesc(N, K, M, w.q.format, tier));
        ASSERT_TRUE(bool(mm));
        if (wt == WeightType::F32) {
          ASSERT_GT(mm->blocking().kBlockChunks, 0) << mm->blocking().str();
          ASSERT_LT(mm->blocking().kBlockChunks, (K + 31) / 32);
        } else {
          ASSERT_EQ(mm->blocking().kBlockChunks, 0);
        }
        runCheckedFloat(*mm, w, M, uint32_t(43 + M), pool2());
      }
    }
  }
}

// Float weights run two panels per call (Blocking::mrWide rows), in prefill
// and decode. The shape leaves single panels beside the pairs (an odd panel
// count, a partial last panel), row blocks with tails (M = 13: 12 + 1 on
// AVX-512), and chunks of odd length claimed by a pool of 3; the result must
// match the double reference, and 3 threads must give 1 thread's result bit
// for bit.
TEST(Matmul, FloatPrefillTwoPanels) {
  const int64_t K = 300;
  ThreadPool pool1(1, false), pool3(3, false);
  for (IsaTier tier : {IsaTier::AVX2, IsaTier::AVX512, IsaTier::AVX512_VNNI}) {
    if (tier > hostTarget().maxTier())
      continue;
    const int64_t N = 5 * panelLanes(tier) + 7;
    for (WeightType wt : {WeightType::F32, WeightType::F16, WeightType::BF16}) {
      PackedFloat w = packFloat(N, K, wt, tier, 51);
      for (int64_t M : {1, 3, 9, 13, 40}) {
        auto mm = Matmul::create(pinnedDesc(N, K, M, w.q.format, tier));
        ASSERT_TRUE(bool(mm));
        // As many rows as the matmul has, up to the generator's limit.
        ASSERT_EQ(mm->blocking().mrWide,
                  std::min<unsigned>(unsigned(M), tier == IsaTier::AVX2 ? 6u : 12u))
            << mm->blocking().str();
        auto y1 = runCheckedFloat(*mm, w, M, uint32_t(53 + M), pool1);
        auto y3 = runCheckedFloat(*mm, w, M, uint32_t(53 + M), pool3);
        ASSERT_EQ(std::memcmp(y1.data(), y3.data(), y1.size() * 4), 0)
            << isaTierName(tier).str() << " " << w.q.format.str() << " M=" << M;
      }
    }
  }
  // Integer weights have no two-panel kernels.
  auto mm = Matmul::create(pinnedDesc(64, K, 8, WeightFormat::quantized(WeightType::Int4, 32, true),
                                      hostTarget().maxTier() >= IsaTier::AVX2
                                          ? IsaTier::AVX2
                                          : IsaTier::Scalar));
  ASSERT_TRUE(bool(mm));
  EXPECT_EQ(mm->blocking().mrWide, 0u);
}

// Integer decode (M <= Matmul::kMaxPairRows, int8 path) runs pairs of panels
// half a claimed chunk apart (p, p + h). Every panel count from 1 to 23 with
// and without a partial last panel, on pools of 1, 2 and 3 threads (chunks of
// every parity, panels left unpaired beside the pairs): each output must be
// within the int8 path's bound of the reference, and the pools must agree bit
// for bit (a pair equals two one-panel calls).
TEST(Matmul, IntegerDecodePairsAnyPanelCount) {
  const IsaTier tier = hostTarget().maxTier() >= IsaTier::AVX512_VNNI
                           ? IsaTier::AVX512_VNNI
                           : hostTarget().maxTier();
  if (tier < IsaTier::AVX2)
    GTEST_SKIP() << "no generated kernels on this host";
  const int64_t K = 96, L = panelLanes(tier);
  ThreadPool pool1(1, false), pool2t(2, false), pool3(3, false);
  for (bool sym : {true, false}) {
    WeightFormat f = WeightFormat::quantized(WeightType::Int4, 32, sym);
    for (int64_t panels = 1; panels <= 23; ++panels)
      for (int64_t tail : {int64_t(0), int64_t(5)}) {
        const int64_t N = panels * L + tail;
        const float shift = sym ? 0.f : 0.3f;
        auto W = randomVec(N * K, uint32_t(N), -1 + shift, 1 + shift);
        auto q = quantizeWeights(W.data(), N, K, f);
        ASSERT_TRUE(bool(q));
        auto packed = packWeights(*q, tier);
        ASSERT_TRUE(bool(packed));
        for (int64_t M : {1, 3, 4}) {
          auto mm = Matmul::create(
              pinnedDesc(N, K, M, f, tier, ActPath::Int8));
          ASSERT_TRUE(bool(mm));
          ASSERT_EQ(mm->blocking().mrPair, unsigned(M)) << mm->blocking().str();
          auto x = randomVec(M * K, uint32_t(7 * M + N), -1, 1);
          std::vector<float> ref(size_t(M * N));
          referenceMatmulInt8(x.data(), M, *q, ref.data());
          std::vector<double> bound = int8FpBound(x.data(), M, *q);
          std::vector<float> first;
          for (ThreadPool *pool : {&pool1, &pool2t, &pool3}) {
            std::vector<float> y(size_t(M * N), NAN);
            ASSERT_FALSE(bool(mm->run(x.data(), M, *packed, y.data(), *pool)));
            for (size_t i = 0; i < y.size(); ++i)
              ASSERT_LE(std::fabs(double(y[i]) - double(ref[i])), bound[i])
                  << f.str() << " N=" << N << " M=" << M << " i=" << i;
            if (first.empty())
              first = y;
            ASSERT_EQ(std::memcmp(y.data(), first.data(), y.size() * 4), 0)
                << f.str() << " N=" << N << " M=" << M;
          }
        }
      }
  }
}

TEST(Matmul, RejectsUnavailableTier) {
  if (hostTarget().maxTier() >= IsaTier::AMX)
    GTEST_SKIP();
  auto mm = Matmul::create(pinnedDesc(
      16, 64, 1, WeightFormat::quantized(WeightType::Int4, 32, true), IsaTier::AMX));
  EXPECT_FALSE(bool(mm));
  llvm::consumeError(mm.takeError());
}

TEST(Matmul, KernelsAreCachedByDescriptor) {
  if (hostTarget().maxTier() < IsaTier::AVX2)
    GTEST_SKIP();
  MatmulDesc d = MatmulDesc::forHost(64, 256, WeightFormat::quantized(WeightType::Int4, 64, true), 4);
  ASSERT_TRUE(bool(Matmul::create(d)));
  size_t n = kernelCacheSize();
  d.N = 128; // same kernels, different shape
  auto mm = Matmul::create(d);
  ASSERT_TRUE(bool(mm));
  EXPECT_TRUE(mm->usesJit());
  EXPECT_EQ(kernelCacheSize(), n);
}

} // namespace

// Static activation scale (full-integer mode): every tier's int8 path must
// compute sum_k w_nk * s * clamp(round(x_mk / s), -127, 127) -- the scalar
// formula below, independent of the kernels -- including clipped values.
TEST(Matmul, StaticActivationScale) {
  const int64_t N = 37, K = 172, M = 3;
  WeightFormat f = WeightFormat::quantized(WeightType::Int4, 32, false, ScaleType::F16);
  auto W = randomVec(N * K, 21, -1, 1);
  auto X = randomVec(M * K, 22, -2, 2);
  auto q = quantizeWeights(W.data(), N, K, f);
  ASSERT_TRUE(bool(q));
  const float s = 1.5f / 127; // |x| up to 2: values above 1.5 clip
  std::vector<double> ref(M * N, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        double code = std::clamp(std::nearbyint(double(X[m * K + k]) / s), -127.0, 127.0);
        ref[m * N + n] += double(q->weight(n, k)) * code * s;
      }
  for (IsaTier tier : {IsaTier::Scalar, IsaTier::AVX2, IsaTier::AVX512_VNNI}) {
    if (tier > hostTarget().maxTier())
      continue;
    auto p = packWeights(*q, tier);
    ASSERT_TRUE(bool(p));
    MatmulDesc d = pinnedDesc(N, K, M, f, tier, ActPath::Int8);
    d.staticActScale = s;
    auto mm = Matmul::create(d);
    ASSERT_TRUE(bool(mm)) << llvm::toString(mm.takeError());
    std::vector<float> y(M * N);
    ASSERT_FALSE(bool(mm->run(X.data(), M, *p, y.data(), pool2())));
    for (int64_t i = 0; i < M * N; ++i) // fp32 accumulation of exact products
      EXPECT_NEAR(y[i], ref[i], 1e-4 * (1 + std::fabs(ref[i]))) << isaTierName(tier).str() << i;
  }
}
