//===- WeightFormat.cpp ---------------------------------------------------===//
#include "llmc/Kernels/WeightFormat.h"
#include "llmc/Support/EnumNames.h"

#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <cmath>
#include <optional>

using namespace llvm;

namespace llmc {
namespace kernels {

unsigned WeightFormat::bits() const {
  switch (type) {
  case WeightType::F32: return 32;
  case WeightType::F16:
  case WeightType::BF16: return 16;
  case WeightType::Int8: return 8;
  case WeightType::Int4:
  case WeightType::NL4: return 4;
  case WeightType::Int3: return 3;
  case WeightType::Int2:
  case WeightType::NL2: return 2;
  }
  return 0;
}

double WeightFormat::storedBitsPerWeight(unsigned K) const {
  if (!isQuantized() || K == 0)
    return bits();
  // A last partial group (K = 172, g = 32: six groups) has a whole scale.
  const unsigned groups = groupSize ? (K + groupSize - 1) / groupSize : 1;
  const double perGroup = 8.0 * scaleBytes(scaleType) + (symmetric ? 0 : 8);
  return bits() + groups * perGroup / K;
}

unsigned WeightFormat::encode(float r, unsigned z) const {
  // Clamping r first keeps the int conversion defined for any scale; it
  // changes no code (the result is clamped to [0, maxCode] anyway).
  r = std::clamp(r, -512.0f, 512.0f);
  if (!isNonLinear()) {
    int u = int(std::nearbyint(r)) + int(z);
    return unsigned(std::clamp(u, 0, int(maxCode())));
  }
  // Levels ascend: the code is the number of midpoints below r + z.
  const uint8_t *v = levels();
  const float t = r + float(z);
  unsigned u = 0;
  while (u < maxCode() && t > 0.5f * float(v[u] + v[u + 1]))
    ++u;
  return u;
}

unsigned scaleBytes(ScaleType t) {
  switch (t) {
  case ScaleType::F32: return 4;
  case ScaleType::F16:
  case ScaleType::BF16: return 2;
  case ScaleType::E4M4: return 1;
  }
  return 4;
}

static constexpr EnumName<WeightType> kWeightTypeNames[] = {
    {WeightType::F32, "f32"},   {WeightType::F16, "f16"},
    {WeightType::BF16, "bf16"}, {WeightType::Int8, "int8"},
    {WeightType::Int4, "int4"}, {WeightType::Int3, "int3"},
    {WeightType::Int2, "int2"}, {WeightType::NL4, "nl4"},
    {WeightType::NL2, "nl2"}};

StringRef weightTypeName(WeightType t) { return enumName(kWeightTypeNames, t); }

std::optional<WeightType> parseWeightTypeName(StringRef name) {
  return parseEnumName(kWeightTypeNames, name);
}

static constexpr EnumName<ScaleType> kScaleTypeNames[] = {
    {ScaleType::F32, "f32"},
    {ScaleType::F16, "f16"},
    {ScaleType::BF16, "bf16"},
    {ScaleType::E4M4, "e4m4"}};

StringRef scaleTypeName(ScaleType t) { return enumName(kScaleTypeNames, t); }

std::optional<ScaleType> parseScaleTypeName(StringRef name) {
  return parseEnumName(kScaleTypeNames, name);
}

std::string WeightFormat::str() const {
  std::string s = weightTypeName(type).str();
  if (!isQuantized())
    return s;
  s += groupSize ? "_g" + std::to_string(groupSize) : std::string("_pc");
  s += symmetric ? "_sym_" : "_asym_";
  s += scaleTypeName(scaleType).str();
  return s;
}

Expected<WeightFormat> parseWeightFormat(StringRef text) {
  auto bad = [&] {
    return createStringError(inconvertibleErrorCode(),
                             "invalid weight format '%s'", text.str().c_str());
  };
  SmallVector<StringRef, 4> parts;
  text.split(parts, '_');
  std::optional<WeightType> type = parseWeightTypeName(parts[0]);
  if (!type)
    return bad();
  WeightFormat f = WeightFormat::floating(*type);
  if (!f.isQuantized())
    return parts.size() == 1 ? Expected<WeightFormat>(f) : bad();
  if (parts.size() != 4)
    return bad();
  unsigned group = 0;
  if (parts[1] != "pc" &&
      (!parts[1].consume_front("g") || parts[1].getAsInteger(10, group) || !group))
    return bad();
  if (parts[2] != "sym" && parts[2] != "asym")
    return bad();
  std::optional<ScaleType> scale = parseScaleTypeName(parts[3]);
  if (!scale)
    return bad();
  f = WeightFormat::quantized(*type, group, parts[2] == "sym", *scale);
  if (Error e = f.validate())
    return std::move(e);
  return f;
}

Error WeightFormat::validate() const {
  if (!isQuantized())
    return Error::success();
  if (isNonLinear() && !symmetric)
    return createStringError(inconvertibleErrorCode(),
                             "weight format %s: %s is symmetric only (its "
                             "levels are fixed around zero)",
                             str().c_str(), weightTypeName(type).data());
  // 16-k groups are half of the kernels' 32-k chunk; int3's super block spans
  // a whole chunk, so it cannot be split at 16.
  if (groupSize == 16 && type == WeightType::Int3)
    return createStringError(inconvertibleErrorCode(),
                             "weight format %s: int3 needs groups of a "
                             "multiple of 32 (or per-channel)",
                             str().c_str());
  if (groupSize % 32 != 0 && groupSize != 16)
    return createStringError(inconvertibleErrorCode(),
                             "weight format %s: group size must be 0 "
                             "(per-channel), 16 or a multiple of 32",
                             str().c_str());
  return Error::success();
}

} // namespace kernels
} // namespace llmc
