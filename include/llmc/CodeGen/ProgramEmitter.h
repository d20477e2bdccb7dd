//===- ProgramEmitter.h - ProgramPlan -> object code ------------*- C++ -*-===//
#ifndef LLMC_CODEGEN_PROGRAMEMITTER_H
#define LLMC_CODEGEN_PROGRAMEMITTER_H

#include "llmc/CodeGen/Plan.h"
#include "llmc/Target/Target.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace llmc::codegen {

struct ProgramCode {
  std::vector<uint8_t> object; ///< ELF relocatable, x86-64
  std::string mlir;            ///< the generated MLIR before lowering (keepIR)
  std::string llvmIR;          ///< the optimized LLVM IR (keepIR)
};

struct EmitOptions {
  /// LLVM optimization of the program (-O0 .. -O3): the level of LLVM's
  /// default module pipeline and of instruction selection / scheduling
  /// (0: the O0 pipeline and fast instruction selection).
  unsigned optLevel = 3;
  /// Keep the generated MLIR and the optimized LLVM IR (ProgramCode).
  bool keepIR = false;
};

/// Generate the program's entry points (ProgramABI.h) for `target`: MLIR (scf,
/// arith, math, llvm) -> LLVM dialect -> LLVM IR -> LLVM's pipeline at
/// `options.optLevel` for the target's features -> object code.
llvm::Expected<ProgramCode> emitProgram(const ProgramPlan &plan,
                                        const TargetDesc &target,
                                        const EmitOptions &options = {});

} // namespace llmc::codegen

#endif
