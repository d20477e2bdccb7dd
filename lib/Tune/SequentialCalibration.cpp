//===- SequentialCalibration.cpp - Paired statistics, one matmul at a time -===//
#include "llmc/Tune/SequentialCalibration.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace llmc::tune {

Error calibrateSequentially(mlir::ModuleOp module, codegen::CompileOptions options,
                            const runtime::Model &reference,
                            ArrayRef<int32_t> tokens,
                            const runtime::CalibrationOptions &calibration,
                            StringMap<quant::CalibrationStats> &stats,
                            codegen::SlotCache &cache) {
  auto recipeOf = [&](StringRef name) -> Expected<codegen::QuantRecipe> {
    return options.recipeFor ? options.recipeFor(name) : options.recipe;
  };
  // The slots to calibrate, in the order the program runs them. MoE
  // experts are not among them: which rows an expert sees depends on the
  // routing, which differs between the fp32 and the quantized model, so
  // their inputs do not pair row by row; they keep the fp32 model's
  // statistics.
  std::vector<std::string> order;
  StringMap<size_t> position; // in `order`
  const codegen::ProgramPlan &plan = reference.plan();
  for (const codegen::Step &s : plan.steps) {
    if (s.kind != codegen::StepKind::Matmul)
      continue;
    const std::string &name = plan.weights[size_t(s.weight)].name;
    if (!stats.count(name) || !position.try_emplace(name, order.size()).second)
      continue;
    auto r = recipeOf(name);
    if (!r)
      return r.takeError();
    if (!r->needsCalibration()) // e.g. an fp16 or round-to-nearest rule
      continue;
    if (r->weights.method == quant::QuantMethod::AWQ)
      return createStringError(inconvertibleErrorCode(),
                               "sequential calibration applies to gptq and "
                               "quip, not awq ('%s'): its scales folded into "
                               "the preceding operations change the inputs",
                               name.c_str());
    order.push_back(name);
  }

  SmallString<128> path;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("llmc-sequential", "llmc", path))
    return createStringError(ec, "cannot create a temporary file: %s",
                             ec.message().c_str());
  FileRemover remove(path);
  auto progress = options.progress;
  options.progress = nullptr;
  options.calibration = &stats;
  options.slotCache = &cache;
  const auto userRecipe = options.recipeFor;
  for (size_t k = 0; k < order.size(); ++k) {
    if (progress)
      progress(formatv("sequential calibration {0}/{1}: {2}", k + 1, order.size(),
                       order[k])
                   .str());
    // Slots before k have their final statistics: round them once. Slots
    // after k do not feed k's input: round them to nearest.
    if (k > 0)
      cache.keep(order[k - 1]);
    options.recipeFor = [&](StringRef name) -> Expected<codegen::QuantRecipe> {
      auto r = userRecipe ? userRecipe(name) : Expected<codegen::QuantRecipe>(options.recipe);
      auto at = position.find(name);
      if (r && at != position.end() && at->second > k) {
        r->weights.method = quant::QuantMethod::RTN;
        r->weights.actOrder = false;
        r->weights.refitScales = false;
        r->weights.mseClip = false;
      }
      return r;
    };
    Error compiled = codegen::compileToBundle(module, options, path);
    if (compiled)
      return compiled;
    auto model = runtime::Model::load(path);
    if (!model)
      return model.takeError();
    runtime::CalibrationOptions co = calibration;
    co.progress = nullptr;
    const codegen::ProgramPlan &qplan = (*model)->plan();
    co.wanted = [&](int32_t slot) { return qplan.weights[size_t(slot)].name == order[k]; };
    co.wantedRange = nullptr;
    auto data = runtime::collectPairedMatmulInputStats(reference, **model, tokens, co);
    if (!data)
      return data.takeError();
    auto it = data->stats.find(order[k]);
    if (it == data->stats.end())
      return createStringError(inconvertibleErrorCode(),
                               "sequential calibration: no statistics of '%s'",
                               order[k].c_str());
    stats.find(order[k])->second = std::move(it->second);
  }
  return Error::success();
}

} // namespace llmc::tune
