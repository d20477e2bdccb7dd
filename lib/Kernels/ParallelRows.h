//===- ParallelRows.h - Split independent rows over a few threads -*- C++ -*-===//
//
// Compile-time weight work (rounding, packing) is independent per row of a
// matrix. parallelRows(n, f) calls f(begin, end) on contiguous parts of
// [0, n), one thread each (runParts), up to the host's cores (at most 8);
// small work (fewer than minRows rows per part) runs on the caller.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_KERNELS_PARALLELROWS_H
#define LLMC_LIB_KERNELS_PARALLELROWS_H

#include "llmc/Support/ParallelParts.h"
#include "llmc/Target/Target.h"
#include <algorithm>
#include <cstdint>

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
  runParts(parts, [&](int64_t i) { f(n * i / parts, n * (i + 1) / parts); });
}

} // namespace kernels
} // namespace llmc

#endif
