//===- llmc-bundle.cpp - llmc IR (.mlir) -> .llmc bundle, for tests ----------===//
//
//   llmc-bundle model.mlir [--quant=int4 --group-size=32 --asym] [--no-fuse]
//               [--tokenizer=tok.bin] [--ctx=N] [--max-tokens=N] -o model.llmc
//
// Runs what `llmc compile` runs after the ONNX import: the fusion pipeline and
// llmc::codegen::compileToBundle. Lets the tests build bundles from imported
// (or handwritten fused) IR independently of the frontend.
//
//===----------------------------------------------------------------------===//

#include "llmc/CodeGen/Compile.h"
#include "llmc/InitAll.h"
#include "llmc/Target/Target.h"
#include "llmc/Target/TargetAttr.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;

static cl::opt<std::string> input(cl::Positional, cl::Required, cl::desc("<model.mlir>"));
static cl::opt<std::string> output("o", cl::init("-"), cl::desc("output bundle"));
static cl::opt<std::string> quant("quant", cl::init("fp32"));
static cl::opt<unsigned> groupSize("group-size", cl::init(32));
static cl::opt<bool> asym("asym", cl::init(false));
static cl::opt<bool> noFuse("no-fuse", cl::init(false));
static cl::opt<std::string> tokenizer("tokenizer", cl::init(""));
static cl::opt<std::string> targetName("target", cl::init(""),
    cl::desc("override the module's llmc.target (native or a named target)"));
static cl::opt<int64_t> ctx("ctx", cl::init(0));
static cl::opt<std::string> kvType("kv", cl::init("fp32"), cl::desc("KV cache: fp32, fp16 or int8"));
static cl::opt<int64_t> maxTokens("max-tokens", cl::init(128));
static cl::opt<std::string> emitText("emit", cl::init(""),
    cl::desc("print the generated program instead: 'mlir' or 'llvm'"));
static cl::opt<bool> verbose("v", cl::init(false), cl::desc("progress per weight"));
static cl::opt<std::string> source("source", cl::init(""),
    cl::desc("source model path (its .config.json is read)"));

static int fail(Error e) {
  handleAllErrors(std::move(e), [](const ErrorInfoBase &info) {
    WithColor::error(errs(), "llmc-bundle") << info.message() << "\n";
  });
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "llmc IR -> .llmc bundle\n");
  mlir::DialectRegistry registry;
  llmc::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  SourceMgr sm;
  auto buf = MemoryBuffer::getFileOrSTDIN(input);
  if (!buf)
    return fail(createStringError(buf.getError(), "cannot read '%s'", input.c_str()));
  sm.AddNewSourceBuffer(std::move(*buf), SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sm, &context);
  if (!module)
    return 1;
  if (!targetName.empty() || !(*module)->getAttr(llmc::kTargetAttrName)) {
    auto t = llmc::resolveTarget(targetName.empty() ? std::string("native") : std::string(targetName));
    if (!t)
      return fail(t.takeError());
    (*module)->setAttr(llmc::kTargetAttrName, llmc::toTargetAttr(&context, *t));
  }
  llmc::codegen::CompileOptions opts;
  opts.fuse = !noFuse;
  auto spec = llmc::quant::parseQuantSpec(quant);
  if (!spec)
    return fail(spec.takeError());
  if (spec->isQuantized()) {
    spec->format.groupSize = groupSize;
    spec->format.symmetric = !asym;
    spec->format.scaleType = groupSize ? llmc::kernels::ScaleType::F16
                                       : llmc::kernels::ScaleType::F32;
  }
  opts.recipe.weights = *spec;
  opts.tokenizerPath = tokenizer;
  opts.maxContext = ctx;
  opts.kvType = kvType;
  opts.maxTokensPerCall = maxTokens;
  opts.sourcePath = source;
  auto progress = [](StringRef line) { errs() << "  " << line << "\n"; };
  if (verbose)
    opts.progress = progress;
  if (!emitText.empty()) {
    auto text = llmc::codegen::emitProgramText(*module, opts, emitText == "llvm");
    if (!text)
      return fail(text.takeError());
    outs() << *text;
    return 0;
  }
  if (Error e = llmc::codegen::compileToBundle(*module, opts, output))
    return fail(std::move(e));
  return 0;
}
