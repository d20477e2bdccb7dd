//===- WeightFormat.cpp ---------------------------------------------------===//
#include "llmc/Kernels/WeightFormat.h"

using namespace llvm;

namespace llmc {
namespace kernels {

unsigned WeightFormat::bits() const {
  switch (type) {
  case WeightType::F32: return 32;
  case WeightType::F16:
  case WeightType::BF16: return 16;
  case WeightType::Int8: return 8;
  case WeightType::Int4: return 4;
  case WeightType::Int3: return 3;
  case WeightType::Int2: return 2;
  }
  return 0;
}

unsigned scaleBytes(ScaleType t) { return t == ScaleType::F32 ? 4 : 2; }

StringRef weightTypeName(WeightType t) {
  switch (t) {
  case WeightType::F32: return "f32";
  case WeightType::F16: return "f16";
  case WeightType::BF16: return "bf16";
  case WeightType::Int8: return "int8";
  case WeightType::Int4: return "int4";
  case WeightType::Int3: return "int3";
  case WeightType::Int2: return "int2";
  }
  return "?";
}

static StringRef scaleName(ScaleType t) {
  return t == ScaleType::F32 ? "f32" : t == ScaleType::F16 ? "f16" : "bf16";
}

std::string WeightFormat::str() const {
  std::string s = weightTypeName(type).str();
  if (!isQuantized())
    return s;
  s += groupSize ? "_g" + std::to_string(groupSize) : std::string("_pc");
  s += symmetric ? "_sym_" : "_asym_";
  s += scaleName(scaleType).str();
  return s;
}

Error WeightFormat::validate() const {
  if (isQuantized() && groupSize % 32 != 0)
    return createStringError(inconvertibleErrorCode(),
                             "weight format %s: group size must be 0 "
                             "(per-channel) or a multiple of 32",
                             str().c_str());
  return Error::success();
}

} // namespace kernels
} // namespace llmc
