//===- Pack.cpp - Scalar packing / unpacking (the layout's definition) -----===//
//
// These loops *are* the specification of the layouts in PackedLayout.h; the
// generated kernels are tested against them.
//
//===----------------------------------------------------------------------===//
#include "llmc/Kernels/Packing.h"
#include "llmc/Kernels/Half.h"
#include "ParallelRows.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

using namespace llvm;

namespace llmc {
namespace kernels {

namespace {
/// Where the code of (lane, kk) lives inside one group record of a panel.
struct CodeSlot {
  int64_t byte;
  unsigned shift, mask;
};

/// For int3 this returns the low-2-bit slot; highSlot() the bit-plane slot.
CodeSlot codeSlot(unsigned L, unsigned b, unsigned lane, int64_t kk) {
  if (b == 3) {
    int64_t sb = kk / 32, r = kk % 32, half = r / 16, r2 = r % 16;
    return {sb * 12 * L + half * 4 * L + lane * 4 + r2 % 4, unsigned(2 * (r2 / 4)),
            3u};
  }
  int64_t kpb = 32 / b, blk = kk / kpb, r = kk % kpb;
  return {blk * 4 * L + lane * 4 + r % 4, unsigned(b * (r / 4)),
          (1u << b) - 1};
}

CodeSlot highSlot(unsigned L, unsigned lane, int64_t kk) {
  int64_t sb = kk / 32, r = kk % 32;
  return {sb * 12 * L + 8 * L + lane * 4 + r % 4, unsigned(r / 4), 1u};
}
} // namespace

unsigned groupRecordCode(WeightType t, unsigned L, const uint8_t *grp,
                         unsigned lane, int64_t kk) {
  unsigned b = WeightFormat::quantized(t, 0, true).bits();
  CodeSlot s = codeSlot(L, b, lane, kk);
  unsigned u = (grp[s.byte] >> s.shift) & s.mask;
  if (t == WeightType::Int3) {
    CodeSlot h = highSlot(L, lane, kk);
    u |= ((grp[h.byte] >> h.shift) & 1u) << 2;
  }
  return u;
}

unsigned packedCode(const PackedLayout &l, const uint8_t *data, int64_t n,
                    int64_t k) {
  int64_t p = n / l.lanes, g = k / l.group, kk = k % l.group;
  const uint8_t *grp = data + l.qPanelOffset(p) + g * l.qBytesPerGroup;
  return groupRecordCode(l.format.type, l.lanes, grp, unsigned(n % l.lanes),
                         kk);
}

float storedScale(ScaleType t, const uint8_t *record, unsigned lane) {
  uint16_t h;
  switch (t) {
  case ScaleType::F32: {
    float f;
    std::memcpy(&f, record + 4 * lane, 4);
    return f;
  }
  case ScaleType::F16:
    std::memcpy(&h, record + 2 * lane, 2);
    return fp16ToFp32(h);
  case ScaleType::BF16:
    std::memcpy(&h, record + 2 * lane, 2);
    return bf16ToFp32(h);
  case ScaleType::E4M4:
    return e4m4ToFp32(record[lane]);
  }
  return 0;
}

float packedTensorScale(const PackedLayout &l, const uint8_t *data) {
  if (l.tensorScaleOffset < 0)
    return 1.0f;
  float f;
  std::memcpy(&f, data + l.tensorScaleOffset, 4);
  return f;
}

Error checkPackedTensorScale(const PackedLayout &l, const uint8_t *data) {
  const float t = packedTensorScale(l, data);
  if (std::isfinite(t) && t > 0 && std::ldexp(1.0f, std::ilogb(t)) == t)
    return Error::success();
  return createStringError(inconvertibleErrorCode(),
                           "%s weights: tensor scale %g is not a power of two",
                           l.format.str().c_str(), double(t));
}

float packedScale(const PackedLayout &l, const uint8_t *data, int64_t n,
                  int64_t g) {
  int64_t p = n / l.lanes;
  const uint8_t *s = data + l.scalePanelOffset(p) + g * l.scaleBytesPerGroup;
  return storedScale(l.format.scaleType, s, unsigned(n % l.lanes)) *
         packedTensorScale(l, data);
}

static void storeFloat(uint8_t *dst, float v, unsigned bytes, bool bf16) {
  if (bytes == 4) {
    std::memcpy(dst, &v, 4);
  } else {
    uint16_t h = bf16 ? fp32ToBf16(v) : fp32ToFp16(v);
    std::memcpy(dst, &h, 2);
  }
}

/// Stores scale s of one lane in its dtype. e4m4: s / 2^scaleExponent must be
/// an e4m4 value (quantizers round to that grid); anything else is an error,
/// not a silently different scale.
static Error storeScale(uint8_t *dst, float s, const QuantizedWeights &q) {
  const ScaleType t = q.format.scaleType;
  if (t != ScaleType::E4M4) {
    storeFloat(dst, s, scaleBytes(t), t == ScaleType::BF16);
    return Error::success();
  }
  const float rel = std::ldexp(s, -q.scaleExponent);
  const uint8_t c = fp32ToE4M4(rel);
  if (e4m4ToFp32(c) != rel)
    return createStringError(inconvertibleErrorCode(),
                             "packing %s: scale %g is not 2^%d times an e4m4 "
                             "value",
                             q.format.str().c_str(), double(s),
                             q.scaleExponent);
  *dst = c;
  return Error::success();
}

Expected<PackedWeights> packWeights(const QuantizedWeights &q, IsaTier tier) {
  auto lOr = PackedLayout::get(q.format, q.N, q.K, panelLanes(tier));
  if (!lOr)
    return lOr.takeError();
  const PackedLayout &l = *lOr;
  PackedWeights pw(l, tier);
  uint8_t *d = pw.mutableData();
  std::memset(d, 0, size_t(l.totalBytes));
  const unsigned L = l.lanes;
  const WeightFormat &f = q.format;

  // Rows write disjoint bytes (a lane's word of every block, its scale and
  // zero point), so parts of rows pack in parallel.
  if (!f.isQuantized()) {
    const unsigned eb = f.bits() / 8;
    parallelRows(q.N, kRowsPerThread, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) {
        uint8_t *panel = d + l.qPanelOffset(n / L);
        for (int64_t k = 0; k < q.K; ++k)
          storeFloat(panel + (k * L + n % L) * eb, q.values[n * q.K + k], eb,
                     f.type == WeightType::BF16);
      }
    });
    return std::move(pw);
  }

  const unsigned sb = scaleBytes(f.scaleType);
  if (l.tensorScaleOffset >= 0) {
    const float t = std::ldexp(1.0f, q.scaleExponent);
    std::memcpy(d + l.tensorScaleOffset, &t, 4);
  }
  // A scale off the e4m4 grid stops its part; the error of the first such
  // row is reported (the same whatever the split).
  std::vector<std::pair<int64_t, std::string>> failed;
  std::mutex failedMu;
  parallelRows(l.numPanels * L, kRowsPerThread, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const bool real = n < q.N;
      int64_t p = n / L;
      unsigned lane = unsigned(n % L);
      for (int64_t g = 0; g < l.numGroups; ++g) {
        // A padded channel, or a group past K (16-k groups round Kp up to a
        // whole 32-k chunk), holds zero-point codes and scale 0.
        const bool realGroup = real && g < q.numGroups;
        unsigned z = realGroup ? q.zeros[n * q.numGroups + g] : f.symZero();
        float s = realGroup ? q.scales[n * q.numGroups + g] : 0.0f;
        if (Error e = storeScale(d + l.scalePanelOffset(p) +
                                     g * l.scaleBytesPerGroup + lane * sb,
                                 s, q)) {
          std::lock_guard<std::mutex> lock(failedMu);
          failed.push_back({n, toString(std::move(e))});
          return;
        }
        if (!f.symmetric)
          d[l.zeroPanelOffset(p) + g * l.zeroBytesPerGroup + lane] = uint8_t(z);
        uint8_t *grp = d + l.qPanelOffset(p) + g * l.qBytesPerGroup;
        for (int64_t kk = 0; kk < l.group; ++kk) {
          int64_t k = g * l.group + kk;
          // Padding (k >= K, or a padded channel) holds the code of w = 0: the
          // zero point (nl4/nl2, which have no zero level: the level nearest it;
          // padding always meets zero activations, so either adds nothing).
          unsigned u = (real && k < q.K) ? q.codes[n * q.K + k] : f.encode(0, z);
          CodeSlot s0 = codeSlot(L, f.bits(), lane, kk);
          grp[s0.byte] |= uint8_t((u & s0.mask) << s0.shift);
          if (f.type == WeightType::Int3) {
            CodeSlot h = highSlot(L, lane, kk);
            grp[h.byte] |= uint8_t(((u >> 2) & 1u) << h.shift);
          }
        }
      }
    }
  });
  if (!failed.empty())
    return createStringError(inconvertibleErrorCode(), "%s",
                             std::min_element(failed.begin(), failed.end())->second.c_str());
  return std::move(pw);
}

Expected<PackedWeights> packWeights(const float *W, int64_t N, int64_t K,
                                    WeightFormat fmt, IsaTier tier) {
  auto q = quantizeWeights(W, N, K, fmt);
  if (!q)
    return q.takeError();
  return packWeights(*q, tier);
}

static float loadFloat(const uint8_t *src, unsigned bytes, bool bf16) {
  if (bytes == 4) {
    float v;
    std::memcpy(&v, src, 4);
    return v;
  }
  uint16_t h;
  std::memcpy(&h, src, 2);
  return bf16 ? bf16ToFp32(h) : fp16ToFp32(h);
}

QuantizedWeights unpackWeights(const PackedWeights &pw) {
  const PackedLayout &l = pw.layout();
  const uint8_t *d = pw.data();
  QuantizedWeights q;
  q.format = l.format;
  q.N = l.N;
  q.K = l.K;
  const unsigned L = l.lanes;
  if (!l.format.isQuantized()) {
    q.group = l.K;
    q.numGroups = 1;
    q.values.resize(l.N * l.K);
    const unsigned eb = l.format.bits() / 8;
    for (int64_t n = 0; n < l.N; ++n)
      for (int64_t k = 0; k < l.K; ++k)
        q.values[n * l.K + k] =
            loadFloat(d + l.qPanelOffset(n / L) + (k * L + n % L) * eb, eb,
                      l.format.type == WeightType::BF16);
    return q;
  }
  q.group = l.format.groupSize ? l.format.groupSize : l.K;
  // Groups that hold part of K (the layout may add an all-padding one).
  q.numGroups = (l.K + q.group - 1) / q.group;
  q.codes.resize(l.N * l.K);
  q.scales.resize(l.N * q.numGroups);
  q.zeros.resize(l.N * q.numGroups);
  if (l.tensorScaleOffset >= 0)
    q.scaleExponent = std::ilogb(packedTensorScale(l, d));
  for (int64_t n = 0; n < l.N; ++n) {
    for (int64_t k = 0; k < l.K; ++k)
      q.codes[n * l.K + k] = uint8_t(packedCode(l, d, n, k));
    for (int64_t g = 0; g < q.numGroups; ++g) {
      q.scales[n * q.numGroups + g] = packedScale(l, d, n, g);
      q.zeros[n * q.numGroups + g] =
          l.format.symmetric
              ? uint8_t(l.format.symZero())
              : d[l.zeroPanelOffset(n / L) + g * l.zeroBytesPerGroup + n % L];
    }
  }
  return q;
}

PanelRegions panelRegions(const PackedLayout &l, int64_t p) {
  PanelRegions r;
  r.q = {l.qPanelOffset(p), l.panelQBytes()};
  r.scale = {l.scalePanelOffset(p), l.numGroups * l.scaleBytesPerGroup};
  r.zero = {l.zeroPanelOffset(p), l.numGroups * l.zeroBytesPerGroup};
  if (l.tensorScaleOffset >= 0)
    r.tensorScale = {l.tensorScaleOffset, 4};
  return r;
}

void dequantizePanelRow(const PackedLayout &l, const PanelBytes &panel,
                        unsigned lane, float *out) {
  const WeightFormat &f = l.format;
  const unsigned L = l.lanes;
  if (!f.isQuantized()) {
    // [k][L] elements: the lane's value of every k.
    const unsigned eb = f.bits() / 8;
    for (int64_t k = 0; k < l.K; ++k)
      out[k] = loadFloat(panel.q + (k * L + lane) * eb, eb,
                         f.type == WeightType::BF16);
    return;
  }
  for (int64_t g = 0, k0 = 0; k0 < l.K; ++g, k0 += l.group) {
    const float s =
        storedScale(f.scaleType, panel.scale + g * l.scaleBytesPerGroup, lane) *
        panel.tensorScale;
    const float z = float(f.symmetric ? f.symZero()
                                      : panel.zero[g * l.zeroBytesPerGroup + lane]);
    const uint8_t *grp = panel.q + g * l.qBytesPerGroup;
    const int64_t kn = std::min(l.group, l.K - k0);
    for (int64_t kk = 0; kk < kn; ++kk)
      out[k0 + kk] =
          (float(f.codeValue(groupRecordCode(f.type, L, grp, lane, kk))) - z) * s;
  }
}

void dequantizePackedRow(const PackedLayout &l, const uint8_t *data, int64_t n,
                         float *out) {
  const PanelRegions r = panelRegions(l, n / l.lanes);
  PanelBytes panel;
  panel.q = data + r.q.offset;
  panel.scale = data + r.scale.offset;
  panel.zero = data + r.zero.offset;
  panel.tensorScale = packedTensorScale(l, data);
  dequantizePanelRow(l, panel, unsigned(n % l.lanes), out);
}

} // namespace kernels
} // namespace llmc
