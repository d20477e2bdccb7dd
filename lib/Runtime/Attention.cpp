//===- Attention.cpp - Causal attention of one KV head over the cache ------===//
//
// attendKvHead (Attention.h) in three steps over R rows and the key blocks
// [0, B) that the longest row sees:
//   1. scores:  S[r][16b + i] = scale * sum_d q[r][d] * K[b][d][i]   (rows by 8)
//   2. softmax: (soft cap c > 0: S[r][j] = c tanh(S[r][j] / c) first)
//               m = max_j S[r][j]; S[r][j] = e^(S[r][j] - m); inv[r] = 1/sum
//   3. values:  o[r] = inv[r] * sum_j S[r][j] v[j]                  (rows by 4)
// Scores past a row's T are set to -inf before step 2, so they weigh exactly
// 0; values are only read below the longest row's T (every such position is
// written), so unwritten cache memory never meets a nonzero weight.
// int8 caches: step 1 multiplies each block's 16 scores by their keys' scales,
// step 2 stores p * s_v[j] (the row sum stays that of p), so step 3 sums codes
// exactly as it sums fp32 values.
//
// The loops are written once on 16-float vectors (GCC/Clang vector
// extensions) and compiled three times: AVX-512 (one zmm per vector), AVX2
// (two ymm) and baseline, dispatched by the caller's ISA tier.
//
//===----------------------------------------------------------------------===//
#include "Attention.h"
#include "llmc/Kernels/ExpApprox.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

namespace llmc {
namespace runtime {

namespace {

// The helpers below pass 16-float vectors by value; they are always inlined,
// so no call with the AVX2 or baseline vector ABI is ever made.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef _Float16 v16h __attribute__((vector_size(32)));
typedef int8_t v16b __attribute__((vector_size(16)));

#define LLMC_INLINE inline __attribute__((always_inline))

LLMC_INLINE v16 load16(const float *p) {
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
LLMC_INLINE v16 load16(const _Float16 *p) {
  v16h h;
  std::memcpy(&h, p, sizeof h);
  return __builtin_convertvector(h, v16);
}
LLMC_INLINE v16 load16(const int8_t *p) {
  v16b b;
  std::memcpy(&b, p, sizeof b);
  return __builtin_convertvector(b, v16);
}
LLMC_INLINE void store16(float *p, v16 v) { std::memcpy(p, &v, sizeof v); }
LLMC_INLINE v16i bits(v16 v) { return __builtin_bit_cast(v16i, v); }
LLMC_INLINE v16 fromBits(v16i v) { return __builtin_bit_cast(v16, v); }
/// Lanes of a where m is set (all ones), else of b.
LLMC_INLINE v16 select(v16i m, v16 a, v16 b) {
  return fromBits((bits(a) & m) | (bits(b) & ~m));
}
LLMC_INLINE v16 splat(float x) { return v16{} + x; }

/// e^x for x <= 0 (a score minus its row's maximum), as kernels/ExpApprox.h
/// describes, exactly 0 below kMinArg, so masked scores (-inf) weigh nothing.
LLMC_INLINE v16 expNonPositive(v16 x) {
  using namespace kernels::exp_approx;
  const v16i keep = x >= kMinArg;
  x = select(keep, x, splat(kMinArg));
  const v16 n = (x * kLog2e + kRoundMagic) - kRoundMagic; // round
  const v16 r = x - n * kLn2Hi + n * kLn2Lo;
  v16 p = r * kExpTaylor[0] + kExpTaylor[1];
  for (int i = 2; i < 8; ++i)
    p = p * r + kExpTaylor[i];
  const v16i e = (__builtin_convertvector(n, v16i) + 127) << 23;
  return fromBits(bits(p * fromBits(e)) & keep);
}

/// c tanh(x / c), the soft cap c > 0 of 16 scores (invCap = 1 / c). With
/// y = x / c and e = e^(-2|y|), which lies in [0, 1] (the exponent is <= 0,
/// so e never overflows and expNonPositive applies):
///   tanh(|y|) = (1 - e) / (1 + e),   tanh(y) = sign(y) tanh(|y|).
/// For |y| >= 43.5 e is 0 (expNonPositive's cutoff) and the result is +-c,
/// as tanh is in float. Near y = 0, 1 - e cancels, but e's error is a few ulps
/// of 1, so the result is off by a few eps * c in absolute terms, like the
/// rounding of a score of magnitude c; tanh' <= 1, so a score's own error is
/// not amplified.
LLMC_INLINE v16 softcap16(v16 x, float cap, float invCap) {
  const v16i y = bits(x * invCap);
  const v16i sign = y & ~0x7fffffff;
  const v16 e = expNonPositive(-2.0f * fromBits(y & 0x7fffffff));
  const v16 t = (1.0f - e) / (1.0f + e);
  return fromBits(bits(t) | sign) * cap;
}

template <typename KT> constexpr bool kScaled = std::is_same_v<KT, int8_t>;

/// Step 1 for RB rows: one key-block load per d feeds RB FMAs. keyScales:
/// int8 caches' per-position scales (else unused). With fewer than 4 rows
/// (decode of a model without GQA: one row per KV head) each row sums over d
/// in C = 4 / RB independent chains, so that 4 FMAs are in flight: one chain
/// waits an FMA latency (4 cycles) per 16 keys' dimension, slower than
/// DRAM delivers an int8 or fp16 cache.
template <int RB, typename KT>
LLMC_INLINE void scoreRows(const float *const *q, const KT *keys,
                           const float *keyScales, int64_t B, int64_t D,
                           float scale, float *S, int64_t ldS) {
  constexpr int C = RB >= 4 ? 1 : 4 / RB;
  for (int64_t b = 0; b < B; ++b) {
    const KT *kb = keys + b * D * kKeyBlock;
    v16 acc[RB][C];
    for (int r = 0; r < RB; ++r)
      for (int c = 0; c < C; ++c)
        acc[r][c] = v16{};
    int64_t d = 0;
    for (; d + C <= D; d += C)
      for (int c = 0; c < C; ++c) {
        const v16 k = load16(kb + (d + c) * kKeyBlock);
        for (int r = 0; r < RB; ++r)
          acc[r][c] += q[r][d + c] * k;
      }
    for (; d < D; ++d) {
      const v16 k = load16(kb + d * kKeyBlock);
      for (int r = 0; r < RB; ++r)
        acc[r][0] += q[r][d] * k;
    }
    for (int r = 0; r < RB; ++r)
      for (int c = 1; c < C; ++c)
        acc[r][0] += acc[r][c];
    v16 blockScale = splat(scale);
    if constexpr (kScaled<KT>)
      blockScale = blockScale * load16(keyScales + b * kKeyBlock);
    for (int r = 0; r < RB; ++r)
      store16(S + r * ldS + b * kKeyBlock, acc[r][0] * blockScale);
  }
}

/// Step 3 for RB rows and NV x 16 value columns from c0: one load per 16
/// values feeds RB FMAs, one weight broadcast NV FMAs.
template <int RB, int NV, typename VT>
LLMC_INLINE void valueRows(const float *P, int64_t ldP, const VT *values,
                           int64_t T, int64_t Dv, int64_t c0, const float *inv,
                           float *const *o) {
  v16 acc[RB][NV];
  for (int r = 0; r < RB; ++r)
    for (int i = 0; i < NV; ++i)
      acc[r][i] = v16{};
  for (int64_t j = 0; j < T; ++j) {
    const VT *vj = values + j * Dv + c0;
    v16 v[NV];
    for (int i = 0; i < NV; ++i)
      v[i] = load16(vj + 16 * i);
    for (int r = 0; r < RB; ++r) {
      const float p = P[r * ldP + j];
      for (int i = 0; i < NV; ++i)
        acc[r][i] += p * v[i];
    }
  }
  for (int r = 0; r < RB; ++r)
    for (int i = 0; i < NV; ++i)
      store16(o[r] + c0 + 16 * i, acc[r][i] * inv[r]);
}

/// Step 3 for RB rows, every column: NV-vector strips, single vectors, then
/// a scalar tail for Dv % 16.
template <int RB, int NV, typename VT>
LLMC_INLINE void valueRowsAllColumns(const float *P, int64_t ldP,
                                     const VT *values, int64_t T, int64_t Dv,
                                     const float *inv, float *const *o) {
  int64_t c = 0;
  for (; c + 16 * NV <= Dv; c += 16 * NV)
    valueRows<RB, NV>(P, ldP, values, T, Dv, c, inv, o);
  for (; c + 16 <= Dv; c += 16)
    valueRows<RB, 1>(P, ldP, values, T, Dv, c, inv, o);
  for (; c < Dv; ++c)
    for (int r = 0; r < RB; ++r) {
      float s = 0;
      for (int64_t j = 0; j < T; ++j)
        s += P[r * ldP + j] * float(values[j * Dv + c]);
      o[r][c] = s * inv[r];
    }
}

/// The first key row r sees (0 without a sliding window).
int64_t firstKey(const AttentionRows &rows, int64_t r) {
  return rows.first ? rows.first[r] : 0;
}

/// The first key any row sees.
int64_t minFirst(const AttentionRows &rows) {
  int64_t f = rows.count > 0 ? firstKey(rows, 0) : 0;
  for (int64_t r = 1; r < rows.count; ++r)
    f = std::min(f, firstKey(rows, r));
  return f;
}

int64_t maxT(const AttentionRows &rows, int64_t r0, int64_t r1) {
  int64_t t = 0;
  for (int64_t r = r0; r < r1; ++r)
    t = std::max(t, rows.T[r]);
  return t;
}

template <typename KT, int NV>
LLMC_INLINE void attend(const AttentionRows &rows, const KvHead<KT> &head,
                        int64_t D, int64_t Dv, float scale, float *scratch) {
  const KT *values = head.values;
  const float *vs = head.valueScales;
  const int64_t R = rows.count;
  const int64_t B = (maxT(rows, 0, R) + kKeyBlock - 1) / kKeyBlock;
  const int64_t ldS = B * kKeyBlock;
  float *S = scratch, *inv = scratch + R * ldS;
  // With a sliding window no row sees the key blocks before block b0: they
  // are neither scored nor summed (scores and weights start at j0).
  const int64_t b0 = minFirst(rows) / kKeyBlock, j0 = b0 * kKeyBlock;
  const KT *keys = head.keys + b0 * D * kKeyBlock;
  const float *ks = head.keyScales ? head.keyScales + j0 : nullptr;
  const int64_t Bw = B - b0;

  // 1. Scores, 8 rows at a time (the tail by a row count's own kernel).
  for (int64_t r0 = 0; r0 < R; r0 += 8) {
    const float *const *q = rows.q + r0;
    float *s = S + r0 * ldS + j0;
    switch (std::min<int64_t>(8, R - r0)) {
    case 8: scoreRows<8>(q, keys, ks, Bw, D, scale, s, ldS); break;
    case 7: scoreRows<7>(q, keys, ks, Bw, D, scale, s, ldS); break;
    case 6: scoreRows<6>(q, keys, ks, Bw, D, scale, s, ldS); break;
    case 5: scoreRows<5>(q, keys, ks, Bw, D, scale, s, ldS); break;
    case 4: scoreRows<4>(q, keys, ks, Bw, D, scale, s, ldS); break;
    case 3: scoreRows<3>(q, keys, ks, Bw, D, scale, s, ldS); break;
    case 2: scoreRows<2>(q, keys, ks, Bw, D, scale, s, ldS); break;
    default: scoreRows<1>(q, keys, ks, Bw, D, scale, s, ldS); break;
    }
  }

  // 2. Soft cap, mask, softmax numerators in place, 1 / sum per row. The cap
  // goes first (a masked score must stay -inf, and int8 scores already carry
  // their key scales), over the key blocks the row sees; without one this
  // step costs a branch per row.
  const float cap = rows.softcap, invCap = cap > 0 ? 1.0f / cap : 0.0f;
  for (int64_t r = 0; r < R; ++r) {
    float *s = S + r * ldS;
    if (cap > 0)
      for (int64_t j = firstKey(rows, r) / kKeyBlock * kKeyBlock,
                   end = keyPositions(rows.T[r]);
           j < end; j += kKeyBlock)
        store16(s + j, softcap16(load16(s + j), cap, invCap));
    for (int64_t j = j0; j < firstKey(rows, r); ++j)
      s[j] = -INFINITY;
    for (int64_t j = rows.T[r]; j < ldS; ++j)
      s[j] = -INFINITY;
    v16 m = splat(-INFINITY);
    for (int64_t j = j0; j < ldS; j += 16) {
      const v16 x = load16(s + j);
      m = select(x > m, x, m);
    }
    float mx = m[0];
    for (int i = 1; i < 16; ++i)
      mx = std::max(mx, m[i]);
    v16 sum = v16{};
    for (int64_t j = j0; j < ldS; j += 16) {
      const v16 p = expNonPositive(load16(s + j) - mx);
      if constexpr (kScaled<KT>)
        store16(s + j, p * load16(vs + j));
      else
        store16(s + j, p);
      sum += p;
    }
    float total = 0;
    for (int i = 0; i < 16; ++i)
      total += sum[i];
    inv[r] = 1.0f / total;
  }

  // 3. Values, 4 rows at a time, up to the longest of the 4 rows' T. A lone
  // row (MHA decode) has the registers for twice the columns per strip: one
  // pass over the value rows where Dv = 128 took two.
  for (int64_t r0 = 0; r0 < R; r0 += 4) {
    const int64_t rb = std::min<int64_t>(4, R - r0), T = maxT(rows, r0, r0 + rb);
    const float *P = S + r0 * ldS + j0;
    const KT *V = values + j0 * Dv;
    float *const *o = rows.o + r0;
    switch (rb) {
    case 4: valueRowsAllColumns<4, NV>(P, ldS, V, T - j0, Dv, inv + r0, o); break;
    case 3: valueRowsAllColumns<3, NV>(P, ldS, V, T - j0, Dv, inv + r0, o); break;
    case 2: valueRowsAllColumns<2, NV>(P, ldS, V, T - j0, Dv, inv + r0, o); break;
    default: valueRowsAllColumns<1, 2 * NV>(P, ldS, V, T - j0, Dv, inv + r0, o); break;
    }
  }
}

// Per tier: 4 value vectors per strip on AVX-512 (4 rows x 4 = 16 zmm
// accumulators), 2 on AVX2 (16 ymm), 1 below.
#define LLMC_ATTEND_TIERS(KT)                                                  \
  __attribute__((target("arch=x86-64-v4"))) void attendAvx512(                 \
      const AttentionRows &rows, const KvHead<KT> &h, int64_t D, int64_t Dv,   \
      float scale, float *scratch) {                                           \
    attend<KT, 4>(rows, h, D, Dv, scale, scratch);                             \
  }                                                                            \
  __attribute__((target("arch=x86-64-v3"))) void attendAvx2(                   \
      const AttentionRows &rows, const KvHead<KT> &h, int64_t D, int64_t Dv,   \
      float scale, float *scratch) {                                           \
    attend<KT, 2>(rows, h, D, Dv, scale, scratch);                             \
  }                                                                            \
  void attendBaseline(const AttentionRows &rows, const KvHead<KT> &h,          \
                      int64_t D, int64_t Dv, float scale, float *scratch) {    \
    attend<KT, 1>(rows, h, D, Dv, scale, scratch);                             \
  }
LLMC_ATTEND_TIERS(float)
LLMC_ATTEND_TIERS(_Float16)
LLMC_ATTEND_TIERS(int8_t)
#undef LLMC_ATTEND_TIERS

template <typename KT>
void dispatch(const AttentionRows &rows, const KvHead<KT> &head, int64_t D,
              int64_t Dv, float scale, float *scratch, IsaTier tier) {
  if (rows.count <= 0)
    return;
  if (tier >= IsaTier::AVX512)
    attendAvx512(rows, head, D, Dv, scale, scratch);
  else if (tier >= IsaTier::AVX2)
    attendAvx2(rows, head, D, Dv, scale, scratch);
  else
    attendBaseline(rows, head, D, Dv, scale, scratch);
}

/// x[0..n) as int8 codes round(x / s), s = max |x| / 127 (0 for a zero row:
/// every code 0); returns s.
float quantizeRow(const float *x, int64_t n, int8_t *codes, int64_t stride) {
  float amax = 0;
  for (int64_t i = 0; i < n; ++i)
    amax = std::max(amax, std::fabs(x[i]));
  const float s = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
  for (int64_t i = 0; i < n; ++i)
    codes[i * stride] = int8_t(std::lrint(std::clamp(x[i] * inv, -127.0f, 127.0f)));
  return s;
}

template <typename KT>
void storeKeyValueT(const KvHead<KT> &head, int64_t pos, const float *k,
                    int64_t D, const float *v, int64_t Dv) {
  KT *key = head.keys + keyOffset(pos, 0, D), *value = head.values + pos * Dv;
  if constexpr (kScaled<KT>) {
    head.keyScales[pos] = quantizeRow(k, D, key, kKeyBlock);
    head.valueScales[pos] = quantizeRow(v, Dv, value, 1);
  } else {
    for (int64_t d = 0; d < D; ++d)
      key[d * kKeyBlock] = KT(k[d]);
    for (int64_t c = 0; c < Dv; ++c)
      value[c] = KT(v[c]);
  }
}

/// Element i of position j's key (isKey) or value, as the sums see it.
template <typename KT>
double element(const KvHead<KT> &head, bool isKey, int64_t j, int64_t i,
               int64_t D, int64_t Dv) {
  const double x = isKey ? double(head.keys[keyOffset(j, i, D)])
                         : double(head.values[j * Dv + i]);
  if constexpr (kScaled<KT>)
    return x * double(isKey ? head.keyScales[j] : head.valueScales[j]);
  return x;
}

template <typename KT>
void reference(const AttentionRows &rows, const KvHead<KT> &head, int64_t D,
               int64_t Dv, float scale) {
  const double cap = double(rows.softcap);
  for (int64_t r = 0; r < rows.count; ++r) {
    const int64_t T = rows.T[r], first = firstKey(rows, r);
    std::vector<double> s(size_t(T), 0.0);
    double mx = -INFINITY;
    for (int64_t j = first; j < T; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < D; ++d)
        dot += double(rows.q[r][d]) * element(head, true, j, d, D, Dv);
      s[size_t(j)] = dot * double(scale);
      if (cap > 0) // the soft cap, before the max and the exponentials
        s[size_t(j)] = cap * std::tanh(s[size_t(j)] / cap);
      mx = std::max(mx, s[size_t(j)]);
    }
    double sum = 0;
    for (int64_t j = first; j < T; ++j)
      sum += (s[size_t(j)] = std::exp(s[size_t(j)] - mx));
    for (int64_t c = 0; c < Dv; ++c) {
      double o = 0;
      for (int64_t j = first; j < T; ++j)
        o += s[size_t(j)] * element(head, false, j, c, D, Dv);
      rows.o[r][c] = float(o / sum);
    }
  }
}

} // namespace

int64_t attentionScratchFloats(const AttentionRows &rows) {
  const int64_t B = (maxT(rows, 0, rows.count) + kKeyBlock - 1) / kKeyBlock;
  return rows.count * (B * kKeyBlock + 1);
}

// The entry points of Attention.h for each element type.
#define LLMC_ATTEND_ENTRY(KT)                                                  \
  void storeKeyValue(const KvHead<KT> &head, int64_t pos, const float *k,      \
                     int64_t D, const float *v, int64_t Dv) {                  \
    storeKeyValueT(head, pos, k, D, v, Dv);                                    \
  }                                                                            \
  void attendKvHead(const AttentionRows &rows, const KvHead<KT> &head,         \
                    int64_t D, int64_t Dv, float scale, float *scratch,        \
                    IsaTier tier) {                                            \
    dispatch(rows, head, D, Dv, scale, scratch, tier);                         \
  }                                                                            \
  void referenceAttendKvHead(const AttentionRows &rows,                        \
                             const KvHead<KT> &head, int64_t D, int64_t Dv,    \
                             float scale) {                                    \
    reference(rows, head, D, Dv, scale);                                       \
  }
LLMC_ATTEND_ENTRY(float)
LLMC_ATTEND_ENTRY(_Float16)
LLMC_ATTEND_ENTRY(int8_t)
#undef LLMC_ATTEND_ENTRY

} // namespace runtime
} // namespace llmc
