//===- Compile.h - Fused llmc module -> .llmc bundle ------------*- C++ -*-===//
//
// The back half of `llmc compile`: plan the program of a fused module, quantize
// and pack its weights for the target's kernels (streamed one weight at a time,
// never the whole model in memory), and write the bundle.
//
// Hook for tools/llmc/CompileCommand.cpp, after the import and fusion (the
// module there is already fused; tools/llmc links LLMCCodeGen):
//
//   llmc::codegen::CompileOptions co;
//   co.fuse = false;                 // CompileCommand ran the pipeline
//   co.sourcePath = input;           // <model>.config.json: tokenizer, bos/eos, ctx
//   co.recipe = {quant, groupSize, !asym};   // --quant --group-size --sym/--asym
//   co.tokenizerPath = tokenizer;    // --tokenizer (optional)
//   co.progress = [](StringRef l) { errs() << "llmc: " << l << "\n"; };
//   --emit=bundle: if (Error e = llmc::codegen::compileToBundle(**module, co, output))
//                    return reportError(std::move(e));
//   --emit=llvm:   auto ir = llmc::codegen::emitProgramText(**module, co, /*llvm=*/true);
//
// test/unit/CodeGen/llmc-bundle.cpp is the same driver for .mlir input.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_COMPILE_H
#define LLMC_CODEGEN_COMPILE_H

#include "llmc/CodeGen/Manifest.h"
#include "llmc/CodeGen/Plan.h"

#include "llmc/Quant/ActivationRange.h"
#include "llmc/Quant/Hessian.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <functional>

#include <string>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace llmc::codegen {

class SlotCache;

struct CompileOptions {
  QuantRecipe recipe;
  /// Run the llmc-fuse-transformer pipeline first (the module as imported);
  /// false when the module is already fused.
  bool fuse = true;
  /// -O0 .. -O3. Level 0 runs only the fusions code generation needs (no
  /// merged q/k/v and gate/up projections) and leaves the generated program
  /// unoptimized by LLVM; 1..3 merge projections and pick LLVM's pipeline.
  /// Numerics do not depend on it: the glue code is compiled without
  /// fast-math flags and every matmul output column is the same dot product.
  unsigned optLevel = 3;
  /// Whether the fusion pipeline merges q/k/v and gate/up at this -O level
  /// (llmc compile runs the pipeline itself for --emit=mlir).
  static bool mergesProjections(unsigned optLevel) { return optLevel >= 1; }
  /// Tokenizer file to embed and its kind ("llama2c" | "sentencepiece"); empty:
  /// taken from `<model>.config.json` beside the source model when present.
  std::string tokenizerPath;
  std::string tokenizerKind;
  /// KV cache length; 0: the model config's max_seq_len, else 2048.
  int64_t maxContext = 0;
  /// KV cache element type: "fp32", "fp16" (half the cache memory and the
  /// attention's memory traffic; keys/values rounded to fp16) or "int8" (a
  /// quarter, plus a scale per position and head: keys/values rounded to
  /// 8 bits of their largest |element|).
  std::string kvType = "fp32";
  /// Most tokens per prefill call (activation arena size); longer prompts run
  /// in chunks.
  int64_t maxTokensPerCall = 128;
  /// Directory that relative `llmc.weight` file names are resolved against.
  std::string weightDir;
  /// The source model (recorded in the manifest; its `.config.json` sibling is
  /// read for bos/eos/context/tokenizer).
  std::string sourcePath;
  /// How embedding tables (the token table an Embed step reads) are stored:
  /// fp32 keeps them dense; another format (round to nearest, optionally
  /// with mse) stores them packed, a row dequantized per token, sharing a
  /// tied lm_head's bytes where it holds the same rows in that format.
  /// Pre-quantized tables keep their own format whatever this says.
  quant::QuantSpec embedding;
  /// Per-tensor recipes: when set, the recipe for the matmul weight named
  /// `name` (merged weights: their names joined by '+'); `recipe` otherwise.
  std::function<llvm::Expected<QuantRecipe>(llvm::StringRef name)> recipeFor;
  /// Statistics of each matmul weight's input from a calibration run of the
  /// same model, by weight slot name (runtime/Calibrate.h); required by the
  /// methods that need them (QuantRecipe::needsCalibration).
  const llvm::StringMap<quant::CalibrationStats> *calibration = nullptr;
  /// When set, kept slots are taken from / stored into it (SlotQuantizer.h).
  SlotCache *slotCache = nullptr;
  /// Calibrated input ranges by slot name, for recipes with static
  /// activations (QuantRecipe::activations == "static").
  const llvm::StringMap<quant::ActivationRange> *activationRanges = nullptr;
  /// Recorded in the manifest as "tuning" (Manifest::tuning).
  llvm::json::Value tuning = nullptr;
  /// Progress lines ("packing weight 12/47 ...") go here when set.
  std::function<void(llvm::StringRef)> progress;
};

/// CompileOptions::embedding is a storage format: round to nearest (mse
/// allowed), nothing that needs calibration or rotates inputs.
llvm::Error validateEmbeddingSpec(const quant::QuantSpec &spec);

/// Plan the fused `@main` of `module` (weights not read). The module must carry
/// `llmc.target`.
llvm::Expected<ProgramPlan> planModule(mlir::ModuleOp module,
                                       const CompileOptions &options);

/// Plan, pack and write `outputPath`.
llvm::Error compileToBundle(mlir::ModuleOp module, const CompileOptions &options,
                            llvm::StringRef outputPath);

/// The generated program of a fused module without packing any weight:
/// `llvm` = the optimized LLVM IR (--emit=llvm), otherwise the MLIR it is
/// generated as (scf/arith/math/llvm, before lowering).
llvm::Expected<std::string> emitProgramText(mlir::ModuleOp module,
                                            const CompileOptions &options,
                                            bool llvm);

} // namespace llmc::codegen

#endif // LLMC_CODEGEN_COMPILE_H
