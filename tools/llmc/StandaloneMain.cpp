//===- StandaloneMain.cpp - The program inside `llmc compile --emit=exe` ----===//
//
//   ./story -p "Once upon a time" -n 128 [--temp T --top-k K --top-p P ...]
//
// Finds the bundle appended to its own executable file (Standalone.h), loads
// it like `llmc run` loads a .llmc file, and generates.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Generation.h"
#include "Standalone.h"

#include "llmc/Bundle/Bundle.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"

#include <cstring>

using namespace llvm;

int llmc::cli::reportError(Error err) {
  handleAllErrors(std::move(err), [](const ErrorInfoBase &info) {
    WithColor::error(errs(), "llmc") << info.message() << "\n";
  });
  return 1;
}

/// The bundle appended to this executable; *offset is where it starts.
static Expected<std::unique_ptr<llmc::bundle::Bundle>>
openAppended(StringRef self, uint64_t *offset) {
  using llmc::cli::StandaloneTrailer;
  uint64_t fileSize;
  if (std::error_code ec = sys::fs::file_size(self, fileSize))
    return createStringError(ec, "cannot read '%s': %s", self.str().c_str(),
                             ec.message().c_str());
  auto bad = [&] {
    return createStringError(inconvertibleErrorCode(),
                             "'%s' carries no llmc bundle (not written by "
                             "llmc compile --emit=exe, or truncated)",
                             self.str().c_str());
  };
  if (fileSize < sizeof(StandaloneTrailer))
    return bad();
  auto tail = MemoryBuffer::getFileSlice(self, sizeof(StandaloneTrailer),
                                         fileSize - sizeof(StandaloneTrailer));
  if (!tail)
    return createStringError(tail.getError(), "cannot read '%s'", self.str().c_str());
  StandaloneTrailer t;
  std::memcpy(&t, (*tail)->getBufferStart(), sizeof t);
  if (std::memcmp(t.magic, llmc::cli::kStandaloneMagic, sizeof t.magic) != 0 ||
      t.bundleOffset > fileSize || t.bundleSize > fileSize - t.bundleOffset ||
      t.bundleOffset + t.bundleSize + sizeof t != fileSize)
    return bad();
  *offset = t.bundleOffset;
  auto buf = MemoryBuffer::getFileSlice(self, t.bundleSize, t.bundleOffset);
  if (!buf)
    return createStringError(buf.getError(), "cannot map the bundle in '%s'",
                             self.str().c_str());
  return llmc::bundle::Bundle::openBuffer(std::move(*buf));
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // The generation flags live at the top level here, where libLLVM has
  // registered options of its own: drop those whose names they take, then
  // show only ours in --help.
  for (const char *name : {"p", "prompt", "n", "temp", "top-k", "top-p", "seed",
                           "threads", "no-bos", "quiet"}) {
    auto &registered = cl::getRegisteredOptions();
    if (auto it = registered.find(name); it != registered.end())
      it->second->removeArgument();
  }
  static llmc::cli::GenerationFlags flags(cl::SubCommand::getTopLevel());
  cl::HideUnrelatedOptions(llmc::cli::generationCategory());
  cl::ParseCommandLineOptions(argc, argv,
                              "A language model compiled by llmc, with its runtime\n");
  std::string self = sys::fs::getMainExecutable(argv[0], (void *)&main);
  uint64_t offset = 0;
  auto bundle = openAppended(self, &offset);
  if (!bundle)
    return llmc::cli::reportError(bundle.takeError());
  // The weights can be read from this file into huge pages (LoadOptions).
  llmc::runtime::LoadOptions options;
  options.bundleFile = self;
  options.bundleFileOffset = offset;
  auto model = llmc::runtime::Model::fromBundle(std::move(*bundle), self, options);
  if (!model)
    return llmc::cli::reportError(model.takeError());
  return llmc::cli::generateText(**model, flags);
}
