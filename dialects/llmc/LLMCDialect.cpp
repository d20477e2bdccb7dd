//===- LLMCDialect.cpp - llmc dialect -------------------------------------===//

#include "llmc/LLMCDialect.h"
#include "llmc/LLMCAttrs.h"
#include "llmc/LLMCOps.h"
#include "llmc/LLMCTypes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace llmc;

#include "llmc/LLMCDialect.cpp.inc"

namespace {
/// Prints `#llmc.quant` and `#llmc.target` through aliases (`#quant`,
/// `#target`) so that long qweight types stay readable.
struct LLMCOpAsmInterface : public OpAsmDialectInterface {
  using OpAsmDialectInterface::OpAsmDialectInterface;
  AliasResult getAlias(Attribute attr, raw_ostream &os) const override {
    if (isa<QuantAttr>(attr)) {
      os << "quant";
      return AliasResult::OverridableAlias;
    }
    if (isa<TargetAttr>(attr)) {
      os << "target";
      return AliasResult::OverridableAlias;
    }
    return AliasResult::NoAlias;
  }
};
} // namespace

void LLMCDialect::initialize() {
  registerAttributes();
  registerTypes();
  addInterfaces<LLMCOpAsmInterface>();
  addOperations<
#define GET_OP_LIST
#include "llmc/LLMCOps.cpp.inc"
      >();
}

Operation *LLMCDialect::materializeConstant(OpBuilder &builder,
                                            Attribute value, Type type,
                                            Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type ||
      !isa<RankedTensorType>(type))
    return nullptr;
  return builder.create<ConstantOp>(loc, type, elements);
}

LogicalResult LLMCDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attr) {
  if (attr.getName() == getTargetAttrName()) {
    if (!isa<TargetAttr>(attr.getValue()))
      return op->emitError() << "'" << getTargetAttrName()
                             << "' must be a #llmc.target attribute, got "
                             << attr.getValue();
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << getTargetAttrName()
                             << "' may only be attached to a builtin.module";
  }
  return success();
}
