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
