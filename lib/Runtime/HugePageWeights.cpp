//===- HugePageWeights.cpp - Packed weights read into huge pages ----------===//
#include "HugePageWeights.h"
#include "llmc/Support/ParallelParts.h"

#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <vector>
#include <unistd.h>

using namespace llvm;

namespace llmc::runtime {

bool hostHasTransparentHugePages() {
  auto buf = MemoryBuffer::getFileAsStream(
      "/sys/kernel/mm/transparent_hugepage/enabled");
  if (!buf)
    return false;
  // e.g. "always [madvise] never": the bracketed word is the mode.
  StringRef text = (*buf)->getBuffer();
  return text.contains("[always]") || text.contains("[madvise]");
}

Expected<bool> useHugePages(LoadOptions::WeightPages requested,
                            uint64_t packedBytes, bool haveFile) {
  using WeightPages = LoadOptions::WeightPages;
  if (const char *e = std::getenv("LLMC_WEIGHT_PAGES")) {
    if (StringRef(e) == "mapped")
      return false;
    if (StringRef(e) == "huge")
      return true;
    return createStringError(inconvertibleErrorCode(),
                             "LLMC_WEIGHT_PAGES='%s': expected mapped or huge", e);
  }
  if (requested != WeightPages::Auto)
    return requested == WeightPages::HugePages;
  return haveFile && packedBytes >= (uint64_t(64) << 20) &&
         hostHasTransparentHugePages();
}

Expected<WeightFile> WeightFile::open(StringRef path) {
  int fd = ::open(path.str().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return createStringError(std::error_code(errno, std::generic_category()),
                             "%s: cannot open to read the weights: %s",
                             path.str().c_str(), std::strerror(errno));
  return WeightFile(fd, path);
}

WeightFile::~WeightFile() {
  if (fd_ >= 0)
    ::close(fd_);
}

Error WeightFile::readParallel(uint64_t offset, uint8_t *dst, size_t bytes,
                                unsigned threads) const {
  constexpr size_t kMinPart = size_t(8) << 20, kAlign = size_t(2) << 20;
  const size_t parts = std::min<size_t>(threads, bytes / kMinPart);
  if (parts <= 1)
    return read(offset, dst, bytes);
  const size_t step = (bytes / parts + kAlign - 1) / kAlign * kAlign;
  std::vector<std::string> failed(parts); // error text per part, "" = read
  auto readPart = [&](size_t i) {
    const size_t b = std::min(bytes, i * step), e = std::min(bytes, b + step);
    if (b < e)
      if (Error err = read(offset + b, dst + b, e - b))
        failed[i] = toString(std::move(err));
  };
  runParts(int64_t(parts), [&](int64_t i) { readPart(size_t(i)); });
  for (const std::string &f : failed)
    if (!f.empty())
      return createStringError(inconvertibleErrorCode(), "%s", f.c_str());
  return Error::success();
}

Error WeightFile::read(uint64_t offset, uint8_t *dst, size_t bytes) const {
  while (bytes) {
    ssize_t got = ::pread(fd_, dst, bytes, off_t(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return createStringError(inconvertibleErrorCode(),
                               "%s: reading the weights at offset %llu: %s",
                               path_.c_str(), (unsigned long long)offset,
                               got < 0 ? std::strerror(errno)
                                       : "unexpected end of file");
    dst += got;
    offset += uint64_t(got);
    bytes -= size_t(got);
  }
  return Error::success();
}

} // namespace llmc::runtime
