//===- RefTensor.h - Tensors of the reference executor ----------*- C++ -*-===//
//
// A deliberately simple tensor: a shape, an element kind and the values as
// doubles. Every op's result is rounded to its element type (f32, f16, bf16,
// integer truncation, booleans as 0/1), so executing a graph op by op
// reproduces the precision of the model's dtype while every intermediate
// computation inside one op is done in double. Slow and obvious on purpose:
// it is the yardstick for the passes and kernels, never a fast path.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_OPEVAL_REFTENSOR_H
#define LLMC_OPEVAL_REFTENSOR_H

#include "mlir/IR/Types.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::ref {

enum class ElementKind { F64, F32, F16, BF16, Int, Bool };

/// The element kind of an MLIR element type; an error for others.
llvm::Expected<ElementKind> elementKindOf(mlir::Type type);
bool isFloat(ElementKind kind);

/// Round `v` to a value representable in `kind`.
double roundTo(ElementKind kind, double v);

struct RefTensor {
  std::vector<int64_t> shape;
  ElementKind kind = ElementKind::F32;
  std::vector<double> data;

  RefTensor() = default;
  RefTensor(std::vector<int64_t> shape, ElementKind kind);
  RefTensor(std::vector<int64_t> shape, ElementKind kind, std::vector<double> values);

  int64_t rank() const { return int64_t(shape.size()); }
  int64_t numel() const;
  /// Row-major strides.
  std::vector<int64_t> strides() const;
  void roundToKind();
  std::string shapeString() const;
};

/// numpy broadcasting of two shapes; an error naming both when they clash.
llvm::Expected<std::vector<int64_t>> broadcastShapes(llvm::ArrayRef<int64_t> a,
                                                     llvm::ArrayRef<int64_t> b);

/// Strides that read `shape` as if broadcast to `target` (0 on broadcast
/// dims); `shape` is right-aligned with `target`.
std::vector<int64_t> broadcastStrides(llvm::ArrayRef<int64_t> shape,
                                      llvm::ArrayRef<int64_t> target);

/// Calls f(linearOut, offsets...) for every element of `target`, where each
/// offset indexes one operand read with its broadcast strides.
template <typename F>
void forEachBroadcast(llvm::ArrayRef<int64_t> target,
                      llvm::ArrayRef<std::vector<int64_t>> operandStrides, F f) {
  const size_t rank = target.size();
  int64_t total = 1;
  for (int64_t d : target)
    total *= d;
  std::vector<int64_t> idx(rank, 0);
  std::vector<int64_t> off(operandStrides.size(), 0);
  for (int64_t linear = 0; linear < total; ++linear) {
    f(linear, off);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < target[d]) {
        for (size_t o = 0; o < off.size(); ++o)
          off[o] += operandStrides[o][d];
        break;
      }
      for (size_t o = 0; o < off.size(); ++o)
        off[o] -= operandStrides[o][d] * (target[d] - 1);
      idx[d] = 0;
    }
  }
}

} // namespace llmc::ref

#endif
