//===- Evaluate.h - Perplexity and divergence from a reference -*- C++ -*-===//
//
// llama.cpp's perplexity protocol (as examples/export/perplexity_ref.py
// computes it in PyTorch): the tokens (of a text tokenized once, without BOS)
// are cut into ctx-token chunks (the tail dropped), the first token of every
// chunk is replaced by BOS, the chunk runs from an empty cache, and its second
// half is scored: tokens ctx/2 .. ctx-1, each from the logits of the previous
// position. With a reference model the same chunks run through it too: mean
// KL(ref || model) and top-1 agreement over the scored positions.
//
// Used by `llmc eval` and by the quantization auto-tuner.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_RUNTIME_EVALUATE_H
#define LLMC_RUNTIME_EVALUATE_H

#include "llmc/Runtime/Model.h"

namespace llmc::runtime {

struct EvalOptions {
  int64_t ctx = 512;
  int64_t maxChunks = 0; ///< 0: all
  unsigned threads = 0;
  /// After every chunk: (chunks done, chunks, perplexity so far).
  std::function<void(int64_t, int64_t, double)> progress;
};

struct EvalResult {
  double perplexity = 0;
  int64_t chunks = 0, scored = 0;
  /// Mean negative log-likelihood (nats per scored token) of every chunk.
  /// Every chunk scores the same number of tokens, so their mean is
  /// log(perplexity).
  std::vector<double> chunkNll;
  /// With a reference only: the reference's per-chunk NLL and perplexity on
  /// the same chunks, mean KL(ref || model) and top-1 agreement.
  std::vector<double> refChunkNll;
  double refPerplexity = 0, kl = 0, top1 = 0;
};

/// `ref` may be null.
llvm::Expected<EvalResult> evaluatePerplexity(const Model &model,
                                              llvm::ArrayRef<int32_t> tokens,
                                              const EvalOptions &options,
                                              const Model *ref = nullptr);

/// The relative perplexity increase of a model over a reference scored on the
/// same chunks, with a one-sided upper confidence bound. The per-chunk
/// differences d_c = NLL_model(c) - NLL_ref(c) are paired (the same text),
/// so chunk difficulty cancels and what remains is how unevenly the
/// quantization error falls on different text. With their mean m and
/// standard error se = sd(d) / sqrt(n) (n chunks; the chunks taken as an
/// independent sample of such text),
///     increase = exp(m) - 1 = ppl_model / ppl_ref - 1,
///     upper    = exp(m + z se) - 1,   z = Phi^-1(confidence),
///     lower    = exp(m - z se) - 1,
/// so that the increase on more text of the same kind stays below `upper`
/// (above `lower`) with the given probability (normal approximation of the
/// mean); [lower, upper] is the two-sided interval of 2 confidence - 1.
struct PerplexityIncrease {
  double increase = 0, lower = 0, upper = 0;
  /// Of the mean per-chunk log-perplexity difference (0 for one chunk).
  double standardError = 0;
};

/// `modelNll` and `refNll`: per-chunk NLL of the same chunks (equal sizes,
/// at least one); confidence in [0.5, 1): 0.5 gives lower = upper = increase.
llvm::Expected<PerplexityIncrease>
perplexityIncrease(llvm::ArrayRef<double> modelNll,
                   llvm::ArrayRef<double> refNll, double confidence);

/// Phi^-1(p), the standard normal quantile, for p in (0, 1).
double normalQuantile(double p);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_EVALUATE_H
