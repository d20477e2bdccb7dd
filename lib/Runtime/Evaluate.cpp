//===- Evaluate.cpp - Perplexity and divergence from a reference ----------===//
#include "llmc/Runtime/Evaluate.h"

#include <algorithm>
#include <cassert>
#include <cmath>

using namespace llvm;

namespace llmc::runtime {

namespace {
/// log-softmax of one row, in double.
void logSoftmax(ArrayRef<float> row, std::vector<double> &out) {
  double mx = -INFINITY;
  for (float v : row)
    mx = std::max(mx, double(v));
  double sum = 0;
  for (float v : row)
    sum += std::exp(double(v) - mx);
  double lse = mx + std::log(sum);
  out.resize(row.size());
  for (size_t i = 0; i < row.size(); ++i)
    out[i] = double(row[i]) - lse;
}
} // namespace

Expected<EvalResult> evaluatePerplexity(const Model &model, ArrayRef<int32_t> ids,
                                        const EvalOptions &options,
                                        const Model *ref) {
  const int64_t ctx = options.ctx;
  if (ctx < 4 || ctx > model.config().maxContext ||
      (ref && ctx > ref->config().maxContext))
    return createStringError(inconvertibleErrorCode(),
                             "--ctx must be in [4, %lld] (the context length)",
                             (long long)model.config().maxContext);
  if (ref && ref->config().vocab != model.config().vocab)
    return createStringError(inconvertibleErrorCode(),
                             "the reference has a different vocabulary");
  if (int64_t(ids.size()) < 2 * ctx)
    return createStringError(
        inconvertibleErrorCode(),
        "the text has %lld tokens; perplexity needs at least 2 * ctx = %lld",
        (long long)ids.size(), (long long)(2 * ctx));
  int64_t chunks = int64_t(ids.size()) / ctx;
  if (options.maxChunks > 0)
    chunks = std::min<int64_t>(chunks, options.maxChunks);

  SessionOptions so;
  so.threads = options.threads;
  auto session = Session::create(model, so);
  if (!session)
    return session.takeError();
  std::unique_ptr<Session> refSession;
  if (ref) {
    auto rs = Session::create(*ref, so);
    if (!rs)
      return rs.takeError();
    refSession = std::move(*rs);
  }

  const int32_t bos = model.config().bos;
  const int64_t V = model.config().vocab, first = ctx / 2;
  double nll = 0, refNll = 0, kl = 0;
  int64_t count = 0, agree = 0;
  EvalResult r;
  std::vector<float> refLogits; // [ctx][V] of the current chunk
  std::vector<double> lp, lq;
  for (int64_t c = 0; c < chunks; ++c) {
    std::vector<int32_t> chunk(ids.begin() + c * ctx, ids.begin() + (c + 1) * ctx);
    chunk[0] = bos;
    if (refSession) {
      refSession->reset();
      refLogits.assign(size_t(ctx * V), 0.0f);
      if (Error e = refSession->forwardAll(chunk, [&](int64_t i0, ArrayRef<float> rows) {
            std::copy(rows.begin(), rows.end(), refLogits.begin() + i0 * V);
          }))
        return std::move(e);
    }
    (*session)->reset();
    double chunkNll = 0, refChunkNll = 0;
    int64_t chunkCount = 0;
    if (Error e = (*session)->forwardAll(chunk, [&](int64_t i0, ArrayRef<float> rows) {
          int64_t n = int64_t(rows.size()) / V;
          for (int64_t r = 0; r < n; ++r) {
            int64_t i = i0 + r;
            if (i + 1 < first || i + 1 >= ctx)
              continue;
            ArrayRef<float> row = rows.slice(r * V, V);
            logSoftmax(row, lq);
            chunkNll -= lq[chunk[i + 1]];
            ++chunkCount;
            if (refSession) {
              ArrayRef<float> rrow(refLogits.data() + i * V, V);
              logSoftmax(rrow, lp);
              refChunkNll -= lp[chunk[i + 1]];
              double k = 0;
              for (int64_t v = 0; v < V; ++v)
                k += std::exp(lp[v]) * (lp[v] - lq[v]);
              kl += k;
              size_t am = std::max_element(row.begin(), row.end()) - row.begin();
              size_t bm = std::max_element(rrow.begin(), rrow.end()) - rrow.begin();
              agree += am == bm;
            }
          }
        }))
      return std::move(e);
    nll += chunkNll;
    refNll += refChunkNll;
    count += chunkCount;
    r.chunkNll.push_back(chunkNll / double(chunkCount));
    if (refSession)
      r.refChunkNll.push_back(refChunkNll / double(chunkCount));
    if (options.progress)
      options.progress(c + 1, chunks, std::exp(nll / double(count)));
  }
  r.perplexity = std::exp(nll / double(count));
  r.chunks = chunks;
  r.scored = count;
  if (ref) {
    r.refPerplexity = std::exp(refNll / double(count));
    r.kl = kl / double(count);
    r.top1 = double(agree) / double(count);
  }
  return r;
}

double normalQuantile(double p) {
  assert(p > 0 && p < 1 && "a probability strictly between 0 and 1");
  // Phi(x) = erfc(-x / sqrt 2) / 2 is increasing; bisect on [-40, 40] to
  // the resolution of a double (Phi saturates well inside that range).
  double lo = -40, hi = 40;
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

Expected<PerplexityIncrease> perplexityIncrease(ArrayRef<double> modelNll,
                                                ArrayRef<double> refNll,
                                                double confidence) {
  if (modelNll.empty() || modelNll.size() != refNll.size())
    return createStringError(inconvertibleErrorCode(),
                             "a perplexity increase needs the same chunks "
                             "scored by both models (%zu and %zu)",
                             modelNll.size(), refNll.size());
  if (!(confidence >= 0.5 && confidence < 1))
    return createStringError(inconvertibleErrorCode(),
                             "confidence must be in [0.5, 1) (got %g)", confidence);
  const size_t n = modelNll.size();
  double mean = 0;
  for (size_t c = 0; c < n; ++c)
    mean += modelNll[c] - refNll[c];
  mean /= double(n);
  double ss = 0;
  for (size_t c = 0; c < n; ++c) {
    double d = modelNll[c] - refNll[c] - mean;
    ss += d * d;
  }
  PerplexityIncrease r;
  r.standardError = n > 1 ? std::sqrt(ss / double(n - 1) / double(n)) : 0.0;
  const double z = confidence == 0.5 ? 0.0 : normalQuantile(confidence);
  r.increase = std::expm1(mean);
  r.lower = std::expm1(mean - z * r.standardError);
  r.upper = std::expm1(mean + z * r.standardError);
  return r;
}

} // namespace llmc::runtime
