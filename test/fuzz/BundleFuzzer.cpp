//===- BundleFuzzer.cpp - libFuzzer target for the .llmc reader ------------===//
//
// Any byte string must either open as a bundle whose sections all lie inside
// the buffer, or produce an error; never a crash, hang or out-of-bounds read
// (built with AddressSanitizer).
//
//===----------------------------------------------------------------------===//

#include "llmc/Bundle/Bundle.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.llmc");
  auto bundle = llmc::bundle::Bundle::openBuffer(std::move(buffer),
                                                 llmc::bundle::Verify::All);
  if (!bundle) {
    llvm::consumeError(bundle.takeError());
    return 0;
  }
  // Touch every section's bytes: ASan catches any view outside the buffer.
  unsigned sum = 0;
  for (const auto &s : (*bundle)->sections()) {
    auto bytes = (*bundle)->section(s.name);
    if (!bytes) {
      llvm::consumeError(bytes.takeError());
      continue;
    }
    for (uint8_t b : *bytes)
      sum += b;
  }
  return sum == 0xFFFFFFFF; // keep the loop
}
