//===- ProgramJSONFuzzer.cpp - libFuzzer target for a bundle's JSON --------===//
//
// A bundle's manifest and program plan are JSON that the runtime parses on
// every load (after the container's checksums, so the bundle fuzzer cannot
// reach them). LLMC_FUZZ_DOC picks the document: Manifest or Plan. Any text
// must parse or be an error; what parses must survive its own toJSON()
// round trip (serialize, parse again), and ProgramPlan::verify() must judge
// it (error or not) without faulting.
//
//===----------------------------------------------------------------------===//

#include "llmc/CodeGen/Manifest.h"
#include "llmc/CodeGen/Plan.h"

#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

using namespace llmc::codegen;

namespace {
enum class Doc { Manifest, Plan };
constexpr Doc kDoc = Doc::LLMC_FUZZ_DOC;

std::string text(const llvm::json::Value &v) {
  std::string s;
  llvm::raw_string_ostream(s) << v;
  return s;
}

[[noreturn]] void roundTripFailed(llvm::Error e) {
  llvm::errs() << "a parsed document did not parse again after toJSON(): "
               << llvm::toString(std::move(e)) << "\n";
  std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef input(reinterpret_cast<const char *>(data), size);
  if constexpr (kDoc == Doc::Manifest) {
    auto m = Manifest::parse(input);
    if (!m) {
      llvm::consumeError(m.takeError());
      return 0;
    }
    auto again = Manifest::parse(text(m->toJSON()));
    if (!again)
      roundTripFailed(again.takeError());
    return 0;
  }
  auto json = llvm::json::parse(input);
  if (!json) {
    llvm::consumeError(json.takeError());
    return 0;
  }
  auto plan = ProgramPlan::fromJSON(*json);
  if (!plan) {
    llvm::consumeError(plan.takeError());
    return 0;
  }
  auto again = ProgramPlan::fromJSON(plan->toJSON());
  if (!again)
    roundTripFailed(again.takeError());
  // The loader's bounds check must judge any parsed plan without faulting.
  llvm::consumeError(plan->verify());
  return 0;
}
