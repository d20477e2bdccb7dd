//===- BenchCommand.cpp - llmc bench -----------------------------------------===//
//
//   llmc bench model.llmc [--prompt 512 --gen 128 --threads N --reps R
//                          --bandwidth --profile --json]
//
// load_ms: Model::load (mmap, checks, kernel generation); page-in is not in
// it, except that packed weights read into huge pages at load
// (Model.h: LoadOptions::WeightPages) are: weight_read_ms is that part.
// A one-token warm-up then pages the weights in; prefill_tok_s is a prompt of
// --prompt random tokens, decode_tok_s --gen single-token steps after it; with
// --reps R both are run R times (from an empty cache) and the medians reported.
// --bandwidth: the DRAM read bandwidth (Profile.h: measureReadBandwidth), and
// a short read probe around every decode run: decode_fraction_of_adjacent_read
// is the median over runs of decode GB/s / the mean of its two probes.
// --profile: per-kernel time (each matmul weight slot, attention) of the
// prefill and of the decode steps; glue = wall time minus kernels.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llmc/Runtime/Generate.h"
#include "llmc/Runtime/Model.h"
#include "llmc/Runtime/Profile.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>

using namespace llvm;

cl::SubCommand llmc::cli::benchCmd(
    "bench", "Measure prefill/decode speed, load time and memory");

static cl::opt<std::string> bundlePath(cl::Positional, cl::desc("<model.llmc>"),
                                       cl::Required, cl::sub(llmc::cli::benchCmd));
static cl::opt<int64_t>
    promptLen("prompt",
              cl::desc("Prompt tokens (default 512, fewer when the context is "
                       "shorter; given, they must fit with --gen)"),
              cl::init(512), cl::sub(llmc::cli::benchCmd));
static cl::opt<int64_t>
    genLen("gen",
           cl::desc("Generated tokens (default 128, at most a quarter of the "
                    "context; given, they must fit with --prompt)"),
           cl::init(128), cl::sub(llmc::cli::benchCmd));
static cl::opt<unsigned> threads("threads", cl::desc("Threads (0 = all cores)"),
                                 cl::init(0), cl::sub(llmc::cli::benchCmd));
static cl::opt<bool> bandwidth(
    "bandwidth",
    cl::desc("Also measure the DRAM read bandwidth (1 GiB buffer, median of 8 MiB chunks)"),
    cl::init(false), cl::sub(llmc::cli::benchCmd));
static cl::opt<bool> profile("profile",
                             cl::desc("Report per-kernel time (matmul per weight, "
                                      "attention, glue) of prefill and decode"),
                             cl::init(false), cl::sub(llmc::cli::benchCmd));
static cl::opt<unsigned> reps("reps", cl::desc("Runs of prefill + decode (medians reported)"),
                              cl::init(1), cl::sub(llmc::cli::benchCmd));
static cl::opt<bool> asJson("json", cl::desc("One JSON object on stdout"),
                          cl::init(false), cl::sub(llmc::cli::benchCmd));

/// Resets the kernel's RSS high-water mark (ru_maxrss) to the current RSS
/// (Linux: /proc/self/clear_refs, value 5); a no-op where that is missing.
static void resetPeakRss() {
  if (std::FILE *f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

static double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

namespace {
/// A profile of one phase (prefill or decode), per call of that phase.
struct PhaseProfile {
  double wallMs = 0;
  int64_t calls = 0; // prefill calls or decode steps
  llmc::runtime::Profile prof;
};
} // namespace

/// The matmul slots of `p`, grouped by weight name with the layer index
/// replaced by '*' ("layers.*.wq+wk+wv"), in plan order.
static json::Object profileJson(const llmc::runtime::Model &m, const PhaseProfile &p) {
  const auto &slots = m.plan().weights;
  const double per = p.calls > 0 ? 1.0 / double(p.calls) : 0;
  json::Array mats;
  std::vector<std::string> order;
  std::map<std::string, std::pair<double, uint64_t>> byKind;
  std::map<std::string, uint64_t> kindBytes;
  double matMs = 0;
  for (size_t i = 0; i < p.prof.matmuls().size(); ++i) {
    const auto &e = p.prof.matmuls()[i];
    if (!e.calls)
      continue;
    const std::string name = i < slots.size() ? slots[i].name : "slot" + std::to_string(i);
    const uint64_t bytes = i < slots.size() ? uint64_t(slots[i].bytes) : 0;
    mats.push_back(json::Object{{"slot", int64_t(i)},
                                {"name", name},
                                {"ms", e.seconds * 1e3 * per},
                                {"calls", int64_t(e.calls)},
                                {"bytes", int64_t(bytes)}});
    // Every "layers.<n>." becomes "layers.*." (merged slots name several).
    std::string kind;
    for (size_t i = 0; i < name.size();) {
      if (name.compare(i, 7, "layers.") == 0) {
        size_t c = i + 7;
        while (c < name.size() && isdigit((unsigned char)name[c]))
          ++c;
        if (c > i + 7) {
          kind += "layers.*";
          i = c;
          continue;
        }
      }
      kind += name[i++];
    }
    if (!byKind.count(kind))
      order.push_back(kind);
    byKind[kind].first += e.seconds * 1e3 * per;
    byKind[kind].second += e.calls;
    kindBytes[kind] += bytes;
    matMs += e.seconds * 1e3 * per;
  }
  json::Array kinds;
  for (const std::string &k : order)
    kinds.push_back(json::Object{{"name", k},
                                 {"ms", byKind[k].first},
                                 {"calls", int64_t(byKind[k].second)},
                                 {"bytes", int64_t(kindBytes[k])}});
  const double attMs = p.prof.attention().seconds * 1e3 * per;
  const double total = p.wallMs * per;
  return json::Object{{"calls", p.calls},
                      {"total_ms", total},
                      {"matmul_ms", matMs},
                      {"attention_ms", attMs},
                      {"attention_calls", int64_t(p.prof.attention().calls)},
                      {"glue_ms", std::max(0.0, total - matMs - attMs)},
                      {"matmul_kinds", std::move(kinds)},
                      {"matmuls", std::move(mats)}};
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
  llmc::runtime::Profile prof;
  if (profile)
    so.profile = &prof;
  auto session = Session::create(m, so);
  if (!session)
    return reportError(session.takeError());
  Session &s = **session;
  // Prompt and generated tokens share the KV cache: P + G <= context. What
  // the user asks for runs exactly or is refused; only defaults shrink to fit
  // (a 512-token context: 384 prompt tokens and 128 generated).
  const int64_t ctx = m.config().maxContext;
  const bool givenP = promptLen.getNumOccurrences() > 0;
  const bool givenG = genLen.getNumOccurrences() > 0;
  int64_t G = givenG ? genLen : std::min<int64_t>(genLen, ctx / 4);
  int64_t P = givenP ? promptLen : std::min<int64_t>(promptLen, ctx - G);
  if (!givenG && givenP)
    G = std::clamp<int64_t>(ctx - P, 0, genLen);
  if ((givenP && P < 1) || (givenG && G < 0))
    return reportError(createStringError(
        inconvertibleErrorCode(),
        "--prompt must be at least 1 and --gen at least 0 (got %lld and %lld)",
        (long long)P, (long long)G));
  P = std::max<int64_t>(P, 1); // a default pushed out by a long --gen
  if (P + G > ctx)
    return reportError(createStringError(
        inconvertibleErrorCode(),
        "--prompt %lld + --gen %lld = %lld tokens do not fit the context of "
        "%lld tokens",
        (long long)P, (long long)G, (long long)(P + G), (long long)ctx));
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

  // Bytes one decode step streams: the packed matmul weights (the embedding
  // table is read one row at a time) plus the KV cache of the context so far.
  // Of an MoE step's experts a token reads k of E: k/E of their bytes (each
  // expert's matrices have the same shape and format).
  std::vector<double> share(m.plan().weights.size(), 1.0);
  for (const auto &st : m.plan().steps)
    if (st.kind == llmc::codegen::StepKind::MoE)
      for (int32_t e : st.experts)
        share[size_t(e)] = double(st.topK) / double(st.expertCount());
  uint64_t streamed = 0;
  for (size_t i = 0; i < m.plan().weights.size(); ++i)
    if (m.plan().weights[i].kind == llmc::codegen::SlotKind::Packed)
      streamed += uint64_t(double(m.plan().weights[i].bytes) * share[i]);
  const auto &cfg = m.config();
  // Per cached position, layer and KV head: a key and a value of the cache's
  // element type, and for int8 their two fp32 scales.
  const double positionBytes =
      double(cfg.headDim + cfg.valueDim) * llmc::codegen::kvElementBytes(cfg.kvType) +
      (cfg.kvType == llmc::codegen::KvType::I8 ? 8 : 0);
  double kvBytes = double(cfg.layers) * cfg.kvHeads * positionBytes * double(P + G / 2);
  const double bytesPerToken = double(streamed) + kvBytes;

  // --bandwidth: a short read probe right before and after every decode run.
  // On a shared machine the bandwidth drifts by up to 2x within minutes; the
  // ratio of a run's GB/s to the probes around it cancels that drift.
  std::unique_ptr<llmc::ThreadPool> probePool;
  if (bandwidth)
    probePool = std::make_unique<llmc::ThreadPool>(s.threads());
  // Three sweeps: the first one after the buffer is written pays for the
  // write-back of its dirty lines; the median chunk comes from the others.
  // The probe's buffer is freed again, and the process's peak RSS reset to
  // the current RSS, so that peak_rss_mb stays the model's own.
  auto probe = [&] {
    double gbs = llmc::runtime::measureReadBandwidth(*probePool).medianGBs;
    resetPeakRss();
    return gbs;
  };
  std::vector<double> prefillRuns, decodeRuns, adjacentRuns, adjacentReads;
  PhaseProfile pre, dec;
  for (unsigned rep = 0; rep < std::max(1u, unsigned(reps)); ++rep) {
    s.reset();
    prof.reset();
    t0 = clock::now();
    auto logits = s.prefill(prompt);
    if (!logits)
      return reportError(logits.takeError());
    double prefillMs = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    int32_t next = argmax(*logits);
    if (profile) {
      pre.prof = prof;
      pre.wallMs = prefillMs;
      pre.calls = 1;
      prof.reset();
    }
    const double readBefore = bandwidth && G > 0 ? probe() : 0;
    t0 = clock::now();
    for (int64_t i = 0; i < G; ++i) {
      auto l = s.decode(next);
      if (!l)
        return reportError(l.takeError());
      next = argmax(*l);
    }
    double decodeMs = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    if (profile && G > 0) {
      dec.prof = prof;
      dec.wallMs = decodeMs;
      dec.calls = G;
    }
    prefillRuns.push_back(P * 1e3 / prefillMs);
    if (G > 0)
      decodeRuns.push_back(G * 1e3 / decodeMs);
    if (bandwidth && G > 0) {
      const double read = (readBefore + probe()) / 2;
      adjacentReads.push_back(read);
      adjacentRuns.push_back(decodeRuns.back() * bytesPerToken / 1e9 / read);
    }
  }
  double prefillTokS = median(prefillRuns);
  double decodeTokS = median(decodeRuns);
  double decodeGBs = decodeTokS * bytesPerToken / 1e9;
  llmc::runtime::ReadBandwidth bw;
  if (bandwidth) {
    bw = llmc::runtime::measureReadBandwidth(*probePool);
    resetPeakRss();
  }
  const double dram = bw.medianGBs;
  const double adjacent = adjacentRuns.empty() ? 0.0 : median(adjacentRuns);
  const double rssMb = peakRssBytes() / 1048576.0;
  if (asJson) {
    json::Object o{
                  {"prefill_tok_s", prefillTokS},
                  {"decode_tok_s", decodeTokS},
                  {"load_ms", m.loadMs()},
                  {"weight_read_ms", m.weightReadMs()},
                  {"weights_in_huge_pages", m.weightsInHugePages()},
                  {"peak_rss_mb", rssMb},
                  {"first_token_ms", warmMs},
                  {"prompt_tokens", P},
                  {"gen_tokens", G},
                  {"threads", int64_t(s.threads())},
                  {"weight_mb", m.weightBytes() / 1048576.0},
                  {"decode_gb_s", decodeGBs},
                  {"dram_read_gb_s", dram},
                  {"dram_read_p90_gb_s", bw.p90GBs},
                  {"decode_fraction_of_dram", dram > 0 ? decodeGBs / dram : 0.0},
                  {"decode_fraction_of_adjacent_read", adjacent},
                  {"adjacent_read_gb_s_runs", json::Array(adjacentReads)},
                  {"decode_weight_bytes", int64_t(streamed)},
                  {"decode_kv_bytes", kvBytes},
                  {"kv_cache", llmc::codegen::kvTypeName(cfg.kvType)},
                  {"prefill_tok_s_runs", json::Array(prefillRuns)},
                  {"decode_tok_s_runs", json::Array(decodeRuns)},
                  {"program", m.usesProgram() ? "jit" : "interpreted"}};
    if (profile) {
      json::Object po{{"prefill", profileJson(m, pre)}};
      if (G > 0)
        po["decode"] = profileJson(m, dec);
      o["profile"] = std::move(po);
    }
    outs() << json::Value(std::move(o)) << "\n";
    return 0;
  }
  if (m.weightsInHugePages())
    outs() << format("load        %8.1f ms (mmap, checks, kernels, link) + %.1f ms reading "
                     "the packed weights into huge pages\n",
                     m.loadMs() - m.weightReadMs(), m.weightReadMs());
  else
    outs() << format("load        %8.1f ms (mmap, checks, kernels, link; page-in not "
                     "included)\n",
                     m.loadMs());
  outs() << format("warm-up     %8.1f ms (first token, pages the weights in)\n"
                   "prefill     %8.1f tok/s (%lld tokens)\n"
                   "decode      %8.1f tok/s (%lld tokens; %.2f GB/s of weights + %s KV)\n"
                   "peak RSS    %8.1f MiB (weights %.1f MiB)\n",
                   warmMs, prefillTokS, (long long)P, decodeTokS,
                   (long long)G, decodeGBs,
                   llmc::codegen::kvTypeName(cfg.kvType).str().c_str(), rssMb,
                   m.weightBytes() / 1048576.0);
  if (dram > 0)
    outs() << format("DRAM read   %8.1f GB/s (%u threads, median of %d 8 MiB chunks of a "
                     "1 GiB buffer; p90 %.1f); decode reaches %.0f%% of it\n",
                     dram, s.threads(), bw.samples, bw.p90GBs, 100 * decodeGBs / dram);
  if (adjacent > 0)
    outs() << format("            decode reaches %.0f%% of a 1 GiB read probe taken right "
                     "before and after each run (median of %zu runs)\n",
                     100 * adjacent, adjacentRuns.size());
  if (profile) {
    auto print = [&](const char *phase, const PhaseProfile &p) {
      json::Object o = profileJson(m, p);
      outs() << format("profile %s (ms per call): total %.3f = matmul %.3f + attention %.3f + glue %.3f\n",
                       phase, *o.getNumber("total_ms"), *o.getNumber("matmul_ms"),
                       *o.getNumber("attention_ms"), *o.getNumber("glue_ms"));
      for (const json::Value &k : *o.getArray("matmul_kinds")) {
        const json::Object &ko = *k.getAsObject();
        outs() << format("  %-40s %9.3f ms\n", ko.getString("name")->str().c_str(),
                         *ko.getNumber("ms"));
      }
    };
    print("prefill", pre);
    if (G > 0)
      print("decode", dec);
  }
  return 0;
}
