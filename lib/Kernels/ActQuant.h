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

} // namespace kernels
} // namespace llmc

#endif
