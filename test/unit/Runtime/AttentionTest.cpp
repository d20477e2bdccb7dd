//===- AttentionTest.cpp - The attention kernel against its reference -----===//
//
// attendKvHead on every tier the host has (AVX-512, AVX2, baseline), fp32,
// fp16 and int8 caches, against referenceAttendKvHead (double precision,
// std::exp) on the same cache contents. The key blocks past the longest row's
// T and the value rows past it hold NaN (int8: their scales): a masked score or
// a value row read with a zero weight would turn the output into NaN.
//
// Error bound per row (eps = 2^-24): a score's rounding error is at most
// e_s = (D + 2) eps scale max_j sum_d |q_d k_jd|; it moves every weight by a
// relative 2 e_s at most, the softmax and the exp polynomial add a few eps,
// and the weighted sum of T values (T + 1) eps; all of it times max_j |v_j|:
//   |o - ref| <= (4 e_s + (T + 32) eps) max_j |v_j|
// with k and v as the sums see them (int8: code * scale), and two more eps
// in e_s and in the weights for int8's scale products.
//
//===----------------------------------------------------------------------===//
#include "Attention.h"
#include <gtest/gtest.h>
#include <cmath>
#include <random>
#include <type_traits>
#include <vector>

using namespace llmc;
using namespace llmc::runtime;

namespace {

/// A KV head's cache for `positions` positions. Unwritten elements are NaN
/// (int8: arbitrary codes with NaN scales), so that reading one with a nonzero
/// weight shows.
template <typename KT> struct Cache {
  static constexpr bool kInt8 = std::is_same_v<KT, int8_t>;
  std::vector<KT> keys, values;
  std::vector<float> keyScales, valueScales;
  Cache(int64_t positions, int64_t D, int64_t Dv)
      : keys(size_t(positions * D), unwritten()),
        values(size_t(positions * Dv), unwritten()) {
    if (kInt8) {
      keyScales.assign(size_t(positions), NAN);
      valueScales.assign(size_t(positions), NAN);
    }
  }
  static KT unwritten() {
    if constexpr (kInt8)
      return KT(77);
    else
      return KT(NAN);
  }
  KvHead<KT> head() {
    KvHead<KT> h;
    h.keys = keys.data();
    h.values = values.data();
    if (kInt8) {
      h.keyScales = keyScales.data();
      h.valueScales = valueScales.data();
    }
    return h;
  }
  /// Key (or value) element i of position j as the sums see it.
  double key(int64_t j, int64_t d, int64_t D) const {
    double x = double(keys[size_t(keyOffset(j, d, D))]);
    return kInt8 ? x * keyScales[size_t(j)] : x;
  }
  double value(int64_t j, int64_t c, int64_t Dv) const {
    double x = double(values[size_t(j * Dv + c)]);
    return kInt8 ? x * valueScales[size_t(j)] : x;
  }
};

/// Random queries, keys (in [-2, 2]) and values (in [-1, 1]) for R rows; the
/// cache is written below max T. Returns the fp32 keys and values written.
struct Case {
  std::vector<std::vector<float>> q, k, v;
};
template <typename KT>
Case fillCase(Cache<KT> &cache, int64_t D, int64_t Dv, int64_t R, int64_t maxT,
              uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  Case c;
  for (int64_t j = 0; j < maxT; ++j) {
    std::vector<float> k(static_cast<size_t>(D)), v(static_cast<size_t>(Dv));
    for (float &x : k)
      x = 2.0f * u(rng);
    for (float &x : v)
      x = u(rng);
    storeKeyValue(cache.head(), j, k.data(), D, v.data(), Dv);
    c.k.push_back(std::move(k));
    c.v.push_back(std::move(v));
  }
  c.q.assign(size_t(R), std::vector<float>(size_t(D)));
  for (auto &row : c.q)
    for (float &x : row)
      x = 2.0f * u(rng);
  return c;
}

int64_t maxOf(const std::vector<int64_t> &T) {
  int64_t m = 0;
  for (int64_t t : T)
    m = std::max(m, t);
  return m;
}

/// attendKvHead and the reference on the same cache; o and ref: R x Dv.
template <typename KT>
void runBoth(IsaTier tier, Cache<KT> &cache, const Case &c, int64_t D, int64_t Dv,
             const std::vector<int64_t> &T, float scale,
             std::vector<std::vector<float>> &o, std::vector<std::vector<float>> &ref,
             const std::vector<int64_t> *first = nullptr, float softcap = 0) {
  const int64_t R = int64_t(T.size());
  o.assign(size_t(R), std::vector<float>(size_t(Dv), NAN));
  ref = o;
  std::vector<const float *> qp;
  std::vector<float *> op, rp;
  for (int64_t r = 0; r < R; ++r) {
    qp.push_back(c.q[size_t(r)].data());
    op.push_back(o[size_t(r)].data());
    rp.push_back(ref[size_t(r)].data());
  }
  const int64_t *f = first ? first->data() : nullptr;
  AttentionRows rows{qp.data(), op.data(), T.data(), R, f};
  rows.softcap = softcap;
  std::vector<float> scratch(size_t(attentionScratchFloats(rows)), NAN);
  attendKvHead(rows, cache.head(), D, Dv, scale, scratch.data(), tier);
  AttentionRows refRows = rows;
  refRows.o = rp.data();
  referenceAttendKvHead(refRows, cache.head(), D, Dv, scale);
}

template <typename KT>
void checkCase(IsaTier tier, int64_t D, int64_t Dv, const std::vector<int64_t> &T,
               uint32_t seed, const std::vector<int64_t> *first = nullptr) {
  const int64_t R = int64_t(T.size()), maxT = maxOf(T);
  Cache<KT> cache(keyPositions(maxT + 20), D, Dv);
  const Case c = fillCase(cache, D, Dv, R, maxT, seed);
  const float scale = 1.0f / std::sqrt(float(D));
  std::vector<std::vector<float>> o, ref;
  runBoth(tier, cache, c, D, Dv, T, scale, o, ref, first);

  const double eps = std::ldexp(1.0, -24);
  for (int64_t r = 0; r < R; ++r) {
    double qk = 0, vmax = 0;
    for (int64_t j = 0; j < T[size_t(r)]; ++j) {
      double s = 0;
      for (int64_t d = 0; d < D; ++d)
        s += std::fabs(double(c.q[size_t(r)][size_t(d)]) * cache.key(j, d, D));
      qk = std::max(qk, s);
      for (int64_t col = 0; col < Dv; ++col)
        vmax = std::max(vmax, std::fabs(cache.value(j, col, Dv)));
    }
    // int8: the scales' products add a rounding to each score and weight.
    const int extra = Cache<KT>::kInt8 ? 2 : 0;
    const double es = double(D + 2 + extra) * eps * double(scale) * qk;
    const double bound = (4 * es + double(T[size_t(r)] + 32 + extra) * eps) * vmax;
    for (int64_t col = 0; col < Dv; ++col)
      ASSERT_LE(std::fabs(double(o[size_t(r)][size_t(col)]) - double(ref[size_t(r)][size_t(col)])),
                bound)
          << isaTierName(tier).str() << " D=" << D << " Dv=" << Dv << " R=" << R
          << " row " << r << " T=" << T[size_t(r)] << " col " << col;
  }
}

std::vector<IsaTier> tiers() {
  std::vector<IsaTier> v = {IsaTier::Scalar};
  for (IsaTier t : {IsaTier::AVX2, IsaTier::AVX512})
    if (t <= hostTarget().maxTier())
      v.push_back(t);
  return v;
}

// Row sets as the runtime builds them: one token's group of heads (decode,
// equal T), and several tokens' groups (prefill: T grows by one per token).
std::vector<std::vector<int64_t>> rowSets() {
  std::vector<std::vector<int64_t>> sets = {{1}, {37}, {16, 16, 16}};
  for (int64_t tokens : {2, 3})
    for (int64_t group : {1, 4, 8}) {
      std::vector<int64_t> T;
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t h = 0; h < group; ++h)
          T.push_back(29 + t);
      sets.push_back(T);
    }
  std::vector<int64_t> ramp;
  for (int64_t t = 1; t <= 13; ++t)
    ramp.push_back(t);
  sets.push_back(ramp);
  return sets;
}

TEST(Attention, MatchesReferenceFp32Cache) {
  for (IsaTier tier : tiers())
    for (auto [D, Dv] : {std::pair<int64_t, int64_t>{64, 64}, {48, 80}, {20, 7}, {128, 128}})
      for (const auto &T : rowSets())
        checkCase<float>(tier, D, Dv, T, uint32_t(D * 131 + Dv + T.size()));
}

TEST(Attention, MatchesReferenceFp16Cache) {
  for (IsaTier tier : tiers())
    for (auto [D, Dv] : {std::pair<int64_t, int64_t>{64, 64}, {20, 7}})
      for (const auto &T : rowSets())
        checkCase<_Float16>(tier, D, Dv, T, uint32_t(D * 7 + Dv + T.size()));
}

// A sliding window: each row sees its last W keys only (rows of one call
// start in different key blocks; blocks no row sees are skipped).
TEST(Attention, SlidingWindowMatchesReference) {
  for (IsaTier tier : tiers())
    for (int64_t W : {1, 5, 16, 21})
      for (const auto &T : rowSets()) {
        std::vector<int64_t> first;
        for (int64_t t : T)
          first.push_back(std::max<int64_t>(0, t - W));
        checkCase<float>(tier, 64, 48, T, uint32_t(W * 31 + T.size()), &first);
        checkCase<_Float16>(tier, 20, 7, T, uint32_t(W * 37 + T.size()), &first);
        checkCase<int8_t>(tier, 48, 80, T, uint32_t(W * 41 + T.size()), &first);
      }
}

// A window hides exactly the keys before it: the windowed rows equal full
// attention over a cache that holds only the window's keys.
TEST(Attention, SlidingWindowIsAttentionOverTheWindowOnly) {
  const int64_t D = 32, Dv = 16, T = 45, W = 7;
  Cache<float> full(keyPositions(T), D, Dv), tail(keyPositions(W), D, Dv);
  const Case c = fillCase(full, D, Dv, 1, T, 5);
  for (int64_t j = T - W; j < T; ++j)
    storeKeyValue(tail.head(), j - (T - W), c.k[size_t(j)].data(), D, c.v[size_t(j)].data(), Dv);
  const float scale = 0.25f;
  std::vector<float> windowed(Dv), reference(Dv);
  const float *q = c.q[0].data();
  float *ow = windowed.data(), *orr = reference.data();
  const int64_t Tw = T, firstKey = T - W, Tt = W;
  AttentionRows rows{&q, &ow, &Tw, 1, &firstKey};
  std::vector<float> scratch(size_t(attentionScratchFloats(rows)));
  attendKvHead(rows, full.head(), D, Dv, scale, scratch.data(), hostTarget().maxTier());
  AttentionRows tailRows{&q, &orr, &Tt, 1};
  std::vector<float> scratch2(size_t(attentionScratchFloats(tailRows)));
  attendKvHead(tailRows, tail.head(), D, Dv, scale, scratch2.data(), hostTarget().maxTier());
  for (int64_t col = 0; col < Dv; ++col)
    EXPECT_NEAR(windowed[size_t(col)], reference[size_t(col)], 1e-6f) << col;
}

// int8 codes: the kernel against the reference on the same codes and scales
// (the reference dequantizes in double precision).
TEST(Attention, MatchesReferenceInt8Cache) {
  for (IsaTier tier : tiers())
    for (auto [D, Dv] : {std::pair<int64_t, int64_t>{64, 64}, {48, 80}, {20, 7}, {128, 128}})
      for (const auto &T : rowSets())
        checkCase<int8_t>(tier, D, Dv, T, uint32_t(D * 17 + Dv + T.size()));
}

// int8 against the fp32 cache of the same keys and values: the rounding of
// the cache itself. Each element moves by at most half a step, s / 2 with
// s = max |x| / 127, so a score by at most delta = scale sum_d |q_d| s_k / 2
// and every softmax weight by a factor within e^(+-2 delta):
//   |o8 - o32| <= max_j s_v[j] / 2 + (e^(2 delta) - 1) max_j |v_j|
// (plus the fp32 kernels' own rounding, far below). That bound assumes every
// error aligned and is loose for long rows (0.13-0.16 against 0.002 here); a
// row that sees one position (weight 1) has only the value's rounding, tight
// at s_v / 2.
TEST(Attention, Int8CacheErrorAgainstFp32) {
  const IsaTier tier = tiers().back();
  const int64_t D = 64, Dv = 64;
  const std::vector<int64_t> T = {100, 100, 100, 1};
  Cache<int8_t> c8(keyPositions(120), D, Dv);
  Cache<float> c32(keyPositions(120), D, Dv);
  const Case c = fillCase(c8, D, Dv, 4, 100, 3);
  for (int64_t j = 0; j < 100; ++j)
    storeKeyValue(c32.head(), j, c.k[size_t(j)].data(), D, c.v[size_t(j)].data(), Dv);
  const float scale = 1.0f / std::sqrt(float(D));
  std::vector<std::vector<float>> o8, r8, o32, r32;
  runBoth(tier, c8, c, D, Dv, T, scale, o8, r8);
  runBoth(tier, c32, c, D, Dv, T, scale, o32, r32);
  double worst = 0;
  for (int64_t r = 0; r < 4; ++r) {
    double sk = 0, sv = 0, vmax = 0, qsum = 0;
    for (float x : c.q[size_t(r)])
      qsum += std::fabs(x);
    for (int64_t j = 0; j < T[size_t(r)]; ++j) {
      sk = std::max(sk, double(c8.keyScales[size_t(j)]));
      sv = std::max(sv, double(c8.valueScales[size_t(j)]));
      for (float x : c.v[size_t(j)])
        vmax = std::max(vmax, double(std::fabs(x)));
    }
    const double delta = double(scale) * qsum * sk / 2;
    const double bound = T[size_t(r)] == 1
                             ? sv / 2 * (1 + 1e-5)
                             : sv / 2 + std::expm1(2 * delta) * vmax + 1e-5;
    double rowWorst = 0;
    for (int64_t col = 0; col < Dv; ++col) {
      const double err = std::fabs(double(o8[size_t(r)][size_t(col)]) -
                                   double(o32[size_t(r)][size_t(col)]));
      worst = std::max(worst, err);
      rowWorst = std::max(rowWorst, err);
      ASSERT_LE(err, bound) << "row " << r << " col " << col;
    }
    if (T[size_t(r)] == 1) // 64 roundings reach well past a quarter step
      EXPECT_GT(rowWorst, sv / 4);
  }
  // The bound is not vacuous: the codes do change the output.
  EXPECT_GT(worst, 0.0);
}

// Quantizing a key and a value: codes round(x / s) with s = max |x| / 127,
// so the largest element is +-127 and every element is within s / 2; an
// all-zero row stores scale 0 and codes 0.
TEST(Attention, Int8StoreRoundsToNearest) {
  const int64_t D = 5, Dv = 3;
  Cache<int8_t> cache(keyPositions(2), D, Dv);
  const float k[D] = {0.5f, -2.54f, 0.01f, 1.0f, -0.02f};
  const float v[Dv] = {0.3f, 0.0f, -0.6f};
  storeKeyValue(cache.head(), 1, k, D, v, Dv);
  EXPECT_FLOAT_EQ(cache.keyScales[1], 2.54f / 127);
  EXPECT_EQ(cache.keys[size_t(keyOffset(1, 1, D))], -127);
  EXPECT_EQ(cache.keys[size_t(keyOffset(1, 0, D))], 25);
  EXPECT_EQ(cache.keys[size_t(keyOffset(1, 2, D))], 0);
  EXPECT_EQ(cache.values[size_t(Dv + 2)], -127);
  EXPECT_EQ(cache.values[size_t(Dv + 0)], 64); // 0.3 / 0.6 * 127 = 63.5
  for (int64_t d = 0; d < D; ++d)
    EXPECT_LE(std::fabs(cache.key(1, d, D) - k[d]), cache.keyScales[1] / 2 * 1.0001);
  const float zeros[D] = {};
  storeKeyValue(cache.head(), 0, zeros, D, zeros, Dv);
  EXPECT_EQ(cache.keyScales[0], 0.0f);
  EXPECT_EQ(cache.valueScales[0], 0.0f);
  EXPECT_EQ(cache.keys[size_t(keyOffset(0, 3, D))], 0);
}

// Scores far apart: e^(s - max) underflows for most keys; exactly 0 weights,
// and a long context (several hundred keys) accumulated in order.
TEST(Attention, LongContextAndUnderflow) {
  for (IsaTier tier : tiers()) {
    checkCase<float>(tier, 64, 64, {700, 701, 702, 703}, 5);
    // Sharp distribution: keys scaled so scale * q.k spans hundreds.
    const int64_t D = 16, Dv = 16, T = 40;
    Cache<float> cache(keyPositions(T), D, Dv);
    std::vector<float> k(static_cast<size_t>(D), 0.0f), v(static_cast<size_t>(Dv));
    for (int64_t j = 0; j < T; ++j) {
      k[0] = float(j) * 50.0f; // score grows by 50 * q0 * scale per position
      std::fill(v.begin(), v.end(), float(j));
      storeKeyValue(cache.head(), j, k.data(), D, v.data(), Dv);
    }
    std::vector<float> q(size_t(D), 0.0f), o(size_t(Dv), NAN);
    q[0] = 1.0f;
    const float *qp = q.data();
    float *op = o.data();
    int64_t Tr = T;
    AttentionRows rows{&qp, &op, &Tr, 1};
    std::vector<float> scratch(size_t(attentionScratchFloats(rows)));
    attendKvHead(rows, cache.head(), D, Dv, 0.25f, scratch.data(), tier);
    // The last key's score beats the next by 12.5: its weight is 1 - 4e-6.
    for (float x : o)
      EXPECT_NEAR(x, float(T - 1), 1e-4) << isaTierName(tier).str();
  }
}

// Soft-capped scores (Gemma-2): S = c tanh(scale q.k / c) before the mask and
// the softmax. The kernel on every tier, and the library's reference, against
// directAttention below: double precision straight from the definition (not
// referenceAttendKvHead), on the cache contents as the sums see them (fp16
// rounded; int8 codes times scales), so the comparison measures the kernel's
// float arithmetic only.
//
// Tolerances, relative to the row's largest value magnitude vmax (<= 1 here):
// 1e-5 for fp32 caches, 2e-5 for fp16 and int8 (their cache rounding is no
// error here, both sides see the same elements, but int8 multiplies by the
// scales in float). tanh' <= 1, so the cap does not grow a score's rounding;
// the vector tanh, (1 - e) / (1 + e) with e = e^(-2|y|) from the exp
// polynomial, adds a few eps times c (e is off by a few ulps of 1; 1 - e
// cancels near y = 0). Observed: ~3e-7 for every element type and tier. (The
// worst-case bound of checkCase would allow 2e-4 to 5e-4 here: loose enough
// to let a poor tanh through.) The library's reference only rounds its double
// result to float: 2 eps vmax. The caps (0.5 to 2) sit well below the scores'
// spread (scale 2 / sqrt(D): scores up to ~8 in magnitude), so every case
// asserts that the capped output lies more than 1000 tolerances from the
// uncapped one (observed: 0.1 or more), so a kernel that ignored the cap
// fails.

/// Row output in double precision from the definition: S_j = scale q.k_j for
/// first <= j < T, capped to cap tanh(S_j / cap) when cap > 0, then
/// o = sum_j softmax(S)_j v_j.
template <typename KT>
std::vector<double> directAttention(const Cache<KT> &cache, const std::vector<float> &q,
                                    int64_t D, int64_t Dv, int64_t first, int64_t T,
                                    double scale, double cap) {
  std::vector<double> p;
  double mx = -INFINITY;
  for (int64_t j = first; j < T; ++j) {
    double dot = 0;
    for (int64_t d = 0; d < D; ++d)
      dot += double(q[size_t(d)]) * cache.key(j, d, D);
    double x = scale * dot;
    if (cap > 0)
      x = cap * std::tanh(x / cap);
    p.push_back(x);
    mx = std::max(mx, x);
  }
  double sum = 0;
  for (double &x : p)
    sum += (x = std::exp(x - mx));
  std::vector<double> o(size_t(Dv), 0.0);
  for (int64_t j = first; j < T; ++j)
    for (int64_t c = 0; c < Dv; ++c)
      o[size_t(c)] += p[size_t(j - first)] * cache.value(j, c, Dv);
  for (double &x : o)
    x /= sum;
  return o;
}

template <typename KT>
void checkSoftcapCase(IsaTier tier, int64_t D, int64_t Dv, const std::vector<int64_t> &T,
                      float cap, uint32_t seed, const std::vector<int64_t> *first = nullptr) {
  const int64_t R = int64_t(T.size()), maxT = maxOf(T);
  Cache<KT> cache(keyPositions(maxT + 20), D, Dv);
  const Case c = fillCase(cache, D, Dv, R, maxT, seed);
  const float scale = 2.0f / std::sqrt(float(D));
  std::vector<std::vector<float>> o, ref;
  runBoth(tier, cache, c, D, Dv, T, scale, o, ref, first, cap);

  const double eps = std::ldexp(1.0, -24);
  double worstBound = 0, capEffect = 0;
  for (int64_t r = 0; r < R; ++r) {
    const int64_t f = first ? (*first)[size_t(r)] : 0, t = T[size_t(r)];
    const std::vector<double> capped =
        directAttention(cache, c.q[size_t(r)], D, Dv, f, t, double(scale), double(cap));
    const std::vector<double> uncapped =
        directAttention(cache, c.q[size_t(r)], D, Dv, f, t, double(scale), 0.0);
    double vmax = 0;
    for (int64_t j = f; j < t; ++j)
      for (int64_t col = 0; col < Dv; ++col)
        vmax = std::max(vmax, std::fabs(cache.value(j, col, Dv)));
    const double bound = (std::is_same_v<KT, float> ? 1e-5 : 2e-5) * vmax;
    worstBound = std::max(worstBound, bound);
    for (int64_t col = 0; col < Dv; ++col) {
      const double got = double(o[size_t(r)][size_t(col)]), want = capped[size_t(col)];
      ASSERT_LE(std::fabs(got - want), bound)
          << isaTierName(tier).str() << " D=" << D << " Dv=" << Dv << " R=" << R
          << " cap=" << cap << " row " << r << " T=" << t << " first=" << f << " col " << col;
      ASSERT_LE(std::fabs(double(ref[size_t(r)][size_t(col)]) - want), 2 * eps * vmax)
          << "reference: D=" << D << " R=" << R << " cap=" << cap << " row " << r << " col " << col;
      capEffect = std::max(capEffect, std::fabs(got - uncapped[size_t(col)]));
    }
  }
  // The cap matters here: ignoring it would miss by far more than the bound.
  EXPECT_GT(capEffect, 1000 * worstBound)
      << isaTierName(tier).str() << " D=" << D << " R=" << R << " cap=" << cap;
}

// Rows sharing a KV head: decode (1 row; a GQA group of 8) and prefill (3
// tokens of 1 or 3 heads: 3 and 9 rows, T growing by one per token); no T is a
// multiple of the key block.
std::vector<std::vector<int64_t>> softcapRowSets() {
  return {{37}, {29, 30, 31}, std::vector<int64_t>(8, 50),
          {45, 45, 45, 46, 46, 46, 47, 47, 47}};
}

template <typename KT> void checkSoftcapAll(uint32_t salt) {
  for (IsaTier tier : tiers())
    for (auto [D, Dv] : {std::pair<int64_t, int64_t>{64, 64}, {80, 80}, {80, 48}})
      for (const auto &T : softcapRowSets())
        for (float cap : {0.5f, 1.0f, 2.0f})
          checkSoftcapCase<KT>(tier, D, Dv, T, cap,
                               uint32_t(D * salt + Dv + T.size() * 7 + cap * 4));
}

TEST(Attention, SoftcapFp32Cache) { checkSoftcapAll<float>(131); }
TEST(Attention, SoftcapFp16Cache) { checkSoftcapAll<_Float16>(7); }
TEST(Attention, SoftcapInt8Cache) { checkSoftcapAll<int8_t>(17); }

// The cap with a sliding window: each row sees its last 21 keys (the cap
// covers the blocks the row sees; scores before the window stay masked).
TEST(Attention, SoftcapSlidingWindow) {
  for (IsaTier tier : tiers())
    for (const auto &T : softcapRowSets())
      for (float cap : {0.5f, 2.0f}) {
        std::vector<int64_t> first;
        for (int64_t t : T)
          first.push_back(std::max<int64_t>(0, t - 21));
        checkSoftcapCase<float>(tier, 64, 64, T, cap, uint32_t(T.size() * 3 + 1), &first);
        checkSoftcapCase<_Float16>(tier, 80, 80, T, cap, uint32_t(T.size() * 5 + 2), &first);
        checkSoftcapCase<int8_t>(tier, 80, 48, T, cap, uint32_t(T.size() * 11 + 3), &first);
      }
}

// Saturation: scores 12.5 j (j = 0..39) capped at 1 are 0 for j = 0 and
// tanh(12.5 j) = 1 in float beyond (past |y| = 43.5 e^(-2|y|) underflows to 0
// in the kernel): every key but the first weighs the same. With v_j = j:
//   q0 = +1: o = (sum_{j>=1} j) / (39 + e^-1)        = 780 / (39 + e^-1)
//   q0 = -1: o = e^-1 sum_{j>=1} j / (1 + 39 e^-1)   (the first key dominates)
// Relative tolerance 1e-5: a few roundings of the exp and of 40 sums.
TEST(Attention, SoftcapSaturates) {
  const int64_t D = 16, Dv = 16, T = 40;
  Cache<float> cache(keyPositions(T), D, Dv);
  std::vector<float> k(static_cast<size_t>(D), 0.0f), v(static_cast<size_t>(Dv));
  for (int64_t j = 0; j < T; ++j) {
    k[0] = float(j) * 50.0f;
    std::fill(v.begin(), v.end(), float(j));
    storeKeyValue(cache.head(), j, k.data(), D, v.data(), Dv);
  }
  const double e1 = std::exp(-1.0);
  for (IsaTier tier : tiers())
    for (float sign : {1.0f, -1.0f}) {
      std::vector<float> q(size_t(D), 0.0f), o(size_t(Dv), NAN);
      q[0] = sign;
      const float *qp = q.data();
      float *op = o.data();
      const int64_t Tr = T;
      AttentionRows rows{&qp, &op, &Tr, 1};
      rows.softcap = 1.0f;
      std::vector<float> scratch(size_t(attentionScratchFloats(rows)));
      attendKvHead(rows, cache.head(), D, Dv, 0.25f, scratch.data(), tier);
      const double want = sign > 0 ? 780.0 / (39.0 + e1) : 780.0 * e1 / (1.0 + 39.0 * e1);
      for (float x : o)
        EXPECT_NEAR(x, want, 1e-5 * want) << isaTierName(tier).str() << " sign " << sign;
    }
}

TEST(Attention, KeyBlockLayout) {
  // Position 16 b + i, dimension d of a head with D = 3.
  EXPECT_EQ(keyOffset(0, 0, 3), 0);
  EXPECT_EQ(keyOffset(1, 0, 3), 1);
  EXPECT_EQ(keyOffset(0, 1, 3), 16);
  EXPECT_EQ(keyOffset(17, 2, 3), 48 + 32 + 1);
  EXPECT_EQ(keyPositions(1), 16);
  EXPECT_EQ(keyPositions(32), 32);
  EXPECT_EQ(keyPositions(33), 48);
}

} // namespace
