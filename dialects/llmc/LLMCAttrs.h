//===- LLMCAttrs.h - llmc attributes and enums ------------------*- C++ -*-===//
//
// #llmc.target, #llmc.quant and the enum attributes (rope_convention,
// gelu_approximation).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECT_LLMCATTRS_H
#define LLMC_DIALECT_LLMCATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "llmc/LLMCEnums.h.inc"

namespace llmc::detail {
/// Parses the keyword `true` or `false` (bool attribute parameters).
mlir::FailureOr<bool> parseBoolParameter(mlir::AsmParser &parser);
} // namespace llmc::detail

#define GET_ATTRDEF_CLASSES
#include "llmc/LLMCAttrs.h.inc"

#endif // LLMC_DIALECT_LLMCATTRS_H
