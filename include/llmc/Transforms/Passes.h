//===- Passes.h - llmc graph transformation passes ---------------*- C++ -*-===//
//
// The graph passes of lib/Transforms. Each pass is a greedy driver over the
// patterns of one populate...Patterns function; the functions are public so
// that other pipelines (and tests) can mix the pattern sets.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TRANSFORMS_PASSES_H
#define LLMC_TRANSFORMS_PASSES_H

#include "llmc/LLMCDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir {
class RewritePatternSet;
class OpPassManager;
} // namespace mlir

namespace llmc {

#define GEN_PASS_DECL
#include "llmc/Transforms/Passes.h.inc"

/// Canonicalizations of graph ops that the fusion patterns rely on (see
/// `llmc-graph-canonicalize`).
void populateGraphCanonicalizationPatterns(mlir::RewritePatternSet &patterns);
/// rms_norm and layer_norm.
void populateFuseNormPatterns(mlir::RewritePatternSet &patterns);
/// rope (both conventions) and rope_cos_sin.
void populateFuseRopePatterns(mlir::RewritePatternSet &patterns);
/// attention (GQA, KV cache, masks).
void populateFuseAttentionPatterns(mlir::RewritePatternSet &patterns);
/// swiglu, silu and gelu (erf and tanh forms).
void populateFuseMLPPatterns(mlir::RewritePatternSet &patterns);
/// Merged q/k/v and gate/up projections.
void populateMergeProjectionPatterns(mlir::RewritePatternSet &patterns);
/// Head split/merge layouts and mask plumbing folded into rope/attention.
void populateFoldHeadLayoutPatterns(mlir::RewritePatternSet &patterns);

/// Options of the `llmc-fuse-transformer` pipeline.
struct FuseTransformerOptions
    : public mlir::PassPipelineOptions<FuseTransformerOptions> {
  Option<bool> mergeProjections{
      *this, "merge-projections",
      llvm::cl::desc("Merge q/k/v and gate/up projections into one matmul"),
      llvm::cl::init(true)};
  Option<bool> lastPositionLogits{
      *this, "last-position-logits",
      llvm::cl::desc("Compute the lm_head for the last position only "
                     "(decode entry points; off for eval)"),
      llvm::cl::init(false)};
};

/// canonicalize · norms · rope · attention · MLP · merge projections ·
/// [last-position logits] · canonicalize · CSE, on every func.func of a
/// module.
void buildFuseTransformerPipeline(mlir::OpPassManager &pm,
                                  const FuseTransformerOptions &options);

/// Registers every llmc pass and the `llmc-fuse-transformer` pipeline.
void registerTransformsPasses();

} // namespace llmc

#endif // LLMC_TRANSFORMS_PASSES_H
