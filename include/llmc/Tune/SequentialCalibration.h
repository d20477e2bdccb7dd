//===- SequentialCalibration.h - Round each matmul for the fp32 outputs -*- C++ -*-===//
//
// Calibrated rounding (GPTQ, LDLQ) of a matmul normally uses the statistics of
// its input in the fp32 model. In the quantized model that input differs: the
// matmuls before it are rounded. Sequential calibration takes the matmuls in
// the order the program runs them and, for each, collects *paired*
// statistics -- its input in a model whose earlier matmuls are already
// quantized as they will ship, beside its input in the fp32 model at the same
// tokens (runtime/Calibrate.h) -- so that its rounding aims at the fp32
// outputs from the inputs it will really see (quant/OutputMatching.h; GPTQ's
// sequential mode with GPTAQ's asymmetric target, Li et al. 2025).
//
// Stage k compiles the model with the statistics so far (matmuls after k,
// which cannot influence k's input, are rounded to nearest to save time;
// matmuls before k, whose statistics are final, come from a SlotCache and
// are rounded once), runs it beside the fp32 model over the calibration
// sequences and replaces matmul k's statistics. The cost is one compile and
// one calibration run per matmul slot (merged q/k/v and gate/up count once).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TUNE_SEQUENTIALCALIBRATION_H
#define LLMC_TUNE_SEQUENTIALCALIBRATION_H

#include "llmc/CodeGen/Compile.h"
#include "llmc/CodeGen/SlotQuantizer.h"
#include "llmc/Runtime/Calibrate.h"

namespace llmc::tune {

/// Replaces every entry of `stats` (keyed by slot name, the fp32 statistics
/// of the slots to calibrate) with paired statistics, stage by stage in
/// program order. `options` is the compile of the quantized model (its recipe
/// or recipeFor decides each slot's format; `calibration` is set here);
/// `reference` is the fp32 bundle of the same module (the one the fp32
/// statistics came from, with the same residual-stream rotation if any).
/// AWQ is refused: its scales folded into the preceding operations change
/// the inputs the statistics are of. `cache` receives every calibrated slot
/// but the last rounded with its final statistics (each is rounded once), so
/// a final compile with the same options and the cache rounds only the last.
llvm::Error
calibrateSequentially(mlir::ModuleOp module, codegen::CompileOptions options,
                      const runtime::Model &reference,
                      llvm::ArrayRef<int32_t> tokens,
                      const runtime::CalibrationOptions &calibration,
                      llvm::StringMap<quant::CalibrationStats> &stats,
                      codegen::SlotCache &cache);

} // namespace llmc::tune

#endif
