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
#include "llmc/Target/Target.h"

#include "llvm/Support/JSON.h"

#include <string>

namespace llmc::codegen {

/// Section holding the ProgramPlan (JSON).
constexpr const char *kPlanSection = "plan";

/// --quant, --group-size, --sym/--asym.
struct QuantRecipe {
  std::string type = "fp32"; ///< fp32 | fp16 | bf16 | int8 | int4 | int3 | int2
  unsigned groupSize = 32;   ///< 0 = per output channel
  bool symmetric = true;
  /// Scale dtype of quantized formats: "f16" (default), "f32" or "bf16".
  std::string scaleType = "f16";
  /// Choose each group's range by a clipping search minimising the squared
  /// error (lib/Quant's quantizeWeightsMSE) instead of plain min/max.
  bool mseClip = false;
  /// Activations of integer-weight matmuls: "int8" quantizes them per row and
  /// group at run time (TFLite's "dynamic range" mode: int8 dot products,
  /// fastest), "fp32" keeps them in fp32 and dequantizes the weights in
  /// registers (weight-only quantization: most accurate).
  std::string activations = "int8";
  /// "static": int8 activations with per-tensor scales calibrated from
  /// --calib text (TFLite's "full integer" mode, at every matmul input; the
  /// glue between matmuls stays fp32). `actRange` picks each tensor's range:
  /// "minmax" (largest |x| seen) or "pN" (the N-th percentile of |x|).
  std::string actRange = "minmax";
  /// How integer weights are rounded: "rtn" (round to nearest), "gptq"
  /// (second-order error feedback), "awq" (activation-aware channel scales)
  /// or "quip" (randomized Hadamard rotation + LDLQ). All but rtn need
  /// calibration statistics (CompileOptions::calibration).
  std::string method = "rtn";
  /// GPTQ/QuIP: visit columns by decreasing Hessian diagonal (static groups).
  bool actOrder = false;
  /// gptq/quip: refit each group's scale by least squares for the rounded
  /// codes and round again (quant::GPTQOptions::refitRounds).
  bool refitScales = false;
  /// QuaRot (whole model): rotate the residual stream by an orthogonal Q
  /// folded into the embedding, the norms' readers and the residual writers
  /// (CodeGen/ResidualStream.h), and rotate the inputs of the other integer
  /// matmuls online. Falls back to an online rotation of every integer
  /// matmul's input when the model's dataflow does not allow the folding.
  bool quarot = false;

  bool needsCalibration() const {
    return method != "rtn" && type != "fp32" && type != "fp16" && type != "bf16";
  }
  /// "int4 g32 sym f16 scales" etc.
  std::string str() const;
  llvm::Error validate() const;
};

/// The kernels' weight format for a recipe.
kernels::WeightFormat weightFormatFor(const QuantRecipe &r);

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
