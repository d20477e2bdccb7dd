//===- Evaluate.cpp - Perplexity and divergence from a reference ----------===//
#include "llmc/Runtime/Evaluate.h"

#include <algorithm>
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
  double nll = 0, kl = 0;
  int64_t count = 0, agree = 0;
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
    if (Error e = (*session)->forwardAll(chunk, [&](int64_t i0, ArrayRef<float> rows) {
          int64_t n = int64_t(rows.size()) / V;
          for (int64_t r = 0; r < n; ++r) {
            int64_t i = i0 + r;
            if (i + 1 < first || i + 1 >= ctx)
              continue;
            ArrayRef<float> row = rows.slice(r * V, V);
            logSoftmax(row, lq);
            nll -= lq[chunk[i + 1]];
            ++count;
            if (refSession) {
              ArrayRef<float> rrow(refLogits.data() + i * V, V);
              logSoftmax(rrow, lp);
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
    if (options.progress)
      options.progress(c + 1, chunks, std::exp(nll / double(count)));
  }
  EvalResult r;
  r.perplexity = std::exp(nll / double(count));
  r.chunks = chunks;
  r.scored = count;
  if (ref) {
    r.kl = kl / double(count);
    r.top1 = double(agree) / double(count);
  }
  return r;
}

} // namespace llmc::runtime
