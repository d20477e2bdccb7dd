//===- Generate.cpp - Prompt -> streamed text -----------------------------===//

#include "llmc/Runtime/Generate.h"

#include <chrono>
#include <sys/resource.h>

using namespace llvm;

namespace llmc::runtime {

uint64_t peakRssBytes() {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  return uint64_t(ru.ru_maxrss) * 1024;
}

Expected<GenerateStats> generateIds(Session &session, ArrayRef<int32_t> ids,
                                    const GenerateOptions &options,
                                    function_ref<void(int32_t)> onToken) {
  if (Error e = options.sampling.validate())
    return std::move(e);
  if (options.maxNewTokens < 0)
    return createStringError(std::errc::invalid_argument,
                             "the number of new tokens must be >= 0 (got %lld)",
                             (long long)options.maxNewTokens);
  if (ids.empty())
    return createStringError(inconvertibleErrorCode(), "the prompt is empty");
  GenerateStats st;
  st.promptTokens = int64_t(ids.size());
  st.tokens.assign(ids.begin(), ids.end());
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto logits = session.prefill(ids);
  if (!logits)
    return logits.takeError();
  st.prefillMs = std::chrono::duration<double, std::milli>(clock::now() - t0).count();

  Sampler sampler(options.sampling);
  const int32_t eos = session.model().config().eos;
  auto td = clock::now();
  for (int64_t i = 0; i < options.maxNewTokens; ++i) {
    int32_t next = sampler.sample(*logits);
    if (next == eos || llvm::is_contained(options.stopTokens, next) ||
        llvm::is_contained(session.model().config().stop, next)) {
      st.stoppedByToken = true;
      break;
    }
    st.tokens.push_back(next);
    ++st.newTokens;
    onToken(next);
    if (i + 1 == options.maxNewTokens)
      break;
    if (session.position() >= session.contextLength()) {
      st.contextFull = true;
      break;
    }
    if (i == 0)
      td = clock::now(); // decode speed excludes the prefill's token
    logits = session.decode(next);
    if (!logits)
      return logits.takeError();
  }
  if (st.newTokens > 1)
    st.decodeMs =
        std::chrono::duration<double, std::milli>(clock::now() - td).count();
  return st;
}

Expected<GenerateStats> generate(Session &session, StringRef prompt,
                                 const GenerateOptions &options,
                                 function_ref<void(StringRef)> onText) {
  const Tokenizer *tok = session.model().tokenizer();
  if (!tok)
    return createStringError(inconvertibleErrorCode(),
                             "the bundle has no tokenizer; compile it with "
                             "--tokenizer=FILE, or give the prompt as token ids");
  // generateIds checks the options and the prompt before anything is echoed.
  std::vector<int32_t> ids = tok->encode(prompt, options.addBos, false);
  // What encode put before the prompt's own tokens is not echoed.
  const size_t added = options.addBos ? tok->bosPrefix().size() : 0;
  // The tokenizer's EOS, and BOS for llama2.c models, end the text.
  GenerateOptions o = options;
  o.stopTokens.push_back(tok->eosId());
  if (tok->kind() == TokenizerKind::Llama2c)
    o.stopTokens.push_back(tok->bosId());
  bool echoed = false;
  int32_t prev = ids.empty() ? tok->bosId() : ids.back(); // an empty prompt: refused
  auto echoPrompt = [&] {
    // The prompt as the tokenizer sees it, before the first new token.
    for (size_t i = added; i < ids.size(); ++i)
      onText(tok->decodePiece(i ? ids[i - 1] : tok->bosId(), ids[i]));
    echoed = true;
  };
  auto st = generateIds(session, ids, o, [&](int32_t next) {
    if (!echoed)
      echoPrompt();
    onText(tok->decodePiece(prev, next));
    prev = next;
  });
  if (st && !echoed)
    echoPrompt();
  return st;
}

} // namespace llmc::runtime
