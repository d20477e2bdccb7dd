//===- CompileCommand.cpp - llmc compile ------------------------------------===//

#include "Commands.h"

#include "llmc/Target/Target.h"

#include "llvm/Support/FileSystem.h"

using namespace llvm;

cl::SubCommand llmc::cli::compileCmd(
    "compile", "Compile an ONNX model into a .llmc bundle");

static cl::opt<std::string> input(cl::Positional, cl::desc("<model.onnx>"),
                                  cl::Required, cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> output("o", cl::desc("Output file"),
                                   cl::value_desc("file"), cl::init("-"),
                                   cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string>
    targetName("target",
               cl::desc("Target CPU: native or a named target (llmc targets)"),
               cl::init("native"), cl::sub(llmc::cli::compileCmd));
enum class EmitKind { Bundle, Exe, MLIR, LLVM };
static cl::opt<EmitKind> emit(
    "emit", cl::desc("What to produce"), cl::init(EmitKind::Bundle),
    cl::values(clEnumValN(EmitKind::Bundle, "bundle", ".llmc bundle"),
               clEnumValN(EmitKind::Exe, "exe", "standalone executable"),
               clEnumValN(EmitKind::MLIR, "mlir", "the imported llmc IR"),
               clEnumValN(EmitKind::LLVM, "llvm", "the generated LLVM IR")),
    cl::sub(llmc::cli::compileCmd));

int llmc::cli::runCompile() {
  auto target = llmc::resolveTarget(targetName);
  if (!target)
    return reportError(target.takeError());
  if (!sys::fs::exists(input))
    return reportError(createStringError(inconvertibleErrorCode(),
                                         "cannot open '%s': no such file",
                                         input.c_str()));
  return reportError(createStringError(
      inconvertibleErrorCode(),
      "this build of llmc has no ONNX frontend yet; compile is unavailable"));
}
