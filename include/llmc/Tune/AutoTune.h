//===- AutoTune.h - Per-layer quantization recipes that meet an accuracy goal -*- C++ -*-===//
//
// `llmc compile --quant=auto --accuracy-goal=1%` looks for the smallest
// per-layer recipe whose perplexity on held-out calibration tokens is within
// the goal of the fp32 model's. The search is two-level:
//
//  1. Offline, per weight slot and per rung of a ladder of formats (cheapest
//     first, e.g. int2 ... int4 g32 ... int8 ... fp16), quantize the weight and
//     measure its relative output error on the calibration inputs,
//         e[s][l] = tr(dW H dW^T) / tr(W H W^T),    H = X^T X (Hessian.h),
//     which ranks how sensitive each layer is to each format (exact for one
//     layer in isolation; dW in the original basis for AWQ and QuIP).
//  2. A threshold tau picks, for every slot, the cheapest rung with
//     e[s][l] <= tau. Smaller tau means more bits and a more accurate model,
//     so a bisection over the observed error values, each candidate compiled
//     and evaluated for real (runtime/Evaluate.h), finds the cheapest
//     threshold that meets the goal. `budget` bounds the number of models
//     evaluated. A candidate meets the goal when the upper confidence bound
//     of its increase does (paired per-chunk differences from the fp32
//     model), not just its mean over the few tuning chunks.
//
// With measureSensitivity, step 1 measures instead: the perplexity increase
// d[s][l] of each slot alone at each rung, and step 2's candidates are the
// Lagrangian allocations argmin_l bits(s, l) + lambda d[s][l] over lambda.
//
// The result is a recipe per slot; the caller writes it into the bundle's
// manifest and as a reusable --quant-recipe file.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TUNE_AUTOTUNE_H
#define LLMC_TUNE_AUTOTUNE_H

#include "llmc/CodeGen/Compile.h"
#include "llmc/CodeGen/SlotQuantizer.h"
#include "llmc/Runtime/Calibrate.h"
#include "llmc/Runtime/Evaluate.h"

#include <map>

namespace llmc::tune {

struct TuneOptions {
  /// Allowed relative perplexity increase over the reference (0.01 = 1%).
  double goal = 0.01;
  /// A candidate meets the goal when its increase on the tuning chunks is
  /// within it with this one-sided confidence (runtime::perplexityIncrease):
  /// 0.5 compares the point estimate alone.
  double confidence = 0.95;
  /// Candidate models compiled and evaluated at most (>= 1).
  unsigned budget = 10;
  /// Formats, cheapest first; the last should be close to lossless.
  std::vector<codegen::QuantRecipe> ladder;
  runtime::EvalOptions eval;
  std::function<void(llvm::StringRef)> progress;
  /// Sequential calibration of every candidate before it is evaluated
  /// (SequentialCalibration.h): its calibrated slots are rounded for the fp32
  /// outputs from the inputs its own quantized slots produce, over these
  /// calibration tokens. A candidate then costs one calibration run per
  /// calibrated slot instead of none.
  bool sequential = false;
  /// Rank the rungs by measured perplexity instead of the proxy error: each
  /// slot is compiled alone at each rung below the top one (every other slot
  /// at the top) and evaluated, slots x (rungs - 1) models before the
  /// search; the candidates are then the Lagrangian allocations of bits
  /// against the summed measured increases.
  bool measureSensitivity = false;
  /// Size budget (0 = none): only candidates with at most this many bits per
  /// weight are considered; if none meets the goal, the most accurate of them
  /// is returned (TuneResult::met false).
  double maxBitsPerWeight = 0;
  llvm::ArrayRef<int32_t> calibrationTokens;
  runtime::CalibrationOptions calibration;
};

struct TuneResult {
  /// The recipe of every matmul weight slot, by slot name.
  std::map<std::string, codegen::QuantRecipe> slots;
  double referencePerplexity = 0, perplexity = 0;
  /// The upper confidence bound of the chosen recipe's relative increase on
  /// the tuning chunks (TuneOptions::confidence).
  double increaseUpperBound = 0;
  /// Of the matmul weights, scales and zero points included.
  double bitsPerWeight = 0;
  unsigned evaluations = 0;
  /// Models evaluated to measure sensitivities (TuneOptions::measureSensitivity).
  unsigned sensitivityEvaluations = 0;
  bool met = false;
  /// With TuneOptions::sequential: the chosen candidate's statistics (paired
  /// for its calibrated slots) and its rounded slots, so that the final
  /// compile (CompileOptions::calibration and slotCache) reproduces the
  /// evaluated model without calibrating again.
  llvm::StringMap<quant::CalibrationStats> sequentialStats;
  codegen::SlotCache slotCache;
};

/// Bits per weight of a recipe's storage: codes, scales and zero points, and
/// bias correction's fp32 biases.
double bitsPerWeight(const codegen::QuantRecipe &r, int64_t K);

/// The relative change of `value` over `reference` with its sign, "+1.23%".
std::string percentChange(double value, double reference);

/// The ladder `--quant=auto` uses by default.
std::vector<codegen::QuantRecipe> defaultLadder();

/// `base.calibration` must hold statistics for every matmul slot; `reference`
/// is the fp32 bundle of the same module (its plan names the slots); the
/// goal is checked on `evalTokens` (calibration text the statistics did not
/// use). With options.sequential every candidate is calibrated sequentially
/// first (awq rungs are refused there).
llvm::Expected<TuneResult> autoTune(mlir::ModuleOp module,
                                    const codegen::CompileOptions &base,
                                    const runtime::Model &reference,
                                    llvm::ArrayRef<int32_t> evalTokens,
                                    const TuneOptions &options);

} // namespace llmc::tune

#endif // LLMC_TUNE_AUTOTUNE_H
