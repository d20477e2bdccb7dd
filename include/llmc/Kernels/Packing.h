//===- Packing.h - fp32 / quantized weights -> packed layout -*- C++ -*-===//
#ifndef LLMC_KERNELS_PACKING_H
#define LLMC_KERNELS_PACKING_H

#include "llmc/Kernels/PackedLayout.h"
#include "llmc/Kernels/Quantize.h"

namespace llmc {
namespace kernels {

/// Pack already quantized (or float-rounded) weights for `tier`.
llvm::Expected<PackedWeights> packWeights(const QuantizedWeights &q,
                                          IsaTier tier);

/// Quantize fp32 W[N][K] (PyTorch Linear layout) with quantizeWeights() and pack.
llvm::Expected<PackedWeights> packWeights(const float *W, int64_t N, int64_t K,
                                          WeightFormat fmt, IsaTier tier);

/// Scalar inverse of packWeights (reference; used by tests and tools).
QuantizedWeights unpackWeights(const PackedWeights &p);

/// The bytes of one panel of a packed matrix, each region (PackedLayout.h)
/// at its own address: the panel's code blocks, its scale records and, for
/// asymmetric formats, its zero points; the tensor scale (1 unless e4m4).
/// A reader that fetches a panel from a file fills these from its buffers.
struct PanelBytes {
  const uint8_t *q = nullptr;
  const uint8_t *scale = nullptr;
  const uint8_t *zero = nullptr;
  float tensorScale = 1.0f;
};

/// Byte ranges [offset, offset + bytes) of panel p's regions in a packed
/// buffer (zero: 0 bytes for symmetric formats; tensorScale: 4 bytes at
/// PackedLayout::tensorScaleOffset, 0 bytes without one).
struct PanelRegions {
  struct Range {
    int64_t offset = 0, bytes = 0;
  };
  Range q, scale, zero, tensorScale;
};
PanelRegions panelRegions(const PackedLayout &l, int64_t p);

/// Row `lane` of a panel, dequantized into out[0, K): (codeValue(u) - z) * s,
/// exactly QuantizedWeights::weight of unpackWeights(); float formats: the
/// stored value. An embedding lookup in a packed table reads its rows so.
void dequantizePanelRow(const PackedLayout &l, const PanelBytes &panel,
                        unsigned lane, float *out);
/// Row n (< N) of a packed buffer, dequantized (dequantizePanelRow).
void dequantizePackedRow(const PackedLayout &l, const uint8_t *data, int64_t n,
                         float *out);

/// Code of element (n, k) straight from a packed buffer (k < Kp, n < numPanels*L).
unsigned packedCode(const PackedLayout &l, const uint8_t *data, int64_t n,
                    int64_t k);
/// Code of (lane, kk) inside one group record of a panel (quantized formats).
unsigned groupRecordCode(WeightType t, unsigned lanes, const uint8_t *grp,
                         unsigned lane, int64_t kk);

/// Scale of (n, group g) from a packed buffer, as fp32 (e4m4: times the
/// matrix's tensor scale).
float packedScale(const PackedLayout &l, const uint8_t *data, int64_t n,
                  int64_t g);
/// The stored scale of `lane` in a group's scale record, as fp32 (e4m4: the
/// value relative to the tensor scale, as the kernels decode it).
float storedScale(ScaleType t, const uint8_t *record, unsigned lane);
/// e4m4 layouts: the fp32 2^scaleExponent stored with the weights; else 1.
float packedTensorScale(const PackedLayout &l, const uint8_t *data);
/// An error unless packedTensorScale is a finite power of two (what packing
/// writes): a damaged one would scale every output of the matmul.
llvm::Error checkPackedTensorScale(const PackedLayout &l, const uint8_t *data);

} // namespace kernels
} // namespace llmc

#endif
