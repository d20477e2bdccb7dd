//===- llmc.cpp - The llmc command-line driver ------------------------------===//
//
//   llmc compile model.onnx --target=native [--quant=...] -o model.llmc
//   llmc run | bench | eval | inspect model.llmc ...
//   llmc targets                      named targets and the host
//   llmc --print-target=NAME          a target's description and #llmc.target
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llmc/Target/TargetAttr.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include "llmc/Version.h"

using namespace llvm;

static cl::OptionCategory &driverCategory() {
  static cl::OptionCategory category("llmc options");
  return category;
}

static cl::opt<std::string>
    printTarget("print-target",
                cl::desc("Print the description of a target (native or a "
                         "named target) and its #llmc.target attribute"),
                cl::value_desc("target"), cl::cat(driverCategory()));

int llmc::cli::reportError(Error err) {
  handleAllErrors(std::move(err), [](const ErrorInfoBase &info) {
    WithColor::error(errs(), "llmc") << info.message() << "\n";
  });
  return 1;
}

ArrayRef<llmc::cli::Command> llmc::cli::commands() {
  static const Command all[] = {
      {&compileCmd, runCompile}, {&runCmd, runRun},
      {&benchCmd, runBench},     {&evalCmd, runEval},
      {&inspectCmd, runInspect}, {&targetsCmd, runTargets}};
  return all;
}

static int printTargetDescription(StringRef name) {
  auto target = llmc::resolveTarget(name);
  if (!target)
    return llmc::cli::reportError(target.takeError());
  outs() << target->describe() << "attribute:   "
         << llmc::printTargetAttr(*target) << "\n";
  return 0;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "llmc " << LLMC_VERSION_STRING << " (LLVM/MLIR " << LLVM_VERSION_STRING
       << ")\n";
  });
  // LLVM's own options (hundreds, from every backend linked in) still parse
  // but stay out of `llmc --help`.
  cl::HideUnrelatedOptions(driverCategory());
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc: a JIT-compiling inference compiler for transformer LLMs on CPUs\n\n"
      "  llmc compile model.onnx --target=native -o model.llmc\n"
      "  llmc run model.llmc -p \"Once upon a time\" -n 128\n");

  for (const llmc::cli::Command &cmd : llmc::cli::commands())
    if (*cmd.sub)
      return cmd.run();
  if (!printTarget.empty())
    return printTargetDescription(printTarget);

  errs() << "llmc: no subcommand given; see 'llmc --help'\n";
  return 1;
}
