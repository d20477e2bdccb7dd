//===- Commands.h - llmc CLI subcommands ------------------------*- C++ -*-===//
//
// Each subcommand lives in its own file with its own llvm::cl::SubCommand and
// options; llmc.cpp parses the command line and dispatches to the one chosen.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TOOLS_LLMC_COMMANDS_H
#define LLMC_TOOLS_LLMC_COMMANDS_H

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"

namespace llmc::cli {

struct Command {
  llvm::cl::SubCommand *sub;
  int (*run)();
};

/// All subcommands, in the order `llmc --help` lists them.
llvm::ArrayRef<Command> commands();

extern llvm::cl::SubCommand compileCmd, runCmd, benchCmd, evalCmd, inspectCmd,
    targetsCmd;
int runCompile();
int runRun();
int runBench();
int runEval();
int runInspect();
int runTargets();

/// Print "llmc: error: <message>" for `err` and return exit code 1.
int reportError(llvm::Error err);

} // namespace llmc::cli

#endif // LLMC_TOOLS_LLMC_COMMANDS_H
