//===- Profile.h - Per-kernel time of a session's calls ---------*- C++ -*-===//
//
//   runtime::Profile prof;
//   SessionOptions so; so.profile = &prof;          // the caller owns it
//   auto s = cantFail(Session::create(model, so));
//   ... decode steps ...
//   prof.matmul(slot).seconds, prof.attention().seconds, prof.kernelSeconds()
//
// A session given a Profile times every kernel call it makes: each matmul by
// its weight slot and attention (the generated program's calls through the
// kernel ABI, and the C++ plan driver's). The rest of a step ("glue":
// embedding, norms, RoPE, SwiGLU, adds, the program's own loops) is the
// caller's wall time minus kernelSeconds(). Kernels are called from the
// thread that runs the session, so a Profile needs no locking; one Profile
// serves one session at a time. Without a Profile nothing is timed.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_RUNTIME_PROFILE_H
#define LLMC_RUNTIME_PROFILE_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace llmc {
class ThreadPool;
} // namespace llmc

namespace llmc::runtime {

/// The DRAM read bandwidth, one method for every llmc tool (`llmc bench
/// --bandwidth`, `llmc-bench-kernels`, bench/run.sh): a buffer of `bytes`
/// (default 1 GiB, far over any L3) is written once, then swept `sweeps` times
/// in chunks of `chunkBytes`; the pool's threads each read a slice of a chunk
/// (AVX2 loads, hardware prefetch) and every chunk is timed on its own. The
/// figure is the median chunk rate: the chunks come cold from DRAM (the sweep
/// is sequential over the whole buffer), and short timed pieces make the
/// median robust to a shared machine's preemption, which a single long read
/// is not.
struct ReadBandwidth {
  double medianGBs = 0;
  double p90GBs = 0; ///< 90th percentile of the chunk rates (least disturbed)
  double p10GBs = 0;
  double wholeGBs = 0; ///< bytes read / total time of the sweeps (disturbed)
  size_t bufferBytes = 0, chunkBytes = 0;
  unsigned threads = 0;
  int samples = 0;
};
ReadBandwidth measureReadBandwidth(ThreadPool &pool,
                                   size_t bytes = size_t(1) << 30,
                                   size_t chunkBytes = size_t(8) << 20,
                                   int sweeps = 3);

class Profile {
public:
  struct Entry {
    double seconds = 0;
    uint64_t calls = 0;
    uint64_t rows = 0; ///< matmul: tokens (M) summed over calls
  };

  /// Monotonic seconds (the clock every entry is timed with).
  static double now();

  void addMatmul(int32_t slot, int64_t rows, double seconds);
  void addAttention(double seconds);
  /// Forget everything timed so far.
  void reset();

  /// Slots never called read as zero.
  Entry matmul(int32_t slot) const;
  /// One entry per weight slot index (may be shorter than the plan's slots).
  const std::vector<Entry> &matmuls() const { return matmul_; }
  const Entry &attention() const { return attention_; }
  /// All matmuls plus attention.
  double kernelSeconds() const;

  /// Times one kernel call into `p` when `p` is non-null.
  class MatmulScope {
  public:
    MatmulScope(Profile *p, int32_t slot, int64_t rows)
        : p_(p), slot_(slot), rows_(rows), t0_(p ? now() : 0) {}
    ~MatmulScope() {
      if (p_)
        p_->addMatmul(slot_, rows_, now() - t0_);
    }
    MatmulScope(const MatmulScope &) = delete;
    MatmulScope &operator=(const MatmulScope &) = delete;

  private:
    Profile *p_;
    int32_t slot_;
    int64_t rows_;
    double t0_;
  };
  class AttentionScope {
  public:
    explicit AttentionScope(Profile *p) : p_(p), t0_(p ? now() : 0) {}
    ~AttentionScope() {
      if (p_)
        p_->addAttention(now() - t0_);
    }
    AttentionScope(const AttentionScope &) = delete;
    AttentionScope &operator=(const AttentionScope &) = delete;

  private:
    Profile *p_;
    double t0_;
  };

private:
  std::vector<Entry> matmul_;
  Entry attention_;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_PROFILE_H
