//===- ThreadPool.cpp - Spin-then-sleep fork/join pool --------------------===//
//
// Protocol of a shared job (runShared): the caller stores a new ticket
// {generation + 1, kShared, 0 joined} and runs its own call. A worker that
// sees the new generation joins by incrementing the joined count with a CAS
// that requires the same generation and no kClosed; it runs the job and
// decrements the count. When the caller's call returns (all work claimed), it
// sets kClosed and waits for the count to reach zero. A worker that was not
// running meanwhile finds the job closed (or replaced) and skips it, so the
// caller never waits for a thread that the OS has not scheduled.
//
#include "llmc/Kernels/ThreadPool.h"

#include <algorithm>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <string>
#include <system_error>

namespace llmc {

// Spin iterations (each a `pause`, ~40-140 cycles) before a worker sleeps:
// about 100 us, longer than the gap between two matmuls of a decode step.
static constexpr unsigned kSpinIters = 1u << 12;

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
  if (pinCores)
    pinToCore(0);
  for (unsigned i = 1; i < numThreads; ++i) {
    try {
      workers_.emplace_back([this, i, pinCores] {
        if (pinCores)
          pinToCore(i);
        workerLoop(i);
      });
    } catch (const std::system_error &e) {
      startError_ = "cannot start thread " + std::to_string(i + 1) + " of " +
                    std::to_string(numThreads) + ": " + e.what();
      break;
    }
  }
  // Workers read the size only inside a job, which the ticket publishes
  // after this store.
  numThreads_ = unsigned(workers_.size()) + 1;
}

// The ticket's fields (see ThreadPool.h).
static constexpr uint64_t kShared = uint64_t(1) << 31;
static constexpr uint64_t kClosed = uint64_t(1) << 30;
static constexpr uint64_t kJoinedMask = kClosed - 1;
static constexpr uint64_t kGenUnit = uint64_t(1) << 32;
static uint64_t generationOf(uint64_t ticket) { return ticket >> 32; }

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_.store(true);
    ticket_.store((generationOf(ticket_.load()) + 1) * kGenUnit);
  }
  cv_.notify_all();
  for (auto &t : workers_)
    t.join();
}

bool ThreadPool::tryJoin(std::atomic<uint64_t> &ticket, uint64_t seenGen) {
  uint64_t t = ticket.load(std::memory_order_acquire);
  do {
    if (generationOf(t) != seenGen || (t & kClosed))
      return false;
  } while (!ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel,
                                         std::memory_order_acquire));
  return true;
}

void ThreadPool::workerLoop(unsigned idx) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t t;
    unsigned spins = 0;
    while (generationOf(t = ticket_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinIters) {
        _mm_pause();
        continue;
      }
      std::unique_lock<std::mutex> lk(mu_);
      sleepers_.fetch_add(1);
      cv_.wait(lk, [&] { return generationOf(ticket_.load()) != seen; });
      sleepers_.fetch_sub(1);
    }
    seen = generationOf(t);
    if (stop_.load())
      return;
    const bool shared = t & kShared;
    // A shared job that is already closed or replaced: skip it.
    if (shared && !tryJoin(ticket_, seen))
      continue;
    {
      RunningPool running(this);
      job_(idx, numThreads_);
    }
    if (shared)
      ticket_.fetch_sub(1, std::memory_order_acq_rel);
    else
      pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::dispatch(llvm::function_ref<void(unsigned, unsigned)> fn,
                          bool shared) {
  if (numThreads_ == 1 || tlsRunningPool == this) {
    fn(0, 1);
    return;
  }
  RunningPool running(this);
  job_ = fn;
  if (!shared)
    pending_.store(numThreads_ - 1, std::memory_order_relaxed);
  {
    // Publishing under the lock pairs with the sleepers' predicate check.
    // The previous job is over (run: every worker finished; runShared: the
    // job was closed and its joined workers left), so the ticket holds no
    // joined workers and can be replaced whole.
    std::lock_guard<std::mutex> g(mu_);
    uint64_t next = (generationOf(ticket_.load(std::memory_order_relaxed)) + 1) *
                    kGenUnit;
    ticket_.store(next | (shared ? kShared : 0), std::memory_order_release);
  }
  if (sleepers_.load())
    cv_.notify_all();
  fn(0, numThreads_);
  if (!shared) {
    spinUntil([&] { return pending_.load(std::memory_order_acquire) == 0; });
    return;
  }
  // No work is left unclaimed now; admit nobody else and wait for the
  // workers still inside.
  ticket_.fetch_or(kClosed, std::memory_order_acq_rel);
  spinUntil([&] {
    return (ticket_.load(std::memory_order_acquire) & kJoinedMask) == 0;
  });
}

void ThreadPool::run(llvm::function_ref<void(unsigned, unsigned)> fn) {
  dispatch(fn, /*shared=*/false);
}

void ThreadPool::runShared(llvm::function_ref<void(unsigned, unsigned)> fn) {
  dispatch(fn, /*shared=*/true);
}

void ThreadPool::parallelFor(int64_t n,
                             llvm::function_ref<void(int64_t, int64_t)> fn) {
  run([&](unsigned t, unsigned nt) {
    int64_t b = n * t / nt, e = n * (t + 1) / nt;
    if (b < e)
      fn(b, e);
  });
}

void ThreadPool::parallelForShared(
    int64_t n, llvm::function_ref<void(int64_t, int64_t)> fn, int64_t grain) {
  if (n <= 0)
    return;
  if (grain <= 0)
    grain = std::max<int64_t>(1, n / (4 * int64_t(numThreads_)));
  alignas(64) std::atomic<int64_t> next{0};
  runShared([&](unsigned, unsigned) {
    for (;;) {
      int64_t b = next.fetch_add(grain, std::memory_order_relaxed);
      if (b >= n)
        return;
      fn(b, std::min(n, b + grain));
    }
  });
}

ThreadPool &ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

} // namespace llmc
