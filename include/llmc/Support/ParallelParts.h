//===- ParallelParts.h - Run a few independent parts on threads -*- C++ -*-===//
//
// runParts(parts, f) calls f(i) for every i in [0, parts): part 0 on the
// caller, the others on std::threads started for the call and joined before
// it returns; a thread that cannot start leaves its part to the caller. For
// one-off work of tens of milliseconds or more (loading and compiling
// weights), not the inference hot path, which has ThreadPool.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_SUPPORT_PARALLELPARTS_H
#define LLMC_SUPPORT_PARALLELPARTS_H

#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace llmc {

template <typename F> void runParts(int64_t parts, F &&f) {
  std::vector<std::thread> threads;
  for (int64_t i = 1; i < parts; ++i) {
    try {
      threads.emplace_back([&f, i] { f(i); });
    } catch (const std::system_error &) {
      f(i);
    }
  }
  if (parts > 0)
    f(int64_t(0));
  for (std::thread &t : threads)
    t.join();
}

} // namespace llmc

#endif // LLMC_SUPPORT_PARALLELPARTS_H
