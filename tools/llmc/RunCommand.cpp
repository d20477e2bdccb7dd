//===- RunCommand.cpp - llmc run ---------------------------------------------===//
//
//   llmc run model.llmc -p "Once upon a time" -n 128 [--temp T --top-k K
//            --top-p P --seed S --threads N]
//
// Streams the generated text to stdout; speeds go to stderr at the end.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llmc/Runtime/Generate.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

cl::SubCommand llmc::cli::runCmd("run", "Generate text from a .llmc bundle");

static cl::opt<std::string> bundlePath(cl::Positional, cl::desc("<model.llmc>"),
                                       cl::Required, cl::sub(llmc::cli::runCmd));
static cl::opt<std::string> prompt("p", cl::desc("Prompt"), cl::init(""),
                                   cl::sub(llmc::cli::runCmd));
static cl::alias promptLong("prompt", cl::aliasopt(prompt));
static cl::opt<int64_t> steps("n", cl::desc("New tokens to generate"),
                              cl::init(128), cl::sub(llmc::cli::runCmd));
static cl::opt<float> temp("temp", cl::desc("Temperature (0 = greedy)"),
                           cl::init(0.0f), cl::sub(llmc::cli::runCmd));
static cl::opt<int32_t> topK("top-k", cl::desc("Keep the K most likely tokens (0 = all)"),
                             cl::init(0), cl::sub(llmc::cli::runCmd));
static cl::opt<float> topP("top-p", cl::desc("Nucleus sampling threshold"),
                           cl::init(1.0f), cl::sub(llmc::cli::runCmd));
static cl::opt<uint64_t> seed("seed", cl::desc("Sampling seed"), cl::init(0),
                              cl::sub(llmc::cli::runCmd));
static cl::opt<unsigned> threads("threads", cl::desc("Threads (0 = all cores)"),
                                 cl::init(0), cl::sub(llmc::cli::runCmd));
static cl::opt<bool> noBos("no-bos", cl::desc("Do not start the prompt with BOS"),
                           cl::init(false), cl::sub(llmc::cli::runCmd));
static cl::opt<bool> quiet("quiet", cl::desc("No statistics on stderr"),
                           cl::init(false), cl::sub(llmc::cli::runCmd));

int llmc::cli::runRun() {
  using namespace llmc::runtime;
  auto model = Model::load(bundlePath);
  if (!model)
    return reportError(model.takeError());
  SessionOptions so;
  so.threads = threads;
  auto session = Session::create(**model, so);
  if (!session)
    return reportError(session.takeError());
  GenerateOptions go;
  go.sampling.temperature = temp;
  go.sampling.topK = topK;
  go.sampling.topP = topP;
  go.sampling.seed = seed;
  go.maxNewTokens = steps;
  go.addBos = !noBos;
  auto stats = generate(**session, prompt, go, [](StringRef text) {
    outs() << text;
    outs().flush();
  });
  outs() << "\n";
  outs().flush();
  if (!stats)
    return reportError(stats.takeError());
  if (!quiet) {
    errs() << format("llmc: load %.1f ms; prompt %lld tokens, %.1f tok/s; "
                     "generated %lld tokens, %.1f tok/s",
                     (*model)->loadMs(), (long long)stats->promptTokens,
                     stats->prefillTokS(), (long long)stats->newTokens,
                     stats->decodeTokS());
    if (stats->contextFull)
      errs() << " (stopped: context full)";
    errs() << "\n";
  }
  return 0;
}
