//===- LLMCVerify.h - shape checking helpers for verifiers ------*- C++ -*-===//
//
// Internal helpers shared by the op verifiers. Every helper emits a precise
// op error (naming the operand and the dimension) and returns failure.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECT_LLMCVERIFY_H
#define LLMC_DIALECT_LLMCVERIFY_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

namespace llmc::detail {

/// Normalizes `axis` in [-rank, rank) to [0, rank); errors name `what`.
mlir::FailureOr<int64_t> normalizeAxis(mlir::Operation *op,
                                       llvm::StringRef what, int64_t axis,
                                       int64_t rank);

/// Requires `type` to have exactly `rank` dims.
mlir::LogicalResult checkRank(mlir::Operation *op, llvm::StringRef what,
                              mlir::ShapedType type, int64_t rank);
/// Requires `type` to have at least `rank` dims.
mlir::LogicalResult checkMinRank(mlir::Operation *op, llvm::StringRef what,
                                 mlir::ShapedType type, int64_t rank);

/// Requires two dims to be equal when both are static.
/// Message: "<aDesc> (<a>) must equal <bDesc> (<b>)".
mlir::LogicalResult checkSameDim(mlir::Operation *op, int64_t a,
                                 const llvm::Twine &aDesc, int64_t b,
                                 const llvm::Twine &bDesc);

/// Requires a dim to be 1 or equal to `b` (when static).
mlir::LogicalResult checkDimOneOr(mlir::Operation *op, int64_t a,
                                  const llvm::Twine &aDesc, int64_t b,
                                  const llvm::Twine &bDesc);

/// Requires `actual` to have rank expected.size() and dims compatible with
/// `expected` (kDynamic entries match anything).
mlir::LogicalResult checkShape(mlir::Operation *op, llvm::StringRef what,
                               mlir::ShapedType actual,
                               llvm::ArrayRef<int64_t> expected);

/// Numpy broadcast of `shapes`; kDynamic where unknown. Fails (with an
/// error naming the operands `names`) if two static dims conflict.
mlir::FailureOr<llvm::SmallVector<int64_t>>
broadcastShapes(mlir::Operation *op, llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes,
                llvm::ArrayRef<std::string> names);

/// Requires the element types of `a` and `b` to be equal.
mlir::LogicalResult checkSameElementType(mlir::Operation *op,
                                         llvm::StringRef aName, mlir::Type a,
                                         llvm::StringRef bName, mlir::Type b);

/// "'name' dim i" helper for messages.
std::string dimDesc(llvm::StringRef name, int64_t dim);

} // namespace llmc::detail

#endif // LLMC_DIALECT_LLMCVERIFY_H
