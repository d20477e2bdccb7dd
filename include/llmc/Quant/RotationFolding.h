//===- RotationFolding.h - Fold a residual-stream rotation into weights -*- C++ -*-===//
//
// QuaRot (Ashkboos et al. 2024), after SliceGPT's "computational invariance":
// in a pre-norm transformer the residual stream x is written only by the
// embedding and by linear layers added into it, and read only by RMSNorms
// (whose outputs feed linear layers) and by the next residual add. For an
// orthogonal Q (here U = quant::RandomizedHadamard of size d, x' = U x):
//
//   RMSNorm without weight commutes with U:  ||U x|| = ||x||, so
//       x' / rms(x') = U (x / rms(x));
//   the norm's weight gamma moves into the layer it feeds:
//       W (gamma .* n) = (W diag(gamma)) n;
//   a reader of the rotated stream undoes U in its weights:
//       W diag(gamma) n = (W diag(gamma) U^T) (U n);
//   a writer rotates what it adds:   x' + U (W_out z) = U (x + W_out z),
//       W_out <- U W_out (and a bias b <- U b);
//   the embedding table rotates each row:  e_t <- U e_t.
//
// Every function below is one of these rewrites of a row-major fp32 array
// (W[N][K], the kernel layout), computed in double and rounded once. Nothing
// changes at run time: the model computes the same function, and the weights
// that read the stream are incoherent (rotated) without any online transform.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_ROTATIONFOLDING_H
#define LLMC_QUANT_ROTATIONFOLDING_H

#include "llmc/Quant/Hadamard.h"

#include <cstdint>

namespace llmc {
namespace quant {

/// A[rows][K] <- A diag(scale) U^T, K = U.size(): every row a becomes
/// U (scale .* a). A reader of the rotated residual stream (scale = the
/// RMSNorm weight it folds, or null for none), or the embedding table
/// (rows are token vectors: e_t <- U e_t).
void rotateRows(float *A, int64_t rows, const RandomizedHadamard &U,
                const float *scale = nullptr);

/// A[N][cols] <- U A, N = U.size(): every column becomes U times it. A
/// writer into the residual stream (its outputs are the stream's channels).
void rotateColumns(float *A, int64_t cols, const RandomizedHadamard &U);

} // namespace quant
} // namespace llmc

#endif // LLMC_QUANT_ROTATIONFOLDING_H
