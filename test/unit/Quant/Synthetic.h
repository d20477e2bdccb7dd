//===- Synthetic.h - Synthetic linear layers for the quantizer tests -*- C++ -*-===//
//
// Layers whose input second moment H = X^T X is far from isotropic, the case
// GPTQ/AWQ/incoherence exist for: channels mixed from a low-rank latent (so
// strongly correlated), log-normal per-channel magnitudes, and a few outlier
// channels 20x larger than the rest. Weights are Gaussian, optionally with
// rare large entries (outlier-heavy weights, the case incoherence targets).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TEST_QUANT_SYNTHETIC_H
#define LLMC_TEST_QUANT_SYNTHETIC_H

#include "llmc/Quant/Hessian.h"
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace llmc {
namespace quant {
namespace test {

struct SyntheticLayer {
  int64_t N = 0, K = 0, M = 0;
  std::vector<float> W; // [N][K]
  std::vector<float> X; // [M][K]
  std::vector<double> H; // X^T X / M

  SyntheticLayer(int64_t N, int64_t K, int64_t M, uint32_t seed,
                 double weightOutlierRate = 0.0, int64_t outlierEvery = 37)
      : N(N), K(K), M(M), W(N * K), X(M * K) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    const int64_t r = std::max<int64_t>(4, K / 4);
    std::vector<double> A(r * K), scale(K);
    for (double &a : A)
      a = g(rng) / std::sqrt(double(r));
    for (int64_t k = 0; k < K; ++k)
      scale[k] = std::exp(0.5 * g(rng)) * (k % outlierEvery == 5 ? 20.0 : 1.0);
    std::vector<double> z(r);
    for (int64_t m = 0; m < M; ++m) {
      for (double &v : z)
        v = g(rng);
      for (int64_t k = 0; k < K; ++k) {
        double x = 0.1 * g(rng);
        for (int64_t i = 0; i < r; ++i)
          x += z[i] * A[i * K + k];
        X[m * K + k] = float(x * scale[k]);
      }
    }
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (float &w : W) {
      double v = g(rng) / std::sqrt(double(K));
      if (u(rng) < weightOutlierRate)
        v *= 10.0;
      w = float(v);
    }
    CalibrationStats stats(K);
    stats.addBatch(X.data(), M);
    H = stats.hessian();
  }
};

/// Naive Gauss-Jordan inverse with partial pivoting: a reference that shares
/// nothing with the Cholesky-based routines under test.
inline std::vector<double> naiveInverse(std::vector<double> A, int64_t n) {
  std::vector<double> I(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    I[i * n + i] = 1;
  for (int64_t c = 0; c < n; ++c) {
    int64_t p = c;
    for (int64_t r = c + 1; r < n; ++r)
      if (std::fabs(A[r * n + c]) > std::fabs(A[p * n + c]))
        p = r;
    for (int64_t j = 0; j < n; ++j) {
      std::swap(A[c * n + j], A[p * n + j]);
      std::swap(I[c * n + j], I[p * n + j]);
    }
    double d = A[c * n + c];
    for (int64_t j = 0; j < n; ++j) {
      A[c * n + j] /= d;
      I[c * n + j] /= d;
    }
    for (int64_t r = 0; r < n; ++r) {
      if (r == c)
        continue;
      double f = A[r * n + c];
      for (int64_t j = 0; j < n; ++j) {
        A[r * n + j] -= f * A[c * n + j];
        I[r * n + j] -= f * I[c * n + j];
      }
    }
  }
  return I;
}

} // namespace test
} // namespace quant
} // namespace llmc

#endif
