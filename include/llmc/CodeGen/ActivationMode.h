//===- ActivationMode.h - How a matmul's inputs are computed -------*- C++ -*-===//
//
// The bundle's --activations mode (manifest recipe), and optionally a weight
// slot's own (a --quant-recipe rule's "activations"), which the runtime maps
// to a kernel activation path per matmul.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_ACTIVATIONMODE_H
#define LLMC_CODEGEN_ACTIVATIONMODE_H

#include "llvm/ADT/StringRef.h"
#include <cstdint>
#include <optional>

namespace llmc::codegen {

/// How the inputs of matmuls are computed with: integer-weight matmuls for
/// all but BF16, bf16-weight matmuls for BF16.
enum class ActivationMode : uint8_t {
  /// Quantized per row and group at run time (TFLite's "dynamic range"
  /// mode): int8 dot products, fastest.
  Int8,
  /// Kept in fp32, the weights dequantized in registers (weight-only
  /// quantization): most accurate.
  F32,
  /// int8 with per-tensor scales calibrated from --calib text (TFLite's
  /// "full integer" mode, at every matmul input; the glue between matmuls
  /// stays fp32).
  Static,
  /// Rounded to bf16 at the inputs of bf16-weight matmuls, which then run
  /// the AVX512-BF16 dot product (vdpbf16ps, twice the MACs of an fp32 FMA)
  /// on hosts that have it; everywhere else (integer weights, other hosts)
  /// as F32, never less precise than asked.
  BF16,
};
/// "int8", "fp32", "static", "bf16" (the --activations and manifest spelling).
llvm::StringRef activationModeName(ActivationMode m);
std::optional<ActivationMode> parseActivationMode(llvm::StringRef name);

} // namespace llmc::codegen

#endif // LLMC_CODEGEN_ACTIVATIONMODE_H
