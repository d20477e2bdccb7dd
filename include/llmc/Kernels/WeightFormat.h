//===- WeightFormat.h - Weight storage formats for llmc kernels -*- C++ -*-===//
//
// A WeightFormat says how one [N, K] weight matrix (PyTorch Linear layout:
// out_features x in_features, row-major) is stored: element type, quantization
// group along K, symmetric or with zero points, and the dtype of the scales.
//
// Quantized weights follow one convention everywhere (reference, packing and
// every kernel):
//
//     w[n][k] ~= (u[n][k] - z[n][g]) * s[n][g],     g = k / groupSize
//
// where u is an *unsigned* code in [0, 2^bits - 1]. Symmetric formats use the
// fixed zero point z = 2^(bits-1) (so signed q = u - z), asymmetric formats store
// one z per (n, g). Storing unsigned codes lets the int8-activation kernels feed
// weights straight into vpdpbusd's unsigned operand; the z * sum(x) correction
// is applied once per group in the epilogue.
//
// nl4 and nl2 ("non-linear" 4- and 2-bit) store codes that index a fixed
// table of 16 or 4 levels instead of being the levels themselves:
//
//     w[n][k] ~= (v[u] - 128) * s[n][g],     v = kNL4Values / kNL2Values
//
// The levels are the Lloyd-Max quantizer of a Gaussian group of 32 divided by
// its largest magnitude, times 127 and rounded (WeightFormatTest re-derives
// them): weights of a trained layer are near-Gaussian and a group's largest
// |w| sets its scale, so levels dense near zero and sparse at the ends fit
// such a group better than equally spaced ones. On Gaussian groups nl4's mean
// squared rounding error is 0.73 of int4 symmetric's (15 uniform levels), at
// the same storage. The kernels look v[u] up with one vpshufb per 64 codes
// and then treat it as an 8-bit code with the fixed zero point 128.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_WEIGHTFORMAT_H
#define LLMC_KERNELS_WEIGHTFORMAT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <optional>
#include <string>

namespace llmc {
namespace kernels {

enum class WeightType : uint8_t { F32, F16, BF16, Int8, Int4, Int3, Int2, NL4, NL2 };

/// nl4's levels, biased by 128 so they are vpdpbusd's unsigned operand:
/// v[u] - 128 = {-123, -98, -79, -62, -47, -33, -19, -6, 6, 19, 33, 47, 62, 79,
/// 98, 123}. Ascending (nearest-level search relies on it) and antisymmetric.
inline constexpr uint8_t kNL4Values[16] = {5,   30,  49,  66,  81,  95,
                                           109, 122, 134, 147, 161, 175,
                                           190, 207, 226, 251};
static_assert(kNL4Values[0] + kNL4Values[15] == 256 &&
                  kNL4Values[7] + kNL4Values[8] == 256,
              "nl4 levels are antisymmetric around the zero point 128");
/// nl2's levels, biased by 128: v[u] - 128 = {-84, -25, 25, 84}.
inline constexpr uint8_t kNL2Values[4] = {44, 103, 153, 212};
static_assert(kNL2Values[0] + kNL2Values[3] == 256 &&
                  kNL2Values[1] + kNL2Values[2] == 256,
              "nl2 levels are antisymmetric around the zero point 128");
/// Group-scale dtype. E4M4 is an unsigned 8-bit float (Half.h) relative to a
/// power of two per matrix (QuantizedWeights::scaleExponent): with 16-k
/// groups it stores a 4-bit format in 4.5 bits per weight, as f16 scales do
/// with 32-k groups.
enum class ScaleType : uint8_t { F32, F16, BF16, E4M4 };

struct WeightFormat {
  WeightType type = WeightType::F32;
  /// Quantization group length along K; 0 = one group per output channel.
  /// Must be 16 (not int3) or a multiple of 32 when non-zero. Ignored for
  /// float types.
  unsigned groupSize = 0;
  /// Symmetric: implicit zero point 2^(bits-1). Asymmetric: stored u8 zero points.
  bool symmetric = true;
  ScaleType scaleType = ScaleType::F32;

  bool isQuantized() const {
    return type != WeightType::F32 && type != WeightType::F16 &&
           type != WeightType::BF16;
  }
  /// Bits per stored weight element (32/16 for float types).
  unsigned bits() const;
  /// Storage cost of one weight of a K-long row: the code plus its share of
  /// the row's group scales (and zero points, one byte each, when
  /// asymmetric), e.g. int4 g32 sym f16 at K = 64: 4 + 16/32 = 4.5; a last
  /// partial group counts whole. Panel padding is not counted. Float: bits().
  double storedBitsPerWeight(unsigned K) const;
  /// Quantized with e4m4 scales: the stored scales are relative to one fp32
  /// power of two per matrix (the tensor scale), stored with the weights.
  bool hasTensorScale() const {
    return isQuantized() && scaleType == ScaleType::E4M4;
  }
  /// Storage per matrix beside its rows: the fp32 tensor scale (32), else 0.
  unsigned storedBitsPerMatrix() const { return hasTensorScale() ? 32 : 0; }
  /// Largest unsigned code, 2^bits - 1 (quantized types only).
  unsigned maxCode() const { return (1u << bits()) - 1; }
  /// nl4 / nl2: codes index a table of levels (see above).
  bool isNonLinear() const {
    return type == WeightType::NL4 || type == WeightType::NL2;
  }
  /// The level table of a non-linear format (2^bits entries), else null.
  const uint8_t *levels() const {
    return type == WeightType::NL4   ? kNL4Values
           : type == WeightType::NL2 ? kNL2Values
                                     : nullptr;
  }
  /// Zero point used by symmetric formats (nl4/nl2: 128, their levels' bias).
  unsigned symZero() const {
    return isNonLinear() ? 128u : 1u << (bits() - 1);
  }
  /// The integer a code stands for, which the kernels multiply: u itself, or
  /// the level v[u] (w = (codeValue(u) - z) * s for every format).
  unsigned codeValue(unsigned u) const {
    return isNonLinear() ? levels()[u & maxCode()] : u;
  }
  /// Symmetric round to nearest maps max|w| of a group to this many steps:
  /// 2^(bits-1) - 1 (the top code), nl4/nl2 127 (their top levels, 123 and
  /// 84, then sit where the Lloyd-Max design puts them, at 0.97 and 0.66 of
  /// max|w|).
  unsigned symSteps() const {
    if (isNonLinear())
      return 127;
    unsigned h = (1u << (bits() - 1)) - 1;
    return h ? h : 1;
  }
  /// The code of a weight w = r * s in a group with zero point z: uniform
  /// codes round r half to even and add z (clamped to [0, maxCode]); nl4 and
  /// nl2 take the level nearest to r + z (ties to the lower one).
  unsigned encode(float r, unsigned z) const;

  bool operator==(const WeightFormat &o) const {
    return type == o.type && groupSize == o.groupSize &&
           symmetric == o.symmetric && scaleType == o.scaleType;
  }
  bool operator!=(const WeightFormat &o) const { return !(*this == o); }

  /// e.g. "int4_g32_sym_f16", "int8_pc_asym_f32", "bf16".
  std::string str() const;
  /// Checks the combination is one the kernels implement.
  llvm::Error validate() const;

  static WeightFormat quantized(WeightType t, unsigned group, bool sym,
                                ScaleType st = ScaleType::F32) {
    WeightFormat f;
    f.type = t;
    f.groupSize = group;
    f.symmetric = sym;
    f.scaleType = st;
    return f;
  }
  static WeightFormat floating(WeightType t) {
    WeightFormat f;
    f.type = t;
    return f;
  }
};

/// Inverse of WeightFormat::str() ("int4_g32_sym_f16", "int8_pc_asym_f32",
/// "bf16", ...); an error naming the text otherwise.
llvm::Expected<WeightFormat> parseWeightFormat(llvm::StringRef text);

unsigned scaleBytes(ScaleType t);
/// "f32", "f16", "bf16", "int8", ..., "nl4", "nl2".
llvm::StringRef weightTypeName(WeightType t);
/// Inverse of weightTypeName; nullopt for any other text.
std::optional<WeightType> parseWeightTypeName(llvm::StringRef name);
/// "f32", "f16", "bf16", "e4m4".
llvm::StringRef scaleTypeName(ScaleType t);
/// Inverse of scaleTypeName; nullopt for any other text.
std::optional<ScaleType> parseScaleTypeName(llvm::StringRef name);

} // namespace kernels
} // namespace llmc

#endif
