//===- LLMCTraits.h - llmc op traits and shared verifiers -------*- C++ -*-===//
//
// Op traits used in the ODS definitions and the verification helpers they
// share (implemented in LLMCVerify.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECT_LLMCTRAITS_H
#define LLMC_DIALECT_LLMCTRAITS_H

#include "mlir/IR/OpDefinition.h"

namespace llmc::detail {
/// Checks that all operands broadcast numpy-style to the (single) result
/// shape: rank = max operand rank, compatible dims.
mlir::LogicalResult verifyBroadcastShapes(mlir::Operation *op);
/// Checks `axes`/`keepdims` of a reduction against operand/result shapes.
mlir::LogicalResult verifyReduction(mlir::Operation *op,
                                    llvm::ArrayRef<int64_t> axes,
                                    bool keepdims);
} // namespace llmc::detail

namespace llmc::OpTrait {
/// Operands are broadcast numpy-style to the result shape.
template <typename ConcreteType>
class BroadcastShapes
    : public mlir::OpTrait::TraitBase<ConcreteType, BroadcastShapes> {
public:
  static mlir::LogicalResult verifyTrait(mlir::Operation *op) {
    return ::llmc::detail::verifyBroadcastShapes(op);
  }
};
} // namespace llmc::OpTrait

#endif // LLMC_DIALECT_LLMCTRAITS_H
