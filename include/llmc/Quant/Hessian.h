//===- Hessian.h - Calibration statistics of one linear layer's input -*- C++ -*-===//
//
// For a linear layer y = W x, the expected output error of a weight
// perturbation dW over calibration inputs x_1..x_M is
//
//     sum_m ||dW x_m||^2 = tr(dW H dW^T),    H = sum_m x_m x_m^T = X^T X,
//
// which is (up to the factor 2/M of OPTQ/GPTQ, Frantar et al. 2022) the
// Hessian of the layer-wise reconstruction loss. AWQ (Lin et al. 2023) uses
// the per-input-channel mean |x_k| instead. Both are accumulated here in fp64
// from batches of rows X[M][K], so calibration can stream token chunks. A
// merged projection (QKV, gate/up) reads one input, so it shares one
// accumulator: the statistics belong to the *input value*, not to a weight.
//
// Paired statistics (addPairedBatch) are of a quantized model's inputs x_m
// observed beside the fp32 model's inputs r_m to the same matmul at the same
// tokens: H = sum x x^T as above, plus the cross moment C = sum r x^T. They
// let the quantizer aim at the fp32 model's outputs W r rather than at W x
// (OutputMatching.h).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_HESSIAN_H
#define LLMC_QUANT_HESSIAN_H

#include <cstdint>
#include <vector>

namespace llmc {
namespace quant {

class CalibrationStats {
public:
  explicit CalibrationStats(int64_t K);

  /// Adds rows X[m][k] = X[m * ldx + k], m < M (ldx = 0 means K).
  void addBatch(const float *X, int64_t M, int64_t ldx = 0);

  int64_t inputSize() const { return K; }
  int64_t numRows() const { return rows; }
  /// X^T X summed over all rows seen (full symmetric K x K, row-major).
  std::vector<double> sumOuter() const;
  /// X^T X / M (the mean second moment; zero when no rows were added).
  std::vector<double> hessian() const;
  /// Mean |x_k| over all rows (AWQ's activation scale s_X).
  std::vector<double> meanAbs() const;
  /// Mean x_k over all rows (mu).
  std::vector<double> mean() const;
  /// hessian() - mu mu^T: the second moment of x - mu. With a free output
  /// bias b = dW mu the expected error is tr(dW Cov dW^T) (bias correction).
  std::vector<double> covariance() const;

  /// Adds rows X[m] as addBatch and, with them, the rows R[m] the reference
  /// (fp32) model gave the same matmul at the same tokens: C += R^T X.
  void addPairedBatch(const float *X, const float *R, int64_t M, int64_t ldx = 0,
                      int64_t ldr = 0);
  /// True when every row came with its reference row (paired batches only).
  bool hasReference() const { return pairedRows > 0 && pairedRows == rows; }
  int64_t numPairedRows() const { return pairedRows; }
  /// sum_m r_m x_m^T (full K x K, row-major: [i][j] = sum r_i x_j).
  const std::vector<double> &crossMoment() const { return cross; }

private:
  /// addBatch of rows already widened to fp64 (x[m * K + k]).
  void addWidened(const std::vector<double> &x, int64_t M);

  int64_t K;
  int64_t rows = 0;
  std::vector<double> upper; // upper triangle of X^T X, row-major K x K
  std::vector<double> absSum;
  std::vector<double> sum;
  int64_t pairedRows = 0;
  std::vector<double> cross; // K x K once paired rows are added
};

} // namespace quant
} // namespace llmc

#endif
