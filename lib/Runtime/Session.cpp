//===- Session.cpp - Execute the planned program ---------------------------===//
//
// A session runs the bundle's ProgramPlan step by step on its arena: matmuls
// and attention go to the kernels (the "kernel ABI" of the plan), glue steps
// (embeddings, norms, RoPE, SwiGLU, GELU, residual adds) are the loops below.
//
//===----------------------------------------------------------------------===//

#include "Attention.h"
#include "MoE.h"
#include "llmc/Runtime/Model.h"
#include "llmc/Runtime/Profile.h"
#include "llmc/Quant/Hadamard.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>

using namespace llvm;
using llmc::codegen::Step;
using llmc::codegen::StepKind;

namespace llmc::runtime {

namespace {
struct AlignedFree {
  void operator()(float *p) const { std::free(p); }
};
using FloatBuf = std::unique_ptr<float[], AlignedFree>;

/// Not zeroed: nothing reads the arena or a cache position before writing it,
/// and untouched pages of a large block cost no memory (the KV cache grows in
/// RSS as the context fills, in 2 MiB steps). Blocks of 2 MiB and more ask for
/// transparent huge pages: decode streams each layer's keys and values once per
/// token, and on 4 KiB pages every key block (4 KiB at D = 64) started a
/// fresh page: a TLB walk and the hardware prefetcher's stream cut
/// (docs/CODEGEN_RUNTIME.md, the runtime's attention).
FloatBuf allocFloats(int64_t n) {
  constexpr size_t kHuge = size_t(2) << 20;
  size_t bytes = size_t(std::max<int64_t>(n, 1)) * 4;
  const size_t align = bytes >= kHuge ? kHuge : 4096;
  bytes = (bytes + align - 1) & ~(align - 1);
  auto *p = static_cast<float *>(std::aligned_alloc(align, bytes));
  if (p && align == kHuge)
    madvise(p, bytes, MADV_HUGEPAGE);
  return FloatBuf(p);
}
} // namespace

struct Session::State {
  FloatBuf arena;
  /// KV cache: per layer, keys [Hkv][key blocks of 16 positions][D][16]
  /// (Attention.h) then values [Hkv][ctx][Dv], elements of the plan's
  /// KvType; int8 caches then hold the key and the value scales,
  /// [Hkv][keyPositions(ctx)] floats each.
  FloatBuf kv;
  KvLayout kvLayout;
  std::unique_ptr<ThreadPool> pool;
  /// The host's ISA tier (attention's code path), looked up once.
  IsaTier tier = IsaTier::Scalar;
  /// Input rows of a matmul whose weights live in a transformed basis.
  std::vector<float> transformed;
};

Session::Session(const Model &m) : model_(m) {}
Session::~Session() = default;

float *Session::arena() const { return state_->arena.get(); }
ThreadPool &Session::pool() const { return *state_->pool; }

MoEBuffers &Session::moeBuffers() {
  if (!moe_)
    moe_ = std::make_unique<MoEBuffers>();
  return *moe_;
}

unsigned Session::threads() const { return state_->pool->size(); }

int64_t Session::contextLength() const { return model_.config().maxContext; }

Expected<std::unique_ptr<Session>> Session::create(const Model &model,
                                                   SessionOptions options) {
  std::unique_ptr<Session> s(new Session(model));
  const codegen::ProgramPlan &p = model.plan();
  const codegen::ModelConfig &c = p.config;
  s->state_ = std::make_unique<State>();
  State &st = *s->state_;
  st.tier = hostTarget().maxTier();
  st.arena = allocFloats(p.arenaFloats);
  st.kvLayout = KvLayout::of(c.kvHeads, c.maxContext, c.headDim, c.valueDim,
                             codegen::kvElementBytes(c.kvType),
                             c.kvType == codegen::KvType::I8);
  const int64_t kvBytes = st.kvLayout.layer * c.layers;
  st.kv = allocFloats(kvBytes / 4 + 1);
  if (!st.arena || !st.kv)
    return createStringError(std::errc::not_enough_memory,
                             "cannot allocate the session's KV cache and "
                             "activations (%lld MiB)",
                             (long long)((p.arenaFloats * 4 + kvBytes) >> 20));
  if (options.threads > SessionOptions::kMaxThreads)
    return createStringError(std::errc::invalid_argument,
                             "%u threads asked for; at most %u", options.threads,
                             SessionOptions::kMaxThreads);
  st.pool = std::make_unique<ThreadPool>(options.threads);
  if (!st.pool->startError().empty())
    return createStringError(std::errc::resource_unavailable_try_again, "%s",
                             st.pool->startError().c_str());
  s->profile_ = options.profile;
  s->matmulInputs_ = std::move(options.matmulInputs);
  return std::move(s);
}

Error Session::check(ArrayRef<int32_t> tokens) const {
  const codegen::ModelConfig &c = model_.config();
  if (tokens.empty())
    return createStringError(std::errc::invalid_argument, "no tokens to run");
  if (pos_ + int64_t(tokens.size()) > c.maxContext)
    return createStringError(
        std::errc::result_out_of_range,
        "the prompt does not fit in the context: %lld tokens after %lld cached "
        "ones exceed the context length of %lld",
        (long long)tokens.size(), (long long)pos_, (long long)c.maxContext);
  for (int32_t t : tokens)
    if (t < 0 || t >= c.vocab)
      return createStringError(std::errc::invalid_argument,
                               "token id %d is outside the vocabulary (%lld)", t,
                               (long long)c.vocab);
  return Error::success();
}

Expected<ArrayRef<float>> Session::prefill(ArrayRef<int32_t> tokens) {
  if (Error e = check(tokens))
    return std::move(e);
  const codegen::ProgramPlan &p = model_.plan();
  int64_t n = int64_t(tokens.size());
  for (int64_t i = 0; i < n; i += p.maxTokens) {
    int64_t m = std::min(p.maxTokens, n - i);
    if (Error e = run(tokens.data() + i, m, /*allLogits=*/false))
      return std::move(e);
  }
  return ArrayRef<float>(last_);
}

Expected<ArrayRef<float>> Session::decode(int32_t token) {
  return prefill(ArrayRef<int32_t>(&token, 1));
}

Error Session::forwardAll(ArrayRef<int32_t> tokens,
                          function_ref<void(int64_t, ArrayRef<float>)> rows) {
  if (Error e = check(tokens))
    return e;
  const codegen::ProgramPlan &p = model_.plan();
  const int64_t V = p.config.vocab;
  int64_t n = int64_t(tokens.size());
  std::vector<float> buf;
  for (int64_t i = 0; i < n; i += p.maxTokens) {
    int64_t m = std::min(p.maxTokens, n - i);
    if (Error e = run(tokens.data() + i, m, /*allLogits=*/true))
      return e;
    buf.resize(size_t(m * V));
    const float *base = state_->arena.get() + p.logits.offset;
    for (int64_t r = 0; r < m; ++r)
      std::memcpy(buf.data() + r * V, base + r * p.logits.rowStride, V * 4);
    rows(i, buf);
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Glue steps
//===----------------------------------------------------------------------===//

namespace {

void rmsNorm(const float *x, const float *w, float *y, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i)
    ss += double(x[i]) * x[i];
  float r = 1.0f / std::sqrt(float(ss / double(n)) + eps);
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] * r * w[i];
}

void layerNorm(const float *x, const float *w, const float *b, float *y,
               int64_t n, float eps) {
  double sum = 0, ss = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += x[i];
  const double mean = sum / double(n);
  for (int64_t i = 0; i < n; ++i)
    ss += (x[i] - mean) * (x[i] - mean);
  const float r = 1.0f / std::sqrt(float(ss / double(n)) + eps);
  const float m = float(mean);
  for (int64_t i = 0; i < n; ++i)
    y[i] = (x[i] - m) * r * w[i] + (b ? b[i] : 0.0f);
}

float gelu(float x, bool tanhForm) {
  if (tanhForm)
    return 0.5f * x *
           (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
  return 0.5f * x * (1.0f + std::erf(x * 0.70710678118f));
}

/// `invFreq`: the call's frequency slot, or null for theta^(-2i/headDim);
/// `scale` its attention factor.
void ropeTables(const Step &s, const float *invFreqs, float scale, float *arena,
                int64_t pos, int64_t n) {
  const float theta = float(s.theta);
  for (int64_t i = 0; i < s.rotHalf; ++i) {
    float invFreq = invFreqs ? invFreqs[i]
                             : 1.0f / std::pow(theta, float(2 * i) / float(s.headDim));
    for (int64_t t = 0; t < n; ++t) {
      float angle = float(pos + t) * invFreq;
      arena[s.cos + t * s.rotHalf + i] = std::cos(angle) * scale;
      arena[s.sin + t * s.rotHalf + i] = std::sin(angle) * scale;
    }
  }
}

void rope(const Step &s, float *arena, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; ++t) {
    const float *c = arena + s.cos + t * s.rotHalf;
    const float *sn = arena + s.sin + t * s.rotHalf;
    for (int64_t h = 0; h < s.heads; ++h) {
      const float *x = arena + s.q.offset + t * s.q.tokenStride + h * s.q.headStride;
      float *y = arena + s.o.offset + t * s.o.tokenStride + h * s.o.headStride;
      if (y != x)
        std::memmove(y, x, s.headDim * 4);
      for (int64_t i = 0; i < s.rotHalf; ++i) {
        int64_t ia = s.interleaved ? 2 * i : i;
        int64_t ib = s.interleaved ? 2 * i + 1 : i + s.rotHalf;
        float a = x[ia], b = x[ib];
        y[ia] = a * c[i] - b * sn[i];
        y[ib] = b * c[i] + a * sn[i];
      }
    }
  }
}

} // namespace

void Session::kernelAttention(int32_t step, int64_t n, int64_t pos) {
  switch (model_.config().kvType) {
  case codegen::KvType::F32: attentionImpl<float>(step, n, pos); break;
  case codegen::KvType::F16: attentionImpl<_Float16>(step, n, pos); break;
  case codegen::KvType::I8: attentionImpl<int8_t>(step, n, pos); break;
  }
}

template <typename KT>
void Session::attentionImpl(int32_t step, int64_t n, int64_t pos) {
  const codegen::ProgramPlan &p = model_.plan();
  const codegen::ModelConfig &c = p.config;
  const Step &s = p.steps[step];
  State &st = *state_;
  float *A = st.arena.get();
  ThreadPool &pool = *st.pool;
  const int64_t D = s.headDim, Dv = s.valueDim;
  char *layerBase = reinterpret_cast<char *>(st.kv.get()) +
                    int64_t(s.layer) * st.kvLayout.layer;
  auto kvHead = [&](int64_t h) {
    return st.kvLayout.head<KT>(layerBase, h, c.maxContext, D, Dv);
  };
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < s.kvHeads; ++h)
      storeKeyValue(kvHead(h), pos + t,
                    A + s.k.offset + t * s.k.tokenStride + h * s.k.headStride, D,
                    A + s.v.offset + t * s.v.tokenStride + h * s.v.headStride, Dv);
  // Work items: (KV head, block of tokens). An item's rows are the heads of
  // the KV head's group for each of its tokens, scored together against the
  // cached keys (Attention.h). Blocks of about 16 rows.
  const int64_t group = s.heads / s.kvHeads;
  const int64_t tokensPerItem = std::clamp<int64_t>(16 / group, 1, n);
  const int64_t blocks = (n + tokensPerItem - 1) / tokensPerItem;
  const int64_t items = s.kvHeads * blocks;
  auto work = [&](int64_t b, int64_t e) {
    // Per thread, reused across calls: items are claimed one at a time.
    static thread_local std::vector<float> scratch;
    static thread_local std::vector<const float *> q;
    static thread_local std::vector<float *> o;
    static thread_local std::vector<int64_t> T, first;
    for (int64_t it = b; it < e; ++it) {
      const int64_t kvh = it / blocks, t0 = (it % blocks) * tokensPerItem,
                    t1 = std::min(n, t0 + tokensPerItem);
      q.clear();
      o.clear();
      T.clear();
      first.clear();
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
          q.push_back(A + s.q.offset + t * s.q.tokenStride + h * s.q.headStride);
          o.push_back(A + s.o.offset + t * s.o.tokenStride + h * s.o.headStride);
          T.push_back(pos + t + 1); // causal
          // A sliding window: the last `window` keys up to the query's own.
          first.push_back(s.window > 0 ? std::max<int64_t>(0, pos + t + 1 - s.window) : 0);
        }
      AttentionRows rows{q.data(), o.data(), T.data(), int64_t(q.size()),
                         s.window > 0 ? first.data() : nullptr};
      rows.softcap = s.softcap;
      scratch.resize(size_t(attentionScratchFloats(rows)));
      attendKvHead(rows, kvHead(kvh), D, Dv, s.scale, scratch.data(), st.tier);
    }
  };
  // Items are claimed by whichever threads are running (later token blocks
  // see more keys, and a preempted thread must not hold the others).
  if (n * s.heads * (pos + n) * D >= (1 << 15) && pool.size() > 1)
    pool.parallelForShared(items, work, 1);
  else
    work(0, items);
}

void Session::kernelParallel(codegen::GlueFn fn, codegen::llmc_program_state *s,
                             int64_t begin, int64_t end, int64_t pos,
                             int64_t rowCost) {
  // Below ~16K elements a wake-up of the pool costs more than it saves
  // (decode's one row always runs here).
  ThreadPool &pool = *state_->pool;
  const int64_t rows = end - begin;
  if (rows < 2 || rows * rowCost < (int64_t(1) << 14) || pool.size() < 2) {
    fn(s, begin, end, pos);
    return;
  }
  pool.parallelForShared(rows, [&](int64_t b, int64_t e) {
    fn(s, begin + b, begin + e, pos);
  });
}

void Session::kernelEmbed(int32_t weight, const int32_t *tokens, int64_t n,
                          float *out, int64_t ldout) {
  recordKernelError(model_.gatherRows(weight, tokens, n, out, ldout));
}

Error Session::kernelFailure() const {
  if (kernelError_.empty())
    return Error::success();
  return createStringError(inconvertibleErrorCode(), "%s", kernelError_.c_str());
}

void Session::recordKernelError(Error e) {
  if (!e)
    return;
  if (kernelError_.empty())
    kernelError_ = toString(std::move(e));
  else
    consumeError(std::move(e));
}

void Session::kernelMatmul(int32_t weight, const float *x, int64_t m, int64_t ldx,
                           float *y, int64_t ldy) {
  // With a Profile in the session's options each call is timed (Profile.h).
  Profile::MatmulScope timed(profile_, weight, m);
  if (matmulInputs_)
    matmulInputs_(weight, x, m, ldx);
  // Weights quantized in a transformed basis (AWQ scales that could not be
  // folded, incoherence rotations): transform the input rows first.
  const codegen::WeightSlot &w = model_.plan().weights[weight];
  const quant::RandomizedHadamard *U = model_.rotation(weight);
  if (w.inputScale >= 0 || U) {
    const int64_t K = w.shape[1];
    std::vector<float> &t = state_->transformed;
    t.resize(size_t(m * K));
    const float *scale = w.inputScale >= 0 ? model_.dense(w.inputScale) : nullptr;
    auto rows = [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float *row = t.data() + r * K;
        std::memcpy(row, x + r * ldx, size_t(K) * 4);
        if (scale)
          for (int64_t k = 0; k < K; ++k)
            row[k] *= scale[k];
        if (U)
          U->apply(row);
      }
    };
    // Prefill rows are independent: the threads share them.
    if (m > 1 && state_->pool->size() > 1)
      state_->pool->parallelForShared(m, rows);
    else
      rows(0, m);
    x = t.data();
    ldx = K;
  }
  recordKernelError(model_.matmul(weight).run(x, m, model_.packed(weight), y,
                                              *state_->pool, ldx, ldy));
  if (w.bias >= 0) {
    const float *b = model_.dense(w.bias);
    const int64_t N = w.shape[0];
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < N; ++j)
        y[r * ldy + j] += b[j];
  }
}

Error Session::run(const int32_t *tokens, int64_t n, bool allLogits) {
  const codegen::ProgramPlan &p = model_.plan();
  const codegen::ModelConfig &c = p.config;
  State &st = *state_;
  float *A = st.arena.get();
  const int64_t pos = pos_;

  kernelError_.clear();
  if (codegen::PrefillFn prefill = model_.prefillEntry()) {
    codegen::llmc_program_state ps{A, model_.weightsBase(), this, allLogits ? 1 : 0};
    prefill(&ps, tokens, n, pos);
    if (Error e = kernelFailure())
      return e;
  } else // The C++ driver of the plan (reference; LLMC_NO_JIT=1).
  for (const Step &s : p.steps) {
    // Steps that only feed the logits run on the last token unless every
    // token's logits are wanted.
    const int64_t r0 = (s.lastOnly && !allLogits) ? n - 1 : 0;
    const int64_t rows = n - r0;
    switch (s.kind) {
    case StepKind::Embed:
      kernelEmbed(s.weight, tokens, n, A + s.out.offset, s.out.rowStride);
      if (Error e = kernelFailure())
        return e;
      break;
    case StepKind::RmsNorm: {
      const float *w = model_.dense(s.weight);
      for (int64_t t = r0; t < n; ++t)
        for (int64_t g = 0; g < s.groups; ++g)
          rmsNorm(A + s.in.offset + t * s.in.rowStride + g * s.width, w,
                  A + s.out.offset + t * s.out.rowStride + g * s.width, s.width, s.eps);
      break;
    }
    case StepKind::EmbedPositions: {
      // The session keeps pos + n within the context, the loader the
      // context within the table.
      const float *table = model_.dense(s.weight);
      for (int64_t t = 0; t < n; ++t)
        std::memcpy(A + s.out.offset + t * s.out.rowStride,
                    table + (pos + t) * s.width, size_t(s.width) * sizeof(float));
      break;
    }
    case StepKind::LayerNorm: {
      const float *w = model_.dense(s.weight);
      const float *b = s.bias >= 0 ? model_.dense(s.bias) : nullptr;
      for (int64_t t = r0; t < n; ++t)
        layerNorm(A + s.in.offset + t * s.in.rowStride, w, b,
                  A + s.out.offset + t * s.out.rowStride, s.width, s.eps);
      break;
    }
    case StepKind::Gelu:
      for (int64_t t = r0; t < n; ++t) {
        const float *x = A + s.in.offset + t * s.in.rowStride;
        float *y = A + s.out.offset + t * s.out.rowStride;
        for (int64_t i = 0; i < s.width; ++i)
          y[i] = gelu(x[i], s.geluTanh);
      }
      break;
    case StepKind::Softcap:
      for (int64_t t = r0; t < n; ++t) {
        const float *x = A + s.in.offset + t * s.in.rowStride;
        float *y = A + s.out.offset + t * s.out.rowStride;
        for (int64_t i = 0; i < s.width; ++i)
          y[i] = s.softcap * std::tanh(x[i] / s.softcap);
      }
      break;
    case StepKind::Matmul: {
      kernelMatmul(s.weight, A + s.in.offset + r0 * s.in.rowStride, rows,
                   s.in.rowStride, A + s.out.offset + r0 * s.out.rowStride,
                   s.out.rowStride);
      if (Error e = kernelFailure())
        return e;
      break;
    }
    case StepKind::RopeTables:
      // LongRoPE: the long set once the sequence passes longAfter tokens.
      if (s.longWeight >= 0 && pos + n > s.longAfter)
        ropeTables(s, model_.dense(s.longWeight), s.longScale, A, pos, n);
      else
        ropeTables(s, s.weight >= 0 ? model_.dense(s.weight) : nullptr, s.scale, A, pos, n);
      break;
    case StepKind::Rope:
      rope(s, A, 0, n);
      break;
    case StepKind::Attention: {
      Profile::AttentionScope timed(profile_);
      kernelAttention(int32_t(&s - p.steps.data()), n, pos);
      break;
    }
    case StepKind::MoE:
      kernelMoE(int32_t(&s - p.steps.data()), n);
      if (Error e = kernelFailure())
        return e;
      break;
    case StepKind::SwiGLU:
      for (int64_t t = r0; t < n; ++t) {
        const float *g = A + s.in.offset + t * s.in.rowStride;
        const float *u = A + s.in2.offset + t * s.in2.rowStride;
        float *y = A + s.out.offset + t * s.out.rowStride;
        for (int64_t i = 0; i < s.width; ++i)
          y[i] = (s.geglu ? gelu(g[i], s.geluTanh) : g[i] / (1.0f + std::exp(-g[i]))) * u[i];
      }
      break;
    case StepKind::Add:
      for (int64_t t = r0; t < n; ++t) {
        const float *a = A + s.in.offset + t * s.in.rowStride;
        const float *b = A + s.in2.offset + t * s.in2.rowStride;
        float *y = A + s.out.offset + t * s.out.rowStride;
        for (int64_t i = 0; i < s.width; ++i)
          y[i] = a[i] + b[i];
      }
      break;
    }
  }
  pos_ += n;
  last_.assign(A + p.logits.offset + (n - 1) * p.logits.rowStride,
               A + p.logits.offset + (n - 1) * p.logits.rowStride + c.vocab);
  return Error::success();
}

} // namespace llmc::runtime
