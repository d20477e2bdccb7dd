//===- BenchCommand.cpp - llmc bench -----------------------------------------===//
//
//   llmc bench model.llmc [--prompt 512 --gen 128 --threads N --json]
//
// load_ms: Model::load (mmap, checks, kernel generation), without page-in.
// A one-token warm-up then pages the weights in; prefill_tok_s is a prompt of
// --prompt random tokens, decode_tok_s --gen single-token steps after it.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llmc/Runtime/Generate.h"
#include "llmc/Runtime/Model.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <random>

using namespace llvm;

cl::SubCommand llmc::cli::benchCmd(
    "bench", "Measure prefill/decode speed, load time and memory");

static cl::opt<std::string> bundlePath(cl::Positional, cl::desc("<model.llmc>"),
                                       cl::Required, cl::sub(llmc::cli::benchCmd));
static cl::opt<int64_t> promptLen("prompt", cl::desc("Prompt tokens"), cl::init(512),
                                  cl::sub(llmc::cli::benchCmd));
static cl::opt<int64_t> genLen("gen", cl::desc("Generated tokens"), cl::init(128),
                               cl::sub(llmc::cli::benchCmd));
static cl::opt<unsigned> threads("threads", cl::desc("Threads (0 = all cores)"),
                                 cl::init(0), cl::sub(llmc::cli::benchCmd));
static cl::opt<bool> bandwidth("bandwidth",
                               cl::desc("Also measure the DRAM read bandwidth (1 GiB buffer)"),
                               cl::init(false), cl::sub(llmc::cli::benchCmd));
static cl::opt<bool> asJson("json", cl::desc("One JSON object on stdout"),
                          cl::init(false), cl::sub(llmc::cli::benchCmd));

/// DRAM read bandwidth in GB/s: every thread sums its slice of a 1 GiB buffer
/// (8 floats wide), best of 3.
static double measureReadBandwidth(unsigned threads) {
  const size_t n = size_t(1) << 28; // floats
  std::vector<float> buf(n, 1.0f);
  llmc::ThreadPool pool(threads);
  double best = 0;
  std::vector<float> sink(pool.size());
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    pool.run([&](unsigned t, unsigned nt) {
      size_t b = n * t / nt, e = n * (t + 1) / nt;
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (size_t i = b; i + 8 <= e; i += 8)
        for (int j = 0; j < 8; ++j)
          acc[j] += buf[i + j];
      float s = 0;
      for (float a : acc)
        s += a;
      sink[t] = s;
    });
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(n) * 4 / sec / 1e9);
  }
  return best;
}

int llmc::cli::runBench() {
  using namespace llmc::runtime;
  using clock = std::chrono::steady_clock;
  auto model = Model::load(bundlePath);
  if (!model)
    return reportError(model.takeError());
  const Model &m = **model;
  SessionOptions so;
  so.threads = threads;
  auto session = Session::create(m, so);
  if (!session)
    return reportError(session.takeError());
  Session &s = **session;
  const int64_t ctx = m.config().maxContext;
  int64_t P = std::min<int64_t>(promptLen, ctx - 1);
  int64_t G = std::min<int64_t>(genLen, ctx - P);
  if (P < 1 || G < 0)
    return reportError(createStringError(inconvertibleErrorCode(),
                                         "--prompt/--gen do not fit the context"));
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> dist(3, int32_t(m.config().vocab - 1));
  std::vector<int32_t> prompt(P);
  for (int32_t &t : prompt)
    t = dist(rng);

  // Warm-up: page the weights in and touch every kernel once.
  auto t0 = clock::now();
  if (auto l = s.prefill(ArrayRef<int32_t>(prompt.data(), 1)); !l)
    return reportError(l.takeError());
  double warmMs = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  s.reset();

  t0 = clock::now();
  auto logits = s.prefill(prompt);
  if (!logits)
    return reportError(logits.takeError());
  double prefillMs = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  int32_t next = argmax(*logits);
  t0 = clock::now();
  for (int64_t i = 0; i < G; ++i) {
    auto l = s.decode(next);
    if (!l)
      return reportError(l.takeError());
    next = argmax(*l);
  }
  double decodeMs = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  double prefillTokS = P * 1e3 / prefillMs;
  double decodeTokS = G > 0 ? G * 1e3 / decodeMs : 0;
  double rssMb = peakRssBytes() / 1048576.0;
  // Bytes one decode step streams: the packed matmul weights (the embedding
  // table is read one row at a time) plus the KV cache of the context so far.
  uint64_t streamed = 0;
  for (const auto &w : m.plan().weights)
    if (w.kind == llmc::codegen::SlotKind::Packed)
      streamed += uint64_t(w.bytes);
  const auto &cfg = m.config();
  double kvBytes = double(cfg.layers) * cfg.kvHeads * (cfg.headDim + cfg.valueDim) * 4 *
                   double(P + G / 2);
  double decodeGBs = decodeTokS * (double(streamed) + kvBytes) / 1e9;
  double dram = bandwidth ? measureReadBandwidth(s.threads()) : 0;
  if (asJson) {
    outs() << json::Value(json::Object{
                  {"prefill_tok_s", prefillTokS},
                  {"decode_tok_s", decodeTokS},
                  {"load_ms", m.loadMs()},
                  {"peak_rss_mb", rssMb},
                  {"first_token_ms", warmMs},
                  {"prompt_tokens", P},
                  {"gen_tokens", G},
                  {"threads", int64_t(s.threads())},
                  {"weight_mb", m.weightBytes() / 1048576.0},
                  {"decode_gb_s", decodeGBs},
                  {"dram_read_gb_s", dram},
                  {"decode_fraction_of_dram", dram > 0 ? decodeGBs / dram : 0.0},
                  {"program", m.usesProgram() ? "jit" : "interpreted"}})
           << "\n";
    return 0;
  }
  outs() << format("load        %8.1f ms (mmap, checks, kernels, link; page-in not included)\n"
                   "warm-up     %8.1f ms (first token, pages the weights in)\n"
                   "prefill     %8.1f tok/s (%lld tokens)\n"
                   "decode      %8.1f tok/s (%lld tokens; %.2f GB/s of weights + KV)\n"
                   "peak RSS    %8.1f MiB (weights %.1f MiB)\n",
                   m.loadMs(), warmMs, prefillTokS, (long long)P, decodeTokS,
                   (long long)G, decodeGBs, rssMb, m.weightBytes() / 1048576.0);
  if (dram > 0)
    outs() << format("DRAM read   %8.1f GB/s (%u threads); decode reaches %.0f%% of it\n",
                     dram, s.threads(), 100 * decodeGBs / dram);
  return 0;
}
