//===- ThreadPool.cpp - Spin-then-sleep fork/join pool --------------------===//
#include "llmc/Kernels/ThreadPool.h"
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>

namespace llmc {

// Spin iterations (each a `pause`, ~40-140 cycles) before a worker sleeps:
// about 100 us, longer than the gap between two matmuls of a decode step.
static constexpr unsigned kSpinIters = 1u << 12;

/// Spin with `pause`, yielding the core now and then: when the machine is
/// oversubscribed the thread we wait for may need this very core.
template <class Pred> static void spinUntil(Pred done) {
  for (unsigned i = 0; !done(); ++i) {
    if ((i & 1023) == 1023)
      std::this_thread::yield();
    else
      _mm_pause();
  }
}

/// The pool whose job this thread is running, if any: a run() from inside
/// one of its own jobs (a parallel routine calling another) executes inline,
/// as one thread, instead of deadlocking on the busy workers.
static thread_local const ThreadPool *tlsRunningPool = nullptr;

namespace {
struct RunningPool {
  const ThreadPool *saved;
  explicit RunningPool(const ThreadPool *p) : saved(tlsRunningPool) {
    tlsRunningPool = p;
  }
  ~RunningPool() { tlsRunningPool = saved; }
};
} // namespace

static void pinToCore(unsigned core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core % CPU_SETSIZE, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

ThreadPool::ThreadPool(unsigned numThreads, bool pinCores) {
  if (numThreads == 0)
    numThreads = std::max(1u, std::thread::hardware_concurrency());
  numThreads_ = numThreads;
  if (pinCores)
    pinToCore(0);
  for (unsigned i = 1; i < numThreads; ++i)
    workers_.emplace_back([this, i, pinCores] {
      if (pinCores)
        pinToCore(i);
      workerLoop(i);
    });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto &t : workers_)
    t.join();
}

void ThreadPool::workerLoop(unsigned idx) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen;
    unsigned spins = 0;
    while ((gen = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinIters) {
        _mm_pause();
        continue;
      }
      std::unique_lock<std::mutex> lk(mu_);
      sleepers_.fetch_add(1);
      cv_.wait(lk, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    seen = gen;
    if (stop_.load())
      return;
    {
      RunningPool running(this);
      job_(idx, numThreads_);
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(llvm::function_ref<void(unsigned, unsigned)> fn) {
  if (numThreads_ == 1 || tlsRunningPool == this) {
    fn(0, 1);
    return;
  }
  RunningPool running(this);
  job_ = fn;
  pending_.store(numThreads_ - 1, std::memory_order_relaxed);
  {
    // Publishing under the lock pairs with the sleepers' predicate check.
    std::lock_guard<std::mutex> g(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleepers_.load())
    cv_.notify_all();
  fn(0, numThreads_);
  spinUntil([&] { return pending_.load(std::memory_order_acquire) == 0; });
}

void ThreadPool::barrier() {
  if (numThreads_ == 1)
    return;
  unsigned gen = barrierGen_.load(std::memory_order_acquire);
  if (barrierCount_.fetch_add(1, std::memory_order_acq_rel) == numThreads_ - 1) {
    barrierCount_.store(0, std::memory_order_relaxed);
    barrierGen_.fetch_add(1, std::memory_order_release);
    return;
  }
  spinUntil([&] { return barrierGen_.load(std::memory_order_acquire) != gen; });
}

void ThreadPool::parallelFor(int64_t n,
                             llvm::function_ref<void(int64_t, int64_t)> fn) {
  run([&](unsigned t, unsigned nt) {
    int64_t b = n * t / nt, e = n * (t + 1) / nt;
    if (b < e)
      fn(b, e);
  });
}

ThreadPool &ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

} // namespace llmc
