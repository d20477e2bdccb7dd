//===- Matmul.h - Quantized matmul: descriptor -> blocking -> kernel -*- C++ -*-===//
//
//   y[M][N] = x[M][K] * W[N][K]^T          (x, y fp32 row-major; W packed)
//
// Three layers, as in oneDNN's brgemm:
//  1. MatmulDesc: what to compute (shape, weight format, activation path, tier).
//  2. Blocking:   how (rows per microkernel call, N chunking for L2 reuse, K
//                 split across threads when N is small), derived from the
//                 detected cache sizes and core count.
//  3. MicroKernelDesc -> generated code: one Xbyak kernel per (tier, format,
//                 activation path, rows), cached process-wide by descriptor.
//
// Activation paths:
//  * F32:  weights are dequantized in registers, fp32 FMA. Accurate to fp32
//          rounding; every format, every tier.
//  * Int8: x is quantized per (row, weight group) to int8 (dynamic, symmetric),
//          dot products in int32 (vpdpbusd on VNNI, vpmaddubsw+vpmaddwd on AVX2),
//          scales and the zero-point term z*sum(x_q) applied once per group.
//          Integer weight formats with bits <= 8.
//          On the AMX tier, row blocks of 9..16 rows run tile kernels
//          (tdpbsud: C[mr x 16] += A[mr x 32 k] . B[32 k x 16]); fewer rows
//          (decode) run the AVX512_VNNI kernels.
//  * BF16: bf16 weights only, on AVX-512 hosts with AVX512-BF16: x is
//          rounded to bf16 (round to nearest even) and each vdpbf16ps adds
//          two k's products per lane into fp32, twice the MACs of an fp32 FMA.
//          On the AMX tier, row blocks of 9..16 rows run tdpbf16ps tiles.
//          The products are exact in fp32; x's rounding (relative 2^-9) is
//          the only error beyond fp32 summation. Elsewhere (other formats,
//          tiers or hosts) the request runs the F32 path.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_MATMUL_H
#define LLMC_KERNELS_MATMUL_H

#include "llmc/Kernels/PackedLayout.h"
#include "llmc/Kernels/ThreadPool.h"
#include "llmc/Target/Target.h"
#include <cstdint>
#include <string>
#include <vector>

namespace llmc {
namespace kernels {

enum class ActPath : uint8_t { F32, Int8, BF16 };

/// "f32", "int8", "bf16".
const char *actPathName(ActPath a);

struct MatmulDesc {
  int64_t N = 0, K = 0;
  /// Expected range of M (rows of x); decides which microkernels get generated.
  int64_t mMin = 1, mMax = 1;
  WeightFormat format;
  ActPath act = ActPath::F32;
  IsaTier tier = IsaTier::Scalar;
  /// Use VEX AVX-VNNI for the int8 path on the AVX2 tier when the CPU has it.
  bool allowAvxVnni = true;
  /// Int8 path with a static activation scale (TFLite's "full integer"
  /// mode): every activation is quantized as clamp(round(x / s), -127, 127)
  /// with this calibrated per-tensor s instead of a per-row, per-group scale
  /// from the data. 0: dynamic.
  float staticActScale = 0;

  /// Default: host tier (after LLMC_MAX_ISA), int8 path for integer formats.
  static MatmulDesc forHost(int64_t N, int64_t K, WeightFormat fmt,
                            int64_t mMax = 1);
};

/// One generated kernel: `mr` rows x one panel (L channels), a run of groups.
struct MicroKernelDesc {
  IsaTier tier = IsaTier::Scalar;
  WeightFormat format;
  ActPath act = ActPath::F32;
  unsigned mr = 1;
  bool avxVnni = false; // AVX2 tier: vpdpbusd (VEX) instead of vpmaddubsw
  /// Panels per call: 2 = the float-weight kernel, which shares each
  /// broadcast activation between two panels' FMAs (see Blocking::mrWide),
  /// or the integer decode pair (Blocking::mrPair).
  unsigned panels = 1;
  /// AMX tier: the tile instructions call a scalar model of them
  /// (lib/Kernels/AmxTiles.h) instead of running natively.
  bool emulateTiles = false;
  bool operator==(const MicroKernelDesc &o) const {
    return tier == o.tier && format == o.format && act == o.act &&
           mr == o.mr && avxVnni == o.avxVnni && panels == o.panels &&
           emulateTiles == o.emulateTiles;
  }
  std::string str() const;
};

struct Blocking {
  unsigned mr = 1;             // rows per microkernel call (main blocks)
  int64_t panelsPerChunk = 1;  // panels swept for every row block (L2 reuse)
  unsigned kSplit = 1;         // >1: threads split K (groups) when N is small
  /// Prefill (M > 8) of f32 weights: 32-k chunks per K block (0 = all of
  /// K), so that a row block's activations and a panel's K slice fit in half
  /// of L1.
  int64_t kBlockChunks = 0;
  /// Float weights on the AVX2 / AVX-512 tiers: rows per call of the
  /// two-panel kernel, in prefill and decode alike (0 = none; the one-panel
  /// kernels take a lone or partial panel, and K-split decode).
  unsigned mrWide = 0;
  /// Decode (M <= mrPair) of integer weights on the int8 path: the driver
  /// calls a two-panel kernel on pairs of panels, whose two code streams a
  /// core reads side by side (0 = none).
  unsigned mrPair = 0;
  /// Float prefill whose staged activations (M x Kp elements) exceed
  /// largeXBytes: every chunk of panels streams all of them, from DRAM once
  /// they outgrow the last-level cache, so such runs block K
  /// (kBlockChunksLargeX) and sweep as many panels per chunk as half of L2
  /// holds K blocks of (panelsPerChunkLargeX). 0: not used.
  int64_t largeXBytes = 0;
  int64_t kBlockChunksLargeX = 0;
  int64_t panelsPerChunkLargeX = 0;
  std::string str() const;
};

llvm::Expected<Blocking> chooseBlocking(const MatmulDesc &d,
                                        const TargetDesc &t);

/// Largest mr the generator supports for (tier, act).
unsigned maxRows(IsaTier tier, ActPath act, WeightType wt);

/// Is (tier, format, act) implemented by generated code (else: generic C++)?
/// avxVnni: the AVX2 tier may use VEX vpdpbusd.
bool hasJitKernel(IsaTier tier, WeightFormat fmt, ActPath act,
                  bool avxVnni = false);

/// A prepared matmul: blocking chosen, kernels generated (or found in the
/// cache). Cheap to copy; safe to run from one thread at a time per pool.
class Matmul {
public:
  /// Most rows of a two-panel kernel (Blocking::mrWide).
  static constexpr unsigned kMaxWideRows = 14;
  /// Most rows of a one-panel kernel (16: an AMX tile's rows; the vector
  /// tiers stop at 8).
  static constexpr unsigned kMaxRows = 16;
  /// Most rows of a two-panel integer kernel (Blocking::mrPair).
  static constexpr unsigned kMaxPairRows = 4;
  /// Fewest rows that the AMX tier runs on tiles.
  static constexpr unsigned kMinAmxRows = 9;

  static llvm::Expected<Matmul> create(const MatmulDesc &d);

  /// Validates desc against the host (tier available) and picks the activation
  /// path actually used: an Int8 request for float weights (f32/f16/bf16)
  /// runs the fp32 path, as does a BF16 request that the weights, tier or
  /// host cannot take (see bf16DotAvailable); desc().act tells which path
  /// was taken.
  /// y[M][N] (row stride ldy floats, 0 = N) = x[M][K] (stride ldx, 0 = K) * W^T.
  llvm::Error run(const float *x, int64_t M, const PackedWeights &w, float *y,
                  ThreadPool &pool, int64_t ldx = 0, int64_t ldy = 0) const;

  const MatmulDesc &desc() const { return desc_; }
  const Blocking &blocking() const { return blocking_; }
  bool usesJit() const { return jit_; }

private:
  struct Impl;
  MatmulDesc desc_;
  Blocking blocking_;
  bool jit_ = false;
  void *kernels_[kMaxRows + 1] = {}; // generated kernels for mr = 1.. (index mr); null = generic
  void *wideKernels_[kMaxWideRows + 1] = {}; // two-panel kernels, rows 1..mrWide (or mrPair)
};

/// One-shot convenience: Matmul::create(d) (kernels cached) then run.
llvm::Error matmul(const MatmulDesc &d, const float *x, int64_t M,
                   const PackedWeights &w, float *y, ThreadPool &pool);

/// Whether the BF16 activation path runs `fmt` on `tier` on this host: bf16
/// weights, an AVX-512 tier the host runs (AMX: amxTierUsable()), and
/// AVX512-BF16 in the host's features (after LLMC_MAX_ISA).
bool bf16DotAvailable(IsaTier tier, WeightFormat fmt);

/// Testing and debugging on hosts without AMX: with it on, the AMX tier is
/// accepted wherever the host has AVX512_VNNI, and its tile kernels run with
/// a scalar model of the tile instructions (slow; lib/Kernels/AmxTiles.h).
/// Starts as the environment variable LLMC_AMX_EMULATE=1 says. Process-wide:
/// set it before creating matmuls.
void setAmxTileEmulation(bool on);
bool amxTileEmulation();

/// Whether the AMX tier's tile kernels can run here: the host has AMX-INT8
/// (after LLMC_MAX_ISA), or emulation is on and the host has AVX512_VNNI.
bool amxTierUsable();

/// The machine code generated for `d`, code and the data after it (for
/// disassembly: tools/llmc-kernel-dump, the encoding lit tests). Generating
/// does not need the ISA: AMX code can be produced and checked anywhere.
llvm::Expected<std::vector<uint8_t>> kernelCode(const MicroKernelDesc &d);

/// Every kernel the generator supports, each at its largest row count: one
/// per (tier, weight type, activation path, symmetry, panels per call, AVX2
/// with AVX-VNNI or AMX with modelled tiles), integer formats in groups of
/// `groupSize` with fp16 scales. The coverage test generates them all;
/// `llmc-bench-kernels --gen-time` times them against the 5 ms budget.
std::vector<MicroKernelDesc> largestSupportedKernels(unsigned groupSize = 64);

/// Number of distinct kernels generated so far (for tests / inspect).
size_t kernelCacheSize();

} // namespace kernels
} // namespace llmc

#endif
