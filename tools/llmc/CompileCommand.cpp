//===- CompileCommand.cpp - llmc compile ------------------------------------===//

#include "Commands.h"

#include "llmc/Frontend/ONNXImporter.h"
#include "llmc/Transforms/Passes.h"
#include "llmc/Target/Target.h"
#include "llmc/Target/TargetAttr.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/ToolOutputFile.h"

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

enum class Stage { Import, Fuse };
static cl::opt<Stage> stopAfter(
    "stop-after", cl::desc("Last compilation stage to run (for --emit=mlir)"),
    cl::init(Stage::Fuse),
    cl::values(clEnumValN(Stage::Import, "import", "the imported graph"),
               clEnumValN(Stage::Fuse, "fuse",
                          "after the llmc-fuse-transformer pipeline")),
    cl::sub(llmc::cli::compileCmd));

static cl::opt<std::string>
    funcName("func-name", cl::desc("Name of the imported function"),
             cl::init("main"), cl::sub(llmc::cli::compileCmd));
static cl::opt<bool> noValueInfoCheck(
    "no-value-info-check",
    cl::desc("Do not check inferred shapes against the model's value_info"),
    cl::init(false), cl::sub(llmc::cli::compileCmd));

int llmc::cli::runCompile() {
  auto target = llmc::resolveTarget(targetName);
  if (!target)
    return reportError(target.takeError());
  if (!sys::fs::exists(input))
    return reportError(createStringError(inconvertibleErrorCode(),
                                         "cannot open '%s': no such file",
                                         input.c_str()));

  mlir::MLIRContext context;
  llmc::ImportOptions options;
  options.funcName = funcName;
  options.checkValueInfo = !noValueInfoCheck;
  auto module = llmc::importONNX(context, input, options);
  if (!module)
    return reportError(module.takeError());
  (*module)->getOperation()->setAttr(llmc::kTargetAttrName,
                                     llmc::toTargetAttr(&context, *target));

  if (stopAfter >= Stage::Fuse) {
    mlir::PassManager pm(&context);
    llmc::buildFuseTransformerPipeline(pm, {});
    if (mlir::failed(pm.run(**module)))
      return reportError(createStringError(inconvertibleErrorCode(),
                                           "the fusion pipeline failed on '%s'",
                                           input.c_str()));
  }

  if (emit != EmitKind::MLIR)
    return reportError(createStringError(
        inconvertibleErrorCode(),
        "this build of llmc can only import models (--emit=mlir); code "
        "generation and bundles are not available yet"));

  std::error_code ec;
  ToolOutputFile out(output, ec, sys::fs::OF_None);
  if (ec)
    return reportError(createStringError(ec, "cannot write '%s': %s",
                                         output.c_str(),
                                         ec.message().c_str()));
  (*module)->print(out.os());
  out.os() << "\n";
  out.keep();
  return 0;
}
