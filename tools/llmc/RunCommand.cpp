//===- RunCommand.cpp - llmc run ---------------------------------------------===//
//
//   llmc run model.llmc -p "Once upon a time" -n 128 [--temp T --top-k K
//            --top-p P --seed S --threads N]
//
// Streams the generated text to stdout; speeds go to stderr at the end.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Generation.h"

using namespace llvm;

cl::SubCommand llmc::cli::runCmd("run", "Generate text from a .llmc bundle");

static cl::opt<std::string> bundlePath(cl::Positional, cl::desc("<model.llmc>"),
                                       cl::Required, cl::sub(llmc::cli::runCmd));
static llmc::cli::GenerationFlags flags(llmc::cli::runCmd);

int llmc::cli::runRun() {
  auto model = runtime::Model::load(bundlePath);
  if (!model)
    return reportError(model.takeError());
  return generateText(**model, flags);
}
