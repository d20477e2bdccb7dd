//===- AWQ.h - Activation-aware weight quantization -*- C++ -*-===//
//
// AWQ (Lin et al. 2023): weights multiplying large activations matter most.
// Scaling input channel k of W up by s_k before quantization (and the
// activation down by s_k) shrinks their relative rounding error:
//
//     y = W x = (W diag(s)) (diag(s)^-1 x) ~= Q(W diag(s)) (x / s).
//
// The scale is s = s_X^alpha with s_X = mean |x| per channel (normalised by
// sqrt(max s_X * min s_X), as the reference code does), and alpha is chosen on
// a grid over [0, 1] to minimise the calibration output error
//
//     L(alpha) = sum_m || Q(W diag(s)) (x_m / s) - W x_m ||^2
//              = tr(dW H dW^T),  dW = Q(W diag(s)) diag(1/s) - W,  H = sum x x^T.
//
// alpha = 0 gives s = 1, i.e. plain RTN, so the search is never worse than RTN
// on L. Then AWQ's clipping search picks, per (row, group), the range shrink
// minimising the group's output error dw_g^T H'_gg dw_g (H' the scaled input's
// second moment); it is kept only if it lowers L, so the final L is never above
// RTN's either. The scales are folded into the preceding op offline -- an
// RMSNorm weight (gamma_k /= s_k) or the rows of a preceding linear layer --
// so the run-time layer is an ordinary quantized matmul.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_AWQ_H
#define LLMC_QUANT_AWQ_H

#include "llmc/Quant/GroupQuantizer.h"
#include "llmc/Quant/Hessian.h"

namespace llmc {
namespace quant {

struct AWQOptions {
  /// alpha_i = i / (gridSteps - 1), i = 0..gridSteps-1 (0 and 1 included).
  unsigned gridSteps = 20;
  /// Clipping search after the scale search (0 or 1 = off).
  unsigned clipSteps = 20;
  float minShrink = 0.5f;
  /// The searches score L on at most this many rows, evenly spaced (0: all).
  /// L costs O(N K^2) per grid point, 7B-sized layers would take minutes per
  /// point; a row sample estimates the same per-row mean error, which is all
  /// the choice of alpha and of clipping needs.
  int64_t searchRows = 1024;
};

struct AWQResult {
  /// Per-input-channel scales s_k (fold with foldScalesIntoNorm /
  /// foldScalesIntoPrecedingLinear; the weights below are already scaled).
  std::vector<float> scales;
  double alpha = 0;
  /// Quantized W diag(s).
  QuantizedWeights weights;
  /// L(alpha) for each grid point, L of the result, and L of plain RTN (over
  /// the searched rows: all of them when N <= searchRows).
  std::vector<double> lossPerAlpha;
  double loss = 0, rtnLoss = 0;
  bool clipped = false;
};

/// AWQ for W[N][K] given the calibration statistics of its input (for a merged
/// QKV or gate/up projection, pass the concatenated rows: one s per input).
llvm::Expected<AWQResult> awqQuantize(const float *W, int64_t N, int64_t K,
                                      const CalibrationStats &stats,
                                      WeightFormat fmt,
                                      const AWQOptions &opts = {});

/// W[:, k] *= s_k for W[N][K] in place.
void scaleWeightColumns(float *W, int64_t N, int64_t K, const float *s);
/// RMSNorm / LayerNorm weight gamma_k /= s_k (and bias b_k /= s_k if given).
void foldScalesIntoNorm(float *gamma, int64_t K, const float *s,
                        float *bias = nullptr);
/// Preceding linear layer P[K][Kin] (its output feeds this layer's input):
/// row k /= s_k (and bias b_k /= s_k if given).
void foldScalesIntoPrecedingLinear(float *P, int64_t K, int64_t Kin,
                                   const float *s, float *bias = nullptr);

} // namespace quant
} // namespace llmc

#endif
