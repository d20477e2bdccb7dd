//===- ReferenceExecutor.h - Scalar interpreter for llmc IR -----*- C++ -*-===//
//
// Runs a func.func made of llmc ops on concrete inputs, op by op, with the
// obvious scalar algorithm for each op (see RefTensor.h for the precision
// model). Tests run a module before and after a pass pipeline on the same
// inputs and compare, and compare either against PyTorch's outputs.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TEST_LIB_REFERENCE_REFERENCEEXECUTOR_H
#define LLMC_TEST_LIB_REFERENCE_REFERENCEEXECUTOR_H

#include "llmc/OpEval/RefTensor.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>

namespace llmc::ref {

class ReferenceExecutor {
public:
  /// `weightDir` resolves relative `llmc.weight` file names.
  explicit ReferenceExecutor(std::string weightDir = "");

  llvm::Expected<std::vector<RefTensor>> run(mlir::func::FuncOp fn,
                                             llvm::ArrayRef<RefTensor> args);

  /// Read the bytes an `llmc.weight` refers to as a tensor of `type`.
  llvm::Expected<RefTensor> loadWeight(llvm::StringRef file, int64_t offset,
                                       mlir::RankedTensorType type);

private:
  std::string weightDir_;
  llvm::StringMap<std::unique_ptr<llvm::MemoryBuffer>> files_;
};

/// Read a tensor's elements from raw little-endian bytes of `type`'s dtype.
llvm::Expected<RefTensor> tensorFromBytes(mlir::RankedTensorType type,
                                          llvm::ArrayRef<int64_t> shape,
                                          const uint8_t *bytes, size_t size);

} // namespace llmc::ref

#endif
