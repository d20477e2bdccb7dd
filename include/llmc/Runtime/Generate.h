//===- Generate.h - Prompt -> streamed text ---------------------*- C++ -*-===//
#ifndef LLMC_RUNTIME_GENERATE_H
#define LLMC_RUNTIME_GENERATE_H

#include "llmc/Runtime/Model.h"
#include "llmc/Runtime/Sampler.h"

#include "llvm/ADT/STLFunctionalExtras.h"

namespace llmc::runtime {

struct GenerateOptions {
  SamplingParams sampling;
  /// New tokens at most (generation also stops at a stop token or the end of
  /// the context).
  int64_t maxNewTokens = 128;
  bool addBos = true;
  /// Extra stop tokens (EOS always stops; so does BOS for llama2.c models).
  std::vector<int32_t> stopTokens;
};

struct GenerateStats {
  int64_t promptTokens = 0, newTokens = 0;
  double prefillMs = 0, decodeMs = 0;
  bool stoppedByToken = false, contextFull = false;
  std::vector<int32_t> tokens; ///< prompt + generated ids
  double prefillTokS() const { return prefillMs > 0 ? promptTokens * 1e3 / prefillMs : 0; }
  /// Decode speed over the tokens after the first (the first comes with prefill).
  double decodeTokS() const {
    return decodeMs > 0 && newTokens > 1 ? (newTokens - 1) * 1e3 / decodeMs : 0;
  }
};

/// Tokenize `prompt`, prefill, then sample and decode; `onText` receives the
/// text of every new token as soon as it is sampled. The session continues
/// from its current position.
llvm::Expected<GenerateStats>
generate(Session &session, llvm::StringRef prompt, const GenerateOptions &options,
         llvm::function_ref<void(llvm::StringRef)> onText);

/// The same loop on token ids, for bundles without a tokenizer (or callers
/// that tokenize themselves): prefill `ids` as given (`addBos` is not
/// applied), then sample and decode; `onToken` receives every new id. Stops
/// at the model's EOS, `stopTokens`, `maxNewTokens` or the context's end.
llvm::Expected<GenerateStats>
generateIds(Session &session, llvm::ArrayRef<int32_t> ids, const GenerateOptions &options,
            llvm::function_ref<void(int32_t)> onToken);

/// Peak resident set size of this process in bytes.
uint64_t peakRssBytes();

} // namespace llmc::runtime

#endif
