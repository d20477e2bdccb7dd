//===- LLMCAttrs.cpp - llmc attributes ------------------------------------===//

#include "llmc/LLMCAttrs.h"
#include "llmc/LLMCDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace llmc;

#include "llmc/LLMCEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "llmc/LLMCAttrs.cpp.inc"

void LLMCDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "llmc/LLMCAttrs.cpp.inc"
      >();
}

FailureOr<bool> llmc::detail::parseBoolParameter(AsmParser &parser) {
  if (succeeded(parser.parseOptionalKeyword("true")))
    return true;
  if (succeeded(parser.parseOptionalKeyword("false")))
    return false;
  return parser.emitError(parser.getCurrentLocation(),
                          "expected 'true' or 'false'");
}

//===----------------------------------------------------------------------===//
// TargetAttr
//===----------------------------------------------------------------------===//

static constexpr llvm::StringLiteral kKnownFeatures[] = {
    "sse4.2",      "avx",         "avx2",        "fma",
    "f16c",        "avx512f",     "avx512bw",    "avx512vl",
    "avx512dq",    "avx512_vnni", "avx512_bf16", "avx512_fp16",
    "avx_vnni",    "amx_tile",    "amx_int8",    "amx_bf16"};

ArrayRef<llvm::StringLiteral> TargetAttr::getKnownFeatures() {
  return kKnownFeatures;
}

bool TargetAttr::hasFeature(StringRef feature) const {
  return llvm::any_of(getFeatures(), [&](Attribute a) {
    auto s = llvm::dyn_cast<StringAttr>(a);
    return s && s.getValue() == feature;
  });
}

TargetAttr TargetAttr::lookup(Operation *op) {
  for (; op; op = op->getParentOp())
    if (auto t = op->getAttrOfType<TargetAttr>(
            LLMCDialect::getTargetAttrName()))
      return t;
  return nullptr;
}

LogicalResult
TargetAttr::verify(function_ref<InFlightDiagnostic()> emitError, StringRef cpu,
                   ArrayAttr features, unsigned vectorBits, uint64_t l1d,
                   uint64_t l2, uint64_t l3, unsigned cores) {
  if (cpu.empty())
    return emitError() << "target cpu name must not be empty";
  if (vectorBits != 128 && vectorBits != 256 && vectorBits != 512)
    return emitError() << "target vector_bits must be 128, 256 or 512, got "
                       << vectorBits;
  llvm::StringSet<> seen;
  for (Attribute a : features) {
    auto s = llvm::dyn_cast<StringAttr>(a);
    if (!s)
      return emitError() << "target features must be strings, got " << a;
    if (!llvm::is_contained(kKnownFeatures, s.getValue()))
      return emitError() << "unknown target feature '" << s.getValue()
                         << "' (known: "
                         << llvm::join(llvm::ArrayRef(kKnownFeatures), ", ")
                         << ")";
    if (!seen.insert(s.getValue()).second)
      return emitError() << "duplicate target feature '" << s.getValue()
                         << "'";
  }
  auto requires_ = [&](StringRef f, StringRef needed) -> LogicalResult {
    if (seen.contains(f) && !seen.contains(needed))
      return emitError() << "target feature '" << f << "' requires '"
                         << needed << "'";
    return success();
  };
  for (StringRef f : {"avx512bw", "avx512vl", "avx512dq", "avx512_vnni",
                      "avx512_bf16", "avx512_fp16"})
    if (failed(requires_(f, "avx512f")))
      return failure();
  if (failed(requires_("avx_vnni", "avx2")) ||
      failed(requires_("amx_int8", "amx_tile")) ||
      failed(requires_("amx_bf16", "amx_tile")))
    return failure();
  if (seen.contains("avx512f") && vectorBits != 512)
    return emitError() << "target feature 'avx512f' requires vector_bits = "
                          "512, got "
                       << vectorBits;
  if (vectorBits == 512 && !seen.contains("avx512f"))
    return emitError() << "target vector_bits = 512 requires feature 'avx512f'";
  if (vectorBits == 256 && !seen.contains("avx") && !seen.contains("avx2"))
    return emitError()
           << "target vector_bits = 256 requires feature 'avx' or 'avx2'";
  if (l1d == 0 || l2 == 0 || l3 == 0)
    return emitError() << "target cache sizes must be non-zero (l1d = " << l1d
                       << ", l2 = " << l2 << ", l3 = " << l3 << ")";
  if (cores < 1)
    return emitError() << "target cores must be >= 1";
  return success();
}

//===----------------------------------------------------------------------===//
// QuantAttr
//===----------------------------------------------------------------------===//

LogicalResult QuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                unsigned bits, unsigned groupSize,
                                bool symmetric, Type scaleType,
                                StringRef layout) {
  if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
    return emitError() << "quant bits must be 2, 3, 4 or 8, got " << bits;
  if (groupSize != 0 && groupSize != 16 && groupSize != 32 &&
      groupSize != 64 && groupSize != 128 && groupSize != 256)
    return emitError() << "quant group_size must be 0 (per channel) or one of "
                          "16, 32, 64, 128, 256, got "
                       << groupSize;
  if (!scaleType.isF32() && !scaleType.isF16() && !scaleType.isBF16())
    return emitError() << "quant scale_type must be f32, f16 or bf16, got "
                       << scaleType;
  if (layout.empty())
    return emitError() << "quant layout must not be empty";
  return success();
}

int64_t QuantAttr::getNumGroups(int64_t k) const {
  unsigned g = getGroupSize();
  return g == 0 ? 1 : llvm::divideCeil(k, g);
}

int64_t QuantAttr::getMinStorageBytes(int64_t k, int64_t n) const {
  int64_t codes = llvm::divideCeil(k * n * getBits(), 8);
  int64_t scaleBytes = getScaleType().getIntOrFloatBitWidth() / 8;
  int64_t perGroup = getNumGroups(k) * n * scaleBytes;
  // Asymmetric schemes also store one zero point per group (at most the
  // size of a scale; counted as codes-sized here for the lower bound).
  int64_t zeros =
      getSymmetric() ? 0 : llvm::divideCeil(getNumGroups(k) * n * getBits(), 8);
  return codes + perGroup + zeros;
}
