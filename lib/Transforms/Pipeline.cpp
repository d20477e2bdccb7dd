//===- Pipeline.cpp - The llmc-fuse-transformer pipeline and registration -===//

#include "llmc/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace llmc {
namespace {
#define GEN_PASS_REGISTRATION
#include "llmc/Transforms/Passes.h.inc"
} // namespace
} // namespace llmc

using namespace mlir;

void llmc::buildFuseTransformerPipeline(OpPassManager &pm,
                                        const FuseTransformerOptions &options) {
  OpPassManager &fn = pm.nest<func::FuncOp>();
  fn.addPass(createGraphCanonicalize());
  fn.addPass(createFuseNorms());
  fn.addPass(createFuseRope());
  fn.addPass(createFuseAttention());
  fn.addPass(createFuseMLP());
  if (options.mergeProjections)
    fn.addPass(createMergeProjections());
  fn.addPass(createFoldHeadLayout());
  if (options.lastPositionLogits)
    fn.addPass(createLastPositionLogits());
  fn.addPass(createGraphCanonicalize());
  fn.addPass(createCSEPass());
}

void llmc::registerTransformsPasses() {
  registerLLMCTransformsPasses();
  PassPipelineRegistration<FuseTransformerOptions>(
      "llmc-fuse-transformer",
      "Fuse an imported transformer graph: canonicalize, rms_norm/layer_norm, "
      "rope, attention, swiglu/gelu, merged projections, head layouts",
      buildFuseTransformerPipeline);
}
