//===- PackedLayout.h - Packed weight layouts per ISA tier -*- C++ -*-===//
//
// Packed weights are cut into *panels* of L consecutive output channels
// (L = SIMD lanes of 32 bit: 16 for the AVX-512 tiers, 8 for AVX2 and scalar),
// so one vector register holds one value per output channel. A panel is padded
// with zero-scale channels when N % L != 0, and K is padded up to Kp (a
// multiple of the group and of 32) with codes equal to the zero point, i.e.
// dequantized zeros. 16-k groups (int8/4/2) are half a 32-k chunk: group 2c is
// the first half of chunk c, 2c+1 the second; numGroups is then even and the
// last group may be padding only (scale 0).
//
// Buffer = 64-byte aligned regions:
//   q     [panel][group][qBytesPerGroup]    weight codes (blocks below)
//   scale [panel][group][L]                 fp32 / fp16 / bf16 / e4m4
//   zero  [panel][group][L]                 u8, asymmetric formats only
//   tensor scale                            fp32 2^scaleExponent, e4m4 only:
//                                           scale = it * the e4m4 value
//
// Quantized blocks (bits b in {8, 4, 2}): one block covers L channels x 32/b k.
// Lane l owns 32-bit word l; byte j (0..3) of that word holds, in its bit field
// [i*b, (i+1)*b), the code of k = 4*i + j ("plane" i). Masking plane i out of
// every byte yields, per lane, four consecutive k codes as u8: exactly the
// unsigned operand of vpdpbusd / vpmaddubsw against the four int8 activations
// x[4i .. 4i+3] broadcast to every lane. The fp32 path instead shifts byte j of
// plane i down and converts: one lane = one channel, one k.
//
// int3: a 32-k super block = two 2-bit blocks (the low bits of k 0..15 and
// 16..31) followed by one bit-plane block holding the high bit: bit i of byte j
// of lane l is bit 2 of the code of k = 4*i + j.
//
// Float weights (f32/f16/bf16): [panel][k][L] elements, one row of L channels
// per k, i.e. one vector load per k.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_PACKEDLAYOUT_H
#define LLMC_KERNELS_PACKEDLAYOUT_H

#include "llmc/Kernels/WeightFormat.h"
#include "llmc/Target/Target.h"
#include <cstdint>
#include <memory>

namespace llmc {
namespace kernels {

/// One block of 8-bit codes: L lanes x 4 k (plane 0 only).
template <unsigned L> struct BlockQ8 { uint8_t b[L * 4]; };
/// One block of 4-bit codes: L lanes x 8 k (low nibble k=j, high nibble k=4+j).
template <unsigned L> struct BlockQ4 { uint8_t b[L * 4]; };
/// One block of 2-bit codes: L lanes x 16 k (4 planes).
template <unsigned L> struct BlockQ2 { uint8_t b[L * 4]; };
/// int3 super block: L lanes x 32 k.
template <unsigned L> struct BlockQ3 {
  BlockQ2<L> low[2];  // low 2 bits, k 0..15 and 16..31
  uint8_t high[L * 4]; // bit 2, 8 planes of 1 bit
};

static_assert(sizeof(BlockQ8<16>) == 64, "AVX-512: one int8 block is one zmm");
static_assert(sizeof(BlockQ4<16>) == 64, "AVX-512: one int4 block is one zmm");
static_assert(sizeof(BlockQ2<16>) == 64, "AVX-512: one int2 block is one zmm");
static_assert(sizeof(BlockQ3<16>) == 3 * 64, "AVX-512: int3 super block = 3 zmm");
static_assert(sizeof(BlockQ4<8>) == 32, "AVX2: one int4 block is one ymm");
static_assert(sizeof(BlockQ8<8>) == 32, "AVX2: one int8 block is one ymm");
static_assert(sizeof(BlockQ3<8>) == 3 * 32, "AVX2: int3 super block = 3 ymm");
static_assert(sizeof(BlockQ3<16>) * 8 == 16 * 32 * 3, "3 bits per weight");

/// k values covered by one block (super block for int3).
unsigned kPerBlock(WeightType t);

/// Lanes (output channels per panel) used by a tier's packed layout.
unsigned panelLanes(IsaTier tier);

struct PackedLayout {
  WeightFormat format;
  unsigned lanes = 8;
  int64_t N = 0, K = 0;
  int64_t Kp = 0;        // padded K
  int64_t group = 0;     // effective group length (Kp for per-channel / float)
  int64_t numGroups = 0; // Kp / group
  int64_t numPanels = 0; // ceil(N / lanes)
  int64_t qBytesPerGroup = 0;     // per panel
  int64_t scaleBytesPerGroup = 0; // per panel (L * scale size), 0 for float
  int64_t zeroBytesPerGroup = 0;  // per panel (L), asymmetric only
  int64_t qOffset = 0, scaleOffset = 0, zeroOffset = 0, totalBytes = 0;
  /// e4m4 scales: offset of the fp32 2^scaleExponent every stored scale is
  /// relative to; -1 for the other dtypes.
  int64_t tensorScaleOffset = -1;

  static llvm::Expected<PackedLayout> get(WeightFormat fmt, int64_t N,
                                          int64_t K, unsigned lanes);

  int64_t panelQBytes() const { return numGroups * qBytesPerGroup; }
  int64_t qPanelOffset(int64_t p) const { return qOffset + p * panelQBytes(); }
  int64_t scalePanelOffset(int64_t p) const {
    return scaleOffset + p * numGroups * scaleBytesPerGroup;
  }
  int64_t zeroPanelOffset(int64_t p) const {
    return zeroOffset + p * numGroups * zeroBytesPerGroup;
  }
  /// Bytes of the weight matrix a kernel streams (all three regions).
  int64_t streamedBytes() const { return totalBytes; }
};

/// Packed weights: layout + 64-byte aligned buffer (owned, or borrowed e.g.
/// from an mmap'ed bundle).
/// A buffer for packed weights: page aligned; from 2 MiB on, 2 MiB aligned
/// with its whole 2 MiB pages advised as transparent huge pages (decode
/// streams every byte once per token, and with 4 KiB pages the prefetchers
/// stop at every page and the TLB walks every 4 KiB). The partial last 2 MiB
/// page is not advised: it would be resident in full. Null if the
/// allocation fails.
std::shared_ptr<uint8_t> allocateWeightBuffer(size_t bytes);

class PackedWeights {
public:
  PackedWeights() = default;
  PackedWeights(const PackedLayout &l, IsaTier tier);
  static PackedWeights borrow(const PackedLayout &l, IsaTier tier,
                              const uint8_t *data);

  const PackedLayout &layout() const { return layout_; }
  IsaTier tier() const { return tier_; }
  const uint8_t *data() const { return data_; }
  uint8_t *mutableData() { return owned_.get(); }
  bool empty() const { return data_ == nullptr; }

private:
  PackedLayout layout_;
  IsaTier tier_ = IsaTier::Scalar;
  std::shared_ptr<uint8_t> owned_;
  const uint8_t *data_ = nullptr;
};

} // namespace kernels
} // namespace llmc

#endif
