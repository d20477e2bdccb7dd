//===- Matmul.cpp - Descriptor -> blocking -> kernels, and the driver ------===//
#include "llmc/Kernels/Matmul.h"
#include "llmc/Support/EnumNames.h"
#include "ActQuant.h"
#include "MicroKernel.h"
#include "llmc/Kernels/Reference.h"
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

using namespace llvm;

namespace llmc {
namespace kernels {

//===----------------------------------------------------------------------===//
// Descriptors
//===----------------------------------------------------------------------===//

std::string MicroKernelDesc::str() const {
  std::string s = isaTierName(tier).str();
  if (avxVnni)
    s += "+avxvnni";
  s += "/" + format.str();
  s += std::string("/act_") + actPathName(act);
  s += "/mr" + std::to_string(mr);
  if (panels != 1)
    s += "/np" + std::to_string(panels);
  if (emulateTiles)
    s += "/tilemodel";
  return s;
}

static constexpr EnumName<ActPath> kActPathNames[] = {
    {ActPath::F32, "f32"}, {ActPath::Int8, "int8"}, {ActPath::BF16, "bf16"}};

const char *actPathName(ActPath a) { return enumName(kActPathNames, a).data(); }

namespace {
std::atomic<bool> &amxEmulationFlag() {
  static std::atomic<bool> on([] {
    const char *e = std::getenv("LLMC_AMX_EMULATE");
    return e && std::strcmp(e, "1") == 0;
  }());
  return on;
}
} // namespace

void setAmxTileEmulation(bool on) { amxEmulationFlag().store(on); }
bool amxTileEmulation() { return amxEmulationFlag().load(); }

/// The host runs tile instructions itself (AMX-INT8 after LLMC_MAX_ISA).
static bool hostHasAmx() { return hostTarget().maxTier() >= IsaTier::AMX; }

bool amxTierUsable() {
  return hostHasAmx() ||
         (amxTileEmulation() && hostTarget().maxTier() >= IsaTier::AVX512_VNNI);
}

bool bf16DotAvailable(IsaTier tier, WeightFormat fmt) {
  return fmt.type == WeightType::BF16 && tier >= IsaTier::AVX512 &&
         (tier <= hostTarget().maxTier() ||
          (tier == IsaTier::AMX && amxTierUsable())) &&
         hostTarget().hasFeature("avx512_bf16");
}

std::string Blocking::str() const {
  return "mr=" + std::to_string(mr) +
         " panelsPerChunk=" + std::to_string(panelsPerChunk) +
         " kSplit=" + std::to_string(kSplit) +
         (kBlockChunks ? " kBlockChunks=" + std::to_string(kBlockChunks) : "") +
         (mrWide ? " mrWide=" + std::to_string(mrWide) : "") +
         (mrPair ? " mrPair=" + std::to_string(mrPair) : "") +
         (kBlockChunksLargeX
              ? " largeX>" + std::to_string(largeXBytes >> 20) +
                    "MiB:kBlockChunks=" + std::to_string(kBlockChunksLargeX) +
                    ",panelsPerChunk=" + std::to_string(panelsPerChunkLargeX)
              : "");
}

MatmulDesc MatmulDesc::forHost(int64_t N, int64_t K, WeightFormat fmt,
                               int64_t mMax) {
  const TargetDesc &t = hostTarget();
  MatmulDesc d;
  d.N = N;
  d.K = K;
  d.mMin = 1;
  d.mMax = mMax;
  d.format = fmt;
  d.tier = std::min(t.maxTier(), IsaTier::AVX512_VNNI);
  d.allowAvxVnni = t.hasAvxVnni();
  d.act = fmt.isQuantized() ? ActPath::Int8 : ActPath::F32;
  return d;
}

static bool useAvxVnni(const MatmulDesc &d) {
  return d.tier == IsaTier::AVX2 && d.allowAvxVnni &&
         hostTarget().hasAvxVnni();
}

bool hasJitKernel(IsaTier tier, WeightFormat fmt, ActPath act, bool avxVnni) {
  return jitMaxRows(tier, fmt, act, avxVnni) > 0;
}

unsigned maxRows(IsaTier tier, ActPath act, WeightType wt) {
  WeightFormat f = WeightFormat::quantized(wt, 32, true);
  if (wt == WeightType::F32 || wt == WeightType::F16 || wt == WeightType::BF16)
    f = WeightFormat::floating(wt);
  unsigned r = jitMaxRows(tier, f, act, false);
  return r ? r : 8;
}

static constexpr unsigned kWideRowsPreferred = 12;

/// The tier whose kernel runs a block of `rows` rows: the AMX tier's
/// decode-sized blocks stream the weights with the VNNI kernels (a tile
/// product per 16 x 32 codes buys nothing at one row).
static IsaTier kernelTierForRows(IsaTier tier, unsigned rows) {
  return tier == IsaTier::AMX && rows < Matmul::kMinAmxRows
             ? IsaTier::AVX512_VNNI
             : tier;
}

Expected<Blocking> chooseBlocking(const MatmulDesc &d, const TargetDesc &t) {
  Blocking b;
  unsigned mrMax = jitMaxRows(d.tier, d.format, d.act, useAvxVnni(d));
  if (!mrMax)
    mrMax = 8; // generic kernel
  b.mr = unsigned(std::clamp<int64_t>(d.mMax, 1, mrMax));
  auto l = PackedLayout::get(d.format, d.N, d.K, panelLanes(d.tier));
  if (!l)
    return l.takeError();
  // Sweep as many panels per row block as fit in half of L2: the weights are
  // read from DRAM once and re-read from L2 by the following row blocks.
  int64_t panelBytes =
      l->panelQBytes() + l->numGroups * (l->scaleBytesPerGroup + l->zeroBytesPerGroup);
  uint64_t l2 = t.caches.l2 ? t.caches.l2 : (1u << 20);
  b.panelsPerChunk = std::max<int64_t>(1, int64_t(l2 / 2) / panelBytes);
  // Few panels, several groups: threads split K (decided per run, from the
  // pool size) so that decode of a narrow matrix still uses every core.
  b.kSplit = 1;
  // Float weights: two panels per call where the tier's generator has it, as
  // many rows as leave room for 2 weights and a broadcast (12 on AVX-512:
  // 24 accumulators; 14 measured no faster, see docs/KERNELS.md; 6 on AVX2),
  // and no more than the matmul's rows.
  //
  // Decode (M <= 8) takes the same kernels: a core streaming two panels side
  // by side reads them at the speed of a plain read, where one panel at a
  // time stayed at 62-76% of it (f32 / f16 / bf16 weights, 4096x4096 M = 1,
  // 1 and 2 threads: 1.5x; docs/KERNELS.md).
  if (!d.format.isQuantized() && d.act != ActPath::Int8 &&
      d.tier != IsaTier::Scalar)
    b.mrWide = std::min({kWideRowsPreferred,
                         jitMaxRows(d.tier, d.format, d.act, false, 2),
                         unsigned(std::max<int64_t>(d.mMax, 1))});
  // Integer decode (M <= 4) on the int8 path: pairs of panels per call,
  // their code blocks read side by side. One panel at a time stayed at
  // 71-85% of a plain read of the same bytes, a pair reaches 84-91%
  // (docs/KERNELS.md).
  if (d.format.isQuantized() && d.act == ActPath::Int8 &&
      d.tier != IsaTier::Scalar)
    b.mrPair = std::min<unsigned>(
        unsigned(std::clamp<int64_t>(d.mMax, 1, Matmul::kMaxPairRows)),
        jitMaxRows(kernelTierForRows(d.tier, Matmul::kMaxPairRows), d.format,
                   d.act, useAvxVnni(d), 2));
  // f32 weights: a K = 4096 panel is 256 KiB, and a row block's fp32
  // activations mr * K * 4 half as much again, both far over L1, so prefill
  // would stream both from L2 at every panel. Blocking K (the microkernel
  // accumulates into y) keeps mr x kc activations in L1 across the panels of
  // a chunk, as GotoBLAS's kc does: +3-8% at M = 128 on the test machine
  // (docs/KERNELS.md). Not for f16/bf16, where it measured 3-10% slower (half
  // the weight bytes per k: the L2 stream was not the limit). A float panel
  // is one group of all Kp, so the block is counted in 32-k chunks.
  const uint64_t l1 = t.caches.l1d ? t.caches.l1d : (32u << 10);
  // Two panels: the row block's activations (xBytes each) in a quarter of L1
  // (the pair's weights stream through from L2; 8 chunks at mrWide = 12 and
  // 48 KiB, where half of L1 for both came to 4 chunks and measured 5-7%
  // slower).
  auto wideKBlock = [&](int64_t xBytes) {
    return std::max<int64_t>(
        1, int64_t(l1 / 4) / (int64_t(b.mrWide) * xBytes) / 32);
  };
  if (d.format.type == WeightType::F32) {
    // One panel: the row block's activations and the panel's K slice in
    // half of L1.
    int64_t chunks =
        b.mrWide ? wideKBlock(4)
                 : std::max<int64_t>(
                       1, int64_t(l1 / 2) /
                              (l->panelQBytes() / l->Kp + int64_t(b.mr) * 4) / 32);
    if (chunks < l->Kp / 32)
      b.kBlockChunks = chunks;
  }
  // Activations over the cache. Each chunk of panels reads all M x Kp staged
  // activations; with one or two panels per chunk (a K = 11008 f32 panel is
  // 688 KiB) that is the whole of x per pair of panels, from DRAM once x no
  // longer fits in the last-level cache (M = 512: 22 MiB at K = 11008). With
  // K blocked, a chunk's panels need only half of L2 per K block, so a chunk
  // can hold many of them and x is read once per chunk: 4096x11008 at
  // M = 512 went from 63-66% to 78-81% of the FMA peak (f32 and bf16
  // weights, fp32 activations; docs/KERNELS.md). Smaller x (M = 128, or the
  // bf16 path's half-size x at K = 11008) measured 5-15% slower this way,
  // hence the threshold: half of an L3 of at most 32 MiB (one CCX on Zen;
  // this VM reports 508 MiB).
  if (b.mrWide) {
    const int64_t chunks = wideKBlock(stagedActBytes(d.act));
    if (chunks < l->Kp / 32) {
      uint64_t l3 = t.caches.l3 ? std::min<uint64_t>(t.caches.l3, 32u << 20)
                                : (32u << 20);
      b.largeXBytes = int64_t(l3 / 2);
      b.kBlockChunksLargeX = chunks;
      b.panelsPerChunkLargeX = std::max<int64_t>(
          1, int64_t(l2 / 2) / (panelBytes * chunks * 32 / l->Kp));
    }
  }
  return b;
}

//===----------------------------------------------------------------------===//
// Kernel cache
//===----------------------------------------------------------------------===//

namespace {
struct KernelCache {
  std::mutex mu;
  std::map<std::string, MicroKernelFn> map;
};
KernelCache &cache() {
  static KernelCache c;
  return c;
}
} // namespace

static Expected<MicroKernelFn> getKernel(const MicroKernelDesc &d) {
  KernelCache &c = cache();
  std::string key = d.str();
  std::lock_guard<std::mutex> lk(c.mu);
  auto it = c.map.find(key);
  if (it != c.map.end())
    return it->second;
  auto fn = generateMicroKernel(d);
  if (!fn)
    return fn.takeError();
  c.map.emplace(key, *fn);
  return *fn;
}

size_t kernelCacheSize() {
  std::lock_guard<std::mutex> lk(cache().mu);
  return cache().map.size();
}

//===----------------------------------------------------------------------===//
// Matmul
//===----------------------------------------------------------------------===//

struct Matmul::Impl {
  static MicroKernelDesc kernelDesc(const Matmul &mm, unsigned rows,
                                    unsigned panels = 1) {
    MicroKernelDesc k;
    k.tier = kernelTierForRows(mm.desc_.tier, rows);
    k.emulateTiles = k.tier == IsaTier::AMX && !hostHasAmx();
    k.format = mm.desc_.format;
    k.act = mm.desc_.act;
    k.mr = rows;
    k.avxVnni = useAvxVnni(mm.desc_) && k.act == ActPath::Int8;
    k.panels = panels;
    return k;
  }
};

Expected<Matmul> Matmul::create(const MatmulDesc &din) {
  MatmulDesc d = din;
  if (Error e = d.format.validate())
    return std::move(e);
  if (d.N <= 0 || d.K <= 0 || d.mMin < 1 || d.mMax < d.mMin)
    return createStringError(inconvertibleErrorCode(),
                             "matmul: bad shape N=%lld K=%lld M=[%lld,%lld]",
                             (long long)d.N, (long long)d.K,
                             (long long)d.mMin, (long long)d.mMax);
  const TargetDesc &host = hostTarget();
  if (d.tier > host.maxTier() && !(d.tier == IsaTier::AMX && amxTierUsable()))
    return createStringError(inconvertibleErrorCode(),
                             "matmul: tier %s not available on this host (%s)",
                             isaTierName(d.tier).str().c_str(),
                             isaTierName(host.maxTier()).str().c_str());
  const bool vnni = useAvxVnni(d);
  if (d.act == ActPath::Int8 && !d.format.isQuantized())
    d.act = ActPath::F32;
  // AMX tiles run the int8 path and the bf16 path (bf16 weights); the other
  // paths run the VNNI tier's kernels.
  if (d.tier == IsaTier::AMX && !hasJitKernel(IsaTier::AMX, d.format, d.act))
    d.tier = IsaTier::AVX512_VNNI;
  if (d.act == ActPath::BF16 && !bf16DotAvailable(d.tier, d.format))
    d.act = ActPath::F32;
  if (d.act == ActPath::Int8 && d.tier != IsaTier::Scalar &&
      !hasJitKernel(d.tier, d.format, ActPath::Int8, vnni) &&
      hasJitKernel(d.tier, d.format, ActPath::F32, vnni))
    d.act = ActPath::F32;

  Matmul mm;
  mm.desc_ = d;
  auto b = chooseBlocking(d, host);
  if (!b)
    return b.takeError();
  mm.blocking_ = *b;
  mm.jit_ = hasJitKernel(d.tier, d.format, d.act, vnni);
  if (mm.jit_) {
    // Row counts this matmul can meet: the main block and every tail.
    for (unsigned r = 1; r <= mm.blocking_.mr; ++r) {
      auto fn = getKernel(Impl::kernelDesc(mm, r));
      if (!fn)
        return fn.takeError();
      mm.kernels_[r] = reinterpret_cast<void *>(*fn);
    }
    for (unsigned r = 1; r <= std::max(mm.blocking_.mrWide, mm.blocking_.mrPair);
         ++r) {
      auto fn = getKernel(Impl::kernelDesc(mm, r, 2));
      if (!fn)
        return fn.takeError();
      mm.wideKernels_[r] = reinterpret_cast<void *>(*fn);
    }
  } else {
    mm.blocking_.mrWide = 0;
    mm.blocking_.mrPair = 0;
  }
  return mm;
}

namespace {
/// Generated code has no UBSan function-type signature in front of it, so the
/// -fsanitize=function check must not look for one.
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
void callGenerated(MicroKernelFn fn, const MicroKernelArgs &a) {
  fn(&a);
}

/// Growable 64-byte aligned scratch, one per calling thread.
struct Scratch {
  std::vector<uint8_t> buf;
  uint8_t *get(size_t bytes) {
    if (buf.size() < bytes + 64)
      buf.resize(bytes + 64);
    uintptr_t p = reinterpret_cast<uintptr_t>(buf.data());
    return reinterpret_cast<uint8_t *>((p + 63) & ~uintptr_t(63));
  }
};
size_t align64(size_t v) { return (v + 63) & ~size_t(63); }
} // namespace

Error Matmul::run(const float *x, int64_t M, const PackedWeights &w, float *y,
                  ThreadPool &pool, int64_t ldx, int64_t ldy) const {
  const PackedLayout &l = w.layout();
  const MatmulDesc &d = desc_;
  if (w.empty() || l.N != d.N || l.K != d.K || l.format != d.format ||
      l.lanes != panelLanes(d.tier))
    return createStringError(
        inconvertibleErrorCode(),
        "matmul: packed weights (%s %lldx%lld, %u lanes) do not match the "
        "descriptor (%s %lldx%lld, tier %s)",
        l.format.str().c_str(), (long long)l.N, (long long)l.K, l.lanes,
        d.format.str().c_str(), (long long)d.N, (long long)d.K,
        isaTierName(d.tier).str().c_str());
  if (M <= 0)
    return Error::success();
  if (!ldx)
    ldx = d.K;
  if (!ldy)
    ldy = d.N;
  if (ldx < d.K || ldy < d.N)
    return createStringError(inconvertibleErrorCode(),
                             "matmul: row strides ldx=%lld < K or ldy=%lld < N",
                             (long long)ldx, (long long)ldy);
  const unsigned L = l.lanes;
  const unsigned mr = blocking_.mr;

  // ---- Prologue: stage activations chunk-major, quantized on the int8 path.
  const bool int8 = d.act == ActPath::Int8;
  const bool bf16 = d.act == ActPath::BF16;
  const bool quant = d.format.isQuantized();
  const int64_t G = l.group, nG = l.numGroups, Kp = l.Kp;
  const unsigned eb = stagedActBytes(d.act);
  const int64_t chunks = Kp / 32;
  // Each thread's own scratch (the name denotes the executing thread's
  // instance, also inside the pool's jobs).
  static thread_local Scratch scratch;
  const size_t xBytes = align64(size_t(chunks * M * 32 * eb));
  const size_t gBytes = align64(size_t(nG * M * 4));
  struct Staged {
    uint8_t *xs, *comp;
    float *xscale;
  };
  auto stagedIn = [&](uint8_t *base) {
    return Staged{base, base + xBytes,
                  reinterpret_cast<float *>(base + xBytes + gBytes)};
  };
  const Staged shared = stagedIn(scratch.get(xBytes + 2 * gBytes));
  const float zSym = quant && d.format.symmetric ? float(d.format.symZero()) : 1.0f;

  // One (row, group) of the prologue into `st`.
  auto stageItems = [&](const Staged &st, int64_t i0, int64_t i1) {
    uint8_t *xs = st.xs, *comp = st.comp;
    float *xscale = st.xscale;
    for (int64_t it = i0; it < i1; ++it) {
        const int64_t m = it / nG, g = it % nG;
        const float *xr = x + m * ldx + g * G;
        int64_t n = std::clamp<int64_t>(d.K - g * G, 0, G);
        // Group g starts in chunk g*G/32 at offset g*G%32 (16 for the odd
        // groups of a 16-k format, 0 otherwise).
        const int64_t chunk = g * G / 32, off = g * G % 32;
        if (int8) {
          int32_t sum;
          int8_t *dst = reinterpret_cast<int8_t *>(xs + (chunk * M + m) * 32 + off);
          float s = d.staticActScale > 0
                        ? quantizeGroupStatic(xr, n, G, d.staticActScale, dst,
                                              M * 32, &sum)
                        : quantizeGroupChunked(d.tier, xr, n, G, dst, M * 32, &sum);
          int32_t c = quant && d.format.symmetric
                          ? -int32_t(d.format.symZero()) * sum
                          : -sum;
          std::memcpy(comp + (g * M + m) * 4, &c, 4);
          xscale[g * M + m] = s;
        } else if (bf16) {
          // bf16 path (float weights: one group, no compensation): x rounded
          // to nearest even, k pairs adjacent for vdpbf16ps's dword operand.
          // The path runs only where the host has AVX512-BF16.
          stageBf16Chunked(true, xr, n, G,
                           reinterpret_cast<uint16_t *>(xs) + (chunk * M + m) * 32,
                           M * 32);
          std::memset(comp + (g * M + m) * 4, 0, 4);
          xscale[g * M + m] = 1.0f;
        } else {
          float sum = 0;
          for (int64_t kk = 0; kk < G; kk += 32) {
            float *dst = reinterpret_cast<float *>(xs) +
                         ((chunk + kk / 32) * M + m) * 32 + off;
            for (int64_t i = 0; i < std::min<int64_t>(32, G - kk); ++i) {
              float v = kk + i < n ? xr[kk + i] : 0.0f;
              dst[i] = v;
              sum += v;
            }
          }
          float c = quant ? -zSym * sum : 0.0f;
          std::memcpy(comp + (g * M + m) * 4, &c, 4);
          xscale[g * M + m] = 1.0f;
        }
      }
  };
  const int64_t items = M * nG;

  // ---- Work split. A small decode matmul (packed weights under
  // kInlineBytes, e.g. every matrix of stories260K) runs on the calling thread
  // alone: waking and joining the pool costs more than the work it would split.
  constexpr int64_t kInlineBytes = 256 << 10;
  const bool inlineRun = M <= 8 && l.totalBytes < kInlineBytes;
  const int64_t P = l.numPanels;
  const unsigned nt = inlineRun ? 1u : pool.size();
  unsigned kSplit = 1;
  // K is split at whole groups, and at whole 32-k chunks: the two 16-k
  // groups of a chunk stay together (the kernels take them in pairs).
  const int64_t groupsPerUnit = G < 32 ? 32 / G : 1;
  const int64_t units = nG / groupsPerUnit;
  if (M <= 8 && P < int64_t(2 * nt) && units >= int64_t(nt) && nt > 1)
    kSplit = nt;
  const int64_t Np = P * L;
  // K blocks of float weights in prefill (Blocking::kBlockChunks), 0: none;
  // activations over the cache take the large-x blocking.
  const bool largeX = M > 8 && blocking_.kBlockChunksLargeX &&
                      M * Kp * int64_t(eb) > blocking_.largeXBytes;
  const int64_t kBlock = !(M > 8)  ? 0
                         : largeX ? blocking_.kBlockChunksLargeX
                                  : blocking_.kBlockChunks;
  const int64_t panelsPerChunk =
      largeX ? blocking_.panelsPerChunkLargeX : blocking_.panelsPerChunk;
  float *partial = nullptr;
  std::vector<float> partialBuf;
  if (kSplit > 1) {
    partialBuf.assign(size_t(kSplit) * M * Np, 0.0f);
    partial = partialBuf.data();
  }

  const MicroKernelDesc kd = Impl::kernelDesc(*this, 1);
  // Two-panel kernels: float weights (Blocking::mrWide), integer decode
  // (Blocking::mrPair); not where K is split (narrow decode matrices).
  const bool wide = kSplit == 1 && (blocking_.mrWide > 0 ||
                                     M <= int64_t(blocking_.mrPair));
  const unsigned mrRun = blocking_.mrWide ? blocking_.mrWide : mr;
  // Integer decode pairs take panels half a chunk apart (farPairs, below).
  const bool farPairs = wide && !blocking_.mrWide;
  auto callKernel = [&](unsigned rows, MicroKernelArgs &a) {
    if (jit_)
      callGenerated(reinterpret_cast<MicroKernelFn>(kernels_[rows]), a);
    else {
      MicroKernelDesc k = kd;
      k.mr = rows;
      genericMicroKernel(k, L, a);
    }
  };

  const uint8_t *wd = w.data();
  const float *tensorScale =
      l.tensorScaleOffset >= 0
          ? reinterpret_cast<const float *>(wd + l.tensorScaleOffset)
          : nullptr;
  auto doBlock = [&](const Staged &st, int64_t p, int64_t m0, unsigned rows,
                     int64_t g0, int64_t g1, float *out, int64_t ldOut,
                     int64_t cols, int64_t kc0 = 0, int64_t kc1 = 0,
                     bool twoPanels = false, int64_t q = -1) {
    // [kc0, kc1): a K block of float weights, in 32-k chunks (kc1 = 0: all).
    // twoPanels: panels p and q (default p + 1), both full (the caller checks).
    const bool accumulate = kc0 > 0;
    if (q < 0)
      q = p + 1;
    MicroKernelArgs a;
    a.wPanelStride = (q - p) * l.panelQBytes();
    a.scalePanelStride = (q - p) * l.numGroups * l.scaleBytesPerGroup;
    a.zeroPanelStride = (q - p) * l.numGroups * l.zeroBytesPerGroup;
    // g0 starts a chunk (16-k groups: g0 even), see the K split.
    a.x = st.xs + ((g0 * G / 32) * M + m0) * 32 * eb;
    a.comp = st.comp + (g0 * M + m0) * 4;
    a.xscale = st.xscale + g0 * M + m0;
    a.w = wd + l.qPanelOffset(p) + g0 * l.qBytesPerGroup;
    a.scales = wd + l.scalePanelOffset(p) + g0 * l.scaleBytesPerGroup;
    a.zeros = wd + l.zeroPanelOffset(p) + g0 * l.zeroBytesPerGroup;
    a.xChunkStride = M * 32 * eb;
    a.groupStride = M * 4;
    a.nGroups = g1 - g0;
    a.chunksPerGroup = G / 32; // 0: 16-k groups, two per chunk
    a.accumulate = accumulate;
    a.tensorScale = tensorScale;
    if (kc1) {
      a.x = st.xs + (kc0 * M + m0) * 32 * eb;
      a.w = wd + l.qPanelOffset(p) + kc0 * (l.panelQBytes() / chunks);
      a.chunksPerGroup = kc1 - kc0;
    }
    const int64_t n0 = p * L;
    if (twoPanels && q == p + 1) {
      a.y = out + m0 * ldOut + n0;
      a.ldy = ldOut * 4;
      callGenerated(reinterpret_cast<MicroKernelFn>(wideKernels_[rows]), a);
      return;
    }
    if (twoPanels) {
      // Panels apart: the kernel writes both into a 2L-wide tile (L <= 16),
      // copied out.
      alignas(64) float tile[Matmul::kMaxPairRows * 2 * 16];
      a.y = tile;
      a.ldy = 2 * L * 4;
      a.accumulate = 0;
      callGenerated(reinterpret_cast<MicroKernelFn>(wideKernels_[rows]), a);
      for (unsigned r = 0; r < rows; ++r) {
        float *row = out + (m0 + r) * ldOut;
        std::memcpy(row + n0, tile + r * 2 * L, L * 4);
        std::memcpy(row + q * L, tile + r * 2 * L + L, L * 4);
      }
      return;
    }
    const bool full = n0 + L <= cols;
    alignas(64) float tmp[Matmul::kMaxRows * 16];
    if (full) {
      a.y = out + m0 * ldOut + n0;
      a.ldy = ldOut * 4;
      callKernel(rows, a);
      return;
    }
    int64_t valid = cols - n0;
    if (accumulate)
      for (unsigned r = 0; r < rows; ++r)
        std::memcpy(tmp + r * 16, out + (m0 + r) * ldOut + n0, valid * 4);
    a.y = tmp;
    a.ldy = 16 * 4;
    callKernel(rows, a);
    for (unsigned r = 0; r < rows; ++r)
      std::memcpy(out + (m0 + r) * ldOut + n0, tmp + r * 16, valid * 4);
  };

  // Schedule. The panels are cut into one contiguous range per thread slot.
  // A thread sweeps its own range front to back, claiming chunks from the
  // range's own counter (on its own cache line: uncontended while the ranges
  // last; one shared counter cost 5-10% of decode speed on 2 threads, a
  // contended CAS being a ~0.25 us cross-core transfer here), then takes what
  // is left of the other ranges. Chunks are guided: half of what is left of
  // the range, at most the L2-sized panel block, at least 1/32 of a range.
  // The matmul is a shared job (ThreadPool::runShared): a thread that the OS
  // has not scheduled (another process on its core) never joins and the
  // others sweep its range, so it costs the call at most the chunk it holds
  // instead of a whole time slice.
  struct alignas(64) PanelRange {
    std::atomic<int64_t> next;
    int64_t end;
  };
  constexpr unsigned kStackRanges = 16;
  PanelRange stackRanges[kStackRanges];
  std::unique_ptr<PanelRange[]> heapRanges;
  PanelRange *ranges = stackRanges;
  if (nt > kStackRanges) {
    heapRanges.reset(new PanelRange[nt]);
    ranges = heapRanges.get();
  }
  for (unsigned s = 0; s < nt; ++s) {
    ranges[s].next.store(P * s / nt, std::memory_order_relaxed);
    ranges[s].end = P * (s + 1) / nt;
  }
  const int64_t minTake = std::max<int64_t>(1, P / (32 * int64_t(nt)));
  auto grab = [&](PanelRange &r, int64_t &c0, int64_t &c1) {
    int64_t c = r.next.load(std::memory_order_relaxed);
    for (;;) {
      if (c >= r.end)
        return false;
      int64_t take = std::clamp<int64_t>((r.end - c) / 2, minTake,
                                         panelsPerChunk);
      take = std::min(take, r.end - c);
      if (wide) // whole pairs for the two-panel kernels
        take = std::min(r.end - c, (take + 1) & ~int64_t(1));
      if (r.next.compare_exchange_weak(c, c + take, std::memory_order_relaxed)) {
        c0 = c;
        c1 = c + take;
        return true;
      }
    }
  };
  // Staging. Decode (M <= 8): a few microseconds at most, so every thread
  // stages all of it into its own scratch and needs nobody else's. Prefill:
  // the threads claim chunks of the (row, group) items and wait until every
  // claimed chunk is staged (a thread that joins later finds it done).
  const bool privateStaging = M <= 8 && nt > 1;
  const int64_t stageGrain = std::max<int64_t>(1, items / (8 * int64_t(nt)));
  std::atomic<int64_t> stageNext{0}, stageDone{0};
  auto stageShared = [&] {
    for (;;) {
      int64_t i0 = stageNext.fetch_add(stageGrain, std::memory_order_relaxed);
      if (i0 >= items)
        break;
      int64_t i1 = std::min(items, i0 + stageGrain);
      stageItems(shared, i0, i1);
      stageDone.fetch_add(i1 - i0, std::memory_order_release);
    }
    spinUntil([&] { return stageDone.load(std::memory_order_acquire) == items; });
  };
  // The K split: part i of kSplit covers units [units*i/kSplit, ...) and
  // writes partial[i]; parts are claimed like chunks.
  std::atomic<unsigned> nextPart{0};
  auto body = [&](unsigned t, unsigned) {
    Staged st = shared;
    if (privateStaging) {
      if (t != 0)
        st = stagedIn(scratch.get(xBytes + 2 * gBytes));
      stageItems(st, 0, items);
    } else {
      stageShared();
    }
    if (kSplit > 1) {
      for (unsigned i; (i = nextPart.fetch_add(1, std::memory_order_relaxed)) < kSplit;) {
        int64_t g0 = units * i / kSplit * groupsPerUnit,
                g1 = units * (i + 1) / kSplit * groupsPerUnit;
        if (g0 >= g1)
          continue;
        for (int64_t p = 0; p < P; ++p)
          for (int64_t m0 = 0; m0 < M; m0 += mr)
            doBlock(st, p, m0, unsigned(std::min<int64_t>(mr, M - m0)), g0, g1,
                    partial + size_t(i) * M * Np, Np, Np);
      }
      return;
    }
    auto sweep = [&](int64_t c, int64_t c1) {
      // K blocks (f32 prefill), or one pass over all of K (k1 = 0).
      const int64_t step = kBlock ? kBlock : chunks;
      for (int64_t k0 = 0; k0 < chunks; k0 += step) {
        const int64_t k1 = kBlock ? std::min(chunks, k0 + kBlock) : 0;
        for (int64_t m0 = 0; m0 < M; m0 += mrRun) {
          const int64_t rows = std::min<int64_t>(mrRun, M - m0);
          // One panel: the one-panel kernels take at most mr rows.
          auto onePanel = [&](int64_t p) {
            for (int64_t r0 = 0; r0 < rows; r0 += mr)
              doBlock(st, p, m0 + r0, unsigned(std::min<int64_t>(mr, rows - r0)),
                      0, nG, y, ldy, d.N, k0, k1);
          };
          if (farPairs) {
            // Integer decode pairs: panel p with p + h, h half the chunk, so
            // that each of the two code streams runs on through the chunk
            // (panel p + 1 follows p in memory). Adjacent pairs (p, p + 1)
            // would start a new stream at every call, the second panel's,
            // and read less of the DRAM bandwidth (docs/KERNELS.md, "Far
            // pairs").
            const int64_t h = (c1 - c) / 2;
            int64_t p = c;
            for (; p < c + h && (p + h + 1) * L <= d.N; ++p)
              doBlock(st, p, m0, unsigned(rows), 0, nG, y, ldy, d.N, k0, k1,
                      /*twoPanels=*/true, p + h);
            // Unpaired (a partial last panel, an odd count): the first-half
            // panels [p, c + h) whose partner is not full, then [p + h, c1),
            // those partners and an odd last panel.
            for (int64_t r = p; r < c + h; ++r)
              onePanel(r);
            for (int64_t r = p + h; r < c1; ++r)
              onePanel(r);
            continue;
          }
          for (int64_t p = c; p < c1;) {
            if (wide && p + 1 < c1 && (p + 2) * L <= d.N) {
              doBlock(st, p, m0, unsigned(rows), 0, nG, y, ldy, d.N, k0, k1,
                      /*twoPanels=*/true);
              p += 2;
              continue;
            }
            onePanel(p);
            ++p;
          }
        }
      }
    };
    // Own range first, then the others'.
    int64_t c0, c1;
    for (unsigned i = 0; i < nt; ++i)
      while (grab(ranges[(t + i) % nt], c0, c1))
        sweep(c0, c1);
  };
  if (inlineRun)
    body(0, 1);
  else
    pool.runShared(body);

  if (kSplit > 1)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t nn = 0; nn < d.N; ++nn) {
        float s = 0;
        for (unsigned t = 0; t < kSplit; ++t)
          s += partial[(size_t(t) * M + m) * Np + nn];
        y[m * ldy + nn] = s;
      }
  return Error::success();
}

Error matmul(const MatmulDesc &d, const float *x, int64_t M,
             const PackedWeights &w, float *y, ThreadPool &pool) {
  auto mm = Matmul::create(d);
  if (!mm)
    return mm.takeError();
  return mm->run(x, M, w, y, pool);
}

} // namespace kernels
} // namespace llmc
