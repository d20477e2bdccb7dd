//===- BenchKernels.cpp - Kernel benchmark against measured machine limits -===//
//
// Decode (M = 1): weight GB/s, and its fraction of the DRAM read bandwidth
// measured in the same run. Weights are streamed from DRAM: the benchmark packs
// one matrix and cycles through enough distinct copies of it to exceed the L3
// many times over.
// Prefill (M >= 128): GOP/s (2*M*N*K per call) and its fraction of the tier's
// peak, also measured in the same run (independent vpdpbusd / FMA /
// vdpbf16ps chains).
//
// The DRAM limit is the runtime's one method (Profile.h, measureReadBandwidth:
// median rate of 8 MiB chunks swept from a 1 GiB buffer), the same figure
// `llmc bench --bandwidth` and bench/run.sh report.
//
//   llmc-bench-kernels [--quick] [--threads=1,2] [--ms=1,128,512]
//                      [--formats=int4_g32,int4_g128,int8_pc,f32] [--ws-mib=1536]
//                      (also int8_g32, int4_g64, int4_g32_asym, int4_g128_asym,
//                      int3_g32, int2_g32, int2_g16, nl4_g32, nl4_g128, nl2_g32,
//                      f16, bf16, bf16_dot = bf16 weights with bf16
//                      activations on AVX512-BF16; any integer format with
//                      _fp32act appended: the fp32 activation path)
//                      [--shapes=4096x4096,...] [--json=FILE] [--probe]
//                      [--gen-time]
//
// --probe: only the machine limits. --json=FILE: every figure also as JSON.
// --gen-time: only the load-time JIT's cost: every supported kernel generated
// repeatedly, its median thread-CPU time against the 5 ms budget.
//
//===----------------------------------------------------------------------===//
#include "llmc/Kernels/Matmul.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/Kernels/ThreadPool.h"
#include "llmc/Runtime/Profile.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <immintrin.h>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace llmc;
using namespace llmc::kernels;

namespace {

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Process CPU seconds (all threads). Rates per CPU-second, times the thread
/// count, estimate the undisturbed speed on a shared, oversubscribed machine:
/// time the OS gives to other tenants is not counted.
double cpuNow() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<int> parseList(const char *s) {
  std::vector<int> v;
  while (*s) {
    v.push_back(std::atoi(s));
    while (*s && *s != ',')
      ++s;
    if (*s == ',')
      ++s;
  }
  return v;
}

// ---- Machine limits ---------------------------------------------------------

template <int PF>
__attribute__((target("avx2"))) double readSumT(const uint8_t *p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n; i += 128) {
    if (PF) {
      _mm_prefetch(reinterpret_cast<const char *>(p + i + PF), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char *>(p + i + PF + 64), _MM_HINT_T0);
    }
    a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(p + i + 96)));
  }
  a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  return double(_mm256_extract_epi64(a0, 0) + _mm256_extract_epi64(a0, 3));
}

/// Plain streaming read of `bufs` (each thread a slice of every buffer):
/// GB/s of the better of a hardware-prefetch-only and a software-prefetch loop
/// (the second variant re-reads from cache when the buffer is small, so single
/// small buffers take the first variant only).
double readRate(ThreadPool &pool, const std::vector<const uint8_t *> &bufs,
                size_t bytes) {
  static volatile double sink = 0;
  double best = 0;
  const int variants = bufs.size() * bytes > (size_t(256) << 20) ? 2 : 1;
  for (int variant = 0; variant < variants; ++variant) {
    double t0 = now();
    pool.run([&](unsigned t, unsigned n) {
      size_t b = bytes * t / n / 128 * 128, e = bytes * (t + 1) / n / 128 * 128;
      double acc = 0;
      for (const uint8_t *p : bufs)
        acc += variant ? readSumT<512>(p + b, e - b) : readSumT<0>(p + b, e - b);
      sink = sink + acc;
    });
    best = std::max(best, double(bytes) * double(bufs.size()) / (now() - t0) / 1e9);
  }
  return best;
}

// Peak loops: 12 independent accumulator chains, the instruction the kernels
// use on each tier. Returns a value so the work cannot be optimized away.
#define PEAK_LOOP(NAME, TARGET, VEC, ZERO, STEP, FOLD)                         \
  __attribute__((target(TARGET))) double NAME(long iters) {                   \
    VEC a[12];                                                                 \
    for (auto &x : a)                                                          \
      x = ZERO;                                                                \
    for (long i = 0; i < iters; ++i)                                           \
      for (auto &x : a) {                                                      \
        x = STEP;                                                              \
        __asm__ volatile("" : "+v"(x));                                        \
      }                                                                        \
    double r = 0;                                                              \
    for (auto &x : a)                                                          \
      r += FOLD;                                                               \
    return r;                                                                  \
  }

PEAK_LOOP(vnni512, "avx512f,avx512vnni", __m512i, _mm512_setzero_si512(),
          _mm512_dpbusd_epi32(x, _mm512_set1_epi8(3), _mm512_set1_epi8(5)),
          double(_mm512_reduce_add_epi32(x)))
PEAK_LOOP(vnni256, "avx2,avxvnni", __m256i, _mm256_setzero_si256(),
          _mm256_dpbusd_avx_epi32(x, _mm256_set1_epi8(3), _mm256_set1_epi8(5)),
          double(_mm256_extract_epi32(x, 0)))
// vpmaddubsw + vpmaddwd + vpaddd: the non-VNNI int8 dot (64 / 32 MACs). The
// weights operand goes through an empty asm so it is not hoisted, and only the
// vpaddd is on the accumulator chain, as in the kernels.
__attribute__((target("avx512f,avx512bw"))) double maddubs512(long iters) {
  __m512i a[12], w = _mm512_set1_epi8(3);
  const __m512i xq = _mm512_set1_epi8(5), one = _mm512_set1_epi16(1);
  for (auto &x : a)
    x = _mm512_setzero_si512();
  for (long i = 0; i < iters; ++i)
    for (auto &x : a) {
      __asm__ volatile("" : "+v"(w));
      x = _mm512_add_epi32(x, _mm512_madd_epi16(_mm512_maddubs_epi16(w, xq), one));
    }
  double r = 0;
  for (auto &x : a)
    r += double(_mm512_reduce_add_epi32(x));
  return r;
}
__attribute__((target("avx2"))) double maddubs256(long iters) {
  __m256i a[12], w = _mm256_set1_epi8(3);
  const __m256i xq = _mm256_set1_epi8(5), one = _mm256_set1_epi16(1);
  for (auto &x : a)
    x = _mm256_setzero_si256();
  for (long i = 0; i < iters; ++i)
    for (auto &x : a) {
      __asm__ volatile("" : "+v"(w));
      x = _mm256_add_epi32(x, _mm256_madd_epi16(_mm256_maddubs_epi16(w, xq), one));
    }
  double r = 0;
  for (auto &x : a)
    r += double(_mm256_extract_epi32(x, 0));
  return r;
}
// fp32 FMA: x -> 0.5 x + 0.5 converges to 1 (no inf / denormal operands).
PEAK_LOOP(fma512, "avx512f", __m512, _mm512_setzero_ps(),
          _mm512_fmadd_ps(x, _mm512_set1_ps(0.5f), _mm512_set1_ps(0.5f)),
          double(_mm512_reduce_add_ps(x)))
PEAK_LOOP(fma256, "avx2,fma", __m256, _mm256_setzero_ps(),
          _mm256_fmadd_ps(x, _mm256_set1_ps(0.5f), _mm256_set1_ps(0.5f)),
          double(_mm256_cvtss_f32(x)))

// bf16 dot: x += 1.0 * 0.0 pair products stays 0 (no inf / denormals).
PEAK_LOOP(dpbf16512, "avx512f,avx512bf16", __m512, _mm512_setzero_ps(),
          _mm512_dpbf16_ps(x, (__m512bh)_mm512_set1_epi16(0x3f80),
                           (__m512bh)_mm512_setzero_si512()),
          double(_mm512_reduce_add_ps(x)))

struct PeakKind {
  const char *name;
  double (*loop)(long);
  double opsPerStep; // 2 x MACs (or 2 x FMAs) per accumulator step
};

/// The instruction the int8 path runs on `tier` (see JitMicroKernel.cpp).
PeakKind int8PeakKind(IsaTier tier, bool avxVnni) {
  if (tier >= IsaTier::AVX512_VNNI)
    return {"vpdpbusd zmm", vnni512, 128};
  if (tier == IsaTier::AVX512)
    return {"vpmaddubsw+vpmaddwd zmm", maddubs512, 128};
  if (avxVnni)
    return {"vpdpbusd ymm (AVX-VNNI)", vnni256, 64};
  return {"vpmaddubsw+vpmaddwd ymm", maddubs256, 64};
}
/// vdpbf16ps zmm: 16 lanes x 2 products per instruction.
const PeakKind kBf16PeakKind = {"vdpbf16ps zmm", dpbf16512, 64};
PeakKind fp32PeakKind(IsaTier tier) {
  if (tier >= IsaTier::AVX512)
    return {"vfmadd zmm", fma512, 32};
  return {"vfmadd ymm", fma256, 16};
}

/// Best of several short runs: the machine is shared, the best run is the one
/// least disturbed by other tenants.
double measurePeak(ThreadPool &pool, const PeakKind &k) {
  const long iters = 500000;
  std::vector<double> v;
  volatile double sink = 0;
  for (int rep = 0; rep < 5; ++rep) {
    double t0 = now();
    pool.run([&](unsigned, unsigned) { sink = sink + k.loop(iters); });
    double ops = double(iters) * 12 * k.opsPerStep * pool.size();
    v.push_back(ops / (now() - t0) / 1e9);
  }
  return *std::max_element(v.begin(), v.end());
}

// ---- Matmul benchmark -------------------------------------------------------

struct Fmt {
  const char *name;
  WeightFormat f;
};

struct Shape {
  int64_t N, K;
};

} // namespace

// ---- Kernel generation time -------------------------------------------------

/// This thread's CPU milliseconds: generation is single-threaded, and on a
/// shared machine wall time also counts the other tenants' slices.
double threadCpuMs() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

/// Generates every kernel of largestSupportedKernels() (groups of 32, 128 and
/// per channel) `reps` times and reports the median time per kernel against
/// the load-time JIT's budget of 5 ms. Returns the process exit code.
int benchGenerationTime(int reps) {
  constexpr double kBudgetMs = 5.0;
  struct Timed {
    std::string name;
    double cpuMs, wallMs;
  };
  std::vector<Timed> rows;
  double slowestCall = 0; // any single call, the process's first included
  for (unsigned group : {32u, 128u, 0u})
    for (const MicroKernelDesc &d : largestSupportedKernels(group)) {
      std::vector<double> cpu, wall;
      size_t bytes = 0;
      for (int r = 0; r < reps; ++r) {
        double c0 = threadCpuMs(), w0 = now();
        auto code = kernelCode(d);
        double c1 = threadCpuMs(), w1 = now();
        if (!code) {
          std::fprintf(stderr, "%s\n", llvm::toString(code.takeError()).c_str());
          return 1;
        }
        bytes = code->size();
        cpu.push_back(c1 - c0);
        slowestCall = std::max(slowestCall, c1 - c0);
        wall.push_back((w1 - w0) * 1e3);
      }
      rows.push_back({d.str() + " (" + std::to_string(bytes) + " B)",
                      median(cpu), median(wall)});
    }
  std::sort(rows.begin(), rows.end(),
            [](const Timed &a, const Timed &b) { return a.cpuMs > b.cpuMs; });
  std::vector<double> cpu;
  unsigned over = 0;
  for (const Timed &t : rows) {
    cpu.push_back(t.cpuMs);
    over += t.cpuMs >= kBudgetMs;
  }
  std::printf("kernel generation, %zu kernels x %d reps, median per kernel "
              "(thread CPU ms):\n  median %.3f, slowest %.3f = %.0f%% of the "
              "%.0f ms budget; %u over it;\n  slowest single call %.3f\n  slowest five:\n",
              rows.size(), reps, median(cpu), rows.front().cpuMs,
              100 * rows.front().cpuMs / kBudgetMs, kBudgetMs, over,
              slowestCall);
  for (size_t i = 0; i < rows.size() && i < 5; ++i)
    std::printf("    %-60s %.3f ms CPU, %.3f ms wall\n", rows[i].name.c_str(),
                rows[i].cpuMs, rows[i].wallMs);
  return over ? 1 : 0;
}

int main(int argc, char **argv) {
  bool quick = false;
  std::vector<int> threads = {1, 2}, ms = {1, 128, 512};
  size_t wsMiB = 1536;
  std::string fmtSel = "int4_g32,int4_g128";
  std::string shapeSel, jsonPath;
  bool probeOnly = false, genTime = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick"))
      quick = true;
    else if (!std::strcmp(argv[i], "--probe"))
      probeOnly = true;
    else if (!std::strcmp(argv[i], "--gen-time"))
      genTime = true;
    else if (!std::strncmp(argv[i], "--shapes=", 9))
      shapeSel = argv[i] + 9;
    else if (!std::strncmp(argv[i], "--json=", 7))
      jsonPath = argv[i] + 7;
    else if (!std::strncmp(argv[i], "--threads=", 10))
      threads = parseList(argv[i] + 10);
    else if (!std::strncmp(argv[i], "--ms=", 5))
      ms = parseList(argv[i] + 5);
    else if (!std::strncmp(argv[i], "--ws-mib=", 9))
      wsMiB = size_t(std::atoi(argv[i] + 9));
    else if (!std::strncmp(argv[i], "--formats=", 10))
      fmtSel = argv[i] + 10;
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--threads=1,2] [--ms=1,128,512] "
                           "[--formats=int4_g32,int4_g64,int4_g128,int4_g32_asym,int4_g128_asym,int8_pc,int8_g32,int3_g32,"
                           "int2_g32,int2_g16,nl4_g32,nl4_g128,nl2_g32,nl4_g16,nl4_g16_e4m4,nl2_g16_e4m4,f32,f16,bf16,bf16_dot,"
                           "<integer format>_fp32act] "
                           "[--ws-mib=1536] [--shapes=4096x4096,...] [--json=FILE] [--probe] [--gen-time]\n", argv[0]);
      return 2;
    }
  }
  const TargetDesc &host = hostTarget();
  if (FILE *f = std::fopen("/proc/loadavg", "r")) {
    char buf[64] = {};
    if (std::fgets(buf, sizeof buf, f))
      std::printf("load average at start: %s", buf);
    std::fclose(f);
  }
  std::printf("host: %s, tier %s%s, L1d %llu KiB, L2 %llu KiB, L3 %llu MiB, %u cores\n",
              host.cpu.c_str(), isaTierName(host.maxTier()).str().c_str(),
              host.hasAvxVnni() ? " +avx_vnni" : "",
              (unsigned long long)host.caches.l1d >> 10,
              (unsigned long long)host.caches.l2 >> 10,
              (unsigned long long)host.caches.l3 >> 20, host.cores);
  if (genTime)
    return benchGenerationTime(quick ? 5 : 21);

  std::vector<Shape> shapes = {{4096, 4096}, {11008, 4096}, {4096, 11008},
                               {5632, 2048}, {2048, 5632}};
  if (quick)
    shapes = {{4096, 4096}, {11008, 4096}};
  if (!shapeSel.empty()) {
    shapes.clear();
    for (const char *q = shapeSel.c_str(); *q;) {
      long long n = std::atoll(q), k = 0;
      while (*q && *q != 'x')
        ++q;
      if (*q == 'x')
        k = std::atoll(++q);
      while (*q && *q != ',')
        ++q;
      if (*q == ',')
        ++q;
      if (n > 0 && k > 0)
        shapes.push_back({n, k});
    }
  }
  std::FILE *js = nullptr;
  if (!jsonPath.empty() && !(js = std::fopen(jsonPath.c_str(), "w"))) {
    std::fprintf(stderr, "cannot write %s\n", jsonPath.c_str());
    return 1;
  }
  bool jsFirst = true;
  auto jsonRow = [&](const std::string &row) {
    if (js) {
      std::fprintf(js, "%s\n    %s", jsFirst ? "" : ",", row.c_str());
      jsFirst = false;
    }
  };
  // Shapes are written N x K (out x in), i.e. "4096x11008" is the down
  // projection reading K = 11008.
  // --formats names -> formats (int formats: symmetric where the decoders
  // use it, asymmetric for the low-bit ones).
  const std::pair<const char *, WeightFormat> known[] = {
      {"int4_g32", WeightFormat::quantized(WeightType::Int4, 32, true, ScaleType::F16)},
      {"int4_g128", WeightFormat::quantized(WeightType::Int4, 128, true, ScaleType::F16)},
      {"int4_g32_asym", WeightFormat::quantized(WeightType::Int4, 32, false, ScaleType::F16)},
      {"int4_g128_asym", WeightFormat::quantized(WeightType::Int4, 128, false, ScaleType::F16)},
      {"int8_pc", WeightFormat::quantized(WeightType::Int8, 0, true, ScaleType::F32)},
      {"int8_g32", WeightFormat::quantized(WeightType::Int8, 32, true, ScaleType::F16)},
      {"int4_g64", WeightFormat::quantized(WeightType::Int4, 64, true, ScaleType::F16)},
      {"int3_g32", WeightFormat::quantized(WeightType::Int3, 32, false, ScaleType::F16)},
      {"int2_g32", WeightFormat::quantized(WeightType::Int2, 32, false, ScaleType::F16)},
      {"int2_g16", WeightFormat::quantized(WeightType::Int2, 16, false, ScaleType::F16)},
      {"nl4_g32", WeightFormat::quantized(WeightType::NL4, 32, true, ScaleType::F16)},
      {"nl4_g128", WeightFormat::quantized(WeightType::NL4, 128, true, ScaleType::F16)},
      {"nl2_g32", WeightFormat::quantized(WeightType::NL2, 32, true, ScaleType::F16)},
      {"nl4_g16", WeightFormat::quantized(WeightType::NL4, 16, true, ScaleType::F16)},
      {"nl4_g16_e4m4", WeightFormat::quantized(WeightType::NL4, 16, true, ScaleType::E4M4)},
      {"nl2_g16_e4m4", WeightFormat::quantized(WeightType::NL2, 16, true, ScaleType::E4M4)},
      {"f32", WeightFormat::floating(WeightType::F32)},
      {"f16", WeightFormat::floating(WeightType::F16)},
      {"bf16", WeightFormat::floating(WeightType::BF16)},
      {"bf16_dot", WeightFormat::floating(WeightType::BF16)}};
  struct Selected {
    std::string label;
    WeightFormat f;
    ActPath act;
  };
  std::vector<Selected> fmts;
  // Exact comma-separated names; an integer format with "_fp32act" appended
  // runs the fp32 activation path (weight-only quantization).
  for (const auto &[name, f] : known) {
    const bool dot = !std::strcmp(name, "bf16_dot");
    if (("," + fmtSel + ",").find("," + std::string(name) + ",") != std::string::npos)
      fmts.push_back({f.str() + (f.isQuantized() ? "/act8" : dot ? "/actbf16" : ""), f,
                      dot ? ActPath::BF16 : f.isQuantized() ? ActPath::Int8 : ActPath::F32});
    if (f.isQuantized() && ("," + fmtSel + ",").find("," + std::string(name) + "_fp32act,") !=
                               std::string::npos)
      fmts.push_back({f.str() + "/actf32", f, ActPath::F32});
  }

  // Machine limits, measured now.
  std::map<int, double> bw, int8Peak, fp32Peak, bf16Peak;
  const bool hasBf16Dot = bf16DotAvailable(
      MatmulDesc::forHost(16, 32, WeightFormat(), 1).tier,
      WeightFormat::floating(WeightType::BF16));
  const IsaTier tier = MatmulDesc::forHost(16, 32, WeightFormat(), 1).tier;
  if (tier < IsaTier::AVX2) {
    std::fprintf(stderr, "the benchmark needs at least the AVX2 tier\n");
    return 1;
  }
  const PeakKind i8k = int8PeakKind(tier, host.hasAvxVnni());
  const PeakKind f32k = fp32PeakKind(tier);
  if (js)
    std::fprintf(js, "{\n  \"host\": \"%s\",\n  \"tier\": \"%s\",\n  \"rows\": [",
                 host.cpu.c_str(), isaTierName(tier).str().c_str());
  for (int t : threads) {
    ThreadPool pool(unsigned(t), true);
    runtime::ReadBandwidth rb = runtime::measureReadBandwidth(pool);
    bw[t] = rb.medianGBs;
    int8Peak[t] = measurePeak(pool, i8k);
    fp32Peak[t] = measurePeak(pool, f32k);
    bf16Peak[t] = hasBf16Dot ? measurePeak(pool, kBf16PeakKind) : 0.0;
    std::printf("threads=%d: DRAM read %.1f GB/s (median of %d 8 MiB chunks of a 1 GiB buffer; "
                "p10 %.1f, p90 %.1f, whole sweep %.1f), int8 peak (%s) %.0f GOP/s, fp32 peak (%s) %.0f GFLOP/s",
                t, bw[t], rb.samples, rb.p10GBs, rb.p90GBs, rb.wholeGBs, i8k.name,
                int8Peak[t], f32k.name, fp32Peak[t]);
    if (hasBf16Dot)
      std::printf(", bf16 peak (%s) %.0f GFLOP/s", kBf16PeakKind.name, bf16Peak[t]);
    std::printf("\n");
    char row[640];
    std::snprintf(row, sizeof row,
                  "{\"kind\": \"limits\", \"threads\": %d, \"dram_read_gb_s\": %.3f, "
                  "\"dram_read_p10_gb_s\": %.3f, \"dram_read_p90_gb_s\": %.3f, "
                  "\"int8_peak_gop_s\": %.1f, \"int8_peak_instr\": \"%s\", "
                  "\"fp32_peak_gflop_s\": %.1f, \"fp32_peak_instr\": \"%s\", "
                  "\"bf16_peak_gflop_s\": %.1f}",
                  t, bw[t], rb.p10GBs, rb.p90GBs, int8Peak[t], i8k.name, fp32Peak[t], f32k.name,
                  bf16Peak[t]);
    jsonRow(row);
    std::fflush(stdout);
  }
  auto finish = [&] {
    if (js) {
      std::fprintf(js, "\n  ]\n}\n");
      std::fclose(js);
    }
  };
  if (probeOnly) {
    finish();
    return 0;
  }

  std::printf("\nDecode rows (M=1): weight GB/s of the kernel, timed call by call on\n"
              "distinct cold copies (p90 and median of calls), and its fraction of the DRAM\n"
              "read bandwidth above (median method). For reference, a plain read of the same\n"
              "bytes timed call by call (interleaved with the kernel calls), and 'pair':\n"
              "the median over calls of kernel GB/s / the adjacent read's GB/s.\n"
              "'sweep': the kernel on every copy in turn, nothing in between (as decode\n"
              "runs its matmuls): median per-call GB/s | GB/s of whole sweeps (median),\n"
              "and the latter's fraction of the DRAM read bandwidth.\n"
              "Prefill rows: GOP/s (2MNK), fraction of the measured peak of the path.\n"
              "'cpu' (prefill): GOP/s per CPU-second x threads (excludes time the OS gave\n"
              "to other processes: an estimate of the undisturbed speed).\n\n");
  std::printf("%-11s %-22s %4s %3s %9s %17s %17s %12s %5s %15s %5s\n", "NxK", "format/act", "M",
              "thr", "ms(med)", "kernel p90|med", "read p90|med", "of DRAM p90|med", "pair",
              "sweep call|all", "÷DRAM");
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  const int reps = quick ? 3 : 5;
  for (const Shape &sh : shapes) {
    std::vector<float> W(size_t(sh.N * sh.K));
    for (auto &w : W)
      w = u(rng);
    for (auto &[fname, fmt, act] : fmts) {
      MatmulDesc d = MatmulDesc::forHost(sh.N, sh.K, fmt, 512);
      d.act = act;
      auto packed = packWeights(W.data(), sh.N, sh.K, fmt, d.tier);
      if (!packed) {
        std::fprintf(stderr, "%s\n", llvm::toString(packed.takeError()).c_str());
        return 1;
      }
      const int64_t bytes = packed->layout().totalBytes;
      // Distinct copies, far over the L3 our cores can use.
      size_t copies = std::max<size_t>(2, (wsMiB << 20) / size_t(bytes));
      std::vector<PackedWeights> ws;
      std::vector<const uint8_t *> bufs;
      for (size_t c = 0; c < copies; ++c) {
        PackedWeights p(packed->layout(), packed->tier());
        std::memcpy(p.mutableData(), packed->data(), size_t(bytes));
        bufs.push_back(p.data());
        ws.push_back(std::move(p));
      }
      for (int M : ms) {
        d.mMin = 1;
        d.mMax = M;
        auto mm = Matmul::create(d);
        if (!mm) {
          std::fprintf(stderr, "%s\n", llvm::toString(mm.takeError()).c_str());
          return 1;
        }
        std::vector<float> x(size_t(M * sh.K)), y(size_t(M * sh.N));
        for (auto &v : x)
          v = u(rng);
        char shape[32];
        std::snprintf(shape, sizeof shape, "%lldx%lld", (long long)sh.N, (long long)sh.K);
        for (int t : threads) {
          ThreadPool pool(unsigned(t), true);
          llvm::cantFail(mm->run(x.data(), M, ws[0], y.data(), pool));
          if (M == 1) {
            // Per call: a plain read of copy c, then the kernel on copy
            // c + copies/2 (cold: the read just pulled copy c into L3). Short
            // timed pieces make the median robust to preemption by other
            // tenants of a shared machine.
            // Also the ratio kernel / read of each adjacent pair: the two
            // are timed a few hundred microseconds apart, so the machine's
            // slow and fast phases (other tenants) cancel in the ratio.
            std::vector<double> kr, rr, pair;
            const size_t calls = copies * size_t(reps);
            for (size_t c = 0; c < calls; ++c) {
              rr.push_back(readRate(pool, {bufs[c % copies]}, size_t(bytes)));
              double t0 = now();
              llvm::cantFail(mm->run(x.data(), 1, ws[(c + copies / 2) % copies],
                                     y.data(), pool));
              kr.push_back(double(bytes) / (now() - t0) / 1e9);
              pair.push_back(kr.back() / rr.back());
            }
            // Back to back, as decode runs its matmuls: the kernel on every
            // copy in turn, nothing in between. Per-call rates and the rate
            // of each whole sweep (reps sweeps).
            std::vector<double> sk, sweeps;
            for (int r = 0; r < reps; ++r) {
              double s0 = now();
              for (size_t c = 0; c < copies; ++c) {
                double t0 = now();
                llvm::cantFail(mm->run(x.data(), 1, ws[c], y.data(), pool));
                sk.push_back(double(bytes) / (now() - t0) / 1e9);
              }
              sweeps.push_back(double(bytes) * double(copies) / (now() - s0) / 1e9);
            }
            std::sort(kr.begin(), kr.end());
            std::sort(rr.begin(), rr.end());
            // "best" = 90th percentile: robust, yet close to an undisturbed run.
            double kb = kr[kr.size() * 9 / 10], rb = rr[rr.size() * 9 / 10];
            const double km = median(kr);
            const double swCall = median(sk), sw = median(sweeps);
            std::printf("%-11s %-22s %4d %3d %9.3f %8.1f|%-8.1f %8.1f|%-8.1f %4.0f%%|%3.0f%%"
                        "       %3.0f%% %7.1f|%-7.1f %4.0f%%\n",
                        shape, fname.c_str(), M, t, double(bytes) / km / 1e6, kb, km, rb,
                        median(rr), 100 * kb / bw[t], 100 * km / bw[t], 100 * median(pair),
                        swCall, sw, 100 * sw / bw[t]);
            char row[512];
            std::snprintf(row, sizeof row,
                          "{\"kind\": \"decode\", \"shape\": \"%s\", \"format\": \"%s\", "
                          "\"m\": 1, \"threads\": %d, \"bytes\": %lld, \"ms_median\": %.4f, "
                          "\"gb_s_median\": %.3f, \"gb_s_p90\": %.3f, \"read_gb_s_median\": %.3f, "
                          "\"dram_read_gb_s\": %.3f, \"fraction_of_dram\": %.4f, "
                          "\"fraction_of_adjacent_read\": %.4f, \"sweep_call_gb_s_median\": %.3f, "
                          "\"sweep_gb_s\": %.3f, \"sweep_fraction_of_dram\": %.4f}",
                          shape, fname.c_str(), t, (long long)bytes, double(bytes) / km / 1e6,
                          km, kb, median(rr), bw[t], km / bw[t], median(pair), swCall, sw,
                          sw / bw[t]);
            jsonRow(row);
          } else {
            std::vector<double> g;
            double cpu = 0;
            for (int r = 0; r < reps; ++r) {
              double t0 = now(), c0 = cpuNow();
              llvm::cantFail(mm->run(x.data(), M, ws[size_t(r + 1) % copies], y.data(), pool));
              g.push_back(2.0 * M * sh.N * sh.K / (now() - t0) / 1e9);
              cpu += cpuNow() - c0;
            }
            const double gC = 2.0 * M * sh.N * sh.K * reps / (cpu / t) / 1e9;
            double gb = *std::max_element(g.begin(), g.end());
            const ActPath ran = mm->desc().act;
            double peak = ran == ActPath::Int8   ? int8Peak[t]
                          : ran == ActPath::BF16 ? bf16Peak[t]
                                                 : fp32Peak[t];
            std::printf("%-11s %-22s %4d %3d %9.3f %8.1f|%-8.1f %17s %4.0f%%|%3.0f%% | cpu %6.1f = %3.0f%%\n",
                        shape, fname.c_str(), M, t, 2.0 * M * sh.N * sh.K / gb / 1e6, gb,
                        median(g), "(GOP/s)", peak > 0 ? 100 * gb / peak : 0.0,
                        peak > 0 ? 100 * median(g) / peak : 0.0, gC,
                        peak > 0 ? 100 * gC / peak : 0.0);
            char row[512];
            std::snprintf(row, sizeof row,
                          "{\"kind\": \"prefill\", \"shape\": \"%s\", \"format\": \"%s\", "
                          "\"m\": %d, \"threads\": %d, \"ms_median\": %.4f, \"gop_s_median\": %.2f, "
                          "\"gop_s_best\": %.2f, \"gop_s_cpu\": %.2f, \"peak_gop_s\": %.1f, "
                          "\"act\": \"%s\"}",
                          shape, fname.c_str(), M, t, 2.0 * M * sh.N * sh.K / median(g) / 1e6,
                          median(g), gb, gC, peak,
                          actPathName(ran));
            jsonRow(row);
          }
          std::fflush(stdout);
        }
      }
    }
  }
  finish();
  return 0;
}
