//===- HugePageWeights.h - Packed weights read into huge pages ---*- C++ -*-===//
//
// Decode streams every packed weight once per token. From the bundle's file
// mapping the weights sit in 4 KiB pages: one TLB miss and page walk every
// 4 KiB of the stream, and the hardware prefetchers stop at every page
// boundary. Read once at load into anonymous memory backed by 2 MiB
// transparent huge pages, the same bytes stream about a third faster on the
// development machine (TinyLlama int4 decode 58-60 -> 78-95 tok/s, 2 threads).
// The cost is the read at load (page-in done eagerly) and the page cache's
// second, reclaimable copy of the bytes outside the process.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_RUNTIME_HUGEPAGEWEIGHTS_H
#define LLMC_LIB_RUNTIME_HUGEPAGEWEIGHTS_H

#include "llmc/Runtime/Model.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstddef>
#include <cstdint>
#include <string>

namespace llmc::runtime {

/// Whether anonymous memory can get transparent huge pages on this host
/// (/sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise").
bool hostHasTransparentHugePages();

/// Whether to read the packed weights into huge pages: `requested`, unless
/// LLMC_WEIGHT_PAGES=mapped|huge overrides it (anything else is an error);
/// Auto means yes for >= 64 MiB of packed weights with a file to read them
/// from on a host with transparent huge pages.
llvm::Expected<bool> useHugePages(LoadOptions::WeightPages requested,
                                  uint64_t packedBytes, bool haveFile);

/// An open read-only file the packed weights are read from.
class WeightFile {
public:
  static llvm::Expected<WeightFile> open(llvm::StringRef path);
  WeightFile(WeightFile &&o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) {
    o.fd_ = -1;
  }
  WeightFile(const WeightFile &) = delete;
  ~WeightFile();
  /// Reads [offset, offset + bytes) of the file into dst.
  llvm::Error read(uint64_t offset, uint8_t *dst, size_t bytes) const;
  /// read(), cut into up to `threads` parts of at least 8 MiB (2 MiB
  /// aligned) read at once, one thread each. Reading into fresh huge pages
  /// is per-core work (the kernel zeroes each page as it is first written,
  /// then copies from the page cache), so a load of warm pages scales with
  /// the cores. A thread that cannot start leaves its part to the caller.
  llvm::Error readParallel(uint64_t offset, uint8_t *dst, size_t bytes,
                           unsigned threads) const;

private:
  WeightFile(int fd, llvm::StringRef path) : fd_(fd), path_(path.str()) {}
  int fd_ = -1;
  std::string path_;
};

} // namespace llmc::runtime

#endif
