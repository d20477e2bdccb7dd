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
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_WEIGHTFORMAT_H
#define LLMC_KERNELS_WEIGHTFORMAT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <string>

namespace llmc {
namespace kernels {

enum class WeightType : uint8_t { F32, F16, BF16, Int8, Int4, Int3, Int2 };
enum class ScaleType : uint8_t { F32, F16, BF16 };

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
  /// Largest unsigned code, 2^bits - 1 (quantized types only).
  unsigned maxCode() const { return (1u << bits()) - 1; }
  /// Zero point used by symmetric formats.
  unsigned symZero() const { return 1u << (bits() - 1); }

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
llvm::StringRef weightTypeName(WeightType t);

} // namespace kernels
} // namespace llmc

#endif
