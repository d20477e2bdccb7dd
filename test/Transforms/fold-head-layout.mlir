// RUN: llmc-opt --split-input-file --llmc-fold-head-layout %s | FileCheck %s

// rope of a head split [B, S, H*D] -> [B, S, H, D] -> [B, H, S, D]: the
// token-major rope on the projection itself; the split moves after it.
// CHECK-LABEL: func.func @rope_token_major
// CHECK-NEXT: %[[R:.*]] = llmc.rope half %arg0, %arg1, %arg2 {num_heads = 4 : i64} : (tensor<?x?x32xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x32xf32>
// CHECK-NEXT: %[[S:.*]] = llmc.reshape %[[R]] {shape = array<i64: 0, 0, 4, 8>}
// CHECK-NEXT: %[[T:.*]] = llmc.transpose %[[S]] {perm = array<i64: 0, 2, 1, 3>}
// CHECK-NEXT: return %[[T]]
func.func @rope_token_major(%x: tensor<?x?x32xf32>, %c: tensor<?x?x4xf32>, %s: tensor<?x?x4xf32>) -> tensor<?x4x?x8xf32> {
  %r = llmc.reshape %x {shape = array<i64: 0, 0, 4, 8>} : (tensor<?x?x32xf32>) -> tensor<?x?x4x8xf32>
  %t = llmc.transpose %r {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x4x8xf32>) -> tensor<?x4x?x8xf32>
  %y = llmc.rope half %t, %c, %s : (tensor<?x4x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x4x?x8xf32>
  return %y : tensor<?x4x?x8xf32>
}

// -----

// Near miss: the reshape splits the sequence, not the features (a valid
// rope input, but not a head split of x).
// CHECK-LABEL: func.func @rope_split_sequence
// CHECK: llmc.rope interleaved %{{.*}}, %arg1, %arg2 : (tensor<1x2x3x8xf32>
// CHECK-NOT: num_heads
// CHECK: return
func.func @rope_split_sequence(%x: tensor<1x6x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
  %r = llmc.reshape %x {shape = array<i64: 1, 3, 2, 8>} : (tensor<1x6x8xf32>) -> tensor<1x3x2x8xf32>
  %t = llmc.transpose %r {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x2x8xf32>) -> tensor<1x2x3x8xf32>
  %y = llmc.rope interleaved %t, %c, %s : (tensor<1x2x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32>
  return %y : tensor<1x2x3x8xf32>
}

// -----

// Near miss: a transpose other than the head transpose.
// CHECK-LABEL: func.func @rope_other_transpose
// CHECK: llmc.transpose %{{.*}} {perm = array<i64: 2, 0, 1, 3>}
// CHECK-NOT: num_heads
// CHECK: return
func.func @rope_other_transpose(%x: tensor<3x1x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x1x3x8xf32> {
  %r = llmc.reshape %x {shape = array<i64: 3, 1, 1, 8>} : (tensor<3x1x8xf32>) -> tensor<3x1x1x8xf32>
  %t = llmc.transpose %r {perm = array<i64: 2, 0, 1, 3>} : (tensor<3x1x1x8xf32>) -> tensor<1x3x1x8xf32>
  %u = llmc.reshape %t {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x1x8xf32>) -> tensor<1x1x3x8xf32>
  %y = llmc.rope half %u, %c, %s : (tensor<1x1x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x1x3x8xf32>
  return %y : tensor<1x1x3x8xf32>
}

// -----

// attention of head-split q/k/v (GQA 4/2 heads of 8) with its output
// merged back: the token-major attention, no layout op left; the cache
// stays heads-first.
// CHECK-LABEL: func.func @attention_token_major
// CHECK-NEXT: %[[O:.*]], %[[PK:.*]], %[[PV:.*]] = llmc.attention %arg0, %arg1, %arg2 past(%arg3, %arg4) {causal = true, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32} : (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> (tensor<?x?x32xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>)
// CHECK-NEXT: return %[[O]], %[[PK]], %[[PV]]
func.func @attention_token_major(%q: tensor<?x?x32xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>,
                                 %pk: tensor<?x2x?x8xf32>, %pv: tensor<?x2x?x8xf32>)
    -> (tensor<?x?x32xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) {
  %q1 = llmc.reshape %q {shape = array<i64: 0, 0, 4, 8>} : (tensor<?x?x32xf32>) -> tensor<?x?x4x8xf32>
  %q2 = llmc.transpose %q1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x4x8xf32>) -> tensor<?x4x?x8xf32>
  %k1 = llmc.reshape %k {shape = array<i64: 0, 0, 2, 8>} : (tensor<?x?x16xf32>) -> tensor<?x?x2x8xf32>
  %k2 = llmc.transpose %k1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x2x8xf32>) -> tensor<?x2x?x8xf32>
  %v1 = llmc.reshape %v {shape = array<i64: 0, 0, 2, 8>} : (tensor<?x?x16xf32>) -> tensor<?x?x2x8xf32>
  %v2 = llmc.transpose %v1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x2x8xf32>) -> tensor<?x2x?x8xf32>
  %o, %kk, %vv = llmc.attention %q2, %k2, %v2 past(%pk, %pv) {causal = true, num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32}
      : (tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>)
      -> (tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>)
  %o1 = llmc.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x4x?x8xf32>) -> tensor<?x?x4x8xf32>
  %o2 = llmc.reshape %o1 {shape = array<i64: 0, 0, 32>} : (tensor<?x?x4x8xf32>) -> tensor<?x?x32xf32>
  return %o2, %kk, %vv : tensor<?x?x32xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
}

// -----

// Near miss: k is already heads-first (not a head split): the attention
// keeps its heads-first form.
// CHECK-LABEL: func.func @attention_k_not_split
// CHECK: llmc.attention %{{.*}}, %arg1, %{{.*}} {num_heads = 2 : i64, num_kv_heads = 2 : i64
// CHECK-SAME: (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>)
// CHECK: return
func.func @attention_k_not_split(%q: tensor<1x3x16xf32>, %k: tensor<1x2x3x8xf32>, %v: tensor<1x3x16xf32>) -> tensor<1x2x3x8xf32> {
  %q1 = llmc.reshape %q {shape = array<i64: 0, 0, 2, 8>} : (tensor<1x3x16xf32>) -> tensor<1x3x2x8xf32>
  %q2 = llmc.transpose %q1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x2x8xf32>) -> tensor<1x2x3x8xf32>
  %v1 = llmc.reshape %v {shape = array<i64: 0, 0, 2, 8>} : (tensor<1x3x16xf32>) -> tensor<1x3x2x8xf32>
  %v2 = llmc.transpose %v1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x2x8xf32>) -> tensor<1x2x3x8xf32>
  %o, %kk, %vv = llmc.attention %q2, %k, %v2 {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32}
      : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>)
      -> (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>)
  return %o : tensor<1x2x3x8xf32>
}

// -----

// The padding mask cast(reshape(attention_mask, [B, 1, 1, T]) -> i1): the
// integer [B, T] input itself (nonzero = attend, one row for every query).
// CHECK-LABEL: func.func @mask_plumbing
// CHECK-NEXT: %[[O:.*]], %{{.*}}, %{{.*}} = llmc.attention %arg0, %arg1, %arg2 mask(%arg3) {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32} : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x?xi64>)
// CHECK-NEXT: return %[[O]]
func.func @mask_plumbing(%q: tensor<?x2x?x8xf32>, %k: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x8xf32>, %m: tensor<?x?xi64>) -> tensor<?x2x?x8xf32> {
  %r = llmc.reshape %m {shape = array<i64: 0, 1, 1, -1>} : (tensor<?x?xi64>) -> tensor<?x1x1x?xi64>
  %b = llmc.cast %r : tensor<?x1x1x?xi64> -> tensor<?x1x1x?xi1>
  %o, %kk, %vv = llmc.attention %q, %k, %v mask(%b) {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32}
      : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x1x1x?xi1>)
      -> (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>)
  return %o : tensor<?x2x?x8xf32>
}

// -----

// Near misses: a float mask cast to i1 (as a float it would be additive);
// an integer mask cast to float (additive: not a boolean).
// CHECK-LABEL: func.func @mask_near_miss
// CHECK: %[[B:.*]] = llmc.cast %{{.*}} : tensor<1x1x1x5xf32> -> tensor<1x1x1x5xi1>
// CHECK: llmc.attention %arg0, %arg1, %arg2 mask(%[[B]])
// CHECK: %[[F:.*]] = llmc.cast %{{.*}} : tensor<1x1x1x5xi64> -> tensor<1x1x1x5xf32>
// CHECK: llmc.attention %arg0, %arg1, %arg2 mask(%[[F]])
func.func @mask_near_miss(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x8xf32>, %v: tensor<1x2x5x8xf32>,
                          %mf: tensor<1x5xf32>, %mi: tensor<1x5xi64>) -> (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) {
  %r = llmc.reshape %mf {shape = array<i64: 0, 1, 1, -1>} : (tensor<1x5xf32>) -> tensor<1x1x1x5xf32>
  %b = llmc.cast %r : tensor<1x1x1x5xf32> -> tensor<1x1x1x5xi1>
  %o, %kk, %vv = llmc.attention %q, %k, %v mask(%b) {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32}
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x1x1x5xi1>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
  %r2 = llmc.reshape %mi {shape = array<i64: 0, 1, 1, -1>} : (tensor<1x5xi64>) -> tensor<1x1x1x5xi64>
  %f2 = llmc.cast %r2 : tensor<1x1x1x5xi64> -> tensor<1x1x1x5xf32>
  %o2, %kk2, %vv2 = llmc.attention %q, %k, %v mask(%f2) {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32}
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x1x1x5xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
  return %o, %o2 : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
}
