//===- PackedLayout.cpp - Sizes and offsets of packed weights --------------===//
#include "llmc/Kernels/PackedLayout.h"
#include <algorithm>
#include <cstdlib>
#include <sys/mman.h>

using namespace llvm;

namespace llmc {
namespace kernels {

static int64_t roundUp(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

unsigned kPerBlock(WeightType t) {
  switch (t) {
  case WeightType::Int8: return 4;
  case WeightType::Int4:
  case WeightType::NL4: return 8;
  case WeightType::Int2:
  case WeightType::NL2: return 16;
  case WeightType::Int3: return 32;
  default: return 1;
  }
}

unsigned panelLanes(IsaTier tier) {
  return tier >= IsaTier::AVX512 ? 16 : 8;
}

Expected<PackedLayout> PackedLayout::get(WeightFormat fmt, int64_t N, int64_t K,
                                         unsigned lanes) {
  if (Error e = fmt.validate())
    return std::move(e);
  if (N <= 0 || K <= 0)
    return createStringError(inconvertibleErrorCode(),
                             "packed layout: empty %lldx%lld matrix",
                             (long long)N, (long long)K);
  if (lanes != 8 && lanes != 16)
    return createStringError(inconvertibleErrorCode(),
                             "packed layout: %u lanes unsupported", lanes);
  PackedLayout l;
  l.format = fmt;
  l.lanes = lanes;
  l.N = N;
  l.K = K;
  l.numPanels = (N + lanes - 1) / lanes;
  if (!fmt.isQuantized()) {
    l.Kp = roundUp(K, 32);
    l.group = l.Kp;
    l.numGroups = 1;
    l.qBytesPerGroup = l.Kp * lanes * (fmt.bits() / 8);
  } else {
    l.group = fmt.groupSize ? fmt.groupSize : roundUp(K, 32);
    // Kp covers whole groups and whole 32-k activation chunks: with 16-k
    // groups a chunk holds two groups, so numGroups is even (the last may be
    // all padding).
    l.Kp = roundUp(K, std::max<int64_t>(l.group, 32));
    l.numGroups = l.Kp / l.group;
    l.qBytesPerGroup = l.group * lanes * fmt.bits() / 8;
    l.scaleBytesPerGroup = lanes * scaleBytes(fmt.scaleType);
    l.zeroBytesPerGroup = fmt.symmetric ? 0 : lanes;
  }
  int64_t panels = l.numPanels, groups = l.numGroups;
  l.qOffset = 0;
  l.scaleOffset = roundUp(l.qOffset + panels * groups * l.qBytesPerGroup, 64);
  l.zeroOffset =
      roundUp(l.scaleOffset + panels * groups * l.scaleBytesPerGroup, 64);
  l.totalBytes =
      roundUp(l.zeroOffset + panels * groups * l.zeroBytesPerGroup, 64);
  if (fmt.hasTensorScale()) {
    l.tensorScaleOffset = l.totalBytes;
    l.totalBytes += 64;
  }
  return l;
}

std::shared_ptr<uint8_t> allocateWeightBuffer(size_t bytes) {
  // Page alignment: the buffer may be written to a bundle and mmap'ed back.
  const size_t huge = size_t(2) << 20;
  const size_t align = bytes >= huge ? huge : 4096;
  const size_t rounded = size_t(roundUp(int64_t(std::max<size_t>(bytes, 1)), int64_t(align)));
  auto *p = static_cast<uint8_t *>(std::aligned_alloc(align, rounded));
  if (p && align == huge) {
    const size_t whole = bytes / huge * huge;
    madvise(p, whole, MADV_HUGEPAGE);
    if (rounded > whole)
      madvise(p + whole, rounded - whole, MADV_NOHUGEPAGE);
  }
  return std::shared_ptr<uint8_t>(p, [](uint8_t *q) { std::free(q); });
}

PackedWeights::PackedWeights(const PackedLayout &l, IsaTier tier)
    : layout_(l), tier_(tier), owned_(allocateWeightBuffer(size_t(l.totalBytes))) {
  data_ = owned_.get();
}

PackedWeights PackedWeights::borrow(const PackedLayout &l, IsaTier tier,
                                    const uint8_t *data) {
  PackedWeights w;
  w.layout_ = l;
  w.tier_ = tier;
  w.data_ = data;
  return w;
}

} // namespace kernels
} // namespace llmc
