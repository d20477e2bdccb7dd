//===- OutputMatching.h - Aim a layer's rounding at the fp32 outputs -*- C++ -*-===//
//
// GPTQ rounds W to minimize tr(dW H dW^T) = sum_m ||(W - Q) x_m||^2 over the
// calibration inputs x_m of the model it quantizes. Once the layers before
// it are quantized, x_m differs from the fp32 model's input r_m at the same
// token, and what matters is the distance to the fp32 *outputs* W r_m.
// Over the rows seen (GPTAQ, Li et al. 2025):
//
//   W* = argmin_V sum_m ||W r_m - V x_m||^2 = W C H^-1,
//        C = sum_m r_m x_m^T,  H = sum_m x_m x_m^T,
//
// and since the residual W r_m - W* x_m is orthogonal to every V x_m (the
// normal equations), for any Q
//
//   sum_m ||W r_m - Q x_m||^2 = sum_m ||W r_m - W* x_m||^2 + tr((W* - Q) H (W* - Q)^T),
//
// so GPTQ (or LDLQ) of W* against H rounds for the fp32 outputs. The fit is
// regularized toward W, argmin_V sum ||W r - V x||^2 + d ||V - W||^2:
//
//   W* = W (C + d I) (H + d I)^-1,
//
// with d a fraction of H's mean diagonal: W* stays near W in the directions
// the inputs do not determine, and W* = W when x = r. The default fraction,
// 0.1, ten times GPTQ's damping, measured best of 0.01 / 0.1 / 0.3 / 1 for
// 2-bit stories260K (docs/QUANTIZATION.md); at 4 bits the choice moved the
// result less than the run-to-run spread of the rounding.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_OUTPUTMATCHING_H
#define LLMC_QUANT_OUTPUTMATCHING_H

#include "llmc/Quant/Hessian.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <vector>

namespace llmc {
namespace quant {

/// W* = W (C + d I) (H + d I)^-1 for W[N][K] (row-major) from paired
/// statistics (stats.hasReference()); d = dampPercent * mean diag(H), raised
/// tenfold until H + d I factors.
llvm::Expected<std::vector<float>>
matchReferenceOutputs(const float *W, int64_t N, int64_t K,
                      const CalibrationStats &stats, double dampPercent = 0.1);

} // namespace quant
} // namespace llmc

#endif
