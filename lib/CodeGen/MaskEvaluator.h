//===- MaskEvaluator.h - Attention masks at concrete sizes ------*- C++ -*-===//
//
// Exporters build an attention's mask from shapes and the attention_mask
// input: ranges of positions, comparisons, where/add of 0 and a very
// negative number, broadcasts, slices of registered constant buffers. Its
// meaning (causal? a sliding window? a bias?) is a function of the call's
// sizes, which CodeGen only knows symbolically. The evaluator computes the
// expression on host tensors for one concrete call (past length P, S new
// tokens) so that the mask's meaning can be checked, not guessed from its
// structure (AttentionMaskCheck.h). Each op is computed by the llmc op
// semantics of lib/OpEval; this file supplies what the function's values
// are at that call: the shapes, and attention_mask (all ones).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_CODEGEN_MASKEVALUATOR_H
#define LLMC_LIB_CODEGEN_MASKEVALUATOR_H

#include "llmc/OpEval/RefTensor.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>

namespace llmc::codegen {

/// What a dimension's run-time size is.
enum class RunSize : uint8_t {
  Static, ///< `value`
  Batch,  ///< 1: the runtime runs one sequence
  Tokens, ///< S, the tokens of this call
  Past,   ///< P, the tokens already in the KV cache
  Total,  ///< P + S
};

struct RunDim {
  RunSize size = RunSize::Static;
  int64_t value = 1;
};
using RunShape = llvm::SmallVector<RunDim, 4>;

/// The sizes of one runtime call.
struct CallSizes {
  int64_t past = 0;
  int64_t tokens = 1;
};

/// Evaluates a side-effect-free llmc tensor expression for one call.
/// `shapes` gives the run-time shapes of the values the expression reads
/// but does not compute: function arguments (which evaluate to all ones:
/// the attention_mask of one unpadded sequence) and the operands of its
/// shape_of ops. Ops over weights, activations or anything not listed fail
/// with an error naming the op.
class MaskEvaluator {
public:
  MaskEvaluator(const llvm::DenseMap<mlir::Value, RunShape> &shapes,
                CallSizes sizes)
      : shapes_(shapes), sizes_(sizes) {}

  llvm::Expected<const ref::RefTensor *> evaluate(mlir::Value v);

  /// The concrete dims of `shape` at this call's sizes.
  llvm::SmallVector<int64_t, 4> concrete(const RunShape &shape) const;

private:
  /// Evaluates the op defining `v` (all its results).
  llvm::Error compute(mlir::Value v);

  const llvm::DenseMap<mlir::Value, RunShape> &shapes_;
  CallSizes sizes_;
  /// Evaluated values (held by pointer: evaluating one value adds others).
  llvm::DenseMap<mlir::Value, std::unique_ptr<ref::RefTensor>> memo_;
};

} // namespace llmc::codegen

#endif
