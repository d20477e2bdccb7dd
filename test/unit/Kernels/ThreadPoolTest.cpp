//===- ThreadPoolTest.cpp -------------------------------------------------===//
#include "llmc/Kernels/ThreadPool.h"
#include <gtest/gtest.h>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using namespace llmc;

TEST(ThreadPool, RunsEveryThreadOnce) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_TRUE(pool.startError().empty()) << pool.startError();
  for (int iter = 0; iter < 1000; ++iter) {
    std::vector<std::atomic<int>> hits(3);
    pool.run([&](unsigned t, unsigned n) {
      EXPECT_EQ(n, 3u);
      hits[t].fetch_add(1);
    });
    for (auto &h : hits)
      ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, ParallelForCoversRange) {
  ThreadPool pool(2);
  for (int64_t n : {0, 1, 2, 7, 1000}) {
    std::vector<int> v(size_t(n), 0);
    pool.parallelFor(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        v[size_t(i)]++;
    });
    for (int x : v)
      EXPECT_EQ(x, 1);
  }
}

TEST(ThreadPool, WakesAfterSleeping) {
  ThreadPool pool(2);
  std::atomic<int> c{0};
  pool.run([&](unsigned, unsigned) { c++; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20)); // workers sleep
  pool.run([&](unsigned, unsigned) { c++; });
  EXPECT_EQ(c.load(), 4);
}

TEST(ThreadPool, SingleThread) {
  ThreadPool pool(1);
  int c = 0;
  pool.run([&](unsigned t, unsigned n) { c += int(t + n); });
  EXPECT_EQ(c, 1);
}

// A parallel routine calling another on the same pool (ScaleRefit's rows each
// factor a small matrix with the threaded Cholesky): the inner call runs
// inline on the calling thread, from the caller's thread and from a worker.
TEST(ThreadPool, NestedParallelForRunsInline) {
  ThreadPool pool(3);
  const int64_t outer = 6, inner = 50;
  std::vector<std::atomic<int>> hits(size_t(outer * inner));
  std::atomic<int> innerThreads{0};
  pool.parallelFor(outer, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      pool.run([&](unsigned t, unsigned n) {
        EXPECT_EQ(t, 0u);
        EXPECT_EQ(n, 1u);
        innerThreads++;
        for (int64_t i = 0; i < inner; ++i)
          hits[size_t(o * inner + i)]++;
      });
  });
  EXPECT_EQ(innerThreads.load(), outer);
  for (auto &h : hits)
    EXPECT_EQ(h.load(), 1);
  // The pool is whole again afterwards.
  std::atomic<int> c{0};
  pool.run([&](unsigned, unsigned) { c++; });
  EXPECT_EQ(c.load(), 3);
}

// runShared: the caller (slot 0) takes part, workers that pick the job up in
// time join with their own slot, each at most once; every chunk of a shared
// loop runs exactly once however many threads joined.
TEST(ThreadPool, RunSharedRunsEachSlotAtMostOnce) {
  ThreadPool pool(3);
  for (int iter = 0; iter < 2000; ++iter) {
    std::vector<std::atomic<int>> hits(3);
    pool.runShared([&](unsigned t, unsigned n) {
      EXPECT_EQ(n, 3u);
      ASSERT_LT(t, 3u);
      hits[t].fetch_add(1);
    });
    EXPECT_EQ(hits[0].load(), 1);
    for (auto &h : hits)
      ASSERT_LE(h.load(), 1);
  }
}

TEST(ThreadPool, ParallelForSharedCoversRangeOnce) {
  ThreadPool pool(3);
  for (int64_t n : {0, 1, 2, 7, 1000, 4099})
    for (int64_t grain : {0, 1, 3, 64, 5000}) {
      const size_t count = size_t(n);
      std::vector<std::atomic<int>> v(count);
      pool.parallelForShared(
          n,
          [&](int64_t b, int64_t e) {
            if (grain > 0)
              EXPECT_LE(e - b, grain);
            for (int64_t i = b; i < e; ++i)
              v[size_t(i)]++;
          },
          grain);
      for (auto &x : v)
        ASSERT_EQ(x.load(), 1);
    }
}

// Once runShared has returned, no worker may still enter that job: a worker
// that arrives late (descheduled, or asleep) skips it. The job object
// outlives the loop so that a late call would be seen here, not be a crash.
TEST(ThreadPool, NoWorkerEntersASharedJobAfterItReturned) {
  ThreadPool pool(3);
  std::atomic<bool> open{false};
  std::atomic<int> lateCalls{0}, calls{0};
  auto job = [&](unsigned, unsigned) {
    if (!open.load())
      lateCalls++;
    calls++;
  };
  for (int iter = 0; iter < 3000; ++iter) {
    open = true;
    pool.runShared(job);
    open = false;
    if (iter % 500 == 0) // let the workers fall asleep now and then
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(lateCalls.load(), 0);
  EXPECT_GE(calls.load(), 3000);
}

// Shared and fork/join jobs alternate on one ticket: a worker that skipped a
// shared job must still run the next run() exactly once.
TEST(ThreadPool, SharedAndForkJoinJobsAlternate) {
  ThreadPool pool(3);
  for (int iter = 0; iter < 2000; ++iter) {
    std::atomic<int64_t> sum{0};
    pool.parallelForShared(
        100,
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i)
            sum += i;
        },
        7);
    ASSERT_EQ(sum.load(), 4950);
    std::vector<std::atomic<int>> hits(3);
    pool.run([&](unsigned t, unsigned) { hits[t]++; });
    for (auto &h : hits)
      ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, RunSharedInsideAJobRunsInline) {
  ThreadPool pool(2);
  std::atomic<int> inner{0};
  pool.run([&](unsigned, unsigned) {
    pool.runShared([&](unsigned t, unsigned n) {
      EXPECT_EQ(t, 0u);
      EXPECT_EQ(n, 1u);
      inner++;
    });
  });
  EXPECT_EQ(inner.load(), 2);
}
