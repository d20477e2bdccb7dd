//===- MSEClip.h - Round-to-nearest with an MSE-optimal clipping search -*- C++ -*-===//
//
// Plain min/max scales waste code points on a group's few largest weights.
// Shrinking the range by a factor c < 1 (values beyond it clip to the end
// codes) trades a larger error on those few for a finer step on all others.
// Per (row, group) we try c on a grid from 1 down to `minShrink` and keep the
// factor with the least (optionally importance-weighted) squared error, as in
// the clipping search of GPTQ's reference quantizer (Frantar et al. 2022) and
// AWQ's auto-clip (Lin et al. 2023). c = 1 is always a candidate and wins ties,
// so the result is never worse than plain RTN on the measured error.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_MSECLIP_H
#define LLMC_QUANT_MSECLIP_H

#include "llmc/Quant/GroupQuantizer.h"

namespace llmc {
namespace quant {

/// Round-to-nearest quantization of W[N][K] with per-group clipping search.
/// With search.steps == 1 the result equals kernels::quantizeWeights.
/// Float formats (fp16/bf16/fp32) are rounded by kernels::quantizeWeights.
llvm::Expected<QuantizedWeights> quantizeWeightsMSE(const float *W, int64_t N,
                                                    int64_t K, WeightFormat fmt,
                                                    const ClipSearch &search);

/// The error measure the search minimises, for the whole matrix: the sum over
/// rows and groups of the per-group row errors (see ClipSearch).
double clipSearchError(const float *W, const QuantizedWeights &q,
                       const ClipSearch &search);

} // namespace quant
} // namespace llmc

#endif
