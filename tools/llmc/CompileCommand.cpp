//===- CompileCommand.cpp - llmc compile ------------------------------------===//

#include "Commands.h"

#include "llmc/CodeGen/Compile.h"
#include "llmc/Frontend/ONNXImporter.h"
#include "llmc/Quant/Recipe.h"
#include "llmc/Runtime/Calibrate.h"
#include "llmc/Transforms/Passes.h"
#include "llmc/Target/Target.h"
#include "llmc/Target/TargetAttr.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

#include <optional>

using namespace llvm;

cl::SubCommand llmc::cli::compileCmd(
    "compile", "Compile an ONNX model into a .llmc bundle");

static cl::opt<std::string> input(cl::Positional, cl::desc("<model.onnx>"),
                                  cl::Required, cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string>
    output("o", cl::desc("Output file (default: the model's name with .llmc "
                         "for bundles, stdout for text)"),
           cl::value_desc("file"), cl::sub(llmc::cli::compileCmd));
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

static cl::opt<std::string> quantSpec(
    "quant",
    cl::desc("Weight format: TYPE(:OPTION)*, TYPE = fp32|fp16|bf16|int8|int4|"
             "int3|int2, "
             "options gN|pc, sym|asym, f32|f16|bf16 scales "
             "(docs/QUANTIZATION.md)"),
    cl::init("fp32"), cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> quantRecipeFile(
    "quant-recipe",
    cl::desc("Per-tensor recipe (JSON: {\"default\": SPEC, \"rules\": "
             "[{\"match\": GLOB, \"quant\": SPEC}]}, first match wins; "
             "docs/QUANTIZATION.md)"),
    cl::value_desc("file"), cl::sub(llmc::cli::compileCmd));
static cl::opt<unsigned> groupSize(
    "group-size", cl::desc("Quantization group along K (32, 64, 128; 0 = per "
                           "output channel); overrides --quant's gN"),
    cl::sub(llmc::cli::compileCmd));
static cl::opt<bool> symmetric("sym", cl::desc("Symmetric quantization"),
                               cl::sub(llmc::cli::compileCmd));
static cl::opt<bool> asymmetric("asym",
                                cl::desc("Asymmetric quantization (zero points)"),
                                cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> activations(
    "activations",
    cl::desc("Activations of integer-weight matmuls: int8 (quantized per row "
             "and group at run time; default) or fp32 (weight-only)"),
    cl::init("int8"), cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> tokenizerPath(
    "tokenizer",
    cl::desc("Tokenizer file to embed (llama2.c tokenizer.bin or SentencePiece "
             ".model); default: from <model>.config.json"),
    cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> tokenizerKind(
    "tokenizer-kind", cl::desc("llama2c or sentencepiece (default: guessed)"),
    cl::sub(llmc::cli::compileCmd));
static cl::opt<int64_t> maxContext(
    "ctx", cl::desc("KV cache length (default: the model's max_seq_len)"),
    cl::init(0), cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> kvType("kv", cl::desc("KV cache type: fp32 or fp16"),
                                   cl::init("fp32"),
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

static cl::opt<std::string> calibPath(
    "calib",
    cl::desc("Calibration text for gptq, awq and quip (never the evaluation "
             "text)"),
    cl::value_desc("file"), cl::sub(llmc::cli::compileCmd));
static cl::opt<int64_t> calibTokens(
    "calib-tokens", cl::desc("Calibration tokens used at most (default 4096)"),
    cl::init(4096), cl::sub(llmc::cli::compileCmd));
static cl::opt<int64_t> calibSeqLen(
    "calib-seq-len",
    cl::desc("Tokens per calibration sequence, each from BOS (default 256)"),
    cl::init(256), cl::sub(llmc::cli::compileCmd));

// A lib/Quant spec as the code generator's recipe.
static Expected<llmc::codegen::QuantRecipe>
recipeFromSpec(const llmc::quant::QuantSpec &spec) {
  using llmc::kernels::ScaleType;
  using llmc::kernels::WeightType;
  using llmc::quant::QuantMethod;
  llmc::codegen::QuantRecipe r;
  switch (spec.method) {
  case QuantMethod::RTN: r.method = "rtn"; break;
  case QuantMethod::GPTQ: r.method = "gptq"; break;
  case QuantMethod::AWQ: r.method = "awq"; break;
  case QuantMethod::Incoherent: r.method = "quip"; break;
  }
  r.actOrder = spec.actOrder;
  switch (spec.format.type) {
  case WeightType::F32: r.type = "fp32"; break;
  case WeightType::F16: r.type = "fp16"; break;
  case WeightType::BF16: r.type = "bf16"; break;
  case WeightType::Int8: r.type = "int8"; break;
  case WeightType::Int4: r.type = "int4"; break;
  case WeightType::Int3: r.type = "int3"; break;
  case WeightType::Int2: r.type = "int2"; break;
  }
  r.groupSize = spec.format.groupSize;
  r.symmetric = spec.format.symmetric;
  r.scaleType = spec.format.scaleType == ScaleType::F32    ? "f32"
                : spec.format.scaleType == ScaleType::BF16 ? "bf16"
                                                           : "f16";
  r.mseClip = spec.mseClip;
  r.activations = activations;
  if (Error e = r.validate())
    return std::move(e);
  return r;
}

// --quant plus the --group-size/--sym/--asym overrides: the default spec.
static Expected<llmc::quant::QuantSpec> specFromFlags() {
  auto spec = llmc::quant::parseQuantSpec(quantSpec);
  if (!spec)
    return spec.takeError();
  if (groupSize.getNumOccurrences())
    spec->format.groupSize = groupSize;
  if (symmetric && asymmetric)
    return createStringError(inconvertibleErrorCode(),
                             "--sym and --asym are mutually exclusive");
  if (symmetric || asymmetric)
    spec->format.symmetric = symmetric;
  return spec;
}

// gptq, awq and quip round with statistics of each matmul's input: compile
// the model at fp32 into a temporary bundle, run it over the --calib text and
// observe every matmul input (runtime/Calibrate.h).
static Expected<StringMap<llmc::quant::CalibrationStats>>
calibrate(mlir::ModuleOp module, llmc::codegen::CompileOptions co,
          function_ref<bool(StringRef slotName)> wanted) {
  if (calibPath.empty())
    return createStringError(inconvertibleErrorCode(),
                             "--quant methods gptq, awq and quip need "
                             "calibration text: --calib FILE");
  auto text = MemoryBuffer::getFile(calibPath);
  if (!text)
    return createStringError(text.getError(), "cannot read '%s': %s",
                             calibPath.c_str(), text.getError().message().c_str());
  SmallString<128> tmp;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("llmc-calibration", "llmc", tmp))
    return createStringError(ec, "cannot create a temporary file: %s",
                             ec.message().c_str());
  FileRemover removeTmp(tmp);
  co.recipe = llmc::codegen::QuantRecipe{}; // fp32
  co.recipeFor = nullptr;
  co.calibration = nullptr;
  auto progress = co.progress;
  co.progress = nullptr;
  if (progress)
    progress("calibration: compiling an fp32 bundle");
  if (Error e = llmc::codegen::compileToBundle(module, co, tmp))
    return std::move(e);
  auto model = llmc::runtime::Model::load(tmp);
  if (!model)
    return model.takeError();
  const llmc::Tokenizer *tok = (*model)->tokenizer();
  if (!tok)
    return createStringError(inconvertibleErrorCode(),
                             "calibration needs the model's tokenizer "
                             "(--tokenizer FILE)");
  std::vector<int32_t> ids = tok->encode((*text)->getBuffer(), false, false);
  llmc::runtime::CalibrationOptions opts;
  opts.maxTokens = calibTokens;
  opts.sequenceLength = calibSeqLen;
  opts.progress = progress;
  const llmc::codegen::ProgramPlan &plan = (*model)->plan();
  opts.wanted = [&](int32_t slot) { return wanted(plan.weights[slot].name); };
  return llmc::runtime::collectMatmulInputStats(**model, ids, opts);
}

int llmc::cli::runCompile() {
  auto target = llmc::resolveTarget(targetName);
  if (!target)
    return reportError(target.takeError());
  if (!sys::fs::exists(input))
    return reportError(createStringError(inconvertibleErrorCode(),
                                         "cannot open '%s': no such file",
                                         input.c_str()));

  auto defaultSpec = specFromFlags();
  if (!defaultSpec)
    return reportError(defaultSpec.takeError());
  // Per-tensor rules (the file's "default", else the flags' spec, for
  // unmatched tensors): every spec is checked now, before any work.
  std::optional<llmc::quant::QuantRecipe> rules;
  if (!quantRecipeFile.empty()) {
    auto loaded =
        llmc::quant::QuantRecipe::loadFile(quantRecipeFile, *defaultSpec);
    if (!loaded)
      return reportError(loaded.takeError());
    for (const llmc::quant::QuantRule &rule : loaded->rules)
      if (auto r = recipeFromSpec(rule.spec); !r)
        return reportError(r.takeError());
    *defaultSpec = loaded->defaultSpec;
    rules = std::move(*loaded);
  }
  auto recipe = recipeFromSpec(*defaultSpec);
  if (!recipe)
    return reportError(recipe.takeError());

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

  llmc::codegen::CompileOptions co;
  co.fuse = false; // the pipeline ran above
  co.recipe = *recipe;
  co.sourcePath = input;
  co.tokenizerPath = tokenizerPath;
  co.tokenizerKind = tokenizerKind;
  co.maxContext = maxContext;
  co.kvType = kvType;
  co.progress = [](StringRef line) { errs() << "llmc: " << line << "\n"; };
  if (rules)
    co.recipeFor = [&](StringRef name) -> Expected<llmc::codegen::QuantRecipe> {
      // A merged weight ("q+k+v") takes the recipe of its first part.
      return recipeFromSpec(rules->lookup(name.split('+').first));
    };

  // The recipe of each matmul weight slot (merged "q+k+v": its first part's).
  auto slotRecipe = [&](StringRef name) -> Expected<llmc::codegen::QuantRecipe> {
    if (co.recipeFor)
      return co.recipeFor(name);
    return co.recipe;
  };
  bool needsCalibration = recipe->needsCalibration();
  if (rules)
    for (const llmc::quant::QuantRule &rule : rules->rules)
      needsCalibration |= cantFail(recipeFromSpec(rule.spec)).needsCalibration();
  StringMap<llmc::quant::CalibrationStats> calibration;
  if (needsCalibration && emit == EmitKind::Bundle) {
    auto stats = calibrate(**module, co, [&](StringRef name) {
      auto r = slotRecipe(name);
      return r && r->needsCalibration();
    });
    if (!stats)
      return reportError(stats.takeError());
    calibration = std::move(*stats);
    co.calibration = &calibration;
  }

  if (emit == EmitKind::Exe)
    return reportError(createStringError(
        inconvertibleErrorCode(),
        "--emit=exe is not implemented yet; use --emit=bundle and 'llmc run'"));
  if (emit != EmitKind::MLIR && stopAfter != Stage::Fuse)
    return reportError(createStringError(
        inconvertibleErrorCode(), "--stop-after applies to --emit=mlir only"));
  if (emit == EmitKind::Bundle) {
    std::string path = output;
    if (path.empty() || path == "-") {
      SmallString<256> derived(input.getValue());
      sys::path::replace_extension(derived, ".llmc");
      path = derived.str().str();
    }
    if (Error e = llmc::codegen::compileToBundle(**module, co, path))
      return reportError(std::move(e));
    errs() << "llmc: wrote " << path << "\n";
    return 0;
  }

  std::string text;
  if (emit == EmitKind::LLVM) {
    auto ir = llmc::codegen::emitProgramText(**module, co, /*llvm=*/true);
    if (!ir)
      return reportError(ir.takeError());
    text = std::move(*ir);
  } else {
    raw_string_ostream os(text);
    (*module)->print(os);
    os << "\n";
  }
  std::string path = output.empty() ? "-" : output.getValue();
  std::error_code ec;
  ToolOutputFile out(path, ec, sys::fs::OF_None);
  if (ec)
    return reportError(createStringError(ec, "cannot write '%s': %s",
                                         path.c_str(), ec.message().c_str()));
  out.os() << text;
  out.keep();
  return 0;
}
