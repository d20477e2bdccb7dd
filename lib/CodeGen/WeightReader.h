//===- WeightReader.h - Weight expressions evaluated at compile time -*- C++ -*-===//
//
// CodeGen writes each weight slot from its root, a weight expression over
// llmc.weight initializers (transposes, concats of merged projections,
// reshapes, casts, elementwise arithmetic with constants, llmc.dequantize of
// a pre-quantized weight). WeightReader evaluates one to fp32, reading the
// initializers' files once each (WeightFiles).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_CODEGEN_WEIGHTREADER_H
#define LLMC_LIB_CODEGEN_WEIGHTREADER_H

#include "llmc/CodeGen/PrequantizedWeights.h"
#include "llmc/LLMCOps.h"

#include "mlir/IR/Value.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::codegen {

/// A weight expression's value: fp32, row-major.
struct Dense {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

class WeightReader {
public:
  explicit WeightReader(std::string dir) : files_(std::move(dir)) {}

  /// The files the weights live in (also read by packPrequantizedWeight).
  WeightFiles &files() { return files_; }

  /// The value of weight expression `v`.
  llvm::Expected<Dense> eval(mlir::Value v);
  /// eval(v) transposed, for a 2-D v (a matmul's [K, N] weight as the
  /// kernels' [N, K]): Transpose{1, 0}(x) is x itself, a Concat along axis 1
  /// (merged QKV / gate-up) the Concat of its parts' transposes along axis 0,
  /// anything else the value transposed. The common weight, an [N, K]
  /// initializer that the graph reads through a Transpose, then costs no
  /// transpose at all instead of two.
  llvm::Expected<Dense> evalTransposed(mlir::Value v);

private:
  /// Elementwise arithmetic of two weight expressions, one of them possibly
  /// a single value (a constant scale or offset) broadcast over the other.
  llvm::Expected<Dense> arith(mlir::Operation *op);
  /// A pre-quantized weight's dequantized [N, K] (the kernels' orientation:
  /// the transpose of the [K, N] that llmc.dequantize stands for), exactly
  /// (code - zero point) * scale in fp32, as ONNX Runtime computes it.
  llvm::Expected<Dense> dequantizedNK(llmc::DequantizeOp d);
  llvm::Expected<Dense> load(llmc::WeightOp w);
  static Dense transpose(const Dense &in, llvm::ArrayRef<int64_t> perm);
  static Dense concat(const std::vector<Dense> &parts, int64_t axis);

  WeightFiles files_;
};

} // namespace llmc::codegen

#endif
