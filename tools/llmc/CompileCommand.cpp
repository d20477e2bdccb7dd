//===- CompileCommand.cpp - llmc compile ------------------------------------===//

#include "Commands.h"
#include "Standalone.h"

#include "llmc/CodeGen/Compile.h"
#include "llmc/CodeGen/ModelFacts.h"
#include "llmc/CodeGen/SlotQuantizer.h"
#include "llmc/Frontend/ONNXImporter.h"
#include "llmc/Quant/Recipe.h"
#include "llmc/Runtime/Calibrate.h"
#include "llmc/Runtime/Tokenizer.h"
#include "llmc/Tune/AutoTune.h"
#include "llmc/Tune/SequentialCalibration.h"
#include "llmc/Transforms/Passes.h"
#include "llmc/Target/Target.h"
#include "llmc/Target/TargetAttr.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <optional>
#include <random>

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

// -O0 .. -O3, spelled as compilers do (cl::Prefix: "-O2" is "-O" "2").
static cl::opt<unsigned> optLevel(
    "O",
    cl::desc("Optimization level 0..3 (default 3): 0 keeps q/k/v and gate/up "
             "as separate matmuls and leaves the generated program "
             "unoptimized; 1..3 merge them and pick LLVM's pipeline"),
    cl::Prefix, cl::init(3), cl::sub(llmc::cli::compileCmd));

static cl::opt<std::string> quantSpec(
    "quant",
    cl::desc("Weight format: TYPE(:OPTION)*, TYPE = fp32|fp16|bf16|int8|int4|"
             "int3|int2|nl4|nl2, "
             "options gN|pc, sym|asym, f32|f16|bf16 scales, mse, "
             "rtn|gptq|awq|quip, actorder, quarot (docs/QUANTIZATION.md)"),
    cl::init("fp32"), cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> quantEmbedding(
    "quant-embedding",
    cl::desc("Embedding table format: fp32 (dense, the default) or a --quant "
             "spec rounded to nearest (int8, int4:g32, fp16, ...; mse allowed); "
             "a tied lm_head in that format is stored once (docs/QUANTIZATION.md)"),
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
             "and group at run time; default), fp32 (weight-only), or "
             "static[:minmax|:pN] (per-tensor scales calibrated from --calib: "
             "full integer); bf16: the inputs of bf16-weight matmuls rounded "
             "to bf16 for the AVX512-BF16 dot product (integer weights: as "
             "fp32)"),
    cl::init("int8"), cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> tokenizerPath(
    "tokenizer",
    cl::desc("Tokenizer file to embed (llama2.c tokenizer.bin, SentencePiece "
             ".model, or a Hugging Face byte-level BPE tokenizer.json); "
             "default: from <model>.config.json"),
    cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> tokenizerKind(
    "tokenizer-kind",
    cl::desc("llama2c, sentencepiece or bpe (default: from the file name: "
             "*.model sentencepiece, *.json bpe, else llama2c)"),
    cl::sub(llmc::cli::compileCmd));
static cl::opt<int64_t> maxContext(
    "ctx", cl::desc("KV cache length (default: the model's max_seq_len)"),
    cl::init(0), cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> kvType("kv", cl::desc("KV cache type: fp32, fp16 or int8"),
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
    cl::desc("Calibration text for gptq, awq, quip and auto (never the "
             "evaluation text); random:SEED = random token ids, for speed "
             "measurements only"),
    cl::value_desc("file"), cl::sub(llmc::cli::compileCmd));
static cl::opt<int64_t> calibTokens(
    "calib-tokens", cl::desc("Calibration tokens used at most (default 4096)"),
    cl::init(4096), cl::sub(llmc::cli::compileCmd));
static cl::opt<int64_t> calibSeqLen(
    "calib-seq-len",
    cl::desc("Tokens per calibration sequence, each from BOS (default 256)"),
    cl::init(256), cl::sub(llmc::cli::compileCmd));

static cl::opt<bool> sequentialCalibration(
    "sequential-calibration",
    cl::desc("gptq/quip: calibrate the matmuls one at a time in program "
             "order, each on the inputs the quantized matmuls before it "
             "produce, rounding for the fp32 outputs (one compile and "
             "calibration run per matmul; docs/QUANTIZATION.md)"),
    cl::init(false), cl::sub(llmc::cli::compileCmd));

static cl::opt<std::string> accuracyGoal(
    "accuracy-goal",
    cl::desc("--quant=auto: allowed perplexity increase over fp32 on held-out "
             "calibration text (e.g. 1%)"),
    cl::init("1%"), cl::sub(llmc::cli::compileCmd));
static cl::opt<std::string> tuneConfidence(
    "tune-confidence",
    cl::desc("--quant=auto: a recipe meets the goal when its perplexity "
             "increase on the tuning chunks is within it with this one-sided "
             "confidence, from the spread of its per-chunk increases (default "
             "95%; 50% compares the mean alone)"),
    cl::init("95%"), cl::sub(llmc::cli::compileCmd));
static cl::opt<unsigned> tuneBudget(
    "tune-budget", cl::desc("--quant=auto: models evaluated at most (default 10)"),
    cl::init(10), cl::sub(llmc::cli::compileCmd));
static cl::opt<int64_t> tuneChunks(
    "tune-chunks",
    cl::desc("--quant=auto: sequences of held-out calibration text each "
             "candidate is scored on (default 64; fewer if the text ends "
             "sooner)"),
    cl::init(64), cl::sub(llmc::cli::compileCmd));
static cl::opt<double> tuneMaxBpw(
    "tune-max-bpw",
    cl::desc("--quant=auto: consider only recipes of at most this many bits "
             "per weight; if none meets the goal, keep the most accurate "
             "(default: no limit)"),
    cl::init(0), cl::sub(llmc::cli::compileCmd));
enum class TuneSensitivity { Proxy, Measured };
static cl::opt<TuneSensitivity> tuneSensitivity(
    "tune-sensitivity",
    cl::desc("--quant=auto: how each layer's sensitivity to each format is "
             "ranked"),
    cl::values(clEnumValN(TuneSensitivity::Proxy, "proxy",
                          "relative output error on the calibration inputs "
                          "(default; no extra models)"),
               clEnumValN(TuneSensitivity::Measured, "measured",
                          "perplexity of the model with that layer alone "
                          "quantized (layers x formats extra models)")),
    cl::init(TuneSensitivity::Proxy), cl::sub(llmc::cli::compileCmd));

// A lib/Quant spec and an activation mode (--activations, or a recipe
// rule's "activations", named `what` in errors) as the code generator's
// recipe.
static Expected<llmc::codegen::QuantRecipe>
recipeFromSpec(const llmc::quant::QuantSpec &spec,
               StringRef acts = activations, StringRef what = "--activations") {
  llmc::codegen::QuantRecipe r;
  r.weights = spec;
  // int8 | fp32 | bf16 | static[:minmax|:pN]
  auto [actKind, actRange] = acts.split(':');
  std::optional<llmc::codegen::ActivationMode> mode =
      llmc::codegen::parseActivationMode(actKind);
  if (!mode)
    return createStringError(inconvertibleErrorCode(),
                             "%s must be int8, fp32, static or bf16 (got '%s')",
                             what.str().c_str(), acts.str().c_str());
  r.activations = *mode;
  // Errors about the mode name where it came from: --activations=X or a
  // rule's "activations" 'X'.
  const std::string source =
      (what.starts_with("--") ? what + "=" + acts : what + " '" + acts + "'")
          .str();
  if (!actRange.empty()) {
    if (*mode != llmc::codegen::ActivationMode::Static)
      return createStringError(inconvertibleErrorCode(),
                               "%s: only static takes a range", source.c_str());
    r.actRange = actRange.str();
  }
  if (Error e = r.validate())
    return createStringError(inconvertibleErrorCode(), "%s: %s",
                             source.c_str(),
                             toString(std::move(e)).c_str());
  return r;
}

// A --quant-recipe rule's recipe: its own "activations", else --activations.
static Expected<llmc::codegen::QuantRecipe>
ruleRecipe(const llmc::quant::QuantRule &rule) {
  if (rule.activations.empty())
    return recipeFromSpec(rule.spec);
  return recipeFromSpec(rule.spec, rule.activations, "\"activations\"");
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
// observe every matmul input (runtime/Calibrate.h). The fp32 model and the
// text stay for the auto-tuner.
namespace {
struct CalibrationRun {
  SmallString<128> bundlePath;
  std::unique_ptr<FileRemover> removeBundle;
  std::unique_ptr<llmc::runtime::Model> model;
  std::vector<int32_t> tokens; ///< the whole calibration text
  StringMap<llmc::quant::CalibrationStats> stats;
  StringMap<llmc::quant::ActivationRange> ranges;
};
} // namespace

/// The calibration runs' token budget and sequence length (--calib-tokens,
/// --calib-seq-len).
static llmc::runtime::CalibrationOptions calibrationOptions() {
  llmc::runtime::CalibrationOptions opts;
  opts.maxTokens = calibTokens;
  opts.sequenceLength = calibSeqLen;
  return opts;
}

static Expected<std::unique_ptr<CalibrationRun>>
calibrate(mlir::ModuleOp module, llmc::codegen::CompileOptions co,
          function_ref<bool(StringRef slotName)> wanted,
          function_ref<bool(StringRef slotName)> wantedRange) {
  if (calibPath.empty())
    return createStringError(inconvertibleErrorCode(),
                             "gptq, awq, quip, --quant=auto and "
                             "--activations=static need calibration text: "
                             "--calib FILE");
  // "random:SEED": uniformly random token ids, for speed measurements of
  // calibrated formats on random-weight models without a tokenizer (the
  // statistics then say nothing about real text).
  std::unique_ptr<MemoryBuffer> text;
  std::optional<uint64_t> randomSeed;
  if (StringRef(calibPath).starts_with("random:")) {
    uint64_t seed;
    if (StringRef(calibPath).drop_front(7).getAsInteger(10, seed))
      return createStringError(inconvertibleErrorCode(),
                               "--calib random:SEED needs a number (got '%s')",
                               calibPath.c_str());
    randomSeed = seed;
  } else {
    auto buf = MemoryBuffer::getFile(calibPath);
    if (!buf)
      return createStringError(buf.getError(), "cannot read '%s': %s",
                               calibPath.c_str(), buf.getError().message().c_str());
    text = std::move(*buf);
  }
  auto run = std::make_unique<CalibrationRun>();
  if (std::error_code ec = sys::fs::createTemporaryFile("llmc-calibration", "llmc",
                                                        run->bundlePath))
    return createStringError(ec, "cannot create a temporary file: %s",
                             ec.message().c_str());
  run->removeBundle = std::make_unique<FileRemover>(run->bundlePath);
  // The statistics must be of the inputs the quantized model's matmuls will
  // see. With quarot those are rotated: a reader of the residual stream gets
  // U n (n the norm's output without its weight gamma), not gamma .* n. Rather
  // than transforming each H (H' = U D^-1 H D^-1 U^T, D = diag(gamma): a K^3
  // product per slot, and undefined where gamma_k = 0), calibrate the folded
  // fp32 model itself: it is the bundle this step compiles anyway, so it
  // costs nothing, and its H are exact. (When the dataflow does not allow
  // folding, both compiles fall back alike and the statistics stay unrotated;
  // online rotations are applied to W and H by the quantizer, as for quip.)
  const bool quarot = co.recipe.weights.quarot;
  co.recipe = llmc::codegen::QuantRecipe{}; // fp32
  co.recipe.weights.quarot = quarot;
  co.recipeFor = nullptr;
  co.embedding = llmc::quant::QuantSpec{}; // the fp32 model's own table
  co.calibration = nullptr;
  auto progress = co.progress;
  co.progress = nullptr;
  if (progress)
    progress("calibration: compiling an fp32 bundle");
  if (Error e = llmc::codegen::compileToBundle(module, co, run->bundlePath))
    return std::move(e);
  auto model = llmc::runtime::Model::load(run->bundlePath);
  if (!model)
    return model.takeError();
  run->model = std::move(*model);
  if (randomSeed) {
    std::mt19937_64 rng(*randomSeed);
    const uint64_t V = uint64_t(run->model->config().vocab);
    run->tokens.resize(size_t(calibTokens));
    for (int32_t &t : run->tokens)
      t = int32_t(rng() % V);
  } else {
    const llmc::Tokenizer *tok = run->model->tokenizer();
    if (!tok)
      return createStringError(inconvertibleErrorCode(),
                               "calibration needs the model's tokenizer "
                               "(--tokenizer FILE)");
    run->tokens = tok->encode(text->getBuffer(), false, false);
  }
  llmc::runtime::CalibrationOptions opts = calibrationOptions();
  opts.progress = progress;
  const llmc::codegen::ProgramPlan &plan = run->model->plan();
  opts.wanted = [&](int32_t slot) { return wanted(plan.weights[slot].name); };
  opts.wantedRange = [&](int32_t slot) {
    return wantedRange(plan.weights[slot].name);
  };
  auto data = llmc::runtime::collectMatmulInputStats(*run->model, run->tokens, opts);
  if (!data)
    return data.takeError();
  run->stats = std::move(data->stats);
  run->ranges = std::move(data->ranges);
  return std::move(run);
}

// "1%" or "0.01" as 0.01; nullopt if it is neither.
static std::optional<double> parsePercentOrFraction(StringRef text) {
  text = text.trim();
  bool percent = text.consume_back("%");
  double v;
  if (text.getAsDouble(v))
    return std::nullopt;
  return percent ? v / 100 : v;
}

static Expected<double> parseAccuracyGoal() {
  std::optional<double> goal = parsePercentOrFraction(accuracyGoal);
  if (!goal || *goal < 0)
    return createStringError(inconvertibleErrorCode(),
                             "--accuracy-goal must be a relative perplexity "
                             "increase such as 1%% or 0.01 (got '%s')",
                             accuracyGoal.c_str());
  return *goal;
}

static Expected<double> parseTuneConfidence() {
  std::optional<double> p = parsePercentOrFraction(tuneConfidence);
  if (!p || !(*p >= 0.5 && *p < 1))
    return createStringError(inconvertibleErrorCode(),
                             "--tune-confidence must be a probability in "
                             "[50%%, 100%%) such as 95%% or 0.95 (got '%s')",
                             tuneConfidence.c_str());
  return *p;
}

// --quant=auto: per-layer recipes meeting --accuracy-goal (tune/AutoTune.h).
// Returns the tuning result; writes its recipes as a --quant-recipe file.
static Expected<llmc::tune::TuneResult>
autoTune(mlir::ModuleOp module, llmc::codegen::CompileOptions &co,
         CalibrationRun &calib, StringRef output) {
  auto goalOr = parseAccuracyGoal();
  if (!goalOr)
    return goalOr.takeError();
  const double goal = *goalOr;
  auto confidence = parseTuneConfidence();
  if (!confidence)
    return confidence.takeError();
  // Tune on calibration tokens the statistics did not see.
  const int64_t used = std::min<int64_t>(calibTokens, int64_t(calib.tokens.size()));
  ArrayRef<int32_t> held = ArrayRef<int32_t>(calib.tokens).drop_front(size_t(used));
  llmc::tune::TuneOptions to;
  to.goal = goal;
  to.confidence = *confidence;
  to.budget = tuneBudget;
  to.eval.ctx = std::min<int64_t>(calibSeqLen, calib.model->config().maxContext);
  to.eval.maxChunks = tuneChunks;
  to.measureSensitivity = tuneSensitivity == TuneSensitivity::Measured;
  if (tuneMaxBpw < 0)
    return createStringError(inconvertibleErrorCode(),
                             "--tune-max-bpw must be positive, or 0 for no limit (got %g)",
                             double(tuneMaxBpw));
  to.maxBitsPerWeight = tuneMaxBpw;
  to.progress = co.progress;
  if (int64_t(held.size()) < 2 * to.eval.ctx)
    return createStringError(inconvertibleErrorCode(),
                             "--quant=auto tunes on calibration text beyond "
                             "--calib-tokens (%lld): '%s' has only %zu tokens",
                             (long long)used, calibPath.c_str(),
                             calib.tokens.size());
  if (sequentialCalibration) {
    to.sequential = true;
    to.calibrationTokens = calib.tokens;
    to.calibration = calibrationOptions();
  }
  co.calibration = &calib.stats;
  auto r = llmc::tune::autoTune(module, co, *calib.model, held, to);
  if (!r)
    return r.takeError();
  if (co.progress)
    co.progress(formatv("tune: {0}: {1:f2} bits/weight, perplexity {2:f4} vs "
                        "fp32 {3:f4} ({4}, at most {5:f2}% at {6}% confidence; "
                        "goal {7:f2}%), {8} models evaluated",
                        r->met ? "goal met" : "goal NOT met", r->bitsPerWeight,
                        r->perplexity, r->referencePerplexity,
                        llmc::tune::percentChange(r->perplexity, r->referencePerplexity),
                        100 * r->increaseUpperBound, format("%g", 100 * to.confidence),
                        100.0 * goal, r->evaluations)
                    .str());
  // The recipe file: one exact rule per weight (merged slots by first part).
  json::Array rules;
  for (const auto &[slot, recipe] : r->slots)
    rules.push_back(json::Object{{"match", StringRef(slot).split('+').first},
                                 {"quant", recipe.weights.str()}});
  json::Object file{{"default", "fp32"}, {"rules", std::move(rules)}};
  if (co.embedding.format.type != llmc::kernels::WeightType::F32)
    file["embedding"] = co.embedding.str();
  co.tuning = json::Object{{"goal", goal},
                           {"metric", "perplexity on held-out calibration text"},
                           {"met", r->met},
                           {"reference_perplexity", r->referencePerplexity},
                           {"perplexity", r->perplexity},
                           {"confidence", to.confidence},
                           {"increase_upper_bound", r->increaseUpperBound},
                           {"bits_per_weight", r->bitsPerWeight},
                           {"evaluations", int64_t(r->evaluations)},
                           {"sequential_calibration", to.sequential},
                           {"sensitivity", to.measureSensitivity ? "measured" : "proxy"},
                           {"max_bits_per_weight", to.maxBitsPerWeight},
                           {"sensitivity_evaluations", int64_t(r->sensitivityEvaluations)},
                           {"recipe", json::Value(json::Object(file))}};
  std::string recipePath = (output + ".recipe.json").str();
  std::error_code ec;
  raw_fd_ostream os(recipePath, ec);
  if (ec)
    return createStringError(ec, "cannot write '%s': %s", recipePath.c_str(),
                             ec.message().c_str());
  os << formatv("{0:2}", json::Value(std::move(file))) << "\n";
  if (co.progress)
    co.progress("wrote the tuned recipe to " + recipePath);
  return std::move(*r);
}

// --emit=exe: the prebuilt stub beside this llmc binary, padding to a page,
// the bundle, the trailer (Standalone.h); written to a temporary file and
// renamed into place, so a failure leaves nothing behind.
static Error writeStandalone(mlir::ModuleOp module,
                             const llmc::codegen::CompileOptions &co,
                             StringRef path) {
  SmallString<256> stub(sys::path::parent_path(
      sys::fs::getMainExecutable(nullptr, (void *)&writeStandalone)));
  sys::path::append(stub, llmc::cli::kStandaloneStubName);
  auto stubBytes = MemoryBuffer::getFile(stub, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!stubBytes)
    return createStringError(stubBytes.getError(),
                             "--emit=exe needs '%s' beside llmc: %s",
                             stub.c_str(), stubBytes.getError().message().c_str());
  SmallString<128> bundlePath;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("llmc-exe-bundle", "llmc", bundlePath))
    return createStringError(ec, "cannot create a temporary file: %s",
                             ec.message().c_str());
  FileRemover removeBundle(bundlePath);
  if (Error e = llmc::codegen::compileToBundle(module, co, bundlePath))
    return e;
  auto bundleBytes = MemoryBuffer::getFile(bundlePath, false, false);
  if (!bundleBytes)
    return createStringError(bundleBytes.getError(), "cannot read '%s'",
                             bundlePath.c_str());

  SmallString<256> tmp(path);
  tmp += ".tmp";
  std::error_code ec;
  {
    raw_fd_ostream os(tmp, ec, sys::fs::OF_None);
    if (ec)
      return createStringError(ec, "cannot write '%s': %s", tmp.c_str(),
                               ec.message().c_str());
    os << (*stubBytes)->getBuffer();
    uint64_t at = (*stubBytes)->getBufferSize();
    const uint64_t page = 4096;
    uint64_t offset = (at + page - 1) / page * page;
    os.write_zeros(unsigned(offset - at));
    os << (*bundleBytes)->getBuffer();
    llmc::cli::StandaloneTrailer t;
    std::memcpy(t.magic, llmc::cli::kStandaloneMagic, sizeof t.magic);
    t.bundleOffset = offset;
    t.bundleSize = (*bundleBytes)->getBufferSize();
    os.write(reinterpret_cast<const char *>(&t), sizeof t);
    os.close();
    if (os.has_error()) {
      sys::fs::remove(tmp);
      return createStringError(os.error(), "cannot write '%s'", tmp.c_str());
    }
  }
  if ((ec = sys::fs::setPermissions(tmp, sys::fs::all_read | sys::fs::all_exe |
                                             sys::fs::owner_write)) ||
      (ec = sys::fs::rename(tmp, path))) {
    sys::fs::remove(tmp);
    return createStringError(ec, "cannot write '%s': %s", path.str().c_str(),
                             ec.message().c_str());
  }
  return Error::success();
}

// -o, or the model's name with .llmc.
static std::string bundleOutputPath() {
  std::string path = output;
  if (path.empty() || path == "-") {
    SmallString<256> derived(input.getValue());
    sys::path::replace_extension(derived, ".llmc");
    path = derived.str().str();
  }
  return path;
}

int llmc::cli::runCompile() {
#if defined(__GLIBC__)
  // Compiling streams the weights one matrix at a time through buffers of
  // the same few sizes (tens to hundreds of MiB). glibc serves each one over
  // its mmap threshold (at most 32 MiB) with fresh pages and unmaps it when
  // freed, so every matrix paid page faults and the kernel's zeroing again.
  // From the heap, and kept there (up to 1 GiB of free memory at its top),
  // the next matrix reuses the same pages (with the [N, K] reads of
  // compileToBundle, TinyLlama's bf16 compile went from 85 to 25 s and int4
  // from 71 to 22 s for 9% more peak RSS: docs/BENCHMARKS.md, "Compile
  // time"). glibc still maps when the heap cannot grow.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  if (optLevel > 3)
    return reportError(createStringError(
        inconvertibleErrorCode(), "-O%u: the optimization level is 0, 1, 2 or 3",
        unsigned(optLevel)));
  auto target = llmc::resolveTarget(targetName);
  if (!target)
    return reportError(target.takeError());
  if (!sys::fs::exists(input))
    return reportError(createStringError(inconvertibleErrorCode(),
                                         "cannot open '%s': no such file",
                                         input.c_str()));

  // --quant=auto: the tuner picks every matmul's recipe; the rest stays fp32.
  const bool tuneAuto = StringRef(quantSpec).trim() == "auto";
  if (tuneAuto && !quantRecipeFile.empty())
    return reportError(createStringError(
        inconvertibleErrorCode(), "--quant=auto and --quant-recipe exclude each other"));
  if (tuneAuto) { // checked before any work
    if (auto goal = parseAccuracyGoal(); !goal)
      return reportError(goal.takeError());
    if (auto confidence = parseTuneConfidence(); !confidence)
      return reportError(confidence.takeError());
  }
  auto defaultSpec = tuneAuto ? llmc::quant::parseQuantSpec("fp32") : specFromFlags();
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
    for (size_t i = 0; i < loaded->rules.size(); ++i) {
      const llmc::quant::QuantRule &rule = loaded->rules[i];
      auto r = ruleRecipe(rule);
      if (!r)
        return reportError(createStringError(
            inconvertibleErrorCode(), "%s: rule %zu (\"%s\"): %s",
            quantRecipeFile.c_str(), i + 1, rule.pattern.c_str(),
            toString(r.takeError()).c_str()));
      if (loaded->defaultSpec.quarot &&
          r->activations == llmc::codegen::ActivationMode::Static)
        return reportError(createStringError(
            inconvertibleErrorCode(), "%s: rule \"%s\": static activations do "
            "not combine with the default's 'quarot'", quantRecipeFile.c_str(),
            rule.pattern.c_str()));
      // quarot rotates the inputs of o_proj and down_proj online, which AWQ's
      // per-channel input scales cannot follow.
      if (loaded->defaultSpec.quarot &&
          rule.spec.method == llmc::quant::QuantMethod::AWQ)
        return reportError(createStringError(
            inconvertibleErrorCode(), "%s: rule \"%s\": 'awq' does not combine "
            "with the default's 'quarot'", quantRecipeFile.c_str(),
            rule.pattern.c_str()));
    }
    *defaultSpec = loaded->defaultSpec;
    rules = std::move(*loaded);
  }
  // The embedding table's format: --quant-embedding, else the recipe file's
  // "embedding", else fp32 (dense).
  llmc::quant::QuantSpec embedding;
  const bool embeddingFromFlag =
      quantEmbedding.getNumOccurrences() || !rules || !rules->embedding;
  if (embeddingFromFlag) {
    auto spec = llmc::quant::parseQuantSpec(quantEmbedding);
    if (!spec)
      return reportError(joinErrors(
          createStringError(inconvertibleErrorCode(), "--quant-embedding:"),
          spec.takeError()));
    embedding = *spec;
  } else {
    embedding = *rules->embedding;
  }
  if (Error e = llmc::codegen::validateEmbeddingSpec(embedding))
    return reportError(joinErrors(
        createStringError(inconvertibleErrorCode(), "%s",
                          embeddingFromFlag
                              ? "--quant-embedding:"
                              : (quantRecipeFile + ": \"embedding\":").c_str()),
        std::move(e)));
  auto recipe = recipeFromSpec(*defaultSpec);
  if (!recipe)
    return reportError(recipe.takeError());

  // The tokenizer the bundle will embed (named here, or found beside the
  // model: ModelFacts.h) is read before the long work: a file llmc cannot
  // tokenize with fails the compile rather than every run of the bundle.
  // (The model's vocabulary and BOS/EOS are checked against it when the
  // bundle loads.)
  std::string tokFile = tokenizerPath, tokKindName = tokenizerKind;
  if (tokFile.empty()) {
    llmc::codegen::ModelFacts facts = llmc::codegen::readModelFacts(input);
    tokFile = facts.tokenizerPath;
    if (tokKindName.empty())
      tokKindName = facts.tokenizerKind;
  }
  if (!tokFile.empty()) {
    Expected<llmc::TokenizerKind> kind =
        tokKindName.empty()
            ? Expected<llmc::TokenizerKind>(llmc::guessTokenizerKind(tokFile))
            : llmc::parseTokenizerKind(tokKindName);
    if (!kind)
      return reportError(kind.takeError());
    auto tok = llmc::Tokenizer::loadFile(*kind, tokFile);
    if (!tok)
      return reportError(tok.takeError());
  }

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
    llmc::FuseTransformerOptions fuseOptions;
    fuseOptions.mergeProjections =
        llmc::codegen::CompileOptions::mergesProjections(optLevel);
    llmc::buildFuseTransformerPipeline(pm, fuseOptions);
    if (mlir::failed(pm.run(**module)))
      return reportError(createStringError(inconvertibleErrorCode(),
                                           "the fusion pipeline failed on '%s'",
                                           input.c_str()));
  }

  llmc::codegen::CompileOptions co;
  co.fuse = false; // the pipeline ran above
  co.optLevel = optLevel;
  co.recipe = *recipe;
  co.embedding = embedding;
  co.sourcePath = input;
  co.tokenizerPath = tokenizerPath;
  co.tokenizerKind = tokenizerKind;
  co.maxContext = maxContext;
  co.kvType = kvType;
  co.progress = [](StringRef line) { errs() << "llmc: " << line << "\n"; };
  // Which rules some weight took: a rule no weight takes is most likely a
  // misspelt pattern, and is reported once the bundle is written.
  std::vector<bool> ruleUsed(rules ? rules->rules.size() : 0, false);
  if (rules)
    co.recipeFor = [&](StringRef name) -> Expected<llmc::codegen::QuantRecipe> {
      // A merged weight ("q+k+v") takes the recipe of its first part.
      int i = rules->ruleIndexFor(name.split('+').first);
      if (i < 0)
        return recipeFromSpec(rules->defaultSpec);
      ruleUsed[size_t(i)] = true;
      return ruleRecipe(rules->rules[size_t(i)]);
    };
  auto warnUnusedRules = [&] {
    if (!rules || tuneAuto) // the tuner's recipes replace the file's
      return;
    for (size_t i = 0; i < ruleUsed.size(); ++i)
      if (!ruleUsed[i])
        errs() << formatv("llmc: warning: --quant-recipe rule {0} (\"{1}\") "
                          "matched no matmul weight\n",
                          i + 1, rules->rules[i].pattern);
  };

  // The recipe of each matmul weight slot (merged "q+k+v": its first part's).
  auto slotRecipe = [&](StringRef name) -> Expected<llmc::codegen::QuantRecipe> {
    if (co.recipeFor)
      return co.recipeFor(name);
    return co.recipe;
  };
  auto staticActs = [](const llmc::codegen::QuantRecipe &r) {
    return r.activations == llmc::codegen::ActivationMode::Static;
  };
  bool needsCalibration =
      tuneAuto || recipe->needsCalibration() || staticActs(*recipe);
  if (rules)
    for (const llmc::quant::QuantRule &rule : rules->rules) {
      llmc::codegen::QuantRecipe r = cantFail(ruleRecipe(rule));
      needsCalibration |= r.needsCalibration() || staticActs(r);
    }
  std::unique_ptr<CalibrationRun> calibration;
  llmc::codegen::SlotCache slotCache; // --sequential-calibration's slots
  llmc::tune::TuneResult tuned;
  if (needsCalibration && (emit == EmitKind::Bundle || emit == EmitKind::Exe)) {
    auto run = calibrate(**module, co, [&](StringRef name) {
      if (tuneAuto)
        return true;
      auto r = slotRecipe(name);
      return r && r->needsCalibration();
    }, [&](StringRef name) {
      auto r = slotRecipe(name);
      return r && staticActs(*r);
    });
    if (!run)
      return reportError(run.takeError());
    calibration = std::move(*run);
    co.calibration = &calibration->stats;
    co.activationRanges = &calibration->ranges;
    if (sequentialCalibration && !tuneAuto) {
      if (Error e = llmc::tune::calibrateSequentially(
              **module, co, *calibration->model, calibration->tokens,
              calibrationOptions(),
              calibration->stats, slotCache))
        return reportError(std::move(e));
      co.slotCache = &slotCache;
    }
    if (tuneAuto) {
      auto slots = autoTune(**module, co, *calibration, bundleOutputPath());
      if (!slots)
        return reportError(slots.takeError());
      tuned = std::move(*slots);
      co.recipeFor = [&](StringRef name) -> Expected<llmc::codegen::QuantRecipe> {
        auto it = tuned.slots.find(name.str());
        return it == tuned.slots.end() ? co.recipe : it->second;
      };
      if (sequentialCalibration) { // the chosen candidate, as evaluated
        co.calibration = &tuned.sequentialStats;
        co.slotCache = &tuned.slotCache;
      }
    }
  }

  if (emit == EmitKind::Exe) {
    std::string path = output.empty() || output == "-"
                           ? sys::path::stem(input.getValue()).str()
                           : output.getValue();
    if (Error e = writeStandalone(**module, co, path))
      return reportError(std::move(e));
    warnUnusedRules();
    errs() << "llmc: wrote " << path << "\n";
    return 0;
  }
  if (emit != EmitKind::MLIR && stopAfter != Stage::Fuse)
    return reportError(createStringError(
        inconvertibleErrorCode(), "--stop-after applies to --emit=mlir only"));
  if (emit == EmitKind::Bundle) {
    std::string path = bundleOutputPath();
    if (Error e = llmc::codegen::compileToBundle(**module, co, path))
      return reportError(std::move(e));
    warnUnusedRules();
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
