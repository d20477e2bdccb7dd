//===- LongRopeChoice.h - When LongRoPE switches to its long set -*- C++ -*-===//
//
// An llmc.rope_cos_sin with a `use_long` operand (LongRoPE's caches chosen
// by an If; FuseRope's LongRopeTablesFromCaches) computes its tables with
// the long frequencies for the calls where that condition holds. The
// condition is an expression of shapes and the attention_mask input (ONNX
// Runtime GenAI: total_sequence_length > original_max_position_embeddings);
// the plan step needs it as one number, the total length after which the
// long set is used. findLongAfter evaluates the condition (MaskEvaluator) at
// every total length the context allows, and checks that it is such a
// switch: false up to some length L, true past it, and the same for a
// prefill chunk as for a decode step of the same total length.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_CODEGEN_LONGROPECHOICE_H
#define LLMC_LIB_CODEGEN_LONGROPECHOICE_H

#include "MaskEvaluator.h"

#include "mlir/IR/Operation.h"

namespace llmc::codegen {

struct LongRopeChoice {
  mlir::Operation *op = nullptr; ///< the llmc.rope_cos_sin
  mlir::Value useLong;
  /// Run-time shapes of the arguments and shape_of operands it reads.
  llvm::DenseMap<mlir::Value, RunShape> shapes;
  int32_t step = -1; ///< the plan's rope_tables step
};

/// L such that a call of total length T = P + S uses the long set exactly
/// when T > L (0: always; maxContext: never), for contexts up to
/// `maxContext` and calls of up to `maxTokens` tokens.
llvm::Expected<int64_t> findLongAfter(const LongRopeChoice &choice, int64_t maxContext,
                                      int64_t maxTokens);

} // namespace llmc::codegen

#endif
