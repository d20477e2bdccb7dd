//===- GenericKernel.cpp - Portable microkernel on the packed layout -------===//
//
// Same ABI and arithmetic as the generated kernels (MicroKernel.h), written
// for clarity: decode each code with groupRecordCode(), accumulate per group,
// apply scales and the zero-point term once per group.
//
//===----------------------------------------------------------------------===//
#include "MicroKernel.h"
#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Packing.h"
#include <cmath>
#include <cstring>

namespace llmc {
namespace kernels {

static float loadWeight(WeightType t, const uint8_t *p) {
  if (t == WeightType::F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return t == WeightType::F16 ? fp16ToFp32(h) : bf16ToFp32(h);
}

void genericMicroKernel(const MicroKernelDesc &d, unsigned L,
                        const MicroKernelArgs &a) {
  const WeightFormat &f = d.format;
  const bool int8Act = d.act == ActPath::Int8;
  const bool bf16Act = d.act == ActPath::BF16; // float weights only
  const int64_t G = a.chunksPerGroup ? a.chunksPerGroup * 32 : 16;
  const unsigned eb = stagedActBytes(d.act);
  const auto *xb = static_cast<const uint8_t *>(a.x);
  const auto *cb = static_cast<const uint8_t *>(a.comp);
  const auto *sb = reinterpret_cast<const uint8_t *>(a.xscale);
  const int64_t qBytes = L * G * f.bits() / 8;
  const int64_t sBytes = f.isQuantized() ? L * scaleBytes(f.scaleType) : 0;

  for (unsigned m = 0; m < d.mr; ++m) {
    float out[16] = {};
    auto xAt = [&](int64_t k) -> const uint8_t * {
      return xb + (k / 32) * a.xChunkStride + (m * 32 + k % 32) * eb;
    };
    for (int64_t g = 0; g < a.nGroups; ++g) {
      const uint8_t *grp = a.w + g * qBytes;
      for (unsigned l = 0; l < L; ++l) {
        if (!f.isQuantized()) {
          float acc = 0;
          const unsigned wb = f.bits() / 8;
          for (int64_t k = 0; k < G; ++k) {
            float x;
            if (bf16Act)
              x = loadWeight(WeightType::BF16, xAt(g * G + k));
            else
              std::memcpy(&x, xAt(g * G + k), 4);
            acc = std::fma(x, loadWeight(f.type, grp + (k * L + l) * wb), acc);
          }
          out[l] += acc;
          continue;
        }
        float s = storedScale(f.scaleType, a.scales + g * sBytes, l);
        float z = f.symmetric ? 1.0f : float(a.zeros[g * L + l]);
        const uint8_t *cp = cb + g * a.groupStride + 4 * m;
        if (int8Act) {
          int32_t comp;
          std::memcpy(&comp, cp, 4);
          int64_t acc = int64_t(comp) * int64_t(z);
          for (int64_t k = 0; k < G; ++k)
            acc += int64_t(f.codeValue(groupRecordCode(f.type, L, grp, l, k))) *
                   int64_t(int8_t(*xAt(g * G + k)));
          float xs;
          std::memcpy(&xs, sb + g * a.groupStride + 4 * m, 4);
          out[l] = std::fma(float(int32_t(acc)), s * xs, out[l]);
        } else {
          float comp;
          std::memcpy(&comp, cp, 4);
          float acc = comp * z;
          for (int64_t k = 0; k < G; ++k) {
            float x;
            std::memcpy(&x, xAt(g * G + k), 4);
            acc = std::fma(
                x, float(f.codeValue(groupRecordCode(f.type, L, grp, l, k))),
                acc);
          }
          out[l] = std::fma(acc, s, out[l]);
        }
      }
    }
    float *y = reinterpret_cast<float *>(reinterpret_cast<uint8_t *>(a.y) +
                                         m * a.ldy);
    // e4m4 scales are relative to the matrix's power of two.
    const float t = a.tensorScale ? *a.tensorScale : 1.0f;
    for (unsigned l = 0; l < L; ++l)
      y[l] = a.accumulate ? y[l] + out[l] * t : out[l] * t;
  }
}

} // namespace kernels
} // namespace llmc
