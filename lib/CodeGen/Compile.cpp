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
#include "PlanBuilder.h"

#include "llmc/Bundle/Bundle.h"
#include "llmc/CodeGen/Manifest.h"
#include "llmc/CodeGen/ProgramABI.h"
#include "llmc/CodeGen/ProgramEmitter.h"
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/LLMCOps.h"
#include "llmc/Quant/MSEClip.h"
#include "llmc/Target/TargetAttr.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace llvm;
using namespace mlir;

namespace llmc::codegen {

namespace {

struct Dense {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};

class WeightReader {
public:
  explicit WeightReader(std::string dir) : dir_(std::move(dir)) {}

  Expected<Dense> eval(Value v) {
    Operation *op = v.getDefiningOp();
    if (auto w = dyn_cast_or_null<llmc::WeightOp>(op))
      return load(w);
    if (auto t = dyn_cast_or_null<llmc::TransposeOp>(op)) {
      auto in = eval(t.getX());
      if (!in)
        return in.takeError();
      return transpose(*in, t.getPerm());
    }
    if (auto c = dyn_cast_or_null<llmc::ConcatOp>(op)) {
      std::vector<Dense> parts;
      for (Value p : c.getInputs()) {
        auto d = eval(p);
        if (!d)
          return d.takeError();
        parts.push_back(std::move(*d));
      }
      int64_t axis = c.getAxisAttr().getInt();
      if (axis < 0)
        axis += int64_t(parts[0].shape.size());
      return concat(parts, axis);
    }
    if (auto r = dyn_cast_or_null<llmc::ReshapeOp>(op)) {
      auto in = eval(r.getX());
      if (!in)
        return in.takeError();
      auto t = cast<RankedTensorType>(r.getType());
      in->shape.assign(t.getShape().begin(), t.getShape().end());
      return in;
    }
    if (auto c = dyn_cast_or_null<llmc::CastOp>(op))
      return eval(c.getX());
    return createStringError(inconvertibleErrorCode(),
                             "cannot evaluate a weight expression at compile time");
  }

private:
  Expected<Dense> load(llmc::WeightOp w) {
    SmallString<256> path(w.getFile());
    if (!sys::path::is_absolute(path) && !dir_.empty()) {
      path = dir_;
      sys::path::append(path, w.getFile());
    }
    auto it = files_.find(path);
    if (it == files_.end()) {
      auto buf = MemoryBuffer::getFile(path, /*IsText=*/false,
                                       /*RequiresNullTerminator=*/false);
      if (!buf)
        return createStringError(buf.getError(), "cannot read weight file '%s': %s",
                                 path.c_str(), buf.getError().message().c_str());
      it = files_.try_emplace(path, std::move(*buf)).first;
    }
    auto type = dyn_cast<RankedTensorType>(w.getType());
    if (!type || !type.hasStaticShape())
      return createStringError(inconvertibleErrorCode(),
                               "weight '%s': pre-quantized (!llmc.qweight) or "
                               "dynamically shaped weights are not supported yet",
                               w.getName().str().c_str());
    Dense d;
    d.shape.assign(type.getShape().begin(), type.getShape().end());
    int64_t n = d.numel();
    Type et = type.getElementType();
    unsigned eb = et.isF32() ? 4 : (et.isF16() || et.isBF16()) ? 2 : 0;
    if (!eb)
      return createStringError(inconvertibleErrorCode(),
                               "weight '%s': element type must be f32, f16 or bf16",
                               w.getName().str().c_str());
    uint64_t off = w.getOffsetAttr().getInt();
    const MemoryBuffer &mb = *it->second;
    if (off + uint64_t(n) * eb > mb.getBufferSize())
      return createStringError(inconvertibleErrorCode(),
                               "weight '%s' lies beyond the end of '%s'",
                               w.getName().str().c_str(), path.c_str());
    const char *src = mb.getBufferStart() + off;
    d.data.resize(n);
    if (eb == 4) {
      std::memcpy(d.data.data(), src, n * 4);
    } else {
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        d.data[i] = et.isF16() ? kernels::fp16ToFp32(h) : kernels::bf16ToFp32(h);
      }
    }
    return d;
  }

  static Dense transpose(const Dense &in, ArrayRef<int64_t> perm) {
    size_t r = in.shape.size();
    Dense out;
    out.shape.resize(r);
    for (size_t i = 0; i < r; ++i)
      out.shape[i] = in.shape[perm[i]];
    std::vector<int64_t> inStride(r, 1);
    for (size_t i = r; i-- > 1;)
      inStride[i - 1] = inStride[i] * in.shape[i];
    out.data.resize(in.data.size());
    std::vector<int64_t> idx(r, 0);
    for (size_t lin = 0; lin < out.data.size(); ++lin) {
      int64_t src = 0;
      for (size_t i = 0; i < r; ++i)
        src += idx[i] * inStride[perm[i]];
      out.data[lin] = in.data[src];
      for (size_t i = r; i-- > 0;) {
        if (++idx[i] < out.shape[i])
          break;
        idx[i] = 0;
      }
    }
    return out;
  }

  static Dense concat(const std::vector<Dense> &parts, int64_t axis) {
    Dense out;
    out.shape = parts[0].shape;
    out.shape[axis] = 0;
    for (const Dense &p : parts)
      out.shape[axis] += p.shape[axis];
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i)
      outer *= out.shape[i];
    for (size_t i = axis + 1; i < out.shape.size(); ++i)
      inner *= out.shape[i];
    out.data.reserve(out.numel());
    for (int64_t o = 0; o < outer; ++o)
      for (const Dense &p : parts) {
        int64_t chunk = p.shape[axis] * inner;
        out.data.insert(out.data.end(), p.data.begin() + o * chunk,
                        p.data.begin() + (o + 1) * chunk);
      }
    return out;
  }

  std::string dir_;
  StringMap<std::unique_ptr<MemoryBuffer>> files_;
};

/// `<dir>/<stem>.config.json` of the source model, if present.
json::Object readModelConfig(StringRef source) {
  if (source.empty())
    return {};
  SmallString<256> p(source);
  sys::path::replace_extension(p, ".config.json");
  auto buf = MemoryBuffer::getFile(p);
  if (!buf)
    return {};
  auto v = json::parse((*buf)->getBuffer());
  if (!v) {
    consumeError(v.takeError());
    return {};
  }
  if (json::Object *o = v->getAsObject())
    return std::move(*o);
  return {};
}

} // namespace

/// The fusion pipeline, when asked for.
static Error fuse(ModuleOp module, const CompileOptions &opts) {
  if (!opts.fuse)
    return Error::success();
  PassManager pm(module.getContext());
  FuseTransformerOptions fo;
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
  auto code = emitProgram(planned->plan, *target, /*keepIR=*/true);
  if (!code)
    return code.takeError();
  return llvm ? code->llvmIR : code->mlir;
}

Error compileToBundle(ModuleOp module, const CompileOptions &opts,
                      StringRef outputPath) {
  if (Error e = opts.recipe.validate())
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

  // Model facts the graph does not carry.
  std::string source = opts.sourcePath;
  if (source.empty())
    if (auto s = module->getAttrOfType<StringAttr>("llmc.source"))
      source = s.getValue().str();
  json::Object cfg = readModelConfig(source);
  plan.config.maxContext = opts.maxContext
                               ? opts.maxContext
                               : cfg.getInteger("max_seq_len").value_or(2048);
  if (opts.kvType != "fp32" && opts.kvType != "fp16")
    return createStringError(inconvertibleErrorCode(),
                             "unknown KV cache type '%s' (expected fp32 or fp16)",
                             opts.kvType.c_str());
  plan.config.kvFp16 = opts.kvType == "fp16";
  plan.config.bos = int32_t(cfg.getInteger("bos_id").value_or(1));
  plan.config.eos = int32_t(cfg.getInteger("eos_id").value_or(2));
  std::string tokPath = opts.tokenizerPath, tokKind = opts.tokenizerKind;
  if (tokPath.empty())
    if (const json::Object *t = cfg.getObject("tokenizer")) {
      tokPath = t->getString("path").value_or("").str();
      if (tokKind.empty())
        tokKind = t->getString("kind").value_or("").str();
    }
  if (!tokPath.empty() && tokKind.empty())
    tokKind = StringRef(tokPath).ends_with(".model") ? "sentencepiece" : "llama2c";

  IsaTier tier = target->maxTier();
  unsigned lanes = kernels::panelLanes(tier);
  kernels::WeightFormat fmt = weightFormatFor(opts.recipe);
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
  for (size_t i = 0; i < plan.weights.size(); ++i) {
    WeightSlot &slot = plan.weights[i];
    if (opts.progress)
      opts.progress(formatv("[{0}/{1}] {2} {3}", i + 1, plan.weights.size(),
                            slot.kind == SlotKind::Packed ? "packing" : "copying",
                            slot.name)
                        .str());
    auto d = reader.eval(planned->roots[i]);
    if (!d)
      return joinErrors(createStringError(inconvertibleErrorCode(),
                                          "weight '%s':", slot.name.c_str()),
                        d.takeError());
    if (Error e = w.alignSection(bundle::kPageAlignment))
      return e;
    Expected<uint64_t> off = uint64_t(0);
    if (slot.kind == SlotKind::Dense) {
      off = w.append(ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>(d->data.data()), d->data.size() * 4));
      slot.bytes = int64_t(d->data.size() * 4);
    } else {
      // [K, N] (ONNX MatMul) -> [N, K] (kernel layout).
      int64_t K = d->shape[0], N = d->shape[1];
      std::vector<float> nk(d->data.size());
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n)
          nk[n * K + k] = d->data[k * N + n];
      d->data.clear();
      d->data.shrink_to_fit();
      QuantRecipe recipe = opts.recipe;
      if (opts.recipeFor) {
        auto r = opts.recipeFor(slot.name);
        if (!r)
          return r.takeError();
        recipe = *r;
      }
      kernels::WeightFormat slotFmt = weightFormatFor(recipe);
      if (Error e = slotFmt.validate())
        return e;
      Expected<kernels::PackedWeights> packed = [&] {
        if (!recipe.mseClip || !slotFmt.isQuantized())
          return kernels::packWeights(nk.data(), N, K, slotFmt, tier);
        quant::ClipSearch search;
        search.steps = 20; // range factors 1.0, 0.97, ..., 0.5
        auto q = quant::quantizeWeightsMSE(nk.data(), N, K, slotFmt, search);
        if (!q)
          return Expected<kernels::PackedWeights>(q.takeError());
        return kernels::packWeights(*q, tier);
      }();
      if (!packed)
        return packed.takeError();
      const kernels::PackedLayout &l = packed->layout();
      off = w.append(ArrayRef<uint8_t>(packed->data(), size_t(l.totalBytes)));
      slot.bytes = l.totalBytes;
      slot.format = slotFmt.str();
      slot.lanes = lanes;
    }
    if (!off)
      return off.takeError();
    slot.offset = int64_t(*off);
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

  // The program: generated code for the target.
  if (opts.progress)
    opts.progress("generating the program");
  auto code = emitProgram(plan, *target);
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
