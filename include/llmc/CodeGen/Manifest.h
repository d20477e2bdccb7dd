//===- Manifest.h - The manifest of a .llmc bundle --------------*- C++ -*-===//
//
// The JSON manifest (section "manifest") says what a bundle holds: the model
// config, the target it was compiled for, the quantization recipe, the
// tokenizer kind and one kernel descriptor per packed weight. The program
// (section "plan": the ProgramPlan as JSON) is what the runtime executes.
// Shared by the compiler and the runtime; no MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_MANIFEST_H
#define LLMC_CODEGEN_MANIFEST_H

#include "llmc/CodeGen/Plan.h"
#include "llmc/Kernels/WeightFormat.h"
#include "llmc/Quant/Recipe.h"
#include "llmc/Target/Target.h"

#include "llvm/Support/JSON.h"

#include <optional>
#include <string>

namespace llmc::codegen {

/// Section holding the ProgramPlan (JSON).
constexpr const char *kPlanSection = "plan";

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

/// What the code generator applies to one weight: the lib/Quant spec (format,
/// rounding method and its options; --quant, --group-size, --sym/--asym) and
/// how the matmul's activations are computed (--activations).
struct QuantRecipe {
  quant::QuantSpec weights; ///< fp32 ("keep") unless set
  ActivationMode activations = ActivationMode::Int8;
  /// Static activations: each tensor's range, "minmax" (largest |x| seen) or
  /// "pN" (the N-th percentile of |x|).
  std::string actRange = "minmax";

  const kernels::WeightFormat &format() const { return weights.format; }
  bool needsCalibration() const {
    return weights.isQuantized() && weights.needsCalibration();
  }
  /// "int4:g32:sym:f16:gptq:actorder, int8 activations" etc.
  std::string str() const;
  llvm::Error validate() const;
};

struct Manifest {
  const ProgramPlan *plan = nullptr; ///< for writing
  ModelConfig config;                ///< read back
  TargetDesc target;
  QuantRecipe recipe;
  std::string format; ///< WeightFormat::str() of the matmul weights
  std::string tier;   ///< kernel tier the weights are packed for
  std::string tokenizerKind; ///< "" when the bundle has no tokenizer
  std::string source;
  uint64_t weightBytes = 0;
  /// The -O level the program was generated at (bundles without it: 3).
  unsigned optLevel = 3;
  /// What `--quant=auto` found (goal, perplexities, bits/weight, per-slot
  /// recipe); null otherwise.
  llvm::json::Value tuning = nullptr;
  /// What `quarot` did: {"folded": true, "seed", "dim", counts} or
  /// {"folded": false, "reason"}; null without quarot.
  llvm::json::Value residualRotation = nullptr;

  llvm::json::Value toJSON() const;
  static llvm::Expected<Manifest> parse(llvm::StringRef text);
};

} // namespace llmc::codegen

#endif // LLMC_CODEGEN_MANIFEST_H
