//===- PlanBuilder.h - Fused @main -> ProgramPlan (internal) ----*- C++ -*-===//
#ifndef LLMC_LIB_CODEGEN_PLANBUILDER_H
#define LLMC_LIB_CODEGEN_PLANBUILDER_H

#include "AttentionMaskCheck.h"
#include "LongRopeChoice.h"

#include "llmc/CodeGen/Compile.h"
#include "llmc/CodeGen/Plan.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Value.h"

#include <vector>

namespace llmc::codegen {

struct PlanResult {
  ProgramPlan plan;
  /// Per weight slot: the root of its compile-time weight expression.
  std::vector<mlir::Value> roots;
  /// Rows of the smallest learned position table (EmbedPositions), which
  /// bound the context; 0 without one.
  int64_t positionRows = 0;
  /// Every attention with its mask, for checkCausalAttention.
  std::vector<AttentionMaskUse> attentionMasks;
  /// Every rope_tables step with LongRoPE's two sets, for findLongAfter.
  std::vector<LongRopeChoice> longRopeChoices;
  /// The packed slots of the matmuls that compute an MoE step's router
  /// logits (CodeGen keeps them in fp32: see Compile.cpp).
  std::vector<int32_t> routerSlots;
};

llvm::Expected<PlanResult> buildPlan(mlir::ModuleOp module,
                                     const CompileOptions &options);

} // namespace llmc::codegen

#endif
