//===- LLMCDialect.h - llmc dialect -----------------------------*- C++ -*-===//
//
// The `llmc` dialect class (llmc::LLMCDialect).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECT_LLMCDIALECT_H
#define LLMC_DIALECT_LLMCDIALECT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Dialect.h"

#include "llmc/LLMCDialect.h.inc"

#endif // LLMC_DIALECT_LLMCDIALECT_H
