//===- InitAll.cpp - Register llmc's dialects and passes --------------------===//

#include "llmc/InitAll.h"

#include "llmc/LLMCDialect.h"
#include "llmc/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void llmc::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<LLMCDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect>();
}

void llmc::registerAllPasses() {
  // Upstream passes that llmc pipelines use and lit tests call directly.
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::registerSymbolDCEPass();
  // lib/Transforms: graph canonicalization and transformer fusion.
  registerTransformsPasses();
}
