//===- Quantize.h - Reference (unpacked) quantized weights -*- C++ -*-===//
//
// QuantizedWeights is the plain, unpacked form of a quantized matrix: one
// unsigned code per element, one scale and one zero point per (n, group). It is
// what quantizers produce, what packing consumes, what unpacking must
// reproduce, and what the scalar reference matmul reads. Scales are stored as
// fp32 values already rounded to the format's scale dtype, so the references and
// the kernels use bit-identical scales.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_QUANTIZE_H
#define LLMC_KERNELS_QUANTIZE_H

#include "llmc/Kernels/WeightFormat.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <optional>
#include <vector>

namespace llmc {
namespace kernels {

struct QuantizedWeights {
  WeightFormat format;
  int64_t N = 0, K = 0;
  /// Effective group length: format.groupSize, or K for per-channel.
  int64_t group = 0;
  int64_t numGroups = 0;
  /// Quantized formats: codes[n * K + k] in [0, maxCode]. Empty for float types.
  std::vector<uint8_t> codes;
  /// scales[n * numGroups + g], rounded to format.scaleType.
  std::vector<float> scales;
  /// e4m4 scales only: every scale is 2^scaleExponent times an e4m4 value
  /// (Half.h), which is what packing stores. Chosen per matrix before any
  /// group is rounded (chooseScaleExponent); 0 for the other scale dtypes.
  int scaleExponent = 0;
  /// zeros[n * numGroups + g]; symmetric formats hold symZero() everywhere.
  std::vector<uint8_t> zeros;
  /// Float formats: values[n * K + k] rounded to the weight dtype.
  std::vector<float> values;

  /// Dequantized weight w[n][k] in fp32 (exact: (codeValue(u) - z) * s in
  /// fp32; codeValue(u) = u except for nl4/nl2).
  float weight(int64_t n, int64_t k) const {
    if (!format.isQuantized())
      return values[n * K + k];
    int64_t g = k / group;
    return (float(format.codeValue(codes[n * K + k])) -
            float(zeros[n * numGroups + g])) *
           scales[n * numGroups + g];
  }
};

/// Round-to-nearest quantization of fp32 weights W[N][K] (row-major).
/// Symmetric: s = max|w| / (2^(b-1) - 1), u = clamp(round(w / s), -2^(b-1), 2^(b-1)-1) + 2^(b-1).
/// nl4/nl2: s = max|w| / 127, u = the level nearest to w / s (see WeightFormat.h).
/// Asymmetric: s = (max - min) / (2^b - 1) over the group with 0 included in the
/// range, z = round(-min / s), u = clamp(round(w / s) + z, 0, 2^b - 1).
/// The scale is rounded to the scale dtype *before* the codes are computed.
/// e4m4 scales are relative to 2^scaleExponent: by default
/// chooseScaleExponent(W, ...), or the given one (a block of a larger matrix
/// is rounded on the whole matrix's grid).
llvm::Expected<QuantizedWeights>
quantizeWeights(const float *W, int64_t N, int64_t K, WeightFormat fmt,
                std::optional<int> scaleExponent = std::nullopt);

/// Round a float weight type element (fp32 identity, fp16/bf16 RNE).
float roundToWeightType(float v, WeightType t);
/// Round a scale to its storage dtype (fp32 identity, fp16/bf16 RNE; e4m4:
/// the nearest 2^scaleExponent * e4m4 value, saturating at its largest).
float roundToScaleType(float s, ScaleType t, int scaleExponent = 0);
/// The per-matrix exponent e of e4m4 scales for weights W[N][K]: the smallest
/// with the largest round-to-nearest group scale <= 2^(e-1) kE4M4Max. One
/// binade is left above it for scales that grow (GPTQ rounds updated
/// weights), 14 below it before e4m4 turns subnormal. 0 for other dtypes.
int chooseScaleExponent(const float *W, int64_t N, int64_t K, WeightFormat fmt);

} // namespace kernels
} // namespace llmc

#endif
