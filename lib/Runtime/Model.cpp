//===- Model.cpp - Load a bundle: verify, check the host, make kernels ----===//

#include "llmc/Runtime/Model.h"
#include "HugePageWeights.h"
#include "llmc/Runtime/Profile.h"

#include "llmc/Kernels/PackedLayout.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/Quant/Hadamard.h"

#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/TargetSelect.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <chrono>
#include <cstring>
#include <mutex>

using namespace llvm;

namespace llmc::runtime {

Model::~Model() = default;

// The kernel ABI the program calls (ProgramABI.h).
extern "C" {
// With a Profile in the session's options each kernel call is timed
// (Profile.h; Session::kernelMatmul times its own).
static void llmcRtMatmul(codegen::llmc_program_state *s, int32_t weight,
                         const float *x, int64_t m, int64_t ldx, float *y,
                         int64_t ldy) {
  static_cast<Session *>(s->session)->kernelMatmul(weight, x, m, ldx, y, ldy);
}
static void llmcRtAttention(codegen::llmc_program_state *s, int32_t step,
                            int64_t n, int64_t pos) {
  auto *session = static_cast<Session *>(s->session);
  Profile::AttentionScope timed(session->profile());
  session->kernelAttention(step, n, pos);
}
static void llmcRtMoE(codegen::llmc_program_state *s, int32_t step, int64_t n) {
  static_cast<Session *>(s->session)->kernelMoE(step, n);
}
static void llmcRtParallel(codegen::llmc_program_state *s, codegen::GlueFn fn,
                           int64_t begin, int64_t end, int64_t pos,
                           int64_t rowCost) {
  static_cast<Session *>(s->session)->kernelParallel(fn, s, begin, end, pos, rowCost);
}
static void llmcRtEmbed(codegen::llmc_program_state *s, int32_t weight,
                        const int32_t *tokens, int64_t n, float *out,
                        int64_t ldout) {
  static_cast<Session *>(s->session)->kernelEmbed(weight, tokens, n, out, ldout);
}
}

Error Model::linkProgram(ArrayRef<uint8_t> object) {
  auto t0 = std::chrono::steady_clock::now();
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  auto jit = orc::LLJITBuilder().create();
  if (!jit)
    return jit.takeError();
  orc::JITDylib &jd = (*jit)->getMainJITDylib();
  orc::SymbolMap abi;
  auto flags = JITSymbolFlags::Exported | JITSymbolFlags::Callable;
  abi[(*jit)->mangleAndIntern(codegen::kMatmulSymbol)] =
      orc::ExecutorSymbolDef(orc::ExecutorAddr::fromPtr(&llmcRtMatmul), flags);
  abi[(*jit)->mangleAndIntern(codegen::kAttentionSymbol)] =
      orc::ExecutorSymbolDef(orc::ExecutorAddr::fromPtr(&llmcRtAttention), flags);
  abi[(*jit)->mangleAndIntern(codegen::kMoESymbol)] =
      orc::ExecutorSymbolDef(orc::ExecutorAddr::fromPtr(&llmcRtMoE), flags);
  abi[(*jit)->mangleAndIntern(codegen::kEmbedSymbol)] =
      orc::ExecutorSymbolDef(orc::ExecutorAddr::fromPtr(&llmcRtEmbed), flags);
  abi[(*jit)->mangleAndIntern(codegen::kParallelSymbol)] =
      orc::ExecutorSymbolDef(orc::ExecutorAddr::fromPtr(&llmcRtParallel), flags);
  if (Error e = jd.define(orc::absoluteSymbols(std::move(abi))))
    return e;
  StringRef bytes(reinterpret_cast<const char *>(object.data()), object.size());
  if (Error e = (*jit)->addObjectFile(
          MemoryBuffer::getMemBufferCopy(bytes, "llmc-program.o")))
    return e;
  auto sym = (*jit)->lookup(codegen::kPrefillSymbol);
  if (!sym)
    return sym.takeError();
  prefill_ = sym->toPtr<codegen::PrefillFn>();
  jit_ = std::move(*jit);
  linkMs_ = std::chrono::duration<double, std::milli>(
                std::chrono::steady_clock::now() - t0)
                .count();
  return Error::success();
}

// The kernels' activation path for a matmul of `fmt` weights under the
// bundle's activation mode (Manifest.h): int8 for integer weights unless
// fp32 or bf16 is asked; bf16 for float weights when asked (Matmul falls back
// to fp32 for f32/f16 weights and hosts without AVX512-BF16).
static kernels::ActPath matmulActPath(const kernels::WeightFormat &fmt,
                                      codegen::ActivationMode mode) {
  using codegen::ActivationMode;
  if (fmt.isQuantized())
    return mode == ActivationMode::F32 || mode == ActivationMode::BF16
               ? kernels::ActPath::F32
               : kernels::ActPath::Int8;
  return mode == ActivationMode::BF16 ? kernels::ActPath::BF16
                                      : kernels::ActPath::F32;
}

static Error fail(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), "%s", msg.str().c_str());
}

const float *Model::dense(int32_t slot) const {
  return reinterpret_cast<const float *>(weights_ + plan_.weights[slot].offset);
}

Error Model::gatherRows(int32_t slot, const int32_t *tokens, int64_t n,
                        float *out, int64_t ldout) const {
  const codegen::WeightSlot &w = plan_.weights[slot];
  if (w.kind == codegen::SlotKind::PackedTable)
    return gatherPackedRows(slot, tokens, n, out, ldout);
  const int64_t width = w.shape[1];
  const size_t rowBytes = size_t(width) * sizeof(float);
  for (int64_t t = 0; t < n; ++t) {
    const uint64_t at = uint64_t(w.offset) + uint64_t(tokens[t]) * rowBytes;
    if (!file_) {
      std::memcpy(out + t * ldout, weights_ + at, rowBytes);
      continue;
    }
    if (Error e = file_->read(weightsFileOffset_ + at,
                              reinterpret_cast<uint8_t *>(out + t * ldout), rowBytes))
      return e;
  }
  return Error::success();
}

Error Model::gatherPackedRows(int32_t slot, const int32_t *tokens, int64_t n,
                              float *out, int64_t ldout) const {
  const kernels::PackedWeights &pw = packed_[slot];
  const kernels::PackedLayout &l = pw.layout();
  const float rowScale = plan_.weights[slot].rowScale;
  auto scaleRow = [&](float *row) {
    if (rowScale != 1.0f)
      for (int64_t k = 0; k < l.K; ++k)
        row[k] *= rowScale;
  };
  if (!file_) {
    for (int64_t t = 0; t < n; ++t) {
      kernels::dequantizePackedRow(l, pw.data(), tokens[t], out + t * ldout);
      scaleRow(out + t * ldout);
    }
    return Error::success();
  }
  // A row's codes and scales are spread over its panel's regions: read the
  // panel's (lanes rows' worth) with pread, as a dense table's rows are read
  // (ProgramABI.h: why not through the mapping). Consecutive tokens of one
  // panel read it once.
  const uint64_t base = weightsFileOffset_ + uint64_t(plan_.weights[slot].offset);
  std::vector<uint8_t> q, scale, zero;
  auto fetch = [&](kernels::PanelRegions::Range r, std::vector<uint8_t> &buf) {
    buf.resize(size_t(r.bytes));
    return r.bytes ? file_->read(base + uint64_t(r.offset), buf.data(), buf.size())
                   : Error::success();
  };
  kernels::PanelBytes panel;
  panel.tensorScale = kernels::packedTensorScale(l, pw.data());
  int64_t current = -1;
  for (int64_t t = 0; t < n; ++t) {
    const int64_t p = tokens[t] / l.lanes;
    if (p != current) {
      const kernels::PanelRegions r = kernels::panelRegions(l, p);
      if (Error e = fetch(r.q, q))
        return e;
      if (Error e = fetch(r.scale, scale))
        return e;
      if (Error e = fetch(r.zero, zero))
        return e;
      panel.q = q.data();
      panel.scale = scale.data();
      panel.zero = zero.data();
      current = p;
    }
    kernels::dequantizePanelRow(l, panel, unsigned(tokens[t] % l.lanes),
                                out + t * ldout);
    scaleRow(out + t * ldout);
  }
  return Error::success();
}

std::vector<std::string> Model::kernelDescriptions() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < plan_.weights.size(); ++i) {
    const codegen::WeightSlot &w = plan_.weights[i];
    if (w.kind != codegen::SlotKind::Packed)
      continue;
    const kernels::Matmul &mm = matmuls_[i];
    // Static int8 activations (a calibrated per-tensor scale): "int8/static".
    std::string act = kernels::actPathName(mm.desc().act);
    if (mm.desc().act == kernels::ActPath::Int8 && mm.desc().staticActScale > 0)
      act += "/static";
    // What the runtime adds around the kernel: a bias, AWQ's input scale,
    // an online rotation.
    std::string extras;
    if (w.bias >= 0)
      extras += " +bias(" + plan_.weights[w.bias].name + ")";
    if (w.inputScale >= 0)
      extras += " +input_scale";
    if (w.rotated)
      extras += " +rotation";
    out.push_back(formatv("{0}: N={1} K={2} {3} tier={4} act={5} {6} {7}{8}", w.name,
                          w.shape[0], w.shape[1], w.format,
                          isaTierName(mm.desc().tier), act,
                          mm.usesJit() ? "jit" : "generic", mm.blocking().str(), extras)
                      .str());
  }
  return out;
}

Expected<std::unique_ptr<Model>> Model::load(StringRef path, LoadOptions options) {
  auto t0 = std::chrono::steady_clock::now();
  auto b = bundle::Bundle::open(path, options.verifyWeights ? bundle::Verify::All
                                                            : bundle::Verify::Metadata);
  if (!b)
    return b.takeError();
  if (options.bundleFile.empty()) {
    options.bundleFile = path.str();
    options.bundleFileOffset = 0;
  }
  return fromBundle(std::move(*b), path, options, t0);
}

Expected<std::unique_ptr<Model>>
Model::fromBundle(std::unique_ptr<bundle::Bundle> bundle, StringRef path,
                  LoadOptions options) {
  return fromBundle(std::move(bundle), path, options,
                    std::chrono::steady_clock::now());
}

Expected<std::unique_ptr<Model>>
Model::fromBundle(std::unique_ptr<bundle::Bundle> bundle, StringRef path,
                  LoadOptions options, std::chrono::steady_clock::time_point t0) {
  const StringRef weightsFile = options.bundleFile;
  std::unique_ptr<Model> m(new Model());
  m->bundle_ = std::move(bundle);

  auto mtext = m->bundle_->sectionText(bundle::kManifestSection);
  if (!mtext)
    return mtext.takeError();
  auto manifest = codegen::Manifest::parse(*mtext);
  if (!manifest)
    return joinErrors(fail(path + ":"), manifest.takeError());
  m->manifest_ = std::move(*manifest);

  // The host must have every feature the bundle was compiled for.
  auto host = detectHost();
  if (!host)
    return host.takeError();
  std::vector<std::string> missing = m->manifest_.target.missingOn(*host);
  if (!missing.empty())
    return createStringError(std::errc::not_supported, "%s", formatv("'{0}' was compiled for target '{1}', but this host "
                        "({2}) lacks the CPU features: {3}",
                        path, m->manifest_.target.cpu, host->cpu,
                        join(missing, ", "))
                    .str().c_str());

  auto ptext = m->bundle_->sectionText(codegen::kPlanSection);
  if (!ptext)
    return ptext.takeError();
  auto pj = json::parse(*ptext);
  if (!pj)
    return joinErrors(fail(path + ": bad program plan:"), pj.takeError());
  auto plan = codegen::ProgramPlan::fromJSON(*pj);
  if (!plan)
    return plan.takeError();
  if (Error e = plan->verify())
    return joinErrors(fail(path + ":"), std::move(e));
  m->plan_ = std::move(*plan);

  auto weights = m->bundle_->section(bundle::kWeightsSection);
  if (!weights)
    return weights.takeError();
  m->weights_ = weights->data();
  m->weightBytes_ = weights->size();

  // Kernels for this host, for the packing the bundle carries (each weight
  // records its own format: per-tensor recipes may mix them).
  // AMX: tile kernels where they exist (prefill row blocks of the int8 path
  // and of bf16 weights on the bf16 path); Matmul::create runs everything
  // else on the VNNI tier. LLMC_AMX_EMULATE=1
  // runs them with the scalar tile model on hosts without AMX (testing).
  IsaTier hostTier = kernels::amxTierUsable()
                         ? IsaTier::AMX
                         : std::min(host->maxTier(), IsaTier::AVX512_VNNI);
  size_t n = m->plan_.weights.size();

  // Where the packed weights live (LoadOptions::WeightPages).
  uint64_t packedBytes = 0;
  for (const codegen::WeightSlot &w : m->plan_.weights)
    if (w.kind == codegen::SlotKind::Packed && w.bytes > 0)
      packedBytes += uint64_t(w.bytes);
  auto huge = useHugePages(options.weightPages, packedBytes, !weightsFile.empty());
  if (!huge)
    return huge.takeError();
  m->weightsInHugePages_ = *huge;
  if (!weightsFile.empty()) {
    auto f = WeightFile::open(weightsFile);
    if (!f)
      return f.takeError();
    m->file_ = std::make_unique<WeightFile>(std::move(*f));
    m->weightsFileOffset_ = options.bundleFileOffset +
                            m->bundle_->findSection(bundle::kWeightsSection)->offset;
  }
  const WeightFile *file = m->weightsInHugePages_ ? m->file_.get() : nullptr;
  const uint64_t weightsFileOffset = m->weightsFileOffset_;
  // In huge pages, every packed matmul weight lies in one buffer, each at a
  // page-aligned offset: a buffer per weight leaves the weight's partial
  // last 2 MiB page in 4 KiB pages (allocateWeightBuffer), which for weights
  // of a few MiB (an MoE's experts: 1.5-3 MiB each) is most of them, and
  // their stream ran at half the speed. One buffer has one partial page.
  std::vector<uint64_t> arenaAt(n, 0);
  if (m->weightsInHugePages_) {
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
      const codegen::WeightSlot &w = m->plan_.weights[i];
      if (w.kind != codegen::SlotKind::Packed || w.offset < 0 || w.bytes <= 0 ||
          uint64_t(w.offset + w.bytes) > weights->size())
        continue; // refused below
      arenaAt[i] = total;
      total += (uint64_t(w.bytes) + 4095) & ~uint64_t(4095);
    }
    m->packedArena_ = kernels::allocateWeightBuffer(size_t(total));
    if (!m->packedArena_)
      return createStringError(std::errc::not_enough_memory,
                               "%s: cannot allocate %llu MiB for the packed weights",
                               path.str().c_str(), (unsigned long long)(total >> 20));
  }

  m->packed_.resize(n);
  m->matmuls_.resize(n);
  m->rotations_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const codegen::WeightSlot &w = m->plan_.weights[i];
    if (w.offset < 0 || w.bytes < 0 || uint64_t(w.offset + w.bytes) > weights->size())
      return fail(formatv("{0}: weight '{1}' lies outside the weights section",
                          path, w.name)
                      .str());
    if (w.kind != codegen::SlotKind::Packed && w.kind != codegen::SlotKind::PackedTable)
      continue;
    if (w.shape.size() != 2)
      return fail(formatv("{0}: weight '{1}' is not a matrix", path, w.name).str());
    auto fmt = kernels::parseWeightFormat(w.format);
    if (!fmt)
      return joinErrors(fail(formatv("{0}: weight '{1}':", path, w.name).str()),
                        fmt.takeError());
    auto layout = kernels::PackedLayout::get(*fmt, w.shape[0], w.shape[1], w.lanes);
    if (!layout)
      return layout.takeError();
    if (layout->totalBytes != w.bytes)
      return fail(formatv("{0}: weight '{1}' has {2} bytes, its layout {3}", path,
                          w.name, w.bytes, layout->totalBytes)
                      .str());
    if (w.kind == codegen::SlotKind::PackedTable) {
      // An embedding table: rows dequantized on lookup (gatherPackedRows),
      // from the mapping or the file; no kernel, no copy in huge pages.
      m->packed_[i] = kernels::PackedWeights::borrow(
          *layout, w.lanes == 16 ? IsaTier::AVX512 : IsaTier::AVX2, m->weights_ + w.offset);
      if (Error e = kernels::checkPackedTensorScale(*layout, m->packed_[i].data()))
        return joinErrors(fail(formatv("{0}: weight '{1}':", path, w.name).str()),
                          std::move(e));
      continue;
    }
    if (w.inputScale >= 0) {
      // AWQ's online 1/s: a dense slot of K floats.
      const codegen::WeightSlot *sc = size_t(w.inputScale) < n
                                          ? &m->plan_.weights[w.inputScale]
                                          : nullptr;
      if (!sc || sc->kind != codegen::SlotKind::Dense || sc->bytes != w.shape[1] * 4)
        return fail(formatv("{0}: weight '{1}' has a bad input scale slot", path,
                            w.name)
                        .str());
    }
    if (w.bias >= 0) {
      const codegen::WeightSlot *b =
          size_t(w.bias) < n ? &m->plan_.weights[w.bias] : nullptr;
      if (!b || b->kind != codegen::SlotKind::Dense || b->bytes != w.shape[0] * 4)
        return fail(formatv("{0}: weight '{1}' has a bad bias slot", path, w.name)
                        .str());
    }
    if (w.rotated) {
      auto U = quant::RandomizedHadamard::create(w.shape[1], w.rotationSeed);
      if (!U)
        return joinErrors(fail(formatv("{0}: weight '{1}':", path, w.name).str()),
                          U.takeError());
      m->rotations_[i] = std::make_unique<quant::RandomizedHadamard>(std::move(*U));
    }
    IsaTier tier = w.lanes == 16 ? std::max(hostTier, IsaTier::AVX512)
                                 : std::min(hostTier, IsaTier::AVX2);
    if (kernels::panelLanes(tier) != w.lanes)
      return fail(formatv("{0}: weights packed for {1} lanes", path, w.lanes).str());
    if (m->weightsInHugePages_) {
      auto r0 = std::chrono::steady_clock::now();
      uint8_t *dst = m->packedArena_.get() + arenaAt[i];
      if (file) { // pread: the file's pages never enter this process's RSS
        if (Error e = file->readParallel(weightsFileOffset + uint64_t(w.offset), dst,
                                         size_t(w.bytes), std::clamp(host->cores, 1u, 8u)))
          return std::move(e);
      } else {
        std::memcpy(dst, m->weights_ + w.offset, size_t(w.bytes));
      }
      m->packed_[i] = kernels::PackedWeights::borrow(*layout, tier, dst);
      m->weightReadMs_ += std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - r0)
                             .count();
    } else {
      m->packed_[i] = kernels::PackedWeights::borrow(*layout, tier,
                                                     m->weights_ + w.offset);
    }
    if (Error e = kernels::checkPackedTensorScale(*layout, m->packed_[i].data()))
      return joinErrors(fail(formatv("{0}: weight '{1}':", path, w.name).str()),
                        std::move(e));
    kernels::MatmulDesc d;
    d.N = w.shape[0];
    d.K = w.shape[1];
    d.mMin = 1;
    d.mMax = std::max<int64_t>(1, m->plan_.maxTokens);
    d.format = *fmt;
    d.tier = tier;
    d.allowAvxVnni = host->hasAvxVnni();
    d.act = matmulActPath(*fmt, w.activations.value_or(m->manifest_.recipe.activations));
    if (d.act == kernels::ActPath::Int8)
      d.staticActScale = w.actScale;
    auto mm = kernels::Matmul::create(d);
    if (!mm)
      return mm.takeError();
    m->matmuls_[i] = *mm;
    m->tier_ = tier;
  }

  // Dense slots the glue steps read: norms' [width] scale and shift,
  // learned position tables of at least the context's rows, and rotary
  // frequencies.
  auto denseOf = [&](int32_t slot, int64_t floats) {
    const codegen::WeightSlot *w =
        slot >= 0 && size_t(slot) < n ? &m->plan_.weights[slot] : nullptr;
    return w && w->kind == codegen::SlotKind::Dense &&
           w->bytes >= floats * int64_t(sizeof(float));
  };
  for (const codegen::Step &s : m->plan_.steps) {
    using codegen::StepKind;
    bool ok = true;
    if (s.kind == StepKind::RmsNorm || s.kind == StepKind::LayerNorm)
      ok = s.width > 0 && denseOf(s.weight, s.width) &&
           (s.bias < 0 || denseOf(s.bias, s.width));
    else if (s.kind == StepKind::EmbedPositions)
      ok = s.width > 0 &&
           denseOf(s.weight, m->plan_.config.maxContext * s.width);
    else if (s.kind == StepKind::RopeTables) {
      ok = (s.weight < 0 || denseOf(s.weight, s.rotHalf)) &&
           (s.longWeight < 0 || denseOf(s.longWeight, s.rotHalf));
      for (float f : {s.scale, s.longScale})
        if (!(f > 0.0f) || !std::isfinite(f))
          return fail(formatv("{0}: the rope_tables step has a bad attention factor ({1})",
                              path, f)
                          .str());
    }
    if (!ok)
      return fail(formatv("{0}: the {1} step has a bad weight slot", path,
                          codegen::stepKindName(s.kind))
                      .str());
  }

  // Embedding tables: read a row per token (gatherRows) by ids the session
  // has checked against the vocabulary.
  for (const codegen::Step &s : m->plan_.steps) {
    if (s.kind != codegen::StepKind::Embed)
      continue;
    const codegen::WeightSlot *w =
        s.weight >= 0 && size_t(s.weight) < n ? &m->plan_.weights[s.weight] : nullptr;
    // (ProgramPlan::verify checked the kind and shape; a packed table's
    // bytes were checked against its layout above.)
    if (!w || w->shape.size() != 2 ||
        (w->kind == codegen::SlotKind::Dense &&
         w->bytes != w->shape[0] * w->shape[1] * int64_t(sizeof(float))))
      return fail(formatv("{0}: the embedding step has a bad table slot", path).str());
  }

  // The generated program, linked for this process.
  bool interpret = options.interpret;
  if (auto env = sys::Process::GetEnv("LLMC_NO_JIT"))
    interpret |= *env == "1";
  if (!interpret && m->bundle_->findSection(codegen::kProgramObjectSection)) {
    auto obj = m->bundle_->section(codegen::kProgramObjectSection);
    if (!obj)
      return obj.takeError();
    if (Error e = m->linkProgram(*obj))
      return joinErrors(fail(path + ": cannot link the program:"), std::move(e));
  }

  if (!m->manifest_.tokenizerKind.empty()) {
    auto kind = parseTokenizerKind(m->manifest_.tokenizerKind);
    if (!kind)
      return kind.takeError();
    auto bytes = m->bundle_->section(bundle::kTokenizerSection);
    if (!bytes)
      return bytes.takeError();
    // The config's BOS/EOS name the special tokens of a tokenizer.json, which
    // does not say which of its tokens they are.
    auto tok = Tokenizer::load(
        *kind, *bytes, int32_t(m->plan_.config.vocab),
        TokenizerSpecialIds{m->plan_.config.bos, m->plan_.config.eos});
    if (!tok)
      return tok.takeError();
    m->tokenizer_ = std::move(*tok);
  }
  m->loadMs_ = std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - t0)
                   .count();
  return std::move(m);
}

} // namespace llmc::runtime
