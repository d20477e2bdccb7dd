//===- llmc-opt.cpp - MLIR optimizer driver with the llmc dialect ---------===//
//
// The lit tests' workhorse: parses IR, runs passes, prints IR. Registers the
// llmc dialect, the upstream dialects llmc's IR mixes with, and every llmc
// pass.
//
//===----------------------------------------------------------------------===//

#include "llmc/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  llmc::registerAllDialects(registry);
  llmc::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "llmc optimizer driver\n", registry));
}
