//===- llamacpp_bench.cpp - llama.cpp side of llmc's benchmark suite -------===//
//
// A small driver of llama.cpp's C API (the prebuilt libraries node-llama-cpp
// ships; bench/llamacpp/build.sh compiles it against them). It runs the
// protocol of bench/ort/bench_ort.mjs and prints one JSON object:
//
//   llamacpp_bench decoder MODEL.gguf --threads T --prompt P[,P2] --gen G --reps R
//                  --vocab V [--ctx C] [--threadpool 0|1]
//       Prefill: P random token ids from an empty cache in one batch, median
//       tok/s of R runs per length. Decode: a 1-token prompt, then G
//       single-token steps, each sampling greedily; median tok/s of R runs.
//   llamacpp_bench greedy MODEL.gguf --ids 1,5,9 --gen G
//       The greedy continuation of the ids (check_same_model.py).
//
// Threads as llama.cpp's own tools run them (llama-bench, llama-cli): one
// persistent ggml thread pool of T threads attached to the context
// (--threadpool 0 leaves llama.cpp to make a pool per graph, as a library user
// that attaches none gets). Weights mmap'ed, fp16 KV cache (the defaults).
//
//===----------------------------------------------------------------------===//

#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "llama.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string mode, model;
  int threads = 1, gen = 0, reps = 3, vocab = 256, ctx = 0;
  bool threadpool = true;
  std::vector<int> prompts, ids;
};

std::vector<int> intList(const char *s) {
  std::vector<int> v;
  for (const char *p = s; *p;) {
    char *end;
    long x = std::strtol(p, &end, 10);
    if (end == p)
      break;
    v.push_back(int(x));
    p = *end == ',' ? end + 1 : end;
  }
  return v;
}

[[noreturn]] void die(const char *msg) {
  std::fprintf(stderr, "llamacpp_bench: %s\n", msg);
  std::exit(1);
}

Options parse(int argc, char **argv) {
  if (argc < 3)
    die("usage: llamacpp_bench decoder|greedy MODEL.gguf [--options]");
  Options o;
  o.mode = argv[1];
  o.model = argv[2];
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char *v = argv[i + 1];
    if (k == "--threads") o.threads = std::atoi(v);
    else if (k == "--gen") o.gen = std::atoi(v);
    else if (k == "--reps") o.reps = std::atoi(v);
    else if (k == "--vocab") o.vocab = std::atoi(v);
    else if (k == "--ctx") o.ctx = std::atoi(v);
    else if (k == "--threadpool") o.threadpool = std::atoi(v) != 0;
    else if (k == "--prompt") o.prompts = intList(v);
    else if (k == "--ids") o.ids = intList(v);
    else die(("unknown option " + k).c_str());
  }
  o.prompts.erase(std::remove(o.prompts.begin(), o.prompts.end(), 0), o.prompts.end());
  return o;
}

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string jsonList(const std::vector<double> &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

struct Engine {
  llama_model *model = nullptr;
  llama_context *ctx = nullptr;
  ggml_threadpool *pool = nullptr;
  llama_sampler *greedy = nullptr;
  double loadMs = 0;

  Engine(const Options &o, int nCtx, int nBatch) {
    // The CPU backend is a separate library per ISA variant: load them from
    // the package's directory and let ggml pick the best one for this CPU.
    ggml_backend_load_all_from_path(LLAMACPP_LIB_DIR);
    llama_backend_init();
    double t0 = now();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.progress_callback = [](float, void *) { return true; }; // no progress dots
    model = llama_model_load_from_file(o.model.c_str(), mp);
    if (!model)
      die("cannot load the model");
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = uint32_t(nCtx);
    cp.n_batch = cp.n_ubatch = uint32_t(nBatch);
    cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = o.threads;
    cp.no_perf = true;
    ctx = llama_init_from_model(model, cp);
    if (!ctx)
      die("cannot create the context");
    if (o.threadpool) {
      ggml_backend_reg_t cpu = ggml_backend_reg_by_name("CPU");
      auto *make = reinterpret_cast<decltype(ggml_threadpool_new) *>(
          ggml_backend_reg_get_proc_address(cpu, "ggml_threadpool_new"));
      if (!make)
        die("the CPU backend exports no ggml_threadpool_new");
      ggml_threadpool_params tp = ggml_threadpool_params_default(o.threads);
      pool = make(&tp);
      if (!pool)
        die("cannot create the thread pool");
      llama_attach_threadpool(ctx, pool, nullptr);
    }
    loadMs = (now() - t0) * 1e3;
    greedy = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(greedy, llama_sampler_init_greedy());
  }

  ~Engine() {
    llama_sampler_free(greedy);
    llama_free(ctx); // detaches the pool
    if (pool) {
      auto *release = reinterpret_cast<decltype(ggml_threadpool_free) *>(
          ggml_backend_reg_get_proc_address(ggml_backend_reg_by_name("CPU"),
                                            "ggml_threadpool_free"));
      if (release)
        release(pool);
    }
    llama_model_free(model);
    llama_backend_free();
  }

  void clear() { llama_memory_clear(llama_get_memory(ctx), true); }

  void eval(std::vector<llama_token> &toks) {
    if (llama_decode(ctx, llama_batch_get_one(toks.data(), int32_t(toks.size()))))
      die("llama_decode failed");
  }

  // Evaluates the prompt, then n tokens; calls onFirst when the first one is out.
  template <typename F>
  std::vector<llama_token> generate(std::vector<llama_token> prompt, int n, F onFirst) {
    std::vector<llama_token> out;
    eval(prompt);
    for (;;) {
      llama_token t = llama_sampler_sample(greedy, ctx, -1);
      if (out.empty())
        onFirst();
      out.push_back(t);
      if (int(out.size()) > n)
        return out;
      std::vector<llama_token> one{t};
      eval(one);
    }
  }
};

int decoder(const Options &o) {
  int maxP = 1;
  for (int p : o.prompts)
    maxP = std::max(maxP, p);
  int nCtx = std::max({o.ctx, maxP + 1, o.gen + 2});
  Engine e(o, nCtx, maxP);
  unsigned seed = 1234; // bench_ort.mjs's generator: the same prompt ids
  auto rnd = [&] { seed = unsigned((seed * 1103515245ull + 12345) % 2147483648ull); return seed; };
  std::vector<llama_token> prompt(static_cast<size_t>(maxP));
  for (auto &t : prompt)
    t = llama_token(3 + rnd() % unsigned(o.vocab - 3));
  double tw = now();
  std::vector<llama_token> first{prompt[0]};
  e.eval(first); // warm-up: pages the weights in
  double warmMs = (now() - tw) * 1e3;
  e.clear();
  std::printf("{\"engine\":\"llama.cpp\",\"threads\":%d,\"threadpool\":%s,\"load_ms\":%.1f,"
              "\"first_token_ms\":%.2f,\"context_size\":%d,\"prefill\":{",
              o.threads, o.threadpool ? "true" : "false", e.loadMs, warmMs, nCtx);
  for (size_t i = 0; i < o.prompts.size(); ++i) {
    int P = o.prompts[i];
    std::vector<double> runs;
    for (int r = 0; r < o.reps; ++r) {
      std::vector<llama_token> toks(prompt.begin(), prompt.begin() + P);
      double t0 = now();
      e.eval(toks);
      runs.push_back(P / (now() - t0));
      e.clear();
    }
    std::printf("%s\"%d\":{\"tok_s\":%.3f,\"runs\":%s}", i ? "," : "", P, median(runs),
                jsonList(runs).c_str());
  }
  std::printf("}");
  if (o.gen > 0) {
    std::vector<double> runs;
    for (int r = 0; r < o.reps; ++r) {
      double t0 = 0;
      auto out = e.generate({prompt[0]}, o.gen, [&] { t0 = now(); });
      runs.push_back(double(out.size() - 1) / (now() - t0));
      e.clear();
    }
    std::printf(",\"decode_tok_s\":%.3f,\"decode_tok_s_runs\":%s", median(runs),
                jsonList(runs).c_str());
  }
  std::printf("}\n");
  return 0;
}

int greedy(const Options &o) {
  if (o.ids.empty() || o.gen < 1)
    die("greedy needs --ids and --gen");
  Engine e(o, int(o.ids.size()) + o.gen + 1, int(o.ids.size()));
  auto out = e.generate(std::vector<llama_token>(o.ids.begin(), o.ids.end()), o.gen - 1, [] {});
  std::printf("{\"engine\":\"llama.cpp\",\"tokens\":[");
  for (size_t i = 0; i < out.size(); ++i)
    std::printf("%s%d", i ? "," : "", out[i]);
  std::printf("]}\n");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  llama_log_set([](ggml_log_level level, const char *text, void *) {
    if (level >= GGML_LOG_LEVEL_ERROR)
      std::fputs(text, stderr);
  }, nullptr);
  if (o.mode == "decoder")
    return decoder(o);
  if (o.mode == "greedy")
    return greedy(o);
  die("mode must be decoder or greedy");
}
