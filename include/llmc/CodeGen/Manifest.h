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
