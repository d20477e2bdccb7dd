//===- GPTQ.h - OPTQ/GPTQ: quantization with second-order error feedback -*- C++ -*-===//
//
// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, "OPTQ") quantizes W[N][K]
// one input column at a time and, after rounding column j, spreads its error
// over the not-yet-quantized columns so as to minimise tr(dW H dW^T), with H
// the layer input's second moment (Hessian.h). With U the upper Cholesky
// factor of H^-1 (H^-1 = U^T U):
//
//     e   = (w_j - q_j) / U_jj                    (one value per output row)
//     w_l -= e * U_jl        for every l > j
//
// Updates are applied lazily in blocks of `blockSize` columns (the block's own
// columns immediately, the rest of the matrix once per block), which is the
// same arithmetic in a cache-friendly order. H is damped by
// lambda = dampPercent * mean(diag H) to be safely positive definite; a dead
// input (H_kk = 0: never non-zero in calibration) gets H_kk = 1 so its column
// is rounded to nearest with no error feedback. Unlike the reference code we
// do not zero dead columns: calibration may simply not have exercised them.
//
// Group parameters: a group's scale and zero point are chosen when its first
// column is reached, from the weights as updated so far (the reference
// behaviour). With act-order (columns visited by decreasing H_kk, the
// "desc_act" heuristic) groups would become scattered, so act-order implies
// *static groups*: every group's parameters are computed up front from the
// original weights in the original column order, which keeps the packed
// format (contiguous groups along K) unchanged. Output is plain
// QuantizedWeights in the original column order.
//
// LDLQ of QuIP (Chee et al. 2023) is this same procedure; Hadamard.h applies
// it in a randomly rotated basis.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_GPTQ_H
#define LLMC_QUANT_GPTQ_H

#include "llmc/Quant/GroupQuantizer.h"

namespace llmc {
namespace quant {

struct GPTQOptions {
  int64_t blockSize = 128;
  double dampPercent = 0.01;
  bool actOrder = false;
  /// Group parameters from the original weights (implied by actOrder).
  bool staticGroups = false;
  /// Clipping search for group parameters (1 = plain min/max), error
  /// weighted by diag(H) -- the diagonal part of the proxy loss.
  unsigned clipSteps = 1;
  float minShrink = 0.5f;
  /// Rounds of scale refitting (ScaleRefit.h): with the codes fixed, every
  /// row's group scales are set to the least-squares optimum under H, then
  /// the columns are rounded again with those scales as static groups; the
  /// result with the least proxy loss is kept. 0 = plain GPTQ.
  unsigned refitRounds = 0;
};

struct GPTQResult {
  QuantizedWeights weights;
  /// Order in which columns were quantized (identity without act-order).
  std::vector<int64_t> order;
  /// Damping actually added to diag(H) (grows if Cholesky needed more).
  double damp = 0;
  int64_t deadColumns = 0;
};

/// GPTQ of W[N][K] (row-major, PyTorch Linear layout) against H (K x K,
/// row-major, symmetric PSD, e.g. CalibrationStats::hessian()). Float formats
/// are just rounded (kernels::quantizeWeights).
llvm::Expected<GPTQResult> gptqQuantize(const float *W, int64_t N, int64_t K,
                                        llvm::ArrayRef<double> H,
                                        WeightFormat fmt,
                                        const GPTQOptions &opts = {});

/// Act-order: column indices sorted by H_kk descending (stable: ties keep
/// index order). Always a permutation of 0..K-1.
std::vector<int64_t> actOrderPermutation(llvm::ArrayRef<double> H, int64_t K);

} // namespace quant
} // namespace llmc

#endif
