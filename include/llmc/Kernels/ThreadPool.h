//===- ThreadPool.h - Low-overhead fork/join pool for kernels -*- C++ -*-===//
//
// A fixed set of workers that spin (with `pause`) on a job ticket for a short
// while after each job and then sleep on a condition variable, so back to back
// decode-step matmuls cost ~1 us to dispatch while an idle runtime burns no
// CPU. The calling thread is worker 0 and takes part in the work. Jobs must not
// be submitted concurrently from several threads.
//
// Two kinds of job. run() is fork/join over every thread: each takes its
// static part, and the call returns when all have run, so one worker that the
// OS has descheduled (another process on its core) holds the caller up for a
// whole time slice. runShared() is for work claimed from shared counters: the
// caller and the workers that pick the job up in time take part, the others
// skip it, and the call waits only for those that joined.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_THREADPOOL_H
#define LLMC_KERNELS_THREADPOOL_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <immintrin.h>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace llmc {

/// Spins with `pause` until done() holds, yielding the core now and then:
/// when the machine is oversubscribed the thread we wait for may need this
/// very core.
template <class Pred> void spinUntil(Pred done) {
  for (unsigned i = 0; !done(); ++i) {
    if ((i & 1023) == 1023)
      std::this_thread::yield();
    else
      _mm_pause();
  }
}

class ThreadPool {
public:
  /// numThreads = 0: one per available core. pinCores: bind thread i to core i.
  /// If the system refuses a thread (limits, memory), the pool keeps the
  /// threads it started and startError() says why; callers that must have
  /// every thread check it.
  explicit ThreadPool(unsigned numThreads = 0, bool pinCores = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const { return numThreads_; }
  /// Empty, or why fewer threads than asked for were started.
  const std::string &startError() const { return startError_; }

  /// Runs fn(threadIndex, numThreads) once on every thread; returns when all
  /// are done. Called from inside one of this pool's own jobs, it runs
  /// fn(0, 1) on the calling thread (so parallel routines may call each
  /// other).
  void run(llvm::function_ref<void(unsigned, unsigned)> fn);

  /// Runs fn(slot, size()) on the calling thread (slot 0) and on each worker
  /// (slot = its index) that picks the job up before the caller's call has
  /// returned; returns when the caller's call and every call that started
  /// have returned. A worker may therefore never run the job: fn must claim
  /// its work from shared counters (the slot may name a preferred part), and
  /// the caller's call must not return while unclaimed work is left. From
  /// inside one of this pool's own jobs it runs fn(0, 1) inline, as run()
  /// does.
  void runShared(llvm::function_ref<void(unsigned, unsigned)> fn);

  /// Static split of [0, n) into size() contiguous chunks: fn(begin, end).
  void parallelFor(int64_t n, llvm::function_ref<void(int64_t, int64_t)> fn);

  /// [0, n) in chunks of `grain` claimed through runShared(), for uneven or
  /// latency-critical loops: a preempted thread delays the call by at most
  /// the chunk it holds. grain = 0: n / (4 size()), at least 1.
  void parallelForShared(int64_t n, llvm::function_ref<void(int64_t, int64_t)> fn,
                         int64_t grain = 0);

  /// A process-wide default pool (hardware concurrency), created on first use.
  static ThreadPool &global();

private:
  void workerLoop(unsigned idx);
  /// run() (shared = false) and runShared() (true).
  void dispatch(llvm::function_ref<void(unsigned, unsigned)> fn, bool shared);
  static bool tryJoin(std::atomic<uint64_t> &ticket, uint64_t seenGen);

  unsigned numThreads_;
  std::string startError_;
  std::vector<std::thread> workers_;
  llvm::function_ref<void(unsigned, unsigned)> job_;
  /// The job ticket: generation (bits 32-63, bumped per job), kShared (a
  /// runShared job), kClosed (the caller of a shared job no longer admits
  /// workers), and the number of workers inside a shared job (bits 0-29).
  /// One word, so a worker reads the kind with the generation and joins with
  /// one compare-and-swap that fails once the job is closed or replaced.
  alignas(64) std::atomic<uint64_t> ticket_{0};
  alignas(64) std::atomic<unsigned> pending_{0};
  alignas(64) std::atomic<bool> stop_{false};
  std::atomic<unsigned> sleepers_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

} // namespace llmc

#endif
