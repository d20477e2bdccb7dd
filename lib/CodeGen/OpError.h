//===- OpError.h - Errors that name an op (internal) ------------*- C++ -*-===//
#ifndef LLMC_LIB_CODEGEN_OPERROR_H
#define LLMC_LIB_CODEGEN_OPERROR_H

#include "mlir/IR/Operation.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace llmc::codegen {

/// "<location>: '<op name>': <msg>", the form of CodeGen's refusals.
inline llvm::Error opError(mlir::Operation *op, const llvm::Twine &msg) {
  std::string loc;
  llvm::raw_string_ostream os(loc);
  op->getLoc().print(os);
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s: '%s': %s",
                                 loc.c_str(), op->getName().getStringRef().str().c_str(),
                                 msg.str().c_str());
}

} // namespace llmc::codegen

#endif
