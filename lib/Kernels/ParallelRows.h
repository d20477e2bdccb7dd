//===- ParallelRows.h - Split independent rows over a few threads -*- C++ -*-===//
//
// Compile-time weight work (rounding, packing) is independent per row of a
// matrix. parallelRows(n, f) calls f(begin, end) on contiguous parts of
// [0, n), one std::thread each, up to the host's cores (at most 8); small
// work (fewer than minRows rows per part) and a thread that cannot start run
// on the caller. Not for the inference hot path (it starts threads per call;
// that is the ThreadPool's job).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_KERNELS_PARALLELROWS_H
#define LLMC_LIB_KERNELS_PARALLELROWS_H

#include "llmc/Target/Target.h"
#include <algorithm>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace llmc {
namespace kernels {

/// Rows per part at least for weight matrices (K in the thousands): a part
/// is then a million elements or more, well over a thread's start.
constexpr int64_t kRowsPerThread = 256;

template <typename F>
void parallelRows(int64_t n, int64_t minRows, F &&f) {
  const int64_t cores = std::clamp<int64_t>(hostTarget().cores, 1, 8);
  const int64_t parts = std::clamp<int64_t>(n / std::max<int64_t>(1, minRows), 1, cores);
  if (parts <= 1) {
    f(int64_t(0), n);
    return;
  }
  std::vector<std::thread> threads;
  auto part = [&](int64_t i) { f(n * i / parts, n * (i + 1) / parts); };
  for (int64_t i = 1; i < parts; ++i) {
    try {
      threads.emplace_back(part, i);
    } catch (const std::system_error &) {
      part(i);
    }
  }
  part(0);
  for (std::thread &t : threads)
    t.join();
}

} // namespace kernels
} // namespace llmc

#endif
