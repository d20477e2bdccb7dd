//===- PendingCommands.cpp - Subcommands that need the runtime --------------===//
//
// run, bench, eval and inspect operate on .llmc bundles, which need the bundle
// format and the runtime. Until those exist in this build the commands parse
// their arguments and fail with a clear message and exit code 1.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

using namespace llvm;

cl::SubCommand llmc::cli::runCmd("run", "Generate text from a .llmc bundle");
cl::SubCommand llmc::cli::benchCmd(
    "bench", "Measure prefill/decode speed, load time and memory");
cl::SubCommand llmc::cli::evalCmd(
    "eval", "Perplexity (and KL / top-1 agreement vs --ref) on a text file");
cl::SubCommand llmc::cli::inspectCmd(
    "inspect", "Print a bundle's manifest, target, recipe and kernels");

static cl::opt<std::string> bundlePath(cl::Positional, cl::desc("<model.llmc>"),
                                       cl::Required, cl::sub(llmc::cli::runCmd),
                                       cl::sub(llmc::cli::benchCmd),
                                       cl::sub(llmc::cli::evalCmd),
                                       cl::sub(llmc::cli::inspectCmd));

static int unavailable(const char *what) {
  return llmc::cli::reportError(createStringError(
      inconvertibleErrorCode(),
      "'llmc %s' needs the bundle runtime, which this build does not have yet",
      what));
}

int llmc::cli::runRun() { return unavailable("run"); }
int llmc::cli::runBench() { return unavailable("bench"); }
int llmc::cli::runEval() { return unavailable("eval"); }
int llmc::cli::runInspect() { return unavailable("inspect"); }
