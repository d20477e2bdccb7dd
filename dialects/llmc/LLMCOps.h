//===- LLMCOps.h - llmc operations ------------------------------*- C++ -*-===//
//
// All llmc operations (graph ops and fused ops).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECT_LLMCOPS_H
#define LLMC_DIALECT_LLMCOPS_H

#include "llmc/LLMCAttrs.h"
#include "llmc/LLMCDialect.h"
#include "llmc/LLMCTraits.h"
#include "llmc/LLMCTypes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "llmc/LLMCOps.h.inc"

#endif // LLMC_DIALECT_LLMCOPS_H
