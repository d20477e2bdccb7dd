//===- InitAll.h - Register llmc's dialects and passes -----------*- C++ -*-===//
#ifndef LLMC_INITALL_H
#define LLMC_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace llmc {

/// The llmc dialect and the upstream dialects llmc IR is built from (func,
/// arith, tensor) or lowered through.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Every llmc pass and pass pipeline, for llmc-opt and the compiler driver.
void registerAllPasses();

} // namespace llmc

#endif // LLMC_INITALL_H
