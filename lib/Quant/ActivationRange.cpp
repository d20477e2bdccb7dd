//===- ActivationRange.cpp - Calibrated range of one matmul input ---------===//
#include "llmc/Quant/ActivationRange.h"

#include <algorithm>
#include <cmath>

namespace llmc {
namespace quant {

ActivationRange::ActivationRange()
    : hist(size_t((kMaxExp - kMinExp) * kBinsPerOctave), 0) {}

void ActivationRange::addBatch(const float *X, int64_t M, int64_t K, int64_t ldx) {
  const int64_t bins = int64_t(hist.size());
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      float a = std::fabs(X[m * ldx + k]);
      ++n;
      if (!(a > 0)) { // zero (or NaN: no range to cover)
        ++zeros;
        continue;
      }
      mx = std::max(mx, a);
      int64_t b = int64_t(std::floor((std::log2(a) - kMinExp) * kBinsPerOctave));
      ++hist[size_t(std::clamp<int64_t>(b, 0, bins - 1))];
    }
}

float ActivationRange::percentile(double p) const {
  if (n == 0 || mx == 0)
    return 0;
  const double target = std::min(1.0, p / 100.0) * double(n);
  double cum = double(zeros);
  for (size_t b = 0; b < hist.size(); ++b) {
    cum += double(hist[b]);
    if (cum >= target) {
      float edge = float(std::exp2(double(b + 1) / kBinsPerOctave + kMinExp));
      return std::min(edge, mx);
    }
  }
  return mx;
}

} // namespace quant
} // namespace llmc
