//===- Compile.h - Fused llmc module -> .llmc bundle ------------*- C++ -*-===//
//
// The back half of `llmc compile`: plan the program of a fused module, quantize
// and pack its weights for the target's kernels (streamed one weight at a time,
// never the whole model in memory), and write the bundle.
//
// Hook for tools/llmc/CompileCommand.cpp, after the import and the
// llmc-fuse-transformer pipeline (test/unit/CodeGen/llmc-bundle.cpp does the
// same):
//
//   --emit=bundle: return reportError(llmc::codegen::compileToBundle(*module, opts, output));
//   --emit=llvm:   auto ir = llmc::codegen::emitProgramText(*module, opts, /*llvm=*/true);
//
// with opts.recipe from --quant/--group-size/--sym/--asym, opts.tokenizerPath
// from --tokenizer and opts.sourcePath = the .onnx path.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_COMPILE_H
#define LLMC_CODEGEN_COMPILE_H

#include "llmc/CodeGen/Manifest.h"
#include "llmc/CodeGen/Plan.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <string>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace llmc::codegen {

struct CompileOptions {
  QuantRecipe recipe;
  /// Tokenizer file to embed and its kind ("llama2c" | "sentencepiece"); empty:
  /// taken from `<model>.config.json` beside the source model when present.
  std::string tokenizerPath;
  std::string tokenizerKind;
  /// KV cache length; 0: the model config's max_seq_len, else 2048.
  int64_t maxContext = 0;
  /// Most tokens per prefill call (activation arena size); longer prompts run
  /// in chunks.
  int64_t maxTokensPerCall = 128;
  /// Directory that relative `llmc.weight` file names are resolved against.
  std::string weightDir;
  /// The source model (recorded in the manifest; its `.config.json` sibling is
  /// read for bos/eos/context/tokenizer).
  std::string sourcePath;
  /// Progress lines ("packing weight 12/47 ...") go here when set.
  llvm::function_ref<void(llvm::StringRef)> progress = nullptr;
};

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
