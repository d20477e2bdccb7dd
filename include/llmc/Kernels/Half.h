//===- Half.h - fp16 / bf16 <-> fp32 conversions (portable, exact) -*- C++ -*-===//
//
// Round-to-nearest-even conversions, bit-identical to F16C vcvtps2ph (imm 0) and
// to AVX512-BF16 vcvtneps2bf16 for finite values. Used by packing and by the
// scalar references, so that reference and JIT see the same rounded scales.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_HALF_H
#define LLMC_KERNELS_HALF_H

#include <cstdint>
#include <cstring>

namespace llmc {
namespace kernels {

inline uint32_t floatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t fp32ToFp16(float f) {
  uint32_t x = floatBits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) // inf / nan (keep nan quiet)
    return uint16_t(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
  if (ax >= 0x477ff000u) // >= 65520 rounds to inf
    return uint16_t(sign | 0x7c00u);
  if (ax < 0x38800000u) { // below 2^-14: fp16 subnormal or zero.
    // Adding 0.5 (ulp 2^-24 == fp16 subnormal ulp) makes the FPU round for us.
    float r = bitsFloat(ax) + 0.5f;
    return uint16_t(sign | (floatBits(r) - 0x3f000000u));
  }
  // Normal: rebias exponent (127 -> 15) and round the 13 dropped mantissa bits.
  ax += 0xfffu + ((ax >> 13) & 1u);
  return uint16_t(sign | ((ax - 0x38000000u) >> 13));
}

inline float fp16ToFp32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    float v = float(m) * (1.0f / 16777216.0f); // m * 2^-24
    return sign ? -v : v;
  }
  if (e == 31)
    return bitsFloat(sign | 0x7f800000u | (m << 13));
  return bitsFloat(sign | ((e + 112u) << 23) | (m << 13));
}

inline uint16_t fp32ToBf16(float f) {
  uint32_t x = floatBits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) // nan: keep it a quiet nan
    return uint16_t((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return uint16_t(x >> 16);
}
inline float bf16ToFp32(uint16_t b) { return bitsFloat(uint32_t(b) << 16); }

inline float roundToFp16(float f) { return fp16ToFp32(fp32ToFp16(f)); }
inline float roundToBf16(float f) { return bf16ToFp32(fp32ToBf16(f)); }

// e4m4: an unsigned 8-bit float, the group-scale dtype of the `e4m4` formats
// (WeightFormat.h). Byte c = [e:4][m:4] is the fp16 number with bits c << 6:
// 2^(e-15) (1 + m/16) for e >= 1, 2^-14 m/16 for e = 0 (so 0x00 is zero).
// Four mantissa bits put a scale within 1/32 of its value (f16: 1/2048);
// the 4-bit exponent spans 15 binades below kE4M4Max, relative to a
// per-matrix power of two (QuantizedWeights::scaleExponent). The kernels
// widen c to 16 bits, shift it by 6 and convert it with vcvtph2ps.
inline constexpr float kE4M4Max = 1.9375f; // c = 0xff
inline float e4m4ToFp32(uint8_t c) { return fp16ToFp32(uint16_t(c << 6)); }
/// The e4m4 byte nearest to v (ties to even); v <= 0 or NaN gives 0, v above
/// kE4M4Max saturates to it.
inline uint8_t fp32ToE4M4(float v) {
  if (!(v > 0))
    return 0;
  if (v >= kE4M4Max)
    return 0xff;
  if (v < 0x1p-14f) {
    // Subnormal: a multiple of 2^-18 (16 of them is 0x10, the smallest normal).
    float q = v * 0x1p18f;
    uint32_t n = uint32_t(q);
    float frac = q - float(n);
    if (frac > 0.5f || (frac == 0.5f && (n & 1u)))
      ++n;
    return uint8_t(n);
  }
  // Normal: round the fp32 mantissa to its top 4 bits (a carry moves to the
  // next binade, as it should); the result is exact in fp16.
  uint32_t x = floatBits(v);
  x += 0x3ffffu + ((x >> 19) & 1u);
  x &= ~0x7ffffu;
  float r = bitsFloat(x);
  if (r > kE4M4Max)
    return 0xff;
  return uint8_t(fp32ToFp16(r) >> 6);
}

} // namespace kernels
} // namespace llmc

#endif
