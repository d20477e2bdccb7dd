//===- AttentionTest.cpp - The attention kernel against its reference -----===//
//
// attendKvHead on every tier the host has (AVX-512, AVX2, baseline), fp32 and
// fp16 caches, against referenceAttendKvHead (double precision, std::exp) on the
// same cache contents. The key blocks past the longest row's T and the value
// rows past it hold NaN: a masked score or a value row read with a zero weight
// would turn the output into NaN.
//
// Error bound per row (eps = 2^-24): a score's rounding error is at most
// e_s = (D + 2) eps scale max_j sum_d |q_d k_jd|; it moves every weight by a
// relative 2 e_s at most, the softmax and the exp polynomial add a few eps,
// and the weighted sum of T values (T + 1) eps; all of it times max_j |v_j|:
//   |o - ref| <= (4 e_s + (T + 32) eps) max_j |v_j|.
//
//===----------------------------------------------------------------------===//
#include "Attention.h"
#include <gtest/gtest.h>
#include <cmath>
#include <random>
#include <vector>

using namespace llmc;
using namespace llmc::runtime;

namespace {

template <typename KT> struct Cache {
  std::vector<KT> keys, values;
};

template <typename KT>
void checkCase(IsaTier tier, int64_t D, int64_t Dv, const std::vector<int64_t> &T,
               uint32_t seed) {
  const int64_t R = int64_t(T.size());
  int64_t maxT = 0;
  for (int64_t t : T)
    maxT = std::max(maxT, t);
  const int64_t positions = keyPositions(maxT + 20);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  // Cache: written below maxT, NaN above (and in the rest of the last block).
  std::vector<KT> keys(size_t(positions * D), KT(NAN)),
      values(size_t(positions * Dv), KT(NAN));
  std::vector<float> k(static_cast<size_t>(D)), v(static_cast<size_t>(Dv));
  for (int64_t j = 0; j < maxT; ++j) {
    for (float &x : k)
      x = 2.0f * u(rng);
    for (float &x : v)
      x = u(rng);
    storeKey(keys.data(), j, k.data(), D);
    storeValue(values.data(), j, v.data(), Dv);
  }
  std::vector<std::vector<float>> q(static_cast<size_t>(R), std::vector<float>(static_cast<size_t>(D)));
  for (auto &row : q)
    for (float &x : row)
      x = 2.0f * u(rng);
  std::vector<std::vector<float>> o(size_t(R), std::vector<float>(size_t(Dv), NAN)),
      ref = o;
  std::vector<const float *> qp;
  std::vector<float *> op, rp;
  for (int64_t r = 0; r < R; ++r) {
    qp.push_back(q[size_t(r)].data());
    op.push_back(o[size_t(r)].data());
    rp.push_back(ref[size_t(r)].data());
  }
  const float scale = 1.0f / std::sqrt(float(D));
  AttentionRows rows{qp.data(), op.data(), T.data(), R};
  std::vector<float> scratch(size_t(attentionScratchFloats(rows)), NAN);
  attendKvHead(rows, keys.data(), values.data(), D, Dv, scale, scratch.data(), tier);
  AttentionRows refRows{qp.data(), rp.data(), T.data(), R};
  referenceAttendKvHead(refRows, keys.data(), values.data(), D, Dv, scale);

  const double eps = std::ldexp(1.0, -24);
  for (int64_t r = 0; r < R; ++r) {
    double qk = 0, vmax = 0;
    for (int64_t j = 0; j < T[size_t(r)]; ++j) {
      double s = 0;
      for (int64_t d = 0; d < D; ++d)
        s += std::fabs(double(q[size_t(r)][size_t(d)]) *
                       double(keys[size_t(keyOffset(j, d, D))]));
      qk = std::max(qk, s);
      for (int64_t c = 0; c < Dv; ++c)
        vmax = std::max(vmax, std::fabs(double(values[size_t(j * Dv + c)])));
    }
    const double es = double(D + 2) * eps * double(scale) * qk;
    const double bound = (4 * es + double(T[size_t(r)] + 32) * eps) * vmax;
    for (int64_t c = 0; c < Dv; ++c)
      ASSERT_LE(std::fabs(double(o[size_t(r)][size_t(c)]) - double(ref[size_t(r)][size_t(c)])),
                bound)
          << isaTierName(tier).str() << " D=" << D << " Dv=" << Dv << " R=" << R
          << " row " << r << " T=" << T[size_t(r)] << " col " << c;
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

// Scores far apart: e^(s - max) underflows for most keys; exactly 0 weights,
// and a long context (several hundred keys) accumulated in order.
TEST(Attention, LongContextAndUnderflow) {
  for (IsaTier tier : tiers()) {
    checkCase<float>(tier, 64, 64, {700, 701, 702, 703}, 5);
    // Sharp distribution: keys scaled so scale * q.k spans hundreds.
    const int64_t D = 16, Dv = 16, T = 40;
    std::vector<float> keys(size_t(keyPositions(T) * D), NAN), values(size_t(T * Dv));
    std::vector<float> k(size_t(D), 0.0f);
    for (int64_t j = 0; j < T; ++j) {
      k[0] = float(j) * 50.0f; // score grows by 50 * q0 * scale per position
      storeKey(keys.data(), j, k.data(), D);
      for (int64_t c = 0; c < Dv; ++c)
        values[size_t(j * Dv + c)] = float(j);
    }
    std::vector<float> q(size_t(D), 0.0f), o(size_t(Dv), NAN);
    q[0] = 1.0f;
    const float *qp = q.data();
    float *op = o.data();
    int64_t Tr = T;
    AttentionRows rows{&qp, &op, &Tr, 1};
    std::vector<float> scratch(size_t(attentionScratchFloats(rows)));
    attendKvHead(rows, keys.data(), values.data(), D, Dv, 0.25f, scratch.data(), tier);
    // The last key's score beats the next by 12.5: its weight is 1 - 4e-6.
    for (float x : o)
      EXPECT_NEAR(x, float(T - 1), 1e-4) << isaTierName(tier).str();
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
