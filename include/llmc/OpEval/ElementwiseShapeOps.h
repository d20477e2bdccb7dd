//===- ElementwiseShapeOps.h - llmc ops on host tensors ---------*- C++ -*-===//
//
// The obvious scalar algorithm for each elementwise, reduction and shape op
// of the llmc dialect (their definitions in LLMCOps.td, ONNX semantics), on
// RefTensor. Two users: the reference executor of the tests
// (test/lib/Reference adds the neural ops and runs whole functions), and
// CodeGen, which evaluates attention masks at concrete sizes to check what
// they mean (lib/CodeGen/MaskEvaluator.h).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_OPEVAL_ELEMENTWISESHAPEOPS_H
#define LLMC_OPEVAL_ELEMENTWISESHAPEOPS_H

#include "llmc/OpEval/RefTensor.h"

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/Operation.h"

namespace llmc::ref {

/// Evaluate one op from its operands' values. `results` receives one tensor
/// per op result, already rounded to the result element type; `handled` is
/// false (and nothing is computed) for ops outside this set.
llvm::Error evalElementwiseOrShapeOp(mlir::Operation *op,
                                     llvm::ArrayRef<const RefTensor *> operands,
                                     std::vector<RefTensor> &results, bool &handled);

/// An error that names the op and its location.
llvm::Error opError(mlir::Operation *op, const llvm::Twine &msg);

/// The most elements a tensor evaluated on the host may have (2^26: 512 MiB
/// of doubles).
inline constexpr int64_t kMaxHostElements = int64_t(1) << 26;

/// A zero tensor for result `i` of `op` with the computed `shape`, checked
/// against the result type's static dims and kMaxHostElements.
llvm::Expected<RefTensor> makeResult(mlir::Operation *op, unsigned i,
                                     std::vector<int64_t> shape);

/// The elements of a constant attribute (of `op`, for errors).
llvm::Expected<RefTensor> tensorFromAttr(mlir::Operation *op, mlir::ElementsAttr attr);

} // namespace llmc::ref

#endif
