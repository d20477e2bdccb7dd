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

#include "llmc/Runtime/Evaluate.h"

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
  std::vector<int32_t> ids = tok->encode((*text)->getBuffer(), false, false);
  EvalOptions eo;
  eo.ctx = ctxLen;
  eo.maxChunks = maxChunks;
  eo.threads = threads;
  if (!asJson)
    eo.progress = [](int64_t done, int64_t all, double ppl) {
      errs() << format("[%lld/%lld] perplexity %.4f\n", (long long)done,
                       (long long)all, ppl);
    };
  auto r = evaluatePerplexity(**model, ids, eo, ref.get());
  if (!r)
    return reportError(r.takeError());
  // With --ref: the relative increase over the reference and its two-sided
  // 95% interval (the one-sided bounds at 97.5%) from the paired per-chunk
  // log differences (Evaluate.h).
  Expected<PerplexityIncrease> increase = PerplexityIncrease();
  if (ref) {
    increase = perplexityIncrease(r->chunkNll, r->refChunkNll, 0.975);
    if (!increase)
      return reportError(increase.takeError());
  }
  if (asJson) {
    json::Object o{{"perplexity", r->perplexity},
                   {"chunks", r->chunks},
                   {"ctx", int64_t(ctxLen)},
                   {"scored_tokens", r->scored}};
    if (ref) {
      o["kl"] = r->kl;
      o["top1"] = r->top1;
      o["ref_perplexity"] = r->refPerplexity;
      o["increase"] = increase->increase;
      o["increase_standard_error"] = increase->standardError;
      o["increase_interval_95"] = json::Array{increase->lower, increase->upper};
    }
    outs() << json::Value(std::move(o)) << "\n";
    return 0;
  }
  outs() << format("perplexity %.4f over %lld chunks of %lld tokens (%lld scored)\n",
                   r->perplexity, (long long)r->chunks, (long long)ctxLen.getValue(),
                   (long long)r->scored);
  if (ref) {
    outs() << format("vs %s: mean KL %.6f, top-1 agreement %.2f%%\n", refPath.c_str(),
                     r->kl, 100.0 * r->top1);
    outs() << format("perplexity vs reference %.4f: %+.2f%% (95%% interval "
                     "%+.2f%% .. %+.2f%%)\n",
                     r->refPerplexity, 100 * increase->increase, 100 * increase->lower,
                     100 * increase->upper);
  }
  return 0;
}
