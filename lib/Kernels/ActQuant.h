//===- ActQuant.h - Activation staging for the microkernels (prologue) ----===//
//
// Quantizes one (row, group) of activations to int8 exactly as
// quantizeActivationGroup() does (bit-identical: same fp32 operations), and
// writes the codes straight into the kernels' chunk-major layout
// (32 codes per chunk, `chunkStride` bytes between chunks). SIMD versions are
// chosen by tier; the scalar one is the reference.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_KERNELS_ACTQUANT_H
#define LLMC_LIB_KERNELS_ACTQUANT_H

#include "llmc/Target/Target.h"
#include <cstdint>

namespace llmc {
namespace kernels {

/// x[0..n) (n <= G, the rest is zero padding; G 16 or a multiple of 32) -> dst
/// chunks; a 16-k group fills half a chunk, starting at dst.
/// Returns the scale, writes sum(q) to *sum.
float quantizeGroupChunked(IsaTier tier, const float *x, int64_t n, int64_t G,
                           int8_t *dst, int64_t chunkStride, int32_t *sum);

/// The same staging with a fixed scale s (static activation quantization):
/// q = clamp(round_even(x / s), -127, 127); returns s, writes sum(q) to *sum.
float quantizeGroupStatic(const float *x, int64_t n, int64_t G, float s,
                          int8_t *dst, int64_t chunkStride, int32_t *sum);

/// The bf16 path's staging: x[0..n) (n <= G, G a multiple of 32, the rest
/// zero padding) rounded to bf16, to nearest even, into chunks of 32 elements
/// `chunkStride` elements apart. Subnormal inputs become signed zeros: the
/// dot product (vdpbf16ps) reads subnormal bf16 as zero anyway, and the
/// explicit flush makes both versions bit-identical. `avx512bf16`: the SIMD
/// version (vcvtne2ps2bf16; the host must have AVX512-BF16).
void stageBf16Chunked(bool avx512bf16, const float *x, int64_t n, int64_t G,
                      uint16_t *dst, int64_t chunkStride);

} // namespace kernels
} // namespace llmc

#endif
