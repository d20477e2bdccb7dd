//===- MakeBundleSeed.cpp - A small .llmc for the bundle fuzzer ------------===//
//
// The bundle fuzzer needs a valid container to mutate (from nothing it never
// gets past the magic), and *.llmc files are not checked in: the build writes
// a small one with the real writer. Its sections are what a compiled bundle
// holds, in miniature: a manifest, a weights section verified on demand with
// aligned parts, a tokenizer.
//
//   llmc-make-bundle-seed OUT.llmc
//
//===----------------------------------------------------------------------===//

#include "llmc/Bundle/Bundle.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <vector>

using namespace llmc::bundle;

static llvm::Error writeSeed(llvm::StringRef path) {
  auto w = BundleWriter::create(path);
  if (!w)
    return w.takeError();
  if (llvm::Error e = (*w)->addSection(
          kManifestSection,
          llvm::StringRef(R"({"format_version":1,"model":"seed","slots":[]})")))
    return e;
  if (llvm::Error e = (*w)->beginSection(kWeightsSection, kDefaultAlignment,
                                         kSectionVerifyOnDemand))
    return e;
  for (int part = 0; part < 3; ++part) {
    std::vector<uint8_t> bytes(100 + part, uint8_t(part + 1));
    if (auto at = (*w)->append(bytes); !at)
      return at.takeError();
    if (llvm::Error e = (*w)->alignSection(64))
      return e;
  }
  if (llvm::Error e = (*w)->endSection())
    return e;
  if (llvm::Error e = (*w)->addSection(kTokenizerSection, llvm::StringRef("tok")))
    return e;
  return (*w)->finish();
}

int main(int argc, char **argv) {
  if (argc != 2) {
    llvm::errs() << "usage: " << argv[0] << " OUT.llmc\n";
    return 2;
  }
  if (llvm::Error e = writeSeed(argv[1])) {
    llvm::errs() << argv[0] << ": " << llvm::toString(std::move(e)) << "\n";
    return 1;
  }
  return 0;
}
