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
  /// With a reference only.
  double kl = 0, top1 = 0;
};

/// `ref` may be null.
llvm::Expected<EvalResult> evaluatePerplexity(const Model &model,
                                              llvm::ArrayRef<int32_t> tokens,
                                              const EvalOptions &options,
                                              const Model *ref = nullptr);

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_EVALUATE_H
