//===- ReferenceOps.h - Scalar implementations of llmc ops ------*- C++ -*-===//
#ifndef LLMC_TEST_LIB_REFERENCE_REFERENCEOPS_H
#define LLMC_TEST_LIB_REFERENCE_REFERENCEOPS_H

// The elementwise, reduction and shape ops (shared with CodeGen's mask
// check); this library adds the neural ops.
#include "llmc/OpEval/ElementwiseShapeOps.h"

namespace llmc::ref {

llvm::Error evalNeuralOp(mlir::Operation *op,
                         llvm::ArrayRef<const RefTensor *> operands,
                         std::vector<RefTensor> &results, bool &handled);

} // namespace llmc::ref

#endif
