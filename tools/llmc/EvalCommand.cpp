//===- EvalCommand.cpp - llmc eval -------------------------------------------===//
//
//   llmc eval model.llmc --text FILE [--ctx N] [--ref OTHER.llmc] [--json]
//
// Perplexity with llama.cpp's chunked protocol (as examples/export/
// perplexity_ref.py computes it in PyTorch): the text is tokenized once (no
// BOS), cut into ctx-token chunks (the tail dropped), the first token of every
// chunk is replaced by BOS, the chunk runs from an empty cache, and its second
// half is scored: tokens first .. ctx-1 (first = ctx/2), each from the logits
// of the previous position.
// With --ref the same chunks run through the reference bundle: mean
// KL(ref || model) and top-1 agreement over the scored positions.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llmc/Runtime/Model.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace llvm;

cl::SubCommand llmc::cli::evalCmd(
    "eval", "Perplexity (and KL / top-1 agreement vs --ref) on a text file");

static cl::opt<std::string> bundlePath(cl::Positional, cl::desc("<model.llmc>"),
                                       cl::Required, cl::sub(llmc::cli::evalCmd));
static cl::opt<std::string> textPath("text", cl::desc("Text to evaluate on"),
                                     cl::Required, cl::sub(llmc::cli::evalCmd));
static cl::opt<int64_t> ctxLen("ctx", cl::desc("Tokens per chunk"), cl::init(512),
                               cl::sub(llmc::cli::evalCmd));
static cl::opt<int64_t> maxChunks("chunks", cl::desc("Evaluate at most N chunks (0 = all)"),
                                  cl::init(0), cl::sub(llmc::cli::evalCmd));
static cl::opt<std::string> refPath("ref", cl::desc("Reference bundle (KL, top-1)"),
                                    cl::init(""), cl::sub(llmc::cli::evalCmd));
static cl::opt<unsigned> threads("threads", cl::desc("Threads (0 = all cores)"),
                                 cl::init(0), cl::sub(llmc::cli::evalCmd));
static cl::opt<bool> asJson("json", cl::desc("One JSON object on stdout"),
                          cl::init(false), cl::sub(llmc::cli::evalCmd));

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

int llmc::cli::runEval() {
  using namespace llmc::runtime;
  auto model = Model::load(bundlePath);
  if (!model)
    return reportError(model.takeError());
  std::unique_ptr<Model> ref;
  if (!refPath.empty()) {
    auto r = Model::load(refPath);
    if (!r)
      return reportError(r.takeError());
    ref = std::move(*r);
    if (ref->config().vocab != (*model)->config().vocab)
      return reportError(createStringError(inconvertibleErrorCode(),
                                           "--ref has a different vocabulary"));
  }
  const Tokenizer *tok = (*model)->tokenizer();
  if (!tok)
    return reportError(createStringError(inconvertibleErrorCode(),
                                         "the bundle has no tokenizer"));
  auto text = MemoryBuffer::getFile(textPath);
  if (!text)
    return reportError(createStringError(text.getError(), "cannot read '%s': %s",
                                         textPath.c_str(),
                                         text.getError().message().c_str()));
  const int64_t ctx = ctxLen;
  if (ctx < 4 || ctx > (*model)->config().maxContext ||
      (ref && ctx > ref->config().maxContext))
    return reportError(createStringError(
        inconvertibleErrorCode(), "--ctx must be in [4, %lld] (the context length)",
        (long long)(*model)->config().maxContext));
  std::vector<int32_t> ids = tok->encode((*text)->getBuffer(), false, false);
  int64_t chunks = int64_t(ids.size()) / ctx;
  if (maxChunks > 0)
    chunks = std::min<int64_t>(chunks, maxChunks);
  if (int64_t(ids.size()) < 2 * ctx)
    return reportError(createStringError(
        inconvertibleErrorCode(),
        "the text has %lld tokens; perplexity needs at least 2 * ctx = %lld",
        (long long)ids.size(), (long long)(2 * ctx)));

  SessionOptions so;
  so.threads = threads;
  auto session = Session::create(**model, so);
  if (!session)
    return reportError(session.takeError());
  std::unique_ptr<Session> refSession;
  if (ref) {
    auto rs = Session::create(*ref, so);
    if (!rs)
      return reportError(rs.takeError());
    refSession = std::move(*rs);
  }

  const int64_t V = (*model)->config().vocab, first = ctx / 2;
  double nll = 0, kl = 0;
  int64_t count = 0, agree = 0;
  std::vector<float> refLogits; // [ctx][V] of the current chunk
  std::vector<double> lp, lq;
  for (int64_t c = 0; c < chunks; ++c) {
    std::vector<int32_t> chunk(ids.begin() + c * ctx, ids.begin() + (c + 1) * ctx);
    chunk[0] = tok->bosId();
    if (refSession) {
      refSession->reset();
      refLogits.assign(size_t(ctx * V), 0.0f);
      if (Error e = refSession->forwardAll(chunk, [&](int64_t i0, ArrayRef<float> rows) {
            std::copy(rows.begin(), rows.end(), refLogits.begin() + i0 * V);
          }))
        return reportError(std::move(e));
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
      return reportError(std::move(e));
    if (!asJson)
      errs() << format("[%lld/%lld] perplexity %.4f\n", (long long)(c + 1),
                       (long long)chunks, std::exp(nll / double(count)));
  }
  double ppl = std::exp(nll / double(count));
  if (asJson) {
    json::Object o{{"perplexity", ppl},
                   {"chunks", chunks},
                   {"ctx", ctx},
                   {"scored_tokens", count}};
    if (refSession) {
      o["kl"] = kl / double(count);
      o["top1"] = double(agree) / double(count);
    }
    outs() << json::Value(std::move(o)) << "\n";
    return 0;
  }
  outs() << format("perplexity %.4f over %lld chunks of %lld tokens (%lld scored)\n",
                   ppl, (long long)chunks, (long long)ctx, (long long)count);
  if (refSession)
    outs() << format("vs %s: mean KL %.6f, top-1 agreement %.2f%%\n", refPath.c_str(),
                     kl / double(count), 100.0 * double(agree) / double(count));
  return 0;
}
