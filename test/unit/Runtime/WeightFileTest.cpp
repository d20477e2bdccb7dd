//===- WeightFileTest.cpp - Reading packed weights, in parts or at once ---===//
#include "HugePageWeights.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"
#include <gtest/gtest.h>
#include <vector>

using namespace llmc::runtime;

namespace {

// A file of `bytes` whose byte i is a hash of i (no two 8 MiB parts alike).
std::string patternFile(size_t bytes) {
  llvm::SmallString<128> path;
  int fd;
  EXPECT_FALSE(llvm::sys::fs::createTemporaryFile("llmc-weights", "bin", fd, path));
  llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
  for (size_t i = 0; i < bytes; ++i)
    os << char((i * 2654435761u) >> 13);
  return std::string(path);
}

} // namespace

// Several parts (21 MiB from an odd offset, up to 4 threads), one part (a
// small read), and a read past the end: the bytes are the file's, and the
// error names the file.
TEST(WeightFile, ParallelReadEqualsTheFile) {
  const size_t size = (size_t(24) << 20) + 12345;
  std::string path = patternFile(size);
  auto f = WeightFile::open(path);
  ASSERT_TRUE(bool(f)) << llvm::toString(f.takeError());
  for (unsigned threads : {1u, 2u, 3u, 4u})
    for (size_t bytes : {size_t(21) << 20, size_t(100000)}) {
      const uint64_t offset = 777;
      std::vector<uint8_t> got(bytes, 0);
      llvm::Error e = f->readParallel(offset, got.data(), bytes, threads);
      ASSERT_FALSE(bool(e)) << llvm::toString(std::move(e));
      for (size_t i = 0; i < bytes; ++i)
        ASSERT_EQ(got[i], uint8_t(((offset + i) * 2654435761u) >> 13))
            << "threads " << threads << " byte " << i;
    }
  std::vector<uint8_t> past(size_t(20) << 20);
  llvm::Error e = f->readParallel(size - (size_t(10) << 20), past.data(), past.size(), 3);
  ASSERT_TRUE(bool(e));
  EXPECT_NE(llvm::toString(std::move(e)).find(path), std::string::npos);
  llvm::sys::fs::remove(path);
}
