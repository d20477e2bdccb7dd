//===- TargetAttr.h - TargetDesc <-> #llmc.target ----------------*- C++ -*-===//
#ifndef LLMC_TARGET_TARGETATTR_H
#define LLMC_TARGET_TARGETATTR_H

#include "llmc/Target/Target.h"

#include "mlir/IR/Attributes.h"

namespace mlir {
class MLIRContext;
class ModuleOp;
} // namespace mlir

namespace llmc {

/// The module attribute name under which the target is stored.
constexpr llvm::StringLiteral kTargetAttrName = "llmc.target";

/// Build the `#llmc.target<...>` attribute describing `target`.
mlir::Attribute toTargetAttr(mlir::MLIRContext *ctx, const TargetDesc &target);

/// Read a `#llmc.target<...>` attribute back into a TargetDesc.
llvm::Expected<TargetDesc> fromTargetAttr(mlir::Attribute attr);

/// Print `#llmc.target<...>` for `target` as text.
std::string printTargetAttr(const TargetDesc &target);

} // namespace llmc

#endif // LLMC_TARGET_TARGETATTR_H
