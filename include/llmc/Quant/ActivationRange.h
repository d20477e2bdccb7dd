//===- ActivationRange.h - Calibrated range of one matmul input -*- C++ -*-===//
//
// Static ("full integer") activation quantization needs, per tensor, the
// range r that the int8 grid s = r / 127 should cover. Min/max takes the
// largest |x| seen; a percentile (TFLite's and TensorRT's alternative) clips
// the rare outliers that would otherwise waste most of the grid. |x| is
// counted in a log-spaced histogram (32 bins per octave, 2^-40 .. 2^40:
// percentiles within 2.2% relative), so calibration streams any number of
// rows in fixed memory.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_ACTIVATIONRANGE_H
#define LLMC_QUANT_ACTIVATIONRANGE_H

#include <cstdint>
#include <vector>

namespace llmc {
namespace quant {

class ActivationRange {
public:
  ActivationRange();
  /// Adds rows X[m * ldx + k], m < M, k < K.
  void addBatch(const float *X, int64_t M, int64_t K, int64_t ldx);
  uint64_t count() const { return n; }
  float maxAbs() const { return mx; }
  /// The p-th percentile of |x| (0 < p <= 100): the upper edge of the bin
  /// where the cumulative count reaches p%, never above maxAbs().
  float percentile(double p) const;

private:
  static constexpr int kBinsPerOctave = 32, kMinExp = -40, kMaxExp = 40;
  std::vector<uint64_t> hist;
  uint64_t n = 0, zeros = 0;
  float mx = 0;
};

} // namespace quant
} // namespace llmc

#endif
