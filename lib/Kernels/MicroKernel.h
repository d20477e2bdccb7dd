//===- MicroKernel.h - ABI between the matmul driver and its kernels ------===//
//
// A microkernel computes, for `mr` rows of activations and one packed panel of
// L output channels, over a run of `nGroups` weight groups:
//
//   y[m][0..L) (+)= T * sum_g  s_w[g][0..L) * s_x[m][g] * ( sum_k u[k][l] * x[m][k]
//                                                          + comp[m][g][l] )
//
// where T is the matrix's tensor scale for e4m4 scales (s_w relative to it;
// 1 otherwise), comp = -z * sum_k x (symmetric: z is the constant symZero() and the
// driver passes comp pre-multiplied; asymmetric: the driver passes -sum_k x and
// the kernel multiplies by the stored zero points). On the fp32 path s_x = 1.
//
// Activations are staged by the driver (the prologue) in a k-chunked layout so
// every row offset is an immediate in the generated code:
//   x     [Kp/32][M][32]   int8 (int8 path) or fp32 (fp32 path), zero padded
//   comp  [numGroups][M]   int32 (int8 path) or fp32
//   scale [numGroups][M]   fp32 (int8 path only)
// The kernel receives pointers already offset to its first group and row.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_KERNELS_MICROKERNEL_H
#define LLMC_LIB_KERNELS_MICROKERNEL_H

#include "llmc/Kernels/Matmul.h"
#include <cstdint>

namespace llmc {
namespace kernels {

/// Bytes per staged activation element on each path: int8, bf16 or fp32.
inline unsigned stagedActBytes(ActPath act) {
  return act == ActPath::Int8 ? 1 : act == ActPath::BF16 ? 2 : 4;
}

struct MicroKernelArgs {
  const void *x;         // chunk-major activations, first chunk, first row
  const void *comp;      // [group][M] compensation, first group, first row
  const float *xscale;   // [group][M] activation scales (int8 path)
  const uint8_t *w;      // panel codes at the first group
  const uint8_t *scales; // panel scales at the first group
  const uint8_t *zeros;  // panel zero points at the first group (asymmetric)
  float *y;              // output row 0; L floats are written per row
  int64_t xChunkStride;  // bytes between 32-k chunks of x (M * 32 * elem)
  int64_t groupStride;   // bytes between groups of comp/xscale (M * 4)
  int64_t ldy;           // bytes between output rows
  int64_t nGroups;       // groups to process (>= 1)
  int64_t chunksPerGroup;// 32-k chunks per group; 0: 16-k groups, taken in
                         // pairs (nGroups even, x at a chunk start)
  int64_t accumulate;    // nonzero: y += result
  int64_t wPanelStride;  // two-panel kernels: bytes from panel p's codes to
                         // panel p+1's (their outputs are y[.. L) and [L .. 2L))
  const float *tensorScale; // e4m4 scales: 2^scaleExponent, multiplied into
                            // the result before it is stored; else null
  int64_t scalePanelStride; // two-panel integer kernels: bytes from panel p's
  int64_t zeroPanelStride;  // scales / zero points to panel p+1's
};
static_assert(sizeof(MicroKernelArgs) == 17 * 8, "ABI read by generated code");

using MicroKernelFn = void (*)(const MicroKernelArgs *);

/// Generated code for `d`, or an error if the generator does not support it.
/// Generation is a few hundred microseconds; results are cached by the caller.
llvm::Expected<MicroKernelFn> generateMicroKernel(const MicroKernelDesc &d);

/// The portable C++ kernel (same ABI, any format, any tier's layout); the
/// scalar tier's implementation and the fallback for formats without JIT.
void genericMicroKernel(const MicroKernelDesc &d, unsigned lanes,
                        const MicroKernelArgs &a);

/// Whether the generator handles `d`, and the largest mr it can generate
/// (for `panels` panels per call).
unsigned jitMaxRows(IsaTier tier, WeightFormat fmt, ActPath act, bool avxVnni,
                    unsigned panels = 1);

} // namespace kernels
} // namespace llmc

#endif
