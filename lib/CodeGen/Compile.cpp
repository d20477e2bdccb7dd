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

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/xxhash.h"

#include <cstring>
#include <map>
#include <optional>

using namespace llvm;
using namespace mlir;

namespace llmc::codegen {

namespace {

/// out[c][r] = in[r][c] for in [R][C], row-major, in 64 x 64 tiles: a
/// weight's transpose reads and writes whole cache lines instead of one
/// element per line (the naive loop's writes, K floats apart, missed the
/// caches on every element of a 2048 x 5632 matrix).
void transposeMatrix(const float *in, int64_t R, int64_t C, float *out) {
  constexpr int64_t T = 64;
  for (int64_t r0 = 0; r0 < R; r0 += T)
    for (int64_t c0 = 0; c0 < C; c0 += T) {
      const int64_t r1 = std::min(R, r0 + T), c1 = std::min(C, c0 + T);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r)
          out[c * R + r] = in[r * C + c];
    }
}

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
  explicit WeightReader(std::string dir) : files_(std::move(dir)) {}

  /// The files the weights live in (also read by packPrequantizedWeight).
  WeightFiles &files() { return files_; }

  Expected<Dense> eval(Value v) {
    Operation *op = v.getDefiningOp();
    if (auto w = dyn_cast_or_null<llmc::WeightOp>(op))
      return load(w);
    if (auto t = dyn_cast_or_null<llmc::TransposeOp>(op)) {
      ArrayRef<int64_t> perm = t.getPerm();
      if (perm.size() == 2 && perm[0] == 1 && perm[1] == 0)
        return evalTransposed(t.getX());
      auto in = eval(t.getX());
      if (!in)
        return in.takeError();
      return transpose(*in, perm);
    }
    if (auto d = dyn_cast_or_null<llmc::DequantizeOp>(op)) {
      auto nk = dequantizedNK(d);
      if (!nk)
        return nk.takeError();
      const int64_t perm[] = {1, 0};
      return transpose(*nk, perm);
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
    if (isa_and_nonnull<llmc::AddOp, llmc::SubOp, llmc::MulOp, llmc::DivOp>(op))
      return arith(op);
    if (auto c = dyn_cast_or_null<llmc::ConstantOp>(op)) {
      // Small float initializers kept in the IR (e.g. a MatMulNBits bias).
      auto attr = dyn_cast<DenseElementsAttr>(c.getValue());
      auto type = dyn_cast<RankedTensorType>(c.getType());
      if (!attr || !type || !isa<FloatType>(type.getElementType()))
        return createStringError(inconvertibleErrorCode(),
                                 "only dense float constants can be weights");
      Dense d;
      d.shape.assign(type.getShape().begin(), type.getShape().end());
      for (const APFloat &f : attr.getValues<APFloat>())
        d.data.push_back(float(f.convertToDouble()));
      return d;
    }
    return createStringError(inconvertibleErrorCode(),
                             "cannot evaluate a weight expression at compile time");
  }

  /// eval(v) transposed, for a 2-D v (a matmul's [K, N] weight as the
  /// kernels' [N, K]): Transpose{1, 0}(x) is x itself, a Concat along axis 1
  /// (merged QKV / gate-up) the Concat of its parts' transposes along axis 0,
  /// anything else the value transposed. The common weight, an [N, K]
  /// initializer that the graph reads through a Transpose, then costs no
  /// transpose at all instead of two.
  Expected<Dense> evalTransposed(Value v) {
    Operation *op = v.getDefiningOp();
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || type.getRank() != 2)
      return createStringError(inconvertibleErrorCode(),
                               "a matmul weight must be 2-D");
    if (auto t = dyn_cast_or_null<llmc::TransposeOp>(op)) {
      ArrayRef<int64_t> perm = t.getPerm();
      if (perm.size() == 2 && perm[0] == 1 && perm[1] == 0)
        return eval(t.getX());
    }
    if (auto c = dyn_cast_or_null<llmc::ConcatOp>(op)) {
      int64_t axis = c.getAxisAttr().getInt();
      if (axis == 1 || axis == -1) {
        std::vector<Dense> parts;
        for (Value p : c.getInputs()) {
          auto d = evalTransposed(p);
          if (!d)
            return d.takeError();
          parts.push_back(std::move(*d));
        }
        return concat(parts, 0);
      }
    }
    if (auto c = dyn_cast_or_null<llmc::CastOp>(op))
      return evalTransposed(c.getX());
    if (auto d = dyn_cast_or_null<llmc::DequantizeOp>(op))
      return dequantizedNK(d);
    auto d = eval(v); // 2-D: the value's type was checked above
    if (!d)
      return d.takeError();
    const int64_t perm[] = {1, 0};
    return transpose(*d, perm);
  }

private:
  /// Elementwise arithmetic of two weight expressions, one of them possibly
  /// a single value (a constant scale or offset) broadcast over the other.
  Expected<Dense> arith(Operation *op) {
    auto a = eval(op->getOperand(0));
    if (!a)
      return a.takeError();
    auto b = eval(op->getOperand(1));
    if (!b)
      return b.takeError();
    if (a->numel() != b->numel() && a->numel() != 1 && b->numel() != 1)
      return createStringError(inconvertibleErrorCode(),
                               "weight arithmetic broadcasts only a single value");
    Dense out = a->numel() >= b->numel() ? *a : *b;
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    out.shape.assign(type.getShape().begin(), type.getShape().end());
    for (int64_t i = 0, n = int64_t(out.data.size()); i < n; ++i) {
      const float x = a->data[a->numel() == 1 ? 0 : i], y = b->data[b->numel() == 1 ? 0 : i];
      out.data[i] = isa<llmc::AddOp>(op)   ? x + y
                    : isa<llmc::SubOp>(op) ? x - y
                    : isa<llmc::MulOp>(op) ? x * y
                                           : x / y;
    }
    return out;
  }

  /// A pre-quantized weight's dequantized [N, K] (the kernels' orientation:
  /// the transpose of the [K, N] that llmc.dequantize stands for), exactly
  /// (code - zero point) * scale in fp32, as ONNX Runtime computes it.
  Expected<Dense> dequantizedNK(llmc::DequantizeOp d) {
    auto w = d.getW().getDefiningOp<llmc::WeightOp>();
    if (!w)
      return createStringError(inconvertibleErrorCode(),
                               "llmc.dequantize must read an llmc.weight");
    auto q = readPrequantizedWeight(w, [&](StringRef file, uint64_t off, uint64_t len) {
      return files_.bytes(w.getName(), file, off, len);
    });
    if (!q)
      return q.takeError();
    Dense out;
    out.shape = {q->N, q->K};
    out.data.resize(size_t(q->N * q->K));
    for (int64_t n = 0; n < q->N; ++n)
      for (int64_t k = 0; k < q->K; ++k)
        out.data[size_t(n * q->K + k)] = q->weight(n, k);
    return out;
  }

  Expected<Dense> load(llmc::WeightOp w) {
    SmallString<256> path;
    auto mbOr = files_.file(w.getFile(), path);
    if (!mbOr)
      return mbOr.takeError();
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
    const MemoryBuffer &mb = **mbOr;
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
    if (r == 2 && perm[0] == 1) { // a weight's [N, K] <-> [K, N]: by tiles
      out.data.resize(in.data.size());
      transposeMatrix(in.data.data(), in.shape[0], in.shape[1], out.data.data());
      return out;
    }
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

  WeightFiles files_;
};

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
  const std::vector<EmbeddingTable> tables =
      choosePackedTables(*planned, opts.embedding, stream ? stream->embedding : -1);

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
  // Packed slots whose bytes are their source matrix's rows, nothing folded
  // into them or rotated: a tied table may share them.
  std::vector<bool> plainRows(plan.weights.size(), false);
  // Of plain float packed slots, when a float table may look for its values
  // among them: a digest of their source rows.
  const bool digestRows = llvm::any_of(tables, [](const EmbeddingTable &t) {
    return !t.prequantized;
  });
  std::vector<uint64_t> rowsDigest(plan.weights.size(), 0);
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

  // An embedding table stored packed: a tied lm_head's bytes where they hold
  // its rows in the format wanted, else its own (a pre-quantized table in
  // its format, else rounded to --quant-embedding's; the residual stream
  // rotation, when folded, rotates its rows first).
  auto writePackedTable = [&](const EmbeddingTable &table, WeightSlot &slot) -> Error {
    const int32_t i = table.slot;
    auto shareable = [&](int32_t j) {
      return plainRows[size_t(j)] &&
             (table.prequantized || plan.weights[size_t(j)].format == opts.embedding.format.str());
    };
    auto share = [&](int32_t j, StringRef how) {
      const WeightSlot &o = plan.weights[size_t(j)];
      if (opts.progress)
        opts.progress(formatv("  {0}: the bytes of '{1}' ({2}{3}){4}", slot.name, o.name,
                              o.format, how,
                              table.rowScale != 1.0f
                                  ? formatv(", rows scaled by {0}", table.rowScale).str()
                                  : std::string())
                          .str());
      slot.offset = o.offset;
      slot.bytes = o.bytes;
      slot.format = o.format;
      slot.lanes = o.lanes;
      slot.rowScale = table.rowScale;
      return Error::success();
    };
    for (int32_t j : table.tiedTo)
      if (shareable(j))
        return share(j, "");
    kernels::PackedWeights pk;
    if (table.prequantized) {
      auto packed = packPrequantizedWeight(table.prequantized, reader.files(), tier);
      if (packed) {
        pk = std::move(*packed);
      } else {
        // Not a format the kernels store exactly: the dequantized rows, dense.
        std::string why = toString(packed.takeError());
        if (opts.progress)
          opts.progress(formatv("  {0}: stored dense: {1}", slot.name, why).str());
        auto d = reader.eval(planned->roots[size_t(i)]);
        if (!d)
          return d.takeError();
        slot.kind = SlotKind::Dense;
        return appendData(slot, d->data);
      }
    } else {
      auto d = reader.eval(table.rows);
      if (!d)
        return joinErrors(createStringError(inconvertibleErrorCode(),
                                            "weight '%s':", slot.name.c_str()),
                          d.takeError());
      if (stream && i == stream->embedding) {
        quant::rotateRows(d->data.data(), d->shape[0], *rotation->U);
      } else {
        // An exporter may store a tied lm_head as its own transposed copy of
        // the table: a packed slot whose source rows are these values
        // (digest, then every value) shares as the graph's tie does.
        const uint64_t digest = xxh3_64bits(ArrayRef<uint8_t>(
            reinterpret_cast<const uint8_t *>(d->data.data()), d->data.size() * 4));
        for (size_t j = 0; j < rowsDigest.size(); ++j) {
          if (rowsDigest[j] != digest || !shareable(int32_t(j)) ||
              plan.weights[j].shape != d->shape)
            continue;
          auto other = reader.evalTransposed(planned->roots[j]);
          if (!other)
            return other.takeError();
          if (other->data == d->data)
            return share(int32_t(j), ", the same values");
        }
      }
      if (table.rowScale != 1.0f) // the graph's table: rows * scale
        for (float &v : d->data)
          v *= table.rowScale;
      QuantRecipe recipe;
      recipe.weights = opts.embedding;
      auto q = quantizeSlot(d->data.data(), d->shape[0], d->shape[1], recipe,
                            /*stats=*/nullptr, tier, /*seed=*/0x5eed0000 + uint64_t(i));
      if (!q)
        return joinErrors(createStringError(inconvertibleErrorCode(),
                                            "weight '%s':", slot.name.c_str()),
                          q.takeError());
      pk = std::move(q->packed);
    }
    slot.format = pk.layout().format.str();
    slot.lanes = pk.layout().lanes;
    return appendBytes(slot, ArrayRef<uint8_t>(pk.data(),
                                               size_t(pk.layout().totalBytes)));
  };

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
      if (Error e = writePackedTable(table, slot))
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
      plainRows[i] = true;
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
    plainRows[i] = !q->rotationSeed && q->awqScales.empty() &&
                   !(stream && (stream->readsNorm[i] >= 0 || stream->writes[i]));
    if (plainRows[i] && digestRows)
      rowsDigest[i] = xxh3_64bits(ArrayRef<uint8_t>(
          reinterpret_cast<const uint8_t *>(nk.data()), nk.size() * 4));
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
