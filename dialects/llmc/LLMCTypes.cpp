//===- LLMCTypes.cpp - llmc types -----------------------------------------===//

#include "llmc/LLMCTypes.h"
#include "llmc/LLMCDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace llmc;

#define GET_TYPEDEF_CLASSES
#include "llmc/LLMCTypes.cpp.inc"

void LLMCDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "llmc/LLMCTypes.cpp.inc"
      >();
}

// !llmc.qweight<KxN, #llmc.quant<...>>
Type QWeightType::parse(AsmParser &parser) {
  SmallVector<int64_t, 2> dims;
  QuantAttr quant;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() ||
      parser.parseDimensionList(dims, /*allowDynamic=*/false,
                                /*withTrailingX=*/false))
    return {};
  if (dims.size() != 2) {
    parser.emitError(loc, "expected a 2-D shape KxN for !llmc.qweight");
    return {};
  }
  if (parser.parseComma() || parser.parseAttribute(quant) ||
      parser.parseGreater())
    return {};
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), dims[0], dims[1], quant);
}

void QWeightType::print(AsmPrinter &printer) const {
  printer << '<' << getK() << 'x' << getN() << ", ";
  printer.printAttribute(getQuant());
  printer << '>';
}

LogicalResult QWeightType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t k, int64_t n, QuantAttr quant) {
  if (k <= 0 || n <= 0)
    return emitError() << "qweight dims must be positive, got " << k << "x"
                       << n;
  if (!quant)
    return emitError() << "qweight requires a #llmc.quant";
  // K need not be a multiple of the group size: the last group of each
  // column is partial (stories260K's FFN has K = 172 with groups of 32).
  return success();
}
