//===- RotationFolding.cpp - Fold a residual-stream rotation into weights -===//
#include "llmc/Quant/RotationFolding.h"

#include <vector>

namespace llmc {
namespace quant {

void rotateRows(float *A, int64_t rows, const RandomizedHadamard &U,
                const float *scale) {
  const int64_t K = U.size();
  std::vector<double> row(K);
  for (int64_t r = 0; r < rows; ++r) {
    float *a = A + r * K;
    for (int64_t k = 0; k < K; ++k)
      row[k] = scale ? double(a[k]) * double(scale[k]) : double(a[k]);
    U.apply(row.data());
    for (int64_t k = 0; k < K; ++k)
      a[k] = float(row[k]);
  }
}

void rotateColumns(float *A, int64_t cols, const RandomizedHadamard &U) {
  const int64_t N = U.size();
  std::vector<double> col(N);
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t n = 0; n < N; ++n)
      col[n] = A[n * cols + c];
    U.apply(col.data());
    for (int64_t n = 0; n < N; ++n)
      A[n * cols + c] = float(col[n]);
  }
}

} // namespace quant
} // namespace llmc
