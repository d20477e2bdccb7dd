//===- StagedInputs.h - Kernel inputs staged as the matmul driver stages them -===//
//
// The microkernel tests call generated kernels directly, with activations in
// the driver's chunk-major layout x[Kp/32][M][32] and, on the int8 path, the
// per-(group, row) compensation and scales beside them (MicroKernel.h).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TEST_UNIT_KERNELS_STAGEDINPUTS_H
#define LLMC_TEST_UNIT_KERNELS_STAGEDINPUTS_H

#include "../../../lib/Kernels/MicroKernel.h"
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Packing.h"
#include <vector>

namespace llmc::kernels::staged {

/// Int8-path inputs for M rows against `l`: deterministic int8 codes in
/// [-127, 127], comp = -z sum(x_q) (symmetric) or -sum(x_q) per group and
/// row, and small positive activation scales.
struct StagedInt8 {
  std::vector<int8_t> xs;
  std::vector<int32_t> comp;
  std::vector<float> xscale;

  StagedInt8(const PackedLayout &l, int64_t M, uint32_t seed) {
    const int64_t G = l.group, nG = l.numGroups, chunks = l.Kp / 32;
    xs.resize(size_t(chunks * M * 32));
    uint32_t r = seed * 2654435761u + 1;
    for (int8_t &v : xs) {
      r = r * 1664525u + 1013904223u;
      v = int8_t(int((r >> 8) % 255) - 127);
    }
    comp.resize(size_t(nG * M));
    xscale.resize(size_t(nG * M));
    for (int64_t g = 0; g < nG; ++g)
      for (int64_t m = 0; m < M; ++m) {
        int32_t sum = 0;
        for (int64_t k = g * G; k < (g + 1) * G; ++k)
          sum += xs[size_t(((k / 32) * M + m) * 32 + k % 32)];
        comp[size_t(g * M + m)] =
            l.format.symmetric ? -int32_t(l.format.symZero()) * sum : -sum;
        xscale[size_t(g * M + m)] = 0.001f * float(1 + (g * 7 + m) % 13);
      }
  }

  /// Arguments for rows [m0, ..) of panel p of `w` (M rows staged), all
  /// groups; y and the flags are the caller's.
  MicroKernelArgs args(const PackedWeights &w, int64_t M, int64_t p,
                       int64_t m0) const {
    const PackedLayout &l = w.layout();
    const uint8_t *wd = w.data();
    MicroKernelArgs a{};
    a.x = xs.data() + m0 * 32;
    a.comp = comp.data() + m0;
    a.xscale = xscale.data() + m0;
    a.w = wd + l.qPanelOffset(p);
    a.scales = wd + l.scalePanelOffset(p);
    a.zeros = wd + l.zeroPanelOffset(p);
    a.xChunkStride = M * 32;
    a.groupStride = M * 4;
    a.nGroups = l.numGroups;
    a.chunksPerGroup = l.group / 32;
    a.wPanelStride = l.panelQBytes();
    a.scalePanelStride = l.numGroups * l.scaleBytesPerGroup;
    a.zeroPanelStride = l.numGroups * l.zeroBytesPerGroup;
    a.tensorScale =
        l.tensorScaleOffset >= 0
            ? reinterpret_cast<const float *>(wd + l.tensorScaleOffset)
            : nullptr;
    return a;
  }
};

/// One panel of bf16 weights (N = 16) and M rows of activations staged as
/// bf16, with values that are multiples of 1/32 below 8 in magnitude: every
/// product and partial sum is exact in fp32, so any order of summation gives
/// the exact dot product (exact()).
struct ExactBf16Panel {
  static constexpr int64_t N = 16;
  int64_t M, K;
  std::vector<float> W, x;
  PackedWeights packed;
  std::vector<uint16_t> xs;
  std::vector<float> comp, xscale;

  ExactBf16Panel(int64_t M_, int64_t K_) : M(M_), K(K_) {
    W.resize(size_t(N * K));
    x.resize(size_t(M * K));
    for (size_t i = 0; i < W.size(); ++i)
      W[i] = float(int(i * 37 % 29) - 14) / 8.0f;
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = float(int(i * 11 % 23) - 11) / 4.0f;
    auto p = packWeights(W.data(), N, K, WeightFormat::floating(WeightType::BF16),
                         IsaTier::AVX512);
    if (!p) {
      llvm::consumeError(p.takeError());
      return; // packed stays empty: the caller's check fails
    }
    packed = std::move(*p);
    xs.resize(size_t(K / 32 * M * 32));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k)
        xs[size_t(((k / 32) * M + m) * 32 + k % 32)] = fp32ToBf16(x[size_t(m * K + k)]);
    comp.assign(size_t(M), 0.0f);
    xscale.assign(size_t(M), 1.0f);
  }

  /// Arguments for rows [m0, ..), the whole of K.
  MicroKernelArgs args(int64_t m0) const {
    MicroKernelArgs a{};
    a.x = xs.data() + m0 * 32;
    a.comp = comp.data();
    a.xscale = xscale.data();
    a.w = packed.data() + packed.layout().qPanelOffset(0);
    a.xChunkStride = M * 32 * 2;
    a.groupStride = M * 4;
    a.nGroups = 1;
    a.chunksPerGroup = K / 32;
    return a;
  }
  double exact(int64_t m, int64_t n) const {
    double s = 0;
    for (int64_t k = 0; k < K; ++k)
      s += double(W[size_t(n * K + k)]) * x[size_t(m * K + k)];
    return s;
  }
};

} // namespace llmc::kernels::staged

#endif
