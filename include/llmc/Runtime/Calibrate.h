//===- Calibrate.h - Matmul input statistics from a calibration run -*- C++ -*-===//
//
// GPTQ, AWQ and incoherence processing need, for each linear layer, the
// statistics of its input over representative text: H = X^T X and the mean
// |x_k| (quant/Hessian.h). They are collected by running the model itself --
// an fp32 bundle of it -- over calibration tokens and observing the input of
// every matmul as the session calls the kernel (SessionOptions::matmulInputs).
// A merged projection (QKV, gate/up) is one slot with one input: its parts
// share one set of statistics, as they must.
//
// The tokens are cut into sequences of `sequenceLength` tokens, the first of
// each replaced by BOS and run from an empty cache (the protocol of llmc
// eval), so calibration sees the positions and contexts inference will.
// Calibration text and evaluation text must be different files.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_RUNTIME_CALIBRATE_H
#define LLMC_RUNTIME_CALIBRATE_H

#include "llmc/Quant/ActivationRange.h"
#include "llmc/Quant/Hessian.h"
#include "llmc/Runtime/Model.h"

#include "llvm/ADT/StringMap.h"

namespace llmc::runtime {

struct CalibrationOptions {
  /// Tokens used at most (the text's first ones).
  int64_t maxTokens = 4096;
  int64_t sequenceLength = 256;
  unsigned threads = 0;
  /// Packed slots to collect (by index); all when unset. H costs K^2 / 2
  /// doubles per slot.
  std::function<bool(int32_t slot)> wanted;
  /// Packed slots whose input range is collected (static activations).
  std::function<bool(int32_t slot)> wantedRange;
  std::function<void(llvm::StringRef)> progress;
};

struct CalibrationData {
  /// Keyed by weight slot name.
  llvm::StringMap<quant::CalibrationStats> stats;
  llvm::StringMap<quant::ActivationRange> ranges;
};

/// Statistics of each wanted matmul's input.
llvm::Expected<CalibrationData>
collectMatmulInputStats(const Model &model, llvm::ArrayRef<int32_t> tokens,
                        const CalibrationOptions &options = {});

/// Paired statistics (CalibrationStats::addPairedBatch) of each wanted matmul
/// of `model` (a quantized bundle): its inputs beside the inputs `reference`
/// (the fp32 bundle of the same network, whose slots are matched by name)
/// gives the same matmul on the same sequences. Ranges are not collected.
llvm::Expected<CalibrationData>
collectPairedMatmulInputStats(const Model &reference, const Model &model,
                              llvm::ArrayRef<int32_t> tokens,
                              const CalibrationOptions &options = {});

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_CALIBRATE_H
