//===- Generation.cpp - `llmc run`'s flags and loop, shared with --emit=exe -===//
#include "Generation.h"
#include "Commands.h"

#include "llmc/Runtime/Generate.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace llmc::cli {

cl::OptionCategory &generationCategory() {
  static cl::OptionCategory category("Generation options");
  return category;
}

GenerationFlags::GenerationFlags(cl::SubCommand &sub)
    : prompt("p", cl::desc("Prompt"), cl::init(""), cl::sub(sub), cl::cat(generationCategory())),
      promptLong("prompt", cl::aliasopt(prompt)),
      promptIds("prompt-ids",
                cl::desc("The prompt as token ids (comma-separated; no tokenizer "
                         "needed, nothing added); prints the new ids"),
                cl::CommaSeparated, cl::sub(sub), cl::cat(generationCategory())),
      steps("n", cl::desc("New tokens to generate"), cl::init(128), cl::sub(sub), cl::cat(generationCategory())),
      temp("temp", cl::desc("Temperature (0 = greedy)"), cl::init(0.0f),
           cl::sub(sub), cl::cat(generationCategory())),
      topK("top-k", cl::desc("Keep the K most likely tokens (0 = all)"),
           cl::init(0), cl::sub(sub), cl::cat(generationCategory())),
      topP("top-p", cl::desc("Nucleus sampling threshold"), cl::init(1.0f),
           cl::sub(sub), cl::cat(generationCategory())),
      seed("seed", cl::desc("Sampling seed"), cl::init(0), cl::sub(sub), cl::cat(generationCategory())),
      threads("threads", cl::desc("Threads (0 = all cores)"), cl::init(0),
              cl::sub(sub), cl::cat(generationCategory())),
      noBos("no-bos", cl::desc("Do not start the prompt with BOS"),
            cl::init(false), cl::sub(sub), cl::cat(generationCategory())),
      quiet("quiet", cl::desc("No statistics on stderr"), cl::init(false),
            cl::sub(sub), cl::cat(generationCategory())) {}

int generateText(const runtime::Model &model, const GenerationFlags &f) {
  using namespace llmc::runtime;
  SessionOptions so;
  so.threads = f.threads;
  auto session = Session::create(model, so);
  if (!session)
    return reportError(session.takeError());
  GenerateOptions go;
  go.sampling.temperature = f.temp;
  go.sampling.topK = f.topK;
  go.sampling.topP = f.topP;
  go.sampling.seed = f.seed;
  go.maxNewTokens = f.steps;
  go.addBos = !f.noBos;
  bool printed = false;
  if (!f.promptIds.empty() && !f.prompt.empty())
    return reportError(createStringError(std::errc::invalid_argument,
                                         "give the prompt as text (-p) or as "
                                         "token ids (--prompt-ids), not both"));
  std::vector<int32_t> ids(f.promptIds.begin(), f.promptIds.end());
  auto stats =
      ids.empty()
          ? generate(**session, f.prompt, go,
                     [&](StringRef text) {
                       outs() << text;
                       outs().flush();
                       printed = true;
                     })
          : generateIds(**session, ids, go, [&](int32_t id) {
              outs() << (printed ? " " : "") << id;
              outs().flush();
              printed = true;
            });
  // End the text's line; a request refused before any text (bad sampling
  // options) leaves stdout empty.
  if (stats || printed) {
    outs() << "\n";
    outs().flush();
  }
  if (!stats)
    return reportError(stats.takeError());
  if (!f.quiet) {
    errs() << format("llmc: load %.1f ms; prompt %lld tokens, %.1f tok/s; "
                     "generated %lld tokens, %.1f tok/s",
                     model.loadMs(), (long long)stats->promptTokens,
                     stats->prefillTokS(), (long long)stats->newTokens,
                     stats->decodeTokS());
    if (stats->contextFull)
      errs() << " (stopped: context full)";
    errs() << "\n";
  }
  return 0;
}

} // namespace llmc::cli
