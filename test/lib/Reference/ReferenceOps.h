//===- ReferenceOps.h - Scalar implementations of llmc ops ------*- C++ -*-===//
#ifndef LLMC_TEST_LIB_REFERENCE_REFERENCEOPS_H
#define LLMC_TEST_LIB_REFERENCE_REFERENCEOPS_H

#include "RefTensor.h"

#include "mlir/IR/Operation.h"

namespace llmc::ref {

/// Evaluate one op from its operands' values. `results` receives one tensor
/// per op result, already rounded to the result element type.
llvm::Error evalElementwiseOrShapeOp(mlir::Operation *op,
                                     llvm::ArrayRef<const RefTensor *> operands,
                                     std::vector<RefTensor> &results, bool &handled);
llvm::Error evalNeuralOp(mlir::Operation *op,
                         llvm::ArrayRef<const RefTensor *> operands,
                         std::vector<RefTensor> &results, bool &handled);

/// Shared by both files: an error that names the op.
llvm::Error opError(mlir::Operation *op, const llvm::Twine &msg);

/// The static shape of result `i`, with dynamic dims taken from `fallback`
/// (same rank) where the type has `?`.
llvm::Expected<RefTensor> makeResult(mlir::Operation *op, unsigned i,
                                     std::vector<int64_t> shape);

} // namespace llmc::ref

#endif
