//===- Generation.h - `llmc run`'s flags and loop, shared with --emit=exe -*- C++ -*-===//
//
// `llmc run model.llmc` and a standalone executable written by
// `llmc compile --emit=exe` take the same generation flags: the options are
// declared once here, registered under whichever subcommand the program uses
// (the `run` subcommand of llmc, the top level of the executable).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TOOLS_LLMC_GENERATION_H
#define LLMC_TOOLS_LLMC_GENERATION_H

#include "llmc/Runtime/Model.h"

#include "llvm/Support/CommandLine.h"

namespace llmc::cli {

/// The category of the generation flags (what a standalone executable's
/// --help shows).
llvm::cl::OptionCategory &generationCategory();

struct GenerationFlags {
  explicit GenerationFlags(llvm::cl::SubCommand &sub);

  llvm::cl::opt<std::string> prompt;
  llvm::cl::alias promptLong;
  llvm::cl::list<int32_t> promptIds;
  llvm::cl::opt<int64_t> steps;
  llvm::cl::opt<float> temp;
  llvm::cl::opt<int32_t> topK;
  llvm::cl::opt<float> topP;
  llvm::cl::opt<uint64_t> seed;
  llvm::cl::opt<unsigned> threads;
  llvm::cl::opt<bool> noBos;
  llvm::cl::opt<bool> quiet;
};

/// Streams the generated text to stdout (with --prompt-ids: the new token
/// ids, space-separated), speeds to stderr; the exit code.
int generateText(const runtime::Model &model, const GenerationFlags &flags);

} // namespace llmc::cli

#endif // LLMC_TOOLS_LLMC_GENERATION_H
