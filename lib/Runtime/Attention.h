//===- Attention.h - Causal attention of one KV head over the cache -*- C++ -*-===//
//
// The runtime's attention step, per KV head: the query rows that share the head
// (the heads of a GQA group, for one or more tokens) are scored against the
// cached keys together, so every key is read once per group instead of once
// per query head:
//
//   S[r][j] = scale * q[r] . k[j]    first[r] <= j < T[r] (causal, and a
//                                    sliding window's first key), else -inf
//   o[r]    = sum_j softmax(S[r])[j] * v[j]
//
// With a soft cap c > 0 (Gemma-2's attention logit soft-capping, ONNX
// Runtime's GroupQueryAttention `softcap`) each seen score is first replaced
// by c * tanh(S[r][j] / c), which bounds it to (-c, c); the mask and the
// softmax follow as above.
//
// Keys are cached in *key blocks*: 16 consecutive positions, d-major, so that
// one vector load of block b at dimension d holds k[16b .. 16b+16)[d] and
// 16 scores of a row take one FMA per d (a GEMM microkernel: the load is shared
// by up to 8 rows). Values stay position-major ([ctx][Dv]): o accumulates
// p[r][j] * v[j] with one load per 16 values shared by up to 4 rows.
//
// Elements are fp32, fp16 or int8. An int8 cache holds, per position, the
// codes c = round(x / s) of its key and of its value with s = max_d |x_d| / 127
// (one scale per position and KV head for each of K and V, fp32, in arrays
// beside the codes). The scales come out of the sums: a score is
// s_k[j] * sum_d q_d c_jd (one multiply per 16 scores), and the softmax
// weight of position j is multiplied by s_v[j] before the value sum.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_RUNTIME_ATTENTION_H
#define LLMC_LIB_RUNTIME_ATTENTION_H

#include "llmc/Target/Target.h"
#include <cstdint>

namespace llmc {
namespace runtime {

/// Positions per key block.
constexpr int64_t kKeyBlock = 16;

/// Positions a KV head's key region holds: the context rounded up to blocks.
inline int64_t keyPositions(int64_t context) {
  return (context + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
}

/// Element (position pos, dimension d) of a KV head's key region, head dim D.
inline int64_t keyOffset(int64_t pos, int64_t d, int64_t D) {
  return (pos / kKeyBlock) * D * kKeyBlock + d * kKeyBlock + pos % kKeyBlock;
}

/// The query rows of one KV head: row r reads q[r][0..D), may see keys
/// [first[r], T[r]) (first null: from 0), and writes o[r][0..Dv). Key
/// blocks before the smallest first[r] are not read.
struct AttentionRows {
  const float *const *q;
  float *const *o;
  const int64_t *T;
  int64_t count;
  const int64_t *first = nullptr;
  /// Soft cap of the scores: 0 = none; > 0 (finite) the cap c, applied to
  /// each scaled score s before the mask and the softmax: s -> c tanh(s / c).
  float softcap = 0;
};

/// Floats of scratch attendKvHead needs for `rows`.
int64_t attentionScratchFloats(const AttentionRows &rows);

/// One KV head's cache: keys in key blocks, values [position][Dv], and for
/// int8 elements the per-position scales (keyPositions(ctx) entries each:
/// attention reads them a key block at a time; null for fp32 / fp16).
template <typename T> struct KvHead {
  T *keys = nullptr;
  T *values = nullptr;
  float *keyScales = nullptr;
  float *valueScales = nullptr;
};

/// Byte offsets of one layer's KV cache: every KV head's keys, then their
/// values, then (int8) their key scales and value scales; each region starts
/// on a cache line.
struct KvLayout {
  int64_t keys = 0, values = 0, keyScales = 0, valueScales = 0;
  int64_t layer = 0; ///< bytes per layer
  static KvLayout of(int64_t kvHeads, int64_t context, int64_t D, int64_t Dv,
                     unsigned elementBytes, bool scaled) {
    auto line = [](int64_t b) { return (b + 63) / 64 * 64; };
    const int64_t positions = keyPositions(context);
    KvLayout l;
    l.values = line(kvHeads * positions * D * elementBytes);
    l.keyScales = l.values + line(kvHeads * context * Dv * elementBytes);
    l.valueScales = l.keyScales + (scaled ? line(kvHeads * positions * 4) : 0);
    l.layer = l.valueScales + (scaled ? line(kvHeads * positions * 4) : 0);
    return l;
  }
  /// KV head h of the layer at `base` (scales only when the layout has them).
  template <typename T>
  KvHead<T> head(char *base, int64_t h, int64_t context, int64_t D,
                 int64_t Dv) const {
    const int64_t positions = keyPositions(context);
    KvHead<T> kv;
    kv.keys = reinterpret_cast<T *>(base + keys) + h * positions * D;
    kv.values = reinterpret_cast<T *>(base + values) + h * context * Dv;
    if (valueScales > keyScales) {
      kv.keyScales = reinterpret_cast<float *>(base + keyScales) + h * positions;
      kv.valueScales = reinterpret_cast<float *>(base + valueScales) + h * positions;
    }
    return kv;
  }
};

/// Stores one position's key (D floats) into a KV head's key region, and its
/// value (Dv floats) into the value rows; int8 caches quantize each and store
/// its scale.
void storeKeyValue(const KvHead<float> &head, int64_t pos, const float *k,
                   int64_t D, const float *v, int64_t Dv);
void storeKeyValue(const KvHead<_Float16> &head, int64_t pos, const float *k,
                   int64_t D, const float *v, int64_t Dv);
void storeKeyValue(const KvHead<int8_t> &head, int64_t pos, const float *k,
                   int64_t D, const float *v, int64_t Dv);

/// o[r] for every row (see the file comment). head: the KV head's cache;
/// scratch: attentionScratchFloats(rows) floats. The
/// code is compiled for AVX-512, AVX2 and baseline; `tier` picks one (at most
/// the host's).
void attendKvHead(const AttentionRows &rows, const KvHead<float> &head,
                  int64_t D, int64_t Dv, float scale, float *scratch,
                  IsaTier tier);
void attendKvHead(const AttentionRows &rows, const KvHead<_Float16> &head,
                  int64_t D, int64_t Dv, float scale, float *scratch,
                  IsaTier tier);
void attendKvHead(const AttentionRows &rows, const KvHead<int8_t> &head,
                  int64_t D, int64_t Dv, float scale, float *scratch,
                  IsaTier tier);

/// Scalar reference in double precision (std::exp, std::tanh for the soft
/// cap), same layouts; int8 elements are dequantized (code * scale) before the
/// sums.
void referenceAttendKvHead(const AttentionRows &rows,
                           const KvHead<float> &head, int64_t D, int64_t Dv,
                           float scale);
void referenceAttendKvHead(const AttentionRows &rows,
                           const KvHead<_Float16> &head, int64_t D, int64_t Dv,
                           float scale);
void referenceAttendKvHead(const AttentionRows &rows,
                           const KvHead<int8_t> &head, int64_t D, int64_t Dv,
                           float scale);

} // namespace runtime
} // namespace llmc

#endif
