//===- LLMCTypes.h - llmc types ---------------------------------*- C++ -*-===//
//
// !llmc.qweight<KxN, #llmc.quant<...>>.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECT_LLMCTYPES_H
#define LLMC_DIALECT_LLMCTYPES_H

#include "llmc/LLMCAttrs.h"
#include "mlir/IR/Types.h"

#define GET_TYPEDEF_CLASSES
#include "llmc/LLMCTypes.h.inc"

#endif // LLMC_DIALECT_LLMCTYPES_H
