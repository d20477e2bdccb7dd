//===- LinearAlgebra.h - Small dense SPD linear algebra -*- C++ -*-===//
//
// Just what the quantizers need, written plainly in double: Cholesky of a
// symmetric positive definite matrix, inverse of a lower-triangular matrix,
// and the upper Cholesky factor of an inverse (the matrix GPTQ propagates
// errors through). Matrices are dense, row-major, n x n, in std::vector<double>.
// Every routine is O(n^3) with unit-stride inner loops; LLVM has no such
// helpers, and the sizes are those of one layer's input (K up to ~16k).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_LINEARALGEBRA_H
#define LLMC_QUANT_LINEARALGEBRA_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <vector>

namespace llmc {
namespace quant {

/// sum_i a[i] b[i] (eight partial sums; vectorized for the host's ISA).
double dot(const double *a, const double *b, int64_t n);
/// y[i] += a x[i] (vectorized for the host's ISA).
void axpy(double *y, double a, const double *x, int64_t n);

/// sum_n d_n^T H d_n over n < N for symmetric H (K x K), where row(n, d)
/// writes d_n (K doubles) into d; it is called from several threads at once.
/// This is tr(D H D^T), the proxy loss of a weight error D. Rows go in blocks
/// of 16 that share one pass over H (one row at a time would stream all of H
/// from memory per row: 970 MB at K = 11008), the blocks split among the
/// threads; per-block sums are added in block order, so the result does not
/// depend on the number of threads.
double sumQuadraticForms(const double *H, int64_t K, int64_t N,
                         llvm::function_ref<void(int64_t, double *)> row);

/// A = L L^T for symmetric positive definite A (only the lower triangle of A
/// is read). On success A holds L (strict upper triangle zeroed). Fails, naming
/// the pivot, when A is not (numerically) positive definite.
llvm::Error choleskyLower(std::vector<double> &A, int64_t n);

/// In place inverse of a nonsingular lower-triangular L (stays lower).
void invertLowerTriangular(std::vector<double> &L, int64_t n);

/// Solves L x = b (forward substitution), b overwritten by x.
void solveLower(const std::vector<double> &L, int64_t n, double *b);
/// Solves L^T x = b (back substitution with the transpose), b overwritten.
void solveLowerTransposed(const std::vector<double> &L, int64_t n, double *b);

/// A^-1 for SPD A, through A = L L^T: A^-1 = L^-T L^-1.
llvm::Expected<std::vector<double>> spdInverse(std::vector<double> A,
                                               int64_t n);

/// The upper-triangular U with A^-1 = U^T U (U = chol(A^-1)^T). Row i of U,
/// scaled by 1/U_ii, holds the OBS update direction for column i once the
/// columns before i are fixed, which is what GPTQ/OPTQ uses.
llvm::Expected<std::vector<double>> upperCholeskyOfInverse(std::vector<double> A,
                                                           int64_t n);

/// C = A B for n x n matrices (reference helper for tests and small sizes).
std::vector<double> matmul(const std::vector<double> &A,
                           const std::vector<double> &B, int64_t n);

} // namespace quant
} // namespace llmc

#endif
