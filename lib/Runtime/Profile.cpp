//===- Profile.cpp - Per-kernel time of a session's calls -----------------===//

#include "llmc/Runtime/Profile.h"

#include "llmc/Kernels/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>

namespace llmc::runtime {

double Profile::now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Profile::addMatmul(int32_t slot, int64_t rows, double seconds) {
  if (slot < 0)
    return;
  if (size_t(slot) >= matmul_.size())
    matmul_.resize(size_t(slot) + 1);
  Entry &e = matmul_[size_t(slot)];
  e.seconds += seconds;
  e.calls += 1;
  e.rows += uint64_t(rows > 0 ? rows : 0);
}

void Profile::addAttention(double seconds) {
  attention_.seconds += seconds;
  attention_.calls += 1;
}

void Profile::reset() {
  matmul_.clear();
  attention_ = Entry();
}

Profile::Entry Profile::matmul(int32_t slot) const {
  if (slot < 0 || size_t(slot) >= matmul_.size())
    return Entry();
  return matmul_[size_t(slot)];
}

double Profile::kernelSeconds() const {
  double s = attention_.seconds;
  for (const Entry &e : matmul_)
    s += e.seconds;
  return s;
}

namespace {

__attribute__((target("avx2"))) uint64_t sumAvx2(const uint8_t *p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256((const __m256i *)(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256((const __m256i *)(p + i + 32)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256((const __m256i *)(p + i + 64)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256((const __m256i *)(p + i + 96)));
  }
  a0 = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  return uint64_t(_mm256_extract_epi64(a0, 0) + _mm256_extract_epi64(a0, 3));
}

uint64_t sumScalar(const uint8_t *p, size_t n) {
  uint64_t a[4] = {0, 0, 0, 0};
  const auto *q = reinterpret_cast<const uint64_t *>(p);
  for (size_t i = 0; i + 4 <= n / 8; i += 4)
    for (int j = 0; j < 4; ++j)
      a[j] += q[i + j];
  return a[0] + a[1] + a[2] + a[3];
}

} // namespace

ReadBandwidth measureReadBandwidth(ThreadPool &pool, size_t bytes,
                                   size_t chunkBytes, int sweeps) {
  ReadBandwidth r;
  chunkBytes = std::max<size_t>(chunkBytes / 4096 * 4096, 4096);
  bytes = std::max(bytes / chunkBytes, size_t(1)) * chunkBytes;
  auto *buf = static_cast<uint8_t *>(std::aligned_alloc(4096, bytes));
  if (!buf)
    return r;
  std::memset(buf, 1, bytes); // fault every page in before timing
  const bool avx2 = __builtin_cpu_supports("avx2");
  std::vector<uint64_t> sink(pool.size(), 0);
  std::vector<double> rates;
  const size_t chunks = bytes / chunkBytes;
  double t0 = Profile::now();
  for (int s = 0; s < std::max(sweeps, 1); ++s)
    for (size_t c = 0; c < chunks; ++c) {
      const uint8_t *chunk = buf + c * chunkBytes;
      double c0 = Profile::now();
      pool.run([&](unsigned t, unsigned n) {
        size_t b = chunkBytes * t / n / 128 * 128;
        size_t e = chunkBytes * (t + 1) / n / 128 * 128;
        sink[t] += avx2 ? sumAvx2(chunk + b, e - b) : sumScalar(chunk + b, e - b);
      });
      rates.push_back(double(chunkBytes) / (Profile::now() - c0) / 1e9);
    }
  double total = Profile::now() - t0;
  std::free(buf);
  static volatile uint64_t keep;
  for (uint64_t v : sink)
    keep = keep + v;
  std::sort(rates.begin(), rates.end());
  r.medianGBs = rates[rates.size() / 2];
  r.p90GBs = rates[rates.size() * 9 / 10];
  r.p10GBs = rates[rates.size() / 10];
  r.wholeGBs = double(bytes) * double(std::max(sweeps, 1)) / total / 1e9;
  r.bufferBytes = bytes;
  r.chunkBytes = chunkBytes;
  r.threads = pool.size();
  r.samples = int(rates.size());
  return r;
}

} // namespace llmc::runtime
