//===- AttentionMaskCheck.h - Is an attention causal? -----------*- C++ -*-===//
//
// The generated program computes causal attention over the KV cache of one
// sequence; it never evaluates a mask operand. That is right only where the
// attention's mask, with the attention_mask input of one unpadded sequence
// (all ones: what the runtime has), lets query position q see exactly the
// keys 0..q, or the last W of them (a sliding window, which the program
// then computes). PlanBuilder records each attention's mask with the
// run-time shapes of what it reads; the check evaluates it (MaskEvaluator.h)
// at the sizes of the calls the runtime makes and compares it with that
// pattern, so a bias (ALiBi), another pattern or a bidirectional attention
// is an error rather than a silently different model.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_CODEGEN_ATTENTIONMASKCHECK_H
#define LLMC_LIB_CODEGEN_ATTENTIONMASKCHECK_H

#include "MaskEvaluator.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/ArrayRef.h"

namespace llmc::codegen {

/// One llmc.attention as the plan runs it.
struct AttentionMaskUse {
  mlir::Operation *attention = nullptr;
  /// The mask operand; null when there is none.
  mlir::Value mask;
  /// The op's own `causal` flag.
  bool causal = false;
  /// The plan's attention step it became (its `layer`).
  int32_t layer = -1;
  /// Run-time shapes of the function arguments and shape_of operands the
  /// mask reads (MaskEvaluator).
  llvm::DenseMap<mlir::Value, RunShape> shapes;
};

/// The calls at which masks are evaluated for a context of `maxContext`
/// tokens and at most `maxTokens` per call: the prefill chunks of a context
/// filled from empty (as many as fit a budget of 8M mask elements: all of a
/// 2048-token context at 128 tokens per call), single-token decode at 16
/// positions spread over the context up to its last, and a chunk that ends
/// the context. A mask that hides any key from the last position (a window
/// shorter than the context) is caught by the last decode call.
std::vector<CallSizes> maskCheckCalls(int64_t maxContext, int64_t maxTokens);

/// Checks that every use computes causal attention, possibly within a
/// sliding window, at every call of maskCheckCalls, and returns each use's
/// window (0: none). A boolean or integer mask must be nonzero exactly where
/// the key is visible, an additive one 0 there and at most -1e4 elsewhere
/// (exp underflows to 0 in fp32: the key gets no weight). The keys query
/// position q sees must be [q - W + 1, q] for one W at every call (W at
/// least the context: plain causal attention); keys after q may be left to
/// the op's `causal` flag.
llvm::Expected<std::vector<int64_t>>
checkCausalAttention(llvm::ArrayRef<AttentionMaskUse> uses, int64_t maxContext,
                     int64_t maxTokens);

} // namespace llmc::codegen

#endif
