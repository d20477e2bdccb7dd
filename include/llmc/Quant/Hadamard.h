//===- Hadamard.h - Randomized Hadamard incoherence processing -*- C++ -*-===//
//
// QuIP (Chee et al. 2023) observed that rounding is easiest when weights and
// Hessian are *incoherent* -- no entry much larger than the rest -- and made
// them so by multiplying with random orthogonal matrices; QuIP# (Tseng et al.
// 2024) replaced those with the randomized Hadamard transform
//
//     U = (1/sqrt(K)) * Had_K * diag(s),      s_k = +-1 at random,
//
// applied in O(K log K). Since U^T U = I, a linear layer is unchanged by
//
//     W' = W U^T,   x' = U x,   y = W' x' = W x,   H' = U H U^T,
//
// so one quantizes W' against H' (LDLQ = GPTQ in the rotated basis, GPTQ.h)
// and, at run time, rotates each activation vector before the matmul.
//
// Sizes. Had_K is the Sylvester matrix (fast Walsh-Hadamard transform) when K
// is a power of two. Otherwise we use a Kronecker product Had_h (x) Had_{2^m}
// with K = h * 2^m and Had_h a Paley Hadamard matrix built at run time:
// Paley I (order q + 1, q prime = 3 mod 4: 12, 20, 24, 44, ...) or Paley II
// (order 2(q + 1), q prime = 1 mod 4: 12, 28, 36, 60, ...). The smallest such
// h is chosen. We chose the Kronecker factor over zero padding because padding
// changes K, and with it the packed weight shape and the activation buffers.
// A size with no Hadamard factor (172 = 43 * 4, 11008 = 43 * 256) uses, as
// QuIP's original Kronecker construction does, a random orthogonal h x h
// factor for K's odd part h (drawn from the same seed; Gram-Schmidt on
// uniform entries): still orthogonal and incoherent, at h multiply-adds per
// element instead of log2 K additions. hadamardFactor() tells which it is.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_HADAMARD_H
#define LLMC_QUANT_HADAMARD_H

#include "llmc/Quant/GPTQ.h"
#include <cstdint>
#include <vector>

namespace llmc {
namespace quant {

/// In-place unnormalized fast Walsh-Hadamard transform of x[0..n), n a power
/// of two: x <- Had_n x with the Sylvester ordering (Had_n symmetric,
/// Had_n Had_n = n I).
void fwht(float *x, int64_t n);
void fwht(double *x, int64_t n);

/// A +-1 Hadamard matrix of order n (row-major n x n) for n a power of two or
/// a Paley order (see above); error otherwise.
llvm::Expected<std::vector<int8_t>> hadamardMatrix(int64_t n);

class RandomizedHadamard {
public:
  /// U for vectors of length K, signs drawn from std::mt19937_64(seed)
  /// (bit i of successive outputs), portable across platforms.
  static llvm::Expected<RandomizedHadamard> create(int64_t K, uint64_t seed);
  /// U from explicit signs (e.g. read back from a bundle); `factorSeed` draws
  /// the random orthogonal factor of sizes without a Hadamard factor.
  static llvm::Expected<RandomizedHadamard>
  fromSigns(std::vector<int8_t> signs, uint64_t factorSeed = 0);

  int64_t size() const { return K; }
  /// K = smallFactor() * 2^m; 1 when K is a power of two.
  int64_t smallFactor() const { return h; }
  /// False when the small factor is a random orthogonal matrix.
  bool hadamardFactor() const { return paley; }
  const std::vector<int8_t> &signs() const { return sign; }

  /// x <- U x (the activation transform, in place).
  void apply(float *x) const;
  void apply(double *x) const;
  /// x <- U^T x (inverse transform, in place).
  void applyInverse(float *x) const;
  void applyInverse(double *x) const;

  /// W' = W U^T for W[N][K]: every row w_n becomes U w_n.
  std::vector<float> rotateWeights(const float *W, int64_t N) const;
  /// H' = U H U^T for H[K][K].
  std::vector<double> rotateHessian(llvm::ArrayRef<double> H) const;

private:
  template <typename T> void forward(T *x) const;
  template <typename T> void inverse(T *x) const;
  template <typename T> void mixBlocks(T *x, bool transpose) const;
  int64_t K = 0, h = 1, pow2 = 1;
  bool paley = true;
  std::vector<int8_t> sign;
  /// The orthonormal h x h factor: Had_h / sqrt(h), or random orthogonal.
  std::vector<double> mix;
  std::vector<float> mixF;
};

struct IncoherentResult {
  /// Quantized W' = W U^T: apply `transform` to activations before the matmul.
  QuantizedWeights weights;
  RandomizedHadamard transform;
  double damp = 0;
};

/// Incoherence processing + LDLQ: rotate W and H with a randomized Hadamard
/// transform, then GPTQ (= LDLQ) in the rotated basis.
llvm::Expected<IncoherentResult>
quantizeIncoherent(const float *W, int64_t N, int64_t K,
                   llvm::ArrayRef<double> H, WeightFormat fmt,
                   const GPTQOptions &opts = {}, uint64_t seed = 0x5eed);

} // namespace quant
} // namespace llmc

#endif
