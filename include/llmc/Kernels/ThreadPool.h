//===- ThreadPool.h - Low-overhead fork/join pool for kernels -*- C++ -*-===//
//
// A fixed set of workers that spin (with `pause`) on a generation counter for a
// short while after each job and then sleep on a condition variable, so back to
// back decode-step matmuls cost ~1 us to dispatch while an idle runtime burns no
// CPU. The calling thread is worker 0 and takes part in the work. Jobs must not
// be submitted concurrently from several threads.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_THREADPOOL_H
#define LLMC_KERNELS_THREADPOOL_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace llmc {

class ThreadPool {
public:
  /// numThreads = 0: one per available core. pinCores: bind thread i to core i.
  explicit ThreadPool(unsigned numThreads = 0, bool pinCores = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const { return numThreads_; }

  /// Runs fn(threadIndex, numThreads) once on every thread; returns when all
  /// are done. Called from inside one of this pool's own jobs, it runs
  /// fn(0, 1) on the calling thread (so parallel routines may call each
  /// other); such an inline job must not use barrier().
  void run(llvm::function_ref<void(unsigned, unsigned)> fn);

  /// Spin barrier for the threads of the job being run(); every thread of the
  /// pool must call it the same number of times.
  void barrier();

  /// Static split of [0, n) into size() contiguous chunks: fn(begin, end).
  void parallelFor(int64_t n, llvm::function_ref<void(int64_t, int64_t)> fn);

  /// A process-wide default pool (hardware concurrency), created on first use.
  static ThreadPool &global();

private:
  void workerLoop(unsigned idx);

  unsigned numThreads_;
  std::vector<std::thread> workers_;
  llvm::function_ref<void(unsigned, unsigned)> job_;
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<unsigned> pending_{0};
  alignas(64) std::atomic<bool> stop_{false};
  std::atomic<unsigned> sleepers_{0};
  alignas(64) std::atomic<unsigned> barrierCount_{0};
  alignas(64) std::atomic<unsigned> barrierGen_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

} // namespace llmc

#endif
