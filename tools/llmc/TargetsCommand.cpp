//===- TargetsCommand.cpp - llmc targets ------------------------------------===//

#include "Commands.h"

#include "llmc/Target/Target.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

cl::SubCommand llmc::cli::targetsCmd(
    "targets", "List the named targets and describe the host");
static cl::opt<bool> targetsJson("json", cl::desc("Print JSON"),
                                 cl::sub(llmc::cli::targetsCmd));

static json::Object targetJson(const llmc::TargetDesc &t) {
  json::Array features;
  for (const std::string &f : t.features)
    features.push_back(f);
  return json::Object{{"cpu", t.cpu},
                      {"isa_tier", llmc::isaTierName(t.maxTier())},
                      {"features", std::move(features)},
                      {"vector_bits", t.vectorBits},
                      {"l1d", t.caches.l1d},
                      {"l2", t.caches.l2},
                      {"l3", t.caches.l3},
                      {"cores", t.cores}};
}

int llmc::cli::runTargets() {
  auto host = llmc::detectHost();
  if (!host)
    return reportError(host.takeError());

  std::vector<std::pair<std::string, llmc::TargetDesc>> all;
  all.push_back({"native", *host});
  for (StringRef name : llmc::namedTargetNames()) {
    auto t = llmc::lookupNamedTarget(name);
    if (!t)
      return reportError(t.takeError());
    all.push_back({name.str(), *t});
  }

  if (targetsJson) {
    json::Object out;
    for (auto &[name, t] : all)
      out[name] = targetJson(t);
    outs() << formatv("{0:2}", json::Value(std::move(out))) << "\n";
    return 0;
  }
  outs() << "Targets (--target=NAME):\n";
  for (auto &[name, t] : all)
    outs() << formatv("  {0,-16} {1,-12} {2}-bit vectors{3}\n", name,
                      llmc::isaTierName(t.maxTier()), t.vectorBits,
                      name == "native" ? ("  (" + t.cpu + ")") : std::string());
  outs() << "ISA caps (LLMC_MAX_ISA=...): ";
  for (StringRef cap : llmc::isaCapNames())
    outs() << cap << " ";
  outs() << "\n";
  return 0;
}
