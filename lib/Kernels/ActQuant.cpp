//===- ActQuant.cpp - Activation quantization prologue ---------------------===//
//
// Same arithmetic as quantizeActivationGroup (Reference.cpp):
//   amax = max|x|, inv = 127 / amax, q = clamp(round_even(x * inv), -127, 127)
// where round_even(v) = (v + 1.5*2^23) - 1.5*2^23. Every step is one IEEE fp32
// operation in the same order, so the SIMD versions are bit-identical.
//
//===----------------------------------------------------------------------===//
#include "ActQuant.h"
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Reference.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <immintrin.h>

namespace llmc {
namespace kernels {

static float scalarGroup(const float *x, int64_t n, int64_t G, int8_t *dst,
                         int64_t chunkStride, int32_t *sum) {
  int8_t q[32];
  float amax = 0;
  for (int64_t i = 0; i < n; ++i)
    amax = std::max(amax, std::fabs(x[i]));
  const float inv = amax > 0 ? 127.0f / amax : 0.0f;
  int32_t s = 0;
  for (int64_t c = 0; c < G; c += 32) {
    const int64_t len = std::min<int64_t>(32, G - c); // 16-k groups: half a chunk
    for (int64_t i = 0; i < len; ++i) {
      int v = 0;
      if (c + i < n) {
        float r = (x[c + i] * inv + 12582912.0f) - 12582912.0f;
        v = std::clamp(int(r), -127, 127);
      }
      q[i] = int8_t(v);
      s += v;
    }
    std::memcpy(dst + (c / 32) * chunkStride, q, size_t(len));
  }
  *sum = s;
  return amax / 127.0f;
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static float
avx512Group(const float *x, int64_t n, int64_t G, int8_t *dst,
            int64_t chunkStride, int32_t *sum) {
  const __m512 absMask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  __m512 vmax = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    vmax = _mm512_max_ps(vmax, _mm512_and_ps(_mm512_loadu_ps(x + i), absMask));
  if (i < n) {
    __mmask16 k = __mmask16((1u << (n - i)) - 1);
    vmax = _mm512_max_ps(vmax, _mm512_and_ps(_mm512_maskz_loadu_ps(k, x + i), absMask));
  }
  const float amax = _mm512_reduce_max_ps(vmax);
  const float inv = amax > 0 ? 127.0f / amax : 0.0f;
  const __m512 vinv = _mm512_set1_ps(inv), magic = _mm512_set1_ps(12582912.0f);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  __m512i vsum = _mm512_setzero_si512();
  for (int64_t c = 0; c < G; c += 16) {
    int64_t left = n - c;
    __mmask16 k = left >= 16 ? __mmask16(0xffff)
                  : left <= 0 ? __mmask16(0)
                              : __mmask16((1u << left) - 1);
    __m512 v = _mm512_maskz_loadu_ps(k, x + c);
    // Separate mul and add (not fma): the reference rounds twice.
    __m512 r = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(v, vinv), magic), magic);
    __m512i qi = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvttps_epi32(r), lo), hi);
    vsum = _mm512_add_epi32(vsum, qi);
    int8_t *d = dst + (c / 32) * chunkStride + (c % 32);
    _mm_storeu_si128(reinterpret_cast<__m128i *>(d), _mm512_cvtsepi32_epi8(qi));
  }
  *sum = _mm512_reduce_add_epi32(vsum);
  return amax / 127.0f;
}

__attribute__((target("avx2,fma"))) static float
avx2Group(const float *x, int64_t n, int64_t G, int8_t *dst,
          int64_t chunkStride, int32_t *sum) {
  if (n % 8 != 0) // ragged tail: keep the code simple, use the reference
    return scalarGroup(x, n, G, dst, chunkStride, sum);
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps();
  for (int64_t i = 0; i < n; i += 8)
    vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(x + i), absMask));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
  const float amax = _mm_cvtss_f32(m4);
  const float inv = amax > 0 ? 127.0f / amax : 0.0f;
  const __m256 vinv = _mm256_set1_ps(inv), magic = _mm256_set1_ps(12582912.0f);
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
  __m256i vsum = _mm256_setzero_si256();
  for (int64_t c = 0; c < G; c += 8) {
    __m256i qi = _mm256_setzero_si256();
    if (c < n) {
      __m256 v = _mm256_loadu_ps(x + c);
      __m256 r = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(v, vinv), magic), magic);
      qi = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvttps_epi32(r), lo), hi);
    }
    vsum = _mm256_add_epi32(vsum, qi);
    // Narrow 8 x int32 (already in [-127, 127]) to 8 bytes.
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(qi), _mm256_extracti128_si256(qi, 1));
    __m128i b = _mm_packs_epi16(w, w);
    int8_t *d = dst + (c / 32) * chunkStride + (c % 32);
    _mm_storel_epi64(reinterpret_cast<__m128i *>(d), b);
  }
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(vsum), _mm256_extracti128_si256(vsum, 1));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
  s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
  *sum = _mm_cvtsi128_si32(s4);
  return amax / 127.0f;
}

float quantizeGroupChunked(IsaTier tier, const float *x, int64_t n, int64_t G,
                           int8_t *dst, int64_t chunkStride, int32_t *sum) {
  if (tier >= IsaTier::AVX512)
    return avx512Group(x, n, G, dst, chunkStride, sum);
  if (tier >= IsaTier::AVX2)
    return avx2Group(x, n, G, dst, chunkStride, sum);
  return scalarGroup(x, n, G, dst, chunkStride, sum);
}

static void scalarBf16(const float *x, int64_t n, int64_t G, uint16_t *dst,
                       int64_t chunkStride) {
  for (int64_t k = 0; k < G; ++k) {
    float v = k < n ? x[k] : 0.0f;
    if (std::fpclassify(v) == FP_SUBNORMAL)
      v = std::copysign(0.0f, v);
    dst[(k / 32) * chunkStride + k % 32] = fp32ToBf16(v);
  }
}

// x[k .. k+16) with lanes at or past n zero; subnormals (|v| < 2^-126, zero
// included) keep only their sign.
__attribute__((target("avx512f,avx512bw,avx512dq"))) static inline __m512
loadFlushed16(const float *x, int64_t n, int64_t k) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 tiny = _mm512_set1_ps(0x1p-126f); // smallest normal
  const int64_t left = std::clamp<int64_t>(n - k, 0, 16);
  __m512 v = _mm512_maskz_loadu_ps(__mmask16((1u << left) - 1), x + k);
  __mmask16 sub = _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, v), tiny, _CMP_LT_OQ);
  return _mm512_mask_and_ps(v, sub, v, sign);
}

__attribute__((target("avx512f,avx512bw,avx512dq,avx512bf16"))) static void
avx512Bf16(const float *x, int64_t n, int64_t G, uint16_t *dst,
           int64_t chunkStride) {
  for (int64_t c = 0; c < G; c += 32) {
    // Elements of the second operand fill the low half of the result.
    __m512bh r = _mm512_cvtne2ps_pbh(loadFlushed16(x, n, c + 16),
                                     loadFlushed16(x, n, c));
    _mm512_storeu_si512(dst + (c / 32) * chunkStride, (__m512i)r);
  }
}

void stageBf16Chunked(bool avx512bf16, const float *x, int64_t n, int64_t G,
                      uint16_t *dst, int64_t chunkStride) {
  if (avx512bf16)
    avx512Bf16(x, n, G, dst, chunkStride);
  else
    scalarBf16(x, n, G, dst, chunkStride);
}

float quantizeGroupStatic(const float *x, int64_t n, int64_t G, float s,
                          int8_t *dst, int64_t chunkStride, int32_t *sum) {
  const float inv = 1.0f / s;
  int32_t total = 0;
  for (int64_t k = 0; k < G; ++k) {
    int v = 0;
    if (k < n) {
      float r = std::nearbyint(x[k] * inv);
      v = int(std::clamp(r, -127.0f, 127.0f));
    }
    dst[(k / 32) * chunkStride + k % 32] = int8_t(v);
    total += v;
  }
  *sum = total;
  return s;
}

} // namespace kernels
} // namespace llmc
