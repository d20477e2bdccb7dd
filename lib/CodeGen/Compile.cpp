//===- Compile.cpp - Plan, quantize/pack weights, write the bundle --------===//
//
// Weights are evaluated one slot at a time from their compile-time expression
// (llmc.weight, transpose, concat, reshape) out of the mmap'ed source files,
// quantized and packed for the target's kernel tier, and appended to the
// streamed weights section: peak memory is one weight in fp32 plus its packed
// form, never the model.
//
//===----------------------------------------------------------------------===//

#include "llmc/CodeGen/Compile.h"
#include "llmc/CodeGen/ModelFacts.h"
#include "llmc/Runtime/TokenizerKind.h"
#include "EmbeddingTables.h"
#include "WeightReader.h"
#include "PlanBuilder.h"
#include "llmc/CodeGen/SlotQuantizer.h"

#include "llmc/Bundle/Bundle.h"
#include "llmc/CodeGen/Manifest.h"
#include "llmc/CodeGen/ProgramABI.h"
#include "llmc/CodeGen/ProgramEmitter.h"
#include "llmc/CodeGen/PrequantizedWeights.h"
#include "llmc/CodeGen/ResidualStream.h"
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/LLMCOps.h"
#include "llmc/Quant/Hadamard.h"
#include "llmc/Quant/MSEClip.h"
#include "llmc/Quant/RotationFolding.h"
#include "llmc/Target/TargetAttr.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>
#include <map>
#include <optional>

using namespace llvm;
using namespace mlir;

namespace llmc::codegen {

namespace {


/// The dense RMSNorm weight that AWQ's scales of packed slot `slot` can be
/// folded into, or -1. Folding divides the norm's output channels by s, so
/// it is exact only if that output is read by this slot's matmul and nothing
/// else, and the norm weight serves no other norm step.
int32_t normFeedingOnly(const ProgramPlan &plan, int32_t slot) {
  const std::vector<Step> &steps = plan.steps;
  // Row views a step writes / reads (head views of rope and attention are
  // compared by their start offset: a q/k/v view into the norm's buffer would
  // be a reader).
  auto writes = [](const Step &s, int64_t buf) {
    switch (s.kind) {
    case StepKind::Embed: case StepKind::EmbedPositions: case StepKind::RmsNorm:
    case StepKind::LayerNorm: case StepKind::Matmul: case StepKind::SwiGLU:
    case StepKind::Gelu: case StepKind::Softcap: case StepKind::Add:
      return s.out.offset == buf;
    case StepKind::Attention:
      return s.o.offset == buf;
    default:
      return false;
    }
  };
  auto reads = [](const Step &s, int64_t buf) {
    switch (s.kind) {
    case StepKind::RmsNorm: case StepKind::LayerNorm: case StepKind::Matmul:
    case StepKind::Gelu: case StepKind::Softcap:
      return s.in.offset == buf;
    case StepKind::SwiGLU: case StepKind::Add:
      return s.in.offset == buf || s.in2.offset == buf;
    case StepKind::Rope: case StepKind::Attention:
      return s.q.offset == buf || s.k.offset == buf || s.v.offset == buf;
    default:
      return false;
    }
  };
  int64_t mm = -1;
  for (size_t i = 0; i < steps.size(); ++i)
    if (steps[i].kind == StepKind::Matmul && steps[i].weight == slot) {
      if (mm >= 0)
        return -1; // the weight serves two matmul steps
      mm = int64_t(i);
    }
  if (mm < 0)
    return -1;
  const int64_t buf = steps[mm].in.offset;
  int64_t prod = -1; // the last step before the matmul writing its input
  for (int64_t i = mm - 1; i >= 0 && prod < 0; --i)
    if (writes(steps[i], buf))
      prod = i;
  if (prod < 0 || steps[prod].kind != StepKind::RmsNorm || steps[prod].groups != 1)
    return -1;
  // Every reader of the norm's output until it is overwritten must be `mm`.
  for (size_t i = size_t(prod) + 1; i < steps.size(); ++i) {
    if (reads(steps[i], buf) && int64_t(i) != mm)
      return -1;
    if (writes(steps[i], buf))
      break;
  }
  const int32_t norm = steps[prod].weight;
  for (size_t i = 0; i < steps.size(); ++i)
    if ((steps[i].kind == StepKind::RmsNorm || steps[i].kind == StepKind::Embed) &&
        steps[i].weight == norm && int64_t(i) != prod)
      return -1;
  return norm;
}

/// QuaRot's rotation of the residual stream (`quarot`): what the dataflow
/// allows, and the rotation when it allows folding.
struct StreamRotation {
  std::optional<ResidualStream> stream;
  std::optional<quant::RandomizedHadamard> U;
  json::Value manifest = nullptr;
};

/// The seed of the residual stream's U: fixed, so that the fp32 model that
/// calibration runs and the quantized one share the rotated basis.
constexpr uint64_t kResidualRotationSeed = 0x9a807a7e;

Expected<StreamRotation> planStreamRotation(const PlanResult &planned,
                                            const CompileOptions &opts) {
  StreamRotation r;
  if (!opts.recipe.weights.quarot)
    return std::move(r);
  const ProgramPlan &plan = planned.plan;
  std::vector<bool> prequantized(plan.weights.size());
  for (size_t i = 0; i < plan.weights.size(); ++i)
    prequantized[i] = isPrequantizedWeight(planned.roots[i]);
  auto stream = analyzeResidualStream(plan, prequantized);
  if (!stream) {
    // Fall back to rotating every integer matmul's input online, each with
    // its own U: the per-slot incoherence processing of `quip`.
    std::string why = toString(stream.takeError());
    if (opts.progress)
      opts.progress("quarot: the residual stream cannot be rotated offline: " +
                    why + "; every integer matmul input is rotated online instead");
    r.manifest = json::Object{{"folded", false}, {"reason", why}};
    return std::move(r);
  }
  auto U = quant::RandomizedHadamard::create(stream->dim, kResidualRotationSeed);
  if (!U)
    return U.takeError();
  if (opts.progress)
    opts.progress(formatv("quarot: residual stream of width {0} rotated offline "
                          "(seed {1}): {2} norms folded into {3} readers, {4} "
                          "writers",
                          stream->dim, kResidualRotationSeed, stream->numNorms(),
                          stream->numReaders(), stream->numWriters())
                      .str());
  r.manifest = json::Object{{"folded", true},
                            {"seed", int64_t(kResidualRotationSeed)},
                            {"dim", stream->dim},
                            {"norms", int64_t(stream->numNorms())},
                            {"readers", int64_t(stream->numReaders())},
                            {"writers", int64_t(stream->numWriters())}};
  r.stream = std::move(*stream);
  r.U = std::move(*U);
  return std::move(r);
}

/// The static int8 scale of a slot's input: its calibrated range / 127.
Expected<float> staticActivationScale(const QuantRecipe &recipe, StringRef slot,
                                      const StringMap<quant::ActivationRange> *ranges) {
  const quant::QuantMethod method = recipe.weights.method;
  if (method == quant::QuantMethod::AWQ ||
      method == quant::QuantMethod::Incoherent)
    return createStringError(inconvertibleErrorCode(),
                             "static activations with '%s' are not supported: "
                             "its online input transform changes the range",
                             quant::quantMethodName(method).data());
  auto it = ranges ? ranges->find(slot) : StringMap<quant::ActivationRange>::const_iterator();
  if (!ranges || it == ranges->end() || it->second.count() == 0)
    return createStringError(inconvertibleErrorCode(),
                             "static activations need the calibrated range of "
                             "'%s' (--calib FILE)",
                             slot.str().c_str());
  float r = it->second.maxAbs();
  StringRef range = recipe.actRange;
  double p;
  if (range.consume_front("p") && !range.getAsDouble(p))
    r = it->second.percentile(p);
  return r > 0 ? r / 127.0f : 1.0f;
}

} // namespace

/// The fusion pipeline, when asked for.
static Error fuse(ModuleOp module, const CompileOptions &opts) {
  if (!opts.fuse)
    return Error::success();
  PassManager pm(module.getContext());
  FuseTransformerOptions fo;
  fo.mergeProjections = CompileOptions::mergesProjections(opts.optLevel);
  buildFuseTransformerPipeline(pm, fo);
  if (failed(pm.run(module)))
    return createStringError(inconvertibleErrorCode(),
                             "the llmc-fuse-transformer pipeline failed");
  return Error::success();
}

Expected<ProgramPlan> planModule(ModuleOp module, const CompileOptions &options) {
  if (Error e = fuse(module, options))
    return std::move(e);
  auto r = buildPlan(module, options);
  if (!r)
    return r.takeError();
  return std::move(r->plan);
}

/// The target the module is compiled for (its `llmc.target` attribute).
static Expected<TargetDesc> moduleTarget(ModuleOp module) {
  Attribute targetAttr = module->getAttr(kTargetAttrName);
  if (!targetAttr)
    return createStringError(inconvertibleErrorCode(),
                             "the module has no llmc.target attribute");
  return fromTargetAttr(targetAttr);
}

Expected<std::string> emitProgramText(ModuleOp module, const CompileOptions &opts,
                                      bool llvm) {
  auto target = moduleTarget(module);
  if (!target)
    return target.takeError();
  if (Error e = fuse(module, opts))
    return std::move(e);
  auto planned = buildPlan(module, opts);
  if (!planned)
    return planned.takeError();
  EmitOptions eo;
  eo.optLevel = opts.optLevel;
  eo.keepIR = true;
  auto code = emitProgram(planned->plan, *target, eo);
  if (!code)
    return code.takeError();
  return llvm ? code->llvmIR : code->mlir;
}

Error compileToBundle(ModuleOp module, const CompileOptions &opts,
                      StringRef outputPath) {
  if (Error e = opts.recipe.validate())
    return e;
  if (Error e = validateEmbeddingSpec(opts.embedding))
    return e;
  auto target = moduleTarget(module);
  if (!target)
    return target.takeError();

  if (Error e = fuse(module, opts))
    return e;
  auto planned = buildPlan(module, opts);
  if (!planned)
    return planned.takeError();
  ProgramPlan &plan = planned->plan;
  auto rotation = planStreamRotation(*planned, opts);
  if (!rotation)
    return rotation.takeError();
  const std::optional<ResidualStream> &stream = rotation->stream;
  // Embedding tables stored packed (EmbeddingTables.h).
  const int32_t rotatedTable = stream ? stream->embedding : -1;
  const std::vector<EmbeddingTable> tables =
      choosePackedTables(*planned, opts.embedding, rotatedTable);

  // Model facts the graph does not carry.
  std::string source = opts.sourcePath;
  if (source.empty())
    if (auto s = module->getAttrOfType<StringAttr>("llmc.source"))
      source = s.getValue().str();
  const ModelFacts facts = readModelFacts(source);
  plan.config.maxContext = opts.maxContext ? opts.maxContext : facts.maxContext;
  // Learned positions exist for the table's rows only.
  if (planned->positionRows > 0) {
    if (opts.maxContext > planned->positionRows)
      return createStringError(inconvertibleErrorCode(),
                               "the context length %lld (--ctx) exceeds the %lld positions "
                               "of the model's position embedding table",
                               (long long)opts.maxContext,
                               (long long)planned->positionRows);
    plan.config.maxContext = std::min(plan.config.maxContext, planned->positionRows);
  }
  // The program computes causal attention, within a sliding window where
  // the mask has one: every mask must mean that at the context and call
  // sizes the runtime uses.
  auto windows = checkCausalAttention(planned->attentionMasks, plan.config.maxContext,
                                      opts.maxTokensPerCall);
  if (!windows)
    return windows.takeError();
  for (auto [use, window] : llvm::zip(planned->attentionMasks, *windows))
    for (Step &s : plan.steps)
      if (s.kind == StepKind::Attention && s.layer == use.layer)
        s.window = window >= plan.config.maxContext ? 0 : window;
  // LongRoPE: the total length after which each rope_tables step uses its
  // long frequencies. Every layer's step usually reads one condition: it is
  // evaluated once.
  llvm::DenseMap<Value, int64_t> longAfterOf;
  for (const LongRopeChoice &choice : planned->longRopeChoices) {
    auto known = longAfterOf.find(choice.useLong);
    if (known == longAfterOf.end()) {
      auto after = findLongAfter(choice, plan.config.maxContext, opts.maxTokensPerCall);
      if (!after)
        return after.takeError();
      known = longAfterOf.try_emplace(choice.useLong, *after).first;
    }
    plan.steps[size_t(choice.step)].longAfter = known->second;
  }
  if (opts.kvType == "fp32")
    plan.config.kvType = KvType::F32;
  else if (opts.kvType == "fp16")
    plan.config.kvType = KvType::F16;
  else if (opts.kvType == "int8")
    plan.config.kvType = KvType::I8;
  else
    return createStringError(inconvertibleErrorCode(),
                             "unknown KV cache type '%s' (expected fp32, fp16 "
                             "or int8)",
                             opts.kvType.c_str());
  plan.config.bos = facts.bos;
  plan.config.eos = facts.eos;
  plan.config.stop = facts.moreEos;
  std::string tokPath = opts.tokenizerPath, tokKind = opts.tokenizerKind;
  if (tokPath.empty()) {
    tokPath = facts.tokenizerPath;
    if (tokKind.empty())
      tokKind = facts.tokenizerKind;
  }
  // The kind from the file's name, as `llmc compile` guesses it.
  if (!tokPath.empty() && tokKind.empty())
    tokKind = tokenizerKindName(guessTokenizerKind(tokPath)).str();

  IsaTier tier = target->maxTier();
  unsigned lanes = kernels::panelLanes(tier);
  const kernels::WeightFormat &fmt = opts.recipe.format();
  if (Error e = fmt.validate())
    return e;

  auto writer = bundle::BundleWriter::create(outputPath);
  if (!writer)
    return writer.takeError();
  bundle::BundleWriter &w = **writer;

  // Weights, streamed.
  std::string dir = opts.weightDir;
  if (dir.empty() && !source.empty())
    dir = sys::path::parent_path(source).str();
  WeightReader reader(dir);
  if (Error e = w.beginSection(bundle::kWeightsSection, bundle::kPageAlignment,
                               bundle::kSectionVerifyOnDemand))
    return e;
  // Packed (matmul) slots first: AWQ's channel scales are folded into the
  // dense RMSNorm weights written after them, or into new dense slots
  // appended to the plan (the section order is free: slots record offsets).
  // Packed tables next: a tied lm_head's bytes are known by then.
  std::vector<size_t> order;
  for (SlotKind kind : {SlotKind::Packed, SlotKind::PackedTable, SlotKind::Dense})
    for (size_t i = 0; i < plan.weights.size(); ++i)
      if (plan.weights[i].kind == kind)
        order.push_back(i);
  // Dense slot -> the AWQ scales it is divided by (element-wise).
  std::map<size_t, std::vector<float>> foldIntoNorm;
  // Dense bias slot -> the bias correction added to it (element-wise).
  std::map<size_t, std::vector<float>> addIntoBias;

  // Every slot starts on a page (mmap'ed weights keep their alignment).
  auto appendBytes = [&](WeightSlot &slot, ArrayRef<uint8_t> bytes) -> Error {
    if (Error e = w.alignSection(bundle::kPageAlignment))
      return e;
    auto off = w.append(bytes);
    if (!off)
      return off.takeError();
    slot.offset = int64_t(*off);
    slot.bytes = int64_t(bytes.size());
    return Error::success();
  };
  auto appendData = [&](WeightSlot &slot, ArrayRef<float> data) -> Error {
    return appendBytes(slot, ArrayRef<uint8_t>(
                                 reinterpret_cast<const uint8_t *>(data.data()),
                                 data.size() * 4));
  };

  // The experts' slots of the MoE steps.
  llvm::DenseSet<int32_t> expertSlots;
  for (const Step &st : plan.steps)
    if (st.kind == StepKind::MoE)
      expertSlots.insert(st.experts.begin(), st.experts.end());

  PackedTableWriter tableWriter(*planned, tables, opts, reader, tier,
                                rotation->U ? &*rotation->U : nullptr, rotatedTable);

  for (size_t n = 0; n < order.size(); ++n) {
    const size_t i = order[n];
    WeightSlot &slot = plan.weights[i];
    QuantRecipe recipe = opts.recipe;
    if (slot.kind == SlotKind::Packed && opts.recipeFor) {
      auto r = opts.recipeFor(slot.name);
      if (!r)
        return r.takeError();
      recipe = *r;
    }
    // An MoE router stays fp32, as llama.cpp keeps ffn_gate_inp: rounding
    // its logits changes which experts a token meets, and it is E x H, a
    // negligible share of the weights.
    if (llvm::is_contained(planned->routerSlots, int32_t(i)))
      recipe.weights = quant::QuantSpec();
    if (opts.progress) {
      // A slot from the cache was rounded by an earlier compile (sequential
      // calibration); this one only packs its bytes.
      std::string how;
      if (slot.kind == SlotKind::Packed && recipe.needsCalibration())
        how = opts.slotCache && opts.slotCache->contains(slot.name)
                  ? " (" + quant::quantMethodName(recipe.weights.method).str() +
                        ", rounded earlier)"
                  : " (" + quant::quantMethodName(recipe.weights.method).str() + ")";
      opts.progress(formatv("[{0}/{1}] {2} {3}{4}", n + 1, order.size(),
                            slot.kind == SlotKind::Dense ? "copying" : "packing",
                            slot.name, how)
                        .str());
    }
    if (slot.kind == SlotKind::PackedTable) {
      const EmbeddingTable &table =
          *llvm::find_if(tables, [&](const EmbeddingTable &t) { return t.slot == int32_t(i); });
      if (Error e = tableWriter.write(table, appendBytes))
        return e;
      continue;
    }
    // ONNX pre-quantized weights (!llmc.qweight): repacked, never via fp32.
    if (isPrequantizedWeight(planned->roots[i])) {
      auto pk = packPrequantizedWeight(planned->roots[i], reader.files(), tier);
      if (!pk)
        return pk.takeError();
      if (Error e = appendBytes(slot, ArrayRef<uint8_t>(
                                          pk->data(), size_t(pk->layout().totalBytes))))
        return e;
      slot.format = pk->layout().format.str();
      slot.lanes = lanes;
      tableWriter.notePackedSlot(int32_t(i), /*plain=*/true, {});
      continue;
    }
    // Matmul weights are read as the kernels' [N, K] (the graph's [K, N]
    // transposed); everything else as it is.
    auto d = slot.kind == SlotKind::Dense ? reader.eval(planned->roots[i])
                                          : reader.evalTransposed(planned->roots[i]);
    if (!d)
      return joinErrors(createStringError(inconvertibleErrorCode(),
                                          "weight '%s':", slot.name.c_str()),
                        d.takeError());
    if (slot.kind == SlotKind::Dense) {
      // The rotated stream starts from rotated embeddings and is normalized
      // without weights (they are folded into the readers).
      if (stream && int32_t(i) == stream->embedding)
        quant::rotateRows(d->data.data(), d->numel() / stream->dim, *rotation->U);
      else if (stream && stream->norm[i])
        std::fill(d->data.begin(), d->data.end(), 1.0f);
      if (auto f = foldIntoNorm.find(i); f != foldIntoNorm.end())
        for (size_t k = 0; k < d->data.size(); ++k)
          d->data[k] /= f->second[k];
      if (auto b = addIntoBias.find(i); b != addIntoBias.end())
        for (size_t k = 0; k < d->data.size(); ++k)
          d->data[k] += b->second[k];
      if (Error e = appendData(slot, d->data))
        return e;
      continue;
    }
    // [N, K], the kernel layout (ONNX MatMul's [K, N] transposed).
    int64_t N = d->shape[0], K = d->shape[1];
    std::vector<float> &nk = d->data;
    if (stream) {
      // W diag(gamma) U^T for a reader of the stream, U W for a writer.
      if (int32_t norm = stream->readsNorm[i]; norm >= 0) {
        auto gamma = reader.eval(planned->roots[norm]);
        if (!gamma)
          return gamma.takeError();
        if (int64_t(gamma->data.size()) != K)
          return createStringError(inconvertibleErrorCode(),
                                   "weight '%s': norm width differs from K",
                                   slot.name.c_str());
        quant::rotateRows(nk.data(), N, *rotation->U, gamma->data.data());
      }
      if (stream->writes[i])
        quant::rotateColumns(nk.data(), K, *rotation->U);
    }
    // quarot rotates online every integer matmul input not already rotated
    // by the folded stream rotation (o_proj's and down_proj's inputs).
    const bool rotateOnline =
        opts.recipe.weights.quarot && (!stream || stream->readsNorm[i] < 0);
    const quant::CalibrationStats *stats = nullptr;
    if (recipe.needsCalibration() && opts.calibration) {
      auto it = opts.calibration->find(slot.name);
      if (it != opts.calibration->end())
        stats = &it->second;
    }
    // An MoE expert that no calibration token was routed to has no
    // statistics: it is rounded to nearest (any other matmul without them
    // is an error of the calibration run).
    if (recipe.needsCalibration() && (!stats || stats->numRows() == 0) &&
        expertSlots.contains(int32_t(i))) {
      if (opts.progress)
        opts.progress(formatv("{0}: no calibration token was routed to this expert; "
                              "rounded to nearest",
                              slot.name)
                          .str());
      recipe.weights.method = quant::QuantMethod::RTN;
      recipe.weights.biasCorrection = false;
      recipe.weights.actOrder = false;
      recipe.weights.refitScales = false;
      stats = nullptr;
    }
    std::optional<SlotQuantization> cached;
    if (opts.slotCache)
      cached = opts.slotCache->find(slot.name);
    Expected<SlotQuantization> q =
        cached ? Expected<SlotQuantization>(std::move(*cached))
               : quantizeSlot(nk.data(), N, K, recipe, stats, tier,
                              /*seed=*/0x5eed0000 + i, rotateOnline);
    if (q && !cached && opts.slotCache)
      opts.slotCache->store(slot.name, *q);
    if (!q)
      return joinErrors(createStringError(inconvertibleErrorCode(),
                                          "weight '%s':", slot.name.c_str()),
                        q.takeError());
    if (Error e = appendBytes(slot, ArrayRef<uint8_t>(
                                        q->packed.data(),
                                        size_t(q->packed.layout().totalBytes))))
      return e;
    slot.format = recipe.format().str();
    slot.lanes = lanes;
    // A recipe rule's own activation mode (the bundle's is the manifest's).
    if (recipe.activations != opts.recipe.activations)
      slot.activations = recipe.activations;
    if (recipe.activations == ActivationMode::Static && recipe.format().isQuantized()) {
      auto scale = staticActivationScale(recipe, slot.name, opts.activationRanges);
      if (!scale)
        return scale.takeError();
      slot.actScale = *scale;
    }
    if (q->rotationSeed) {
      slot.rotated = true;
      slot.rotationSeed = *q->rotationSeed;
    }
    tableWriter.notePackedSlot(
        int32_t(i),
        /*plain=*/!q->rotationSeed && q->awqScales.empty() &&
            !(stream && (stream->readsNorm[i] >= 0 || stream->writes[i])),
        nk);
    if (!q->bias.empty() && plan.weights[i].bias >= 0) {
      // Bias correction of a matmul with a bias of its own: the correction
      // is added into that dense slot when it is written (after the packed
      // slots), unless another matmul shares it.
      const int32_t own = plan.weights[i].bias;
      if (llvm::count_if(plan.weights, [&](const WeightSlot &o) {
            return o.kind == SlotKind::Packed && o.bias == own;
          }) != 1)
        return createStringError(inconvertibleErrorCode(),
                                 "weight '%s': bias correction of a matmul "
                                 "whose bias another matmul shares is not "
                                 "supported",
                                 plan.weights[i].name.c_str());
      addIntoBias[size_t(own)] = std::move(q->bias);
    } else if (!q->bias.empty()) {
      // Bias correction: a dense [N] slot added to every output row.
      WeightSlot bias;
      bias.name = plan.weights[i].name + ".bias_correction";
      bias.kind = SlotKind::Dense;
      bias.shape = {N};
      if (Error e = appendData(bias, q->bias))
        return e;
      plan.weights[i].bias = int32_t(plan.weights.size());
      plan.weights.push_back(std::move(bias)); // invalidates `slot`
    }
    if (!q->awqScales.empty()) {
      int32_t norm = normFeedingOnly(plan, int32_t(i));
      if (norm >= 0 && !foldIntoNorm.count(size_t(norm))) {
        foldIntoNorm[size_t(norm)] = std::move(q->awqScales);
      } else {
        // x / s online: a dense [K] slot of 1/s.
        std::vector<float> inv(q->awqScales.size());
        for (size_t k = 0; k < inv.size(); ++k)
          inv[k] = 1.0f / q->awqScales[k];
        WeightSlot scale;
        scale.name = slot.name + ".awq_input_scale";
        scale.kind = SlotKind::Dense;
        scale.shape = {K};
        if (Error e = appendData(scale, inv))
          return e;
        plan.weights[i].inputScale = int32_t(plan.weights.size());
        plan.weights.push_back(std::move(scale)); // invalidates `slot`
      }
    }
  }
  if (Error e = w.endSection())
    return e;

  // Tokenizer.
  if (!tokPath.empty()) {
    auto buf = MemoryBuffer::getFile(tokPath, false, false);
    if (!buf)
      return createStringError(buf.getError(), "cannot read tokenizer '%s': %s",
                               tokPath.c_str(), buf.getError().message().c_str());
    if (Error e = w.addSection(bundle::kTokenizerSection, (*buf)->getBuffer()))
      return e;
  }

  // Every access the plan describes lies in its buffers (the loader checks
  // it again; failing here is a CodeGen bug, caught before a bundle exists).
  if (Error e = plan.verify())
    return joinErrors(createStringError(inconvertibleErrorCode(),
                                        "internal error: CodeGen built an inconsistent plan"),
                      std::move(e));

  // The program: generated code for the target.
  if (opts.progress)
    opts.progress("generating the program");
  EmitOptions eo;
  eo.optLevel = opts.optLevel;
  auto code = emitProgram(plan, *target, eo);
  if (!code)
    return code.takeError();
  if (Error e = w.addSection(kProgramObjectSection, ArrayRef<uint8_t>(code->object)))
    return e;

  // Plan and manifest.
  std::string planText;
  {
    raw_string_ostream os(planText);
    os << plan.toJSON();
  }
  if (Error e = w.addSection(kPlanSection, planText))
    return e;
  Manifest m;
  m.plan = &plan;
  m.target = *target;
  m.recipe = opts.recipe;
  m.tokenizerKind = tokPath.empty() ? "" : tokKind;
  m.source = source;
  m.format = fmt.str();
  m.tier = std::string(isaTierName(tier));
  m.optLevel = opts.optLevel;
  m.tuning = opts.tuning;
  m.residualRotation = std::move(rotation->manifest);
  std::string manifest;
  {
    raw_string_ostream os(manifest);
    os << formatv("{0:2}", m.toJSON());
  }
  if (Error e = w.addSection(bundle::kManifestSection, manifest))
    return e;
  return w.finish();
}

} // namespace llmc::codegen
