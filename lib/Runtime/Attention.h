//===- Attention.h - Causal attention of one KV head over the cache -*- C++ -*-===//
//
// The runtime's attention step, per KV head: the query rows that share the head
// (the heads of a GQA group, for one or more tokens) are scored against the
// cached keys together, so every key is read once per group instead of once
// per query head:
//
//   S[r][j] = scale * q[r] . k[j]                 j < T[r] (causal), else -inf
//   o[r]    = sum_j softmax(S[r])[j] * v[j]
//
// Keys are cached in *key blocks*: 16 consecutive positions, d-major, so that
// one vector load of block b at dimension d holds k[16b .. 16b+16)[d] and
// 16 scores of a row take one FMA per d (a GEMM microkernel: the load is shared
// by up to 8 rows). Values stay position-major ([ctx][Dv]): o accumulates
// p[r][j] * v[j] with one load per 16 values shared by up to 4 rows.
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
/// [0, T[r]), and writes o[r][0..Dv).
struct AttentionRows {
  const float *const *q;
  float *const *o;
  const int64_t *T;
  int64_t count;
};

/// Floats of scratch attendKvHead needs for `rows`.
int64_t attentionScratchFloats(const AttentionRows &rows);

/// Stores one position's key (D floats) into a KV head's key region.
void storeKey(float *keys, int64_t pos, const float *k, int64_t D);
void storeKey(_Float16 *keys, int64_t pos, const float *k, int64_t D);
/// Stores one position's value (Dv floats) into a KV head's value rows.
void storeValue(float *values, int64_t pos, const float *v, int64_t Dv);
void storeValue(_Float16 *values, int64_t pos, const float *v, int64_t Dv);

/// o[r] for every row (see the file comment). keys: the head's key blocks;
/// values: [position][Dv]; scratch: attentionScratchFloats(rows) floats. The
/// code is compiled for AVX-512, AVX2 and baseline; `tier` picks one (at most
/// the host's).
void attendKvHead(const AttentionRows &rows, const float *keys,
                  const float *values, int64_t D, int64_t Dv, float scale,
                  float *scratch, IsaTier tier);
void attendKvHead(const AttentionRows &rows, const _Float16 *keys,
                  const _Float16 *values, int64_t D, int64_t Dv, float scale,
                  float *scratch, IsaTier tier);

/// Scalar reference in double precision (std::exp), same layouts.
void referenceAttendKvHead(const AttentionRows &rows, const float *keys,
                           const float *values, int64_t D, int64_t Dv,
                           float scale);
void referenceAttendKvHead(const AttentionRows &rows, const _Float16 *keys,
                           const _Float16 *values, int64_t D, int64_t Dv,
                           float scale);

} // namespace runtime
} // namespace llmc

#endif
