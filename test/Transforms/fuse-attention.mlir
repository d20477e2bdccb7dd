// RUN: llmc-opt --split-input-file --llmc-fuse-attention %s | FileCheck %s

// The exported Llama form: GQA (8 q heads, 4 kv heads) with a KV cache,
// scores / sqrt(D) in f32, mask and softmax in f64, the mask built with
// where(causal & padding, 0, finfo.min). The causal term becomes
// causal = true, the padding term the boolean mask operand, and the cache
// concats become the op's presents.
// CHECK-LABEL: func.func @attention_gqa_cache_causal_padding
// CHECK: %[[PAD:.*]] = llmc.cast %{{.*}} : tensor<?x1x1x?xi64> -> tensor<?x1x1x?xi1>
// CHECK: %[[O:.*]], %[[PK:.*]], %[[PV:.*]] = llmc.attention %arg0, %arg1, %arg2 past(%arg3, %arg4) mask(%[[PAD]]) {causal = true, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : (tensor<?x8x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x1x1x?xi1>) -> (tensor<?x8x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
// CHECK-NEXT: return %[[O]], %[[PK]], %[[PV]]
func.func @attention_gqa_cache_causal_padding(
    %q: tensor<?x8x?x8xf32>, %k: tensor<?x4x?x8xf32>, %v: tensor<?x4x?x8xf32>,
    %pk: tensor<?x4x?x8xf32> {llmc.dims = ["batch_size", 4, "past_sequence_length", 8]},
    %pv: tensor<?x4x?x8xf32> {llmc.dims = ["batch_size", 4, "past_sequence_length", 8]},
    %ids: tensor<?x?xi64>, %am: tensor<?x?xi64>)
    -> (tensor<?x8x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) {
  %c0 = llmc.constant dense<0> : tensor<i64>
  %c1 = llmc.constant dense<1> : tensor<i64>
  %c2 = llmc.constant dense<2> : tensor<i64>
  %ish = llmc.shape_of %ids : tensor<?x?xi64> -> tensor<2xi64>
  %s = llmc.gather %ish, %c1 : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %psh = llmc.shape_of %pk : tensor<?x4x?x8xf32> -> tensor<4xi64>
  %p = llmc.gather %psh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %ash = llmc.shape_of %am : tensor<?x?xi64> -> tensor<2xi64>
  %t = llmc.gather %ash, %c1 : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %qi = llmc.range %c0, %s, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %qr = llmc.reshape %qi {shape = array<i64: 0, 1>} : (tensor<?xi64>) -> tensor<?x1xi64>
  %qp = llmc.add %qr, %p : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi64>
  %ki = llmc.range %c0, %t, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %kr = llmc.reshape %ki {shape = array<i64: 1, -1>} : (tensor<?xi64>) -> tensor<1x?xi64>
  %causal = llmc.less_equal %kr, %qp : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %c4 = llmc.expand %causal : (tensor<?x?xi1>) -> tensor<1x1x?x?xi1>
  %amr = llmc.reshape %am {shape = array<i64: 0, 1, 1, -1>} : (tensor<?x?xi64>) -> tensor<?x1x1x?xi64>
  %pad = llmc.cast %amr : tensor<?x1x1x?xi64> -> tensor<?x1x1x?xi1>
  %keep = llmc.and %c4, %pad : (tensor<1x1x?x?xi1>, tensor<?x1x1x?xi1>) -> tensor<?x1x?x?xi1>
  %zero = llmc.constant dense<0.0> : tensor<f64>
  %min = llmc.constant dense<-3.4028234663852886E+38> : tensor<f64>
  %mask = llmc.where %keep, %zero, %min : (tensor<?x1x?x?xi1>, tensor<f64>, tensor<f64>) -> tensor<?x1x?x?xf64>
  %kk = llmc.concat %pk, %k {axis = 2 : i64} : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  %vv = llmc.concat %pv, %v {axis = 2 : i64} : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  %k5 = llmc.reshape %kk {shape = array<i64: 0, 4, 1, -1, 8>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x1x?x8xf32>
  %ke = llmc.expand %k5 : (tensor<?x4x1x?x8xf32>) -> tensor<?x4x2x?x8xf32>
  %kr4 = llmc.reshape %ke {shape = array<i64: 0, 8, -1, 8>} : (tensor<?x4x2x?x8xf32>) -> tensor<?x8x?x8xf32>
  %v5 = llmc.reshape %vv {shape = array<i64: 0, 4, 1, -1, 8>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x1x?x8xf32>
  %ve = llmc.expand %v5 : (tensor<?x4x1x?x8xf32>) -> tensor<?x4x2x?x8xf32>
  %vr4 = llmc.reshape %ve {shape = array<i64: 0, 8, -1, 8>} : (tensor<?x4x2x?x8xf32>) -> tensor<?x8x?x8xf32>
  %kt = llmc.transpose %kr4 {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x8x?x8xf32>) -> tensor<?x8x8x?xf32>
  %sc = llmc.matmul %q, %kt : (tensor<?x8x?x8xf32>, tensor<?x8x8x?xf32>) -> tensor<?x8x?x?xf32>
  %d = llmc.constant dense<2.82842708> : tensor<f32>
  %ss = llmc.div %sc, %d : (tensor<?x8x?x?xf32>, tensor<f32>) -> tensor<?x8x?x?xf32>
  %s64 = llmc.cast %ss : tensor<?x8x?x?xf32> -> tensor<?x8x?x?xf64>
  %sm = llmc.add %s64, %mask : (tensor<?x8x?x?xf64>, tensor<?x1x?x?xf64>) -> tensor<?x8x?x?xf64>
  %pr = llmc.softmax %sm {axis = 3 : i64} : tensor<?x8x?x?xf64> -> tensor<?x8x?x?xf64>
  %p32 = llmc.cast %pr : tensor<?x8x?x?xf64> -> tensor<?x8x?x?xf32>
  %o = llmc.matmul %p32, %vr4 : (tensor<?x8x?x?xf32>, tensor<?x8x?x8xf32>) -> tensor<?x8x?x8xf32>
  return %o, %kk, %vv : tensor<?x8x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
}

// -----

// Multi-head attention without cache or mask, scale multiplied.
// CHECK-LABEL: func.func @attention_mha_no_cache_no_mask
// CHECK-NEXT: %[[O:.*]], %{{.*}}, %{{.*}} = llmc.attention %arg0, %arg1, %arg2 {num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : (tensor<1x4x3x8xf32>, tensor<1x4x3x8xf32>, tensor<1x4x3x8xf32>) -> (tensor<1x4x3x8xf32>, tensor<1x4x3x8xf32>, tensor<1x4x3x8xf32>)
// CHECK-NEXT: return %[[O]]
func.func @attention_mha_no_cache_no_mask(%q: tensor<1x4x3x8xf32>, %k: tensor<1x4x3x8xf32>, %v: tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32> {
  %kt = llmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x3x8xf32>) -> tensor<1x4x8x3xf32>
  %s = llmc.matmul %q, %kt : (tensor<1x4x3x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x3x3xf32>
  %c = llmc.constant dense<0.353553385> : tensor<f32>
  %ss = llmc.mul %c, %s : (tensor<f32>, tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
  %p = llmc.softmax %ss : tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %o = llmc.matmul %p, %v : (tensor<1x4x3x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32>
  return %o : tensor<1x4x3x8xf32>
}

// -----

// Gemma-2's soft-capped scores: c * tanh(scaled scores / c) before the
// softmax; the scale inside the tanh times c is the op's scale.
// CHECK-LABEL: func.func @attention_softcap
// CHECK-NEXT: %[[O:.*]], %{{.*}}, %{{.*}} = llmc.attention %arg0, %arg1, %arg2 {num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 2.500000e-01 : f32, softcap = 5.000000e+01 : f32}
// CHECK-NEXT: return %[[O]]
func.func @attention_softcap(%q: tensor<1x4x3x8xf32>, %k: tensor<1x4x3x8xf32>, %v: tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32> {
  %kt = llmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x3x8xf32>) -> tensor<1x4x8x3xf32>
  %s = llmc.matmul %q, %kt : (tensor<1x4x3x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x3x3xf32>
  %scaling = llmc.constant dense<0.25> : tensor<f32>
  %ss = llmc.mul %s, %scaling : (tensor<1x4x3x3xf32>, tensor<f32>) -> tensor<1x4x3x3xf32>
  %cap = llmc.constant dense<50.0> : tensor<f32>
  %d = llmc.div %ss, %cap : (tensor<1x4x3x3xf32>, tensor<f32>) -> tensor<1x4x3x3xf32>
  %t = llmc.tanh %d : tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %c = llmc.mul %t, %cap : (tensor<1x4x3x3xf32>, tensor<f32>) -> tensor<1x4x3x3xf32>
  %p = llmc.softmax %c : tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %o = llmc.matmul %p, %v : (tensor<1x4x3x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32>
  return %o : tensor<1x4x3x8xf32>
}

// -----

// An additive mask from the caller (added first), GQA 4/2 with a cache.
// CHECK-LABEL: func.func @attention_additive_mask_input
// CHECK-NEXT: %[[O:.*]], %[[PK:.*]], %[[PV:.*]] = llmc.attention %arg0, %arg1, %arg2 past(%arg3, %arg4) mask(%arg5) {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32} : (tensor<1x4x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x1x3x5xf32>) -> (tensor<1x4x3x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
// CHECK-NEXT: return %[[O]], %[[PK]], %[[PV]]
func.func @attention_additive_mask_input(%q: tensor<1x4x3x8xf32>, %k: tensor<1x2x3x8xf32>, %v: tensor<1x2x3x8xf32>,
                %pk: tensor<1x2x2x8xf32>, %pv: tensor<1x2x2x8xf32>, %mask: tensor<1x1x3x5xf32>)
    -> (tensor<1x4x3x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) {
  %kk = llmc.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x2x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x5x8xf32>
  %vv = llmc.concat %pv, %v {axis = -2 : i64} : (tensor<1x2x2x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x5x8xf32>
  %k5 = llmc.reshape %kk {shape = array<i64: 1, 2, 1, 5, 8>} : (tensor<1x2x5x8xf32>) -> tensor<1x2x1x5x8xf32>
  %ke = llmc.expand %k5 : (tensor<1x2x1x5x8xf32>) -> tensor<1x2x2x5x8xf32>
  %kr = llmc.reshape %ke {shape = array<i64: 1, 4, 5, 8>} : (tensor<1x2x2x5x8xf32>) -> tensor<1x4x5x8xf32>
  %v5 = llmc.reshape %vv {shape = array<i64: 1, 2, 1, 5, 8>} : (tensor<1x2x5x8xf32>) -> tensor<1x2x1x5x8xf32>
  %ve = llmc.expand %v5 : (tensor<1x2x1x5x8xf32>) -> tensor<1x2x2x5x8xf32>
  %vr = llmc.reshape %ve {shape = array<i64: 1, 4, 5, 8>} : (tensor<1x2x2x5x8xf32>) -> tensor<1x4x5x8xf32>
  %kt = llmc.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x5x8xf32>) -> tensor<1x4x8x5xf32>
  %s = llmc.matmul %q, %kt : (tensor<1x4x3x8xf32>, tensor<1x4x8x5xf32>) -> tensor<1x4x3x5xf32>
  %scale = llmc.constant dense<0.353553385> : tensor<f32>
  %ss = llmc.mul %s, %scale : (tensor<1x4x3x5xf32>, tensor<f32>) -> tensor<1x4x3x5xf32>
  %sm = llmc.add %mask, %ss : (tensor<1x1x3x5xf32>, tensor<1x4x3x5xf32>) -> tensor<1x4x3x5xf32>
  %p = llmc.softmax %sm {axis = -1 : i64} : tensor<1x4x3x5xf32> -> tensor<1x4x3x5xf32>
  %o = llmc.matmul %p, %vr : (tensor<1x4x3x5xf32>, tensor<1x4x5x8xf32>) -> tensor<1x4x3x8xf32>
  return %o, %kk, %vv : tensor<1x4x3x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
}

// -----

// masked_fill form: where(key > query, -inf, scores), no cache: causal only.
// CHECK-LABEL: func.func @attention_masked_fill_causal
// CHECK-NEXT: %[[O:.*]], %{{.*}}, %{{.*}} = llmc.attention %arg0, %arg1, %arg2 {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32}
// CHECK-NEXT: return %[[O]]
func.func @attention_masked_fill_causal(%q: tensor<1x2x3x8xf32>, %k: tensor<1x2x3x8xf32>, %v: tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32> {
  %c0 = llmc.constant dense<0> : tensor<i64>
  %c1 = llmc.constant dense<1> : tensor<i64>
  %c3 = llmc.constant dense<3> : tensor<i64>
  %r = llmc.range %c0, %c3, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
  %qi = llmc.reshape %r {shape = array<i64: 3, 1>} : (tensor<3xi64>) -> tensor<3x1xi64>
  %ki = llmc.reshape %r {shape = array<i64: 1, 3>} : (tensor<3xi64>) -> tensor<1x3xi64>
  %future = llmc.greater %ki, %qi : (tensor<1x3xi64>, tensor<3x1xi64>) -> tensor<3x3xi1>
  %kt = llmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x8x3xf32>
  %s = llmc.matmul %q, %kt : (tensor<1x2x3x8xf32>, tensor<1x2x8x3xf32>) -> tensor<1x2x3x3xf32>
  %c = llmc.constant dense<0.353553385> : tensor<f32>
  %ss = llmc.mul %s, %c : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %ninf = llmc.constant dense<0xFF800000> : tensor<f32>
  %m = llmc.where %future, %ninf, %ss : (tensor<3x3xi1>, tensor<f32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %p = llmc.softmax %m : tensor<1x2x3x3xf32> -> tensor<1x2x3x3xf32>
  %o = llmc.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
  return %o : tensor<1x2x3x8xf32>
}

// -----

// GQA repeat after the transpose of k; the scale split between q and k
// (1/sqrt(sqrt(D)) each, as SDPA exports do).
// CHECK-LABEL: func.func @attention_repeat_after_transpose_split_scale
// CHECK-NEXT: %[[O:.*]], %{{.*}}, %{{.*}} = llmc.attention %arg0, %arg1, %arg2 {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.353553{{[0-9]*}} : f32}
// CHECK-NEXT: return %[[O]]
func.func @attention_repeat_after_transpose_split_scale(%q: tensor<1x4x3x8xf32>, %k: tensor<1x2x3x8xf32>, %v: tensor<1x2x3x8xf32>) -> tensor<1x4x3x8xf32> {
  %c = llmc.constant dense<0.594603539> : tensor<f32>
  %qs = llmc.mul %q, %c : (tensor<1x4x3x8xf32>, tensor<f32>) -> tensor<1x4x3x8xf32>
  %ks = llmc.mul %k, %c : (tensor<1x2x3x8xf32>, tensor<f32>) -> tensor<1x2x3x8xf32>
  %kt = llmc.transpose %ks {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x8x3xf32>
  %k5 = llmc.reshape %kt {shape = array<i64: 1, 2, 1, 8, 3>} : (tensor<1x2x8x3xf32>) -> tensor<1x2x1x8x3xf32>
  %ke = llmc.expand %k5 : (tensor<1x2x1x8x3xf32>) -> tensor<1x2x2x8x3xf32>
  %kr = llmc.reshape %ke {shape = array<i64: 1, 4, 8, 3>} : (tensor<1x2x2x8x3xf32>) -> tensor<1x4x8x3xf32>
  %v5 = llmc.reshape %v {shape = array<i64: 1, 2, 1, 3, 8>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x1x3x8xf32>
  %ve = llmc.expand %v5 : (tensor<1x2x1x3x8xf32>) -> tensor<1x2x2x3x8xf32>
  %vr = llmc.reshape %ve {shape = array<i64: 1, 4, 3, 8>} : (tensor<1x2x2x3x8xf32>) -> tensor<1x4x3x8xf32>
  %s = llmc.matmul %qs, %kr : (tensor<1x4x3x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x3x3xf32>
  %p = llmc.softmax %s : tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %o = llmc.matmul %p, %vr : (tensor<1x4x3x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32>
  return %o : tensor<1x4x3x8xf32>
}

// -----

// Query positions as range(P, P + S) (HF cache_position), mask as an add of
// two where terms (causal, padding), boolean.
// CHECK-LABEL: func.func @attention_cache_position_range
// CHECK: %[[PAD:.*]] = llmc.cast %{{.*}} : tensor<1x1x1x?xi64> -> tensor<1x1x1x?xi1>
// CHECK: llmc.attention %arg0, %arg1, %arg2 past(%arg3, %arg4) mask(%[[PAD]]) {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32}
func.func @attention_cache_position_range(
    %q: tensor<1x2x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>,
    %pk: tensor<1x2x?x8xf32>, %pv: tensor<1x2x?x8xf32>, %am: tensor<1x?xi64>)
    -> tensor<1x2x?x8xf32> {
  %c1 = llmc.constant dense<1> : tensor<i64>
  %c2 = llmc.constant dense<2> : tensor<i64>
  %c0 = llmc.constant dense<0> : tensor<i64>
  %psh = llmc.shape_of %pk : tensor<1x2x?x8xf32> -> tensor<4xi64>
  %p = llmc.gather %psh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %qsh = llmc.shape_of %q : tensor<1x2x?x8xf32> -> tensor<4xi64>
  %s = llmc.gather %qsh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %end = llmc.add %p, %s : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %pos = llmc.range %p, %end, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %qi = llmc.reshape %pos {shape = array<i64: -1, 1>} : (tensor<?xi64>) -> tensor<?x1xi64>
  %ki = llmc.range %c0, %end, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %causal = llmc.greater_equal %qi, %ki : (tensor<?x1xi64>, tensor<?xi64>) -> tensor<?x?xi1>
  %zero = llmc.constant dense<0.0> : tensor<f32>
  %min = llmc.constant dense<-3.40282347E+38> : tensor<f32>
  %cm = llmc.where %causal, %zero, %min : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %amr = llmc.reshape %am {shape = array<i64: 1, 1, 1, -1>} : (tensor<1x?xi64>) -> tensor<1x1x1x?xi64>
  %padb = llmc.cast %amr : tensor<1x1x1x?xi64> -> tensor<1x1x1x?xi1>
  %pm = llmc.where %padb, %zero, %min : (tensor<1x1x1x?xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x1x?xf32>
  %kk = llmc.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %vv = llmc.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %kt = llmc.transpose %kk {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x8xf32>) -> tensor<1x2x8x?xf32>
  %sc = llmc.matmul %q, %kt : (tensor<1x2x?x8xf32>, tensor<1x2x8x?xf32>) -> tensor<1x2x?x?xf32>
  %d = llmc.constant dense<2.82842708> : tensor<f32>
  %ss = llmc.div %sc, %d : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %a1 = llmc.add %ss, %cm : (tensor<1x2x?x?xf32>, tensor<?x?xf32>) -> tensor<1x2x?x?xf32>
  %a2 = llmc.add %a1, %pm : (tensor<1x2x?x?xf32>, tensor<1x1x1x?xf32>) -> tensor<1x2x?x?xf32>
  %pr = llmc.softmax %a2 : tensor<1x2x?x?xf32> -> tensor<1x2x?x?xf32>
  %o = llmc.matmul %pr, %vv : (tensor<1x2x?x?xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}

// -----

// Near miss of the causal term: the query offset is the length of the new
// keys, not of the past, so the condition stays a boolean mask operand.
// CHECK-LABEL: func.func @attention_causal_near_miss_offset
// CHECK-NOT: causal = true
// CHECK: %[[M:.*]] = llmc.expand %{{.*}} : (tensor<?x?xi1>) -> tensor<1x1x?x?xi1>
// CHECK: llmc.attention %arg0, %arg1, %arg2 past(%arg3, %arg4) mask(%[[M]]) {num_heads = 2 : i64
func.func @attention_causal_near_miss_offset(
    %q: tensor<1x2x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>,
    %pk: tensor<1x2x?x8xf32>, %pv: tensor<1x2x?x8xf32>)
    -> tensor<1x2x?x8xf32> {
  %c0 = llmc.constant dense<0> : tensor<i64>
  %c1 = llmc.constant dense<1> : tensor<i64>
  %c2 = llmc.constant dense<2> : tensor<i64>
  %ksh = llmc.shape_of %k : tensor<1x2x?x8xf32> -> tensor<4xi64>
  %n = llmc.gather %ksh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %qsh = llmc.shape_of %q : tensor<1x2x?x8xf32> -> tensor<4xi64>
  %s = llmc.gather %qsh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %qi = llmc.range %c0, %s, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %qr = llmc.reshape %qi {shape = array<i64: -1, 1>} : (tensor<?xi64>) -> tensor<?x1xi64>
  %qp = llmc.add %qr, %n : (tensor<?x1xi64>, tensor<i64>) -> tensor<?x1xi64>
  %kk = llmc.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %vv = llmc.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %kksh = llmc.shape_of %kk : tensor<1x2x?x8xf32> -> tensor<4xi64>
  %t = llmc.gather %kksh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %ki = llmc.range %c0, %t, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %kr = llmc.reshape %ki {shape = array<i64: 1, -1>} : (tensor<?xi64>) -> tensor<1x?xi64>
  %keep = llmc.less_equal %kr, %qp : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %zero = llmc.constant dense<0.0> : tensor<f32>
  %min = llmc.constant dense<-3.40282347E+38> : tensor<f32>
  %mask = llmc.where %keep, %zero, %min : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %kt = llmc.transpose %kk {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x8xf32>) -> tensor<1x2x8x?xf32>
  %sc = llmc.matmul %q, %kt : (tensor<1x2x?x8xf32>, tensor<1x2x8x?xf32>) -> tensor<1x2x?x?xf32>
  %d = llmc.constant dense<2.82842708> : tensor<f32>
  %ss = llmc.div %sc, %d : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %a = llmc.add %ss, %mask : (tensor<1x2x?x?xf32>, tensor<?x?xf32>) -> tensor<1x2x?x?xf32>
  %pr = llmc.softmax %a : tensor<1x2x?x?xf32> -> tensor<1x2x?x?xf32>
  %o = llmc.matmul %pr, %vv : (tensor<1x2x?x?xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}

// -----

// Near misses: softmax over the query axis; a scale that is not a constant;
// a mask added after the softmax; keys that are not transposed.
// CHECK-LABEL: func.func @attention_near_miss_softmax_axis
// CHECK-NOT: llmc.attention
// CHECK: return
func.func @attention_near_miss_softmax_axis(%q: tensor<1x4x3x8xf32>, %k: tensor<1x4x3x8xf32>, %v: tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32> {
  %kt = llmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x3x8xf32>) -> tensor<1x4x8x3xf32>
  %s = llmc.matmul %q, %kt : (tensor<1x4x3x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x3x3xf32>
  %p = llmc.softmax %s {axis = 2 : i64} : tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %o = llmc.matmul %p, %v : (tensor<1x4x3x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32>
  return %o : tensor<1x4x3x8xf32>
}

// CHECK-LABEL: func.func @attention_near_miss_variable_scale
// CHECK-NOT: llmc.attention
// CHECK: return
func.func @attention_near_miss_variable_scale(%q: tensor<1x4x3x8xf32>, %k: tensor<1x4x3x8xf32>, %v: tensor<1x4x3x8xf32>, %c: tensor<f32>) -> tensor<1x4x3x8xf32> {
  %kt = llmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x3x8xf32>) -> tensor<1x4x8x3xf32>
  %s = llmc.matmul %q, %kt : (tensor<1x4x3x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x3x3xf32>
  %ss = llmc.div %s, %c : (tensor<1x4x3x3xf32>, tensor<f32>) -> tensor<1x4x3x3xf32>
  %p = llmc.softmax %ss : tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %o = llmc.matmul %p, %v : (tensor<1x4x3x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32>
  return %o : tensor<1x4x3x8xf32>
}

// CHECK-LABEL: func.func @attention_near_miss_mask_after_softmax
// CHECK-NOT: llmc.attention
// CHECK: return
func.func @attention_near_miss_mask_after_softmax(%q: tensor<1x4x3x8xf32>, %k: tensor<1x4x3x8xf32>, %v: tensor<1x4x3x8xf32>, %m: tensor<1x1x3x3xf32>) -> tensor<1x4x3x8xf32> {
  %kt = llmc.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x3x8xf32>) -> tensor<1x4x8x3xf32>
  %s = llmc.matmul %q, %kt : (tensor<1x4x3x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x3x3xf32>
  %p = llmc.softmax %s : tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %pm = llmc.add %p, %m : (tensor<1x4x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x4x3x3xf32>
  %o = llmc.matmul %pm, %v : (tensor<1x4x3x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32>
  return %o : tensor<1x4x3x8xf32>
}

// CHECK-LABEL: func.func @attention_near_miss_untransposed_keys
// CHECK-NOT: llmc.attention
// CHECK: return
func.func @attention_near_miss_untransposed_keys(%q: tensor<1x4x3x8xf32>, %kt: tensor<1x4x8x3xf32>, %v: tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32> {
  %s = llmc.matmul %q, %kt : (tensor<1x4x3x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x3x3xf32>
  %p = llmc.softmax %s : tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
  %o = llmc.matmul %p, %v : (tensor<1x4x3x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32>
  return %o : tensor<1x4x3x8xf32>
}

// -----

// GPT-2's causal buffer (transformers 4.2x-4.3x): rows [T - S, T) and
// columns [0, T) of a constant tril, applied with where around the scores,
// then the additive padding mask: causal, the padding mask the operand.
// CHECK-LABEL: func.func @attention_causal_buffer_slice
// CHECK-NOT: tensor<1x1x4x4xi1>
// CHECK: llmc.attention %arg0, %arg1, %arg2 past(%arg3, %arg4) mask(%arg5) {causal = true, num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32}
func.func @attention_causal_buffer_slice(
    %q: tensor<1x2x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>,
    %pk: tensor<1x2x?x8xf32>, %pv: tensor<1x2x?x8xf32>, %pad: tensor<1x1x1x?xf32>)
    -> tensor<1x2x?x8xf32> {
  %c0 = llmc.constant dense<0> : tensor<i64>
  %c1 = llmc.constant dense<1> : tensor<i64>
  %c2 = llmc.constant dense<2> : tensor<i64>
  %tril = llmc.constant dense<[[[[true, false, false, false], [true, true, false, false], [true, true, true, false], [true, true, true, true]]]]> : tensor<1x1x4x4xi1>
  %kk = llmc.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %vv = llmc.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %kksh = llmc.shape_of %kk : tensor<1x2x?x8xf32> -> tensor<4xi64>
  %t = llmc.gather %kksh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %ksh = llmc.shape_of %k : tensor<1x2x?x8xf32> -> tensor<4xi64>
  %s = llmc.gather %ksh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %start = llmc.sub %t, %s : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %ri = llmc.range %start, %t, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rows = llmc.gather %tril, %ri {axis = 2 : i64} : (tensor<1x1x4x4xi1>, tensor<?xi64>) -> tensor<1x1x?x4xi1>
  %ci = llmc.range %c0, %t, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %causal = llmc.gather %rows, %ci {axis = 3 : i64} : (tensor<1x1x?x4xi1>, tensor<?xi64>) -> tensor<1x1x?x?xi1>
  %kt = llmc.transpose %kk {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x8xf32>) -> tensor<1x2x8x?xf32>
  %sc = llmc.matmul %q, %kt : (tensor<1x2x?x8xf32>, tensor<1x2x8x?xf32>) -> tensor<1x2x?x?xf32>
  %d = llmc.constant dense<2.82842708> : tensor<f32>
  %ss = llmc.div %sc, %d : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %min = llmc.constant dense<-3.40282347E+38> : tensor<f32>
  %w = llmc.where %causal, %ss, %min : (tensor<1x1x?x?xi1>, tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %a = llmc.add %w, %pad : (tensor<1x2x?x?xf32>, tensor<1x1x1x?xf32>) -> tensor<1x2x?x?xf32>
  %pr = llmc.softmax %a : tensor<1x2x?x?xf32> -> tensor<1x2x?x?xf32>
  %o = llmc.matmul %pr, %vv : (tensor<1x2x?x?xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  return %o : tensor<1x2x?x8xf32>
}

// -----

// Near misses of the buffer: not lower-triangular (the last row masks a
// key), and rows from 0 rather than the past length. The slices stay
// boolean mask operands.
// CHECK-LABEL: func.func @attention_causal_buffer_near_miss
// CHECK-NOT: causal = true
// CHECK: llmc.attention {{.*}} mask(%{{.*}}) {num_heads = 2 : i64
// CHECK-NOT: causal = true
// CHECK: llmc.attention {{.*}} mask(%{{.*}}) {num_heads = 2 : i64
func.func @attention_causal_buffer_near_miss(
    %q: tensor<1x2x?x8xf32>, %k: tensor<1x2x?x8xf32>, %v: tensor<1x2x?x8xf32>,
    %pk: tensor<1x2x?x8xf32>, %pv: tensor<1x2x?x8xf32>)
    -> (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) {
  %c0 = llmc.constant dense<0> : tensor<i64>
  %c1 = llmc.constant dense<1> : tensor<i64>
  %c2 = llmc.constant dense<2> : tensor<i64>
  %bad = llmc.constant dense<[[[[true, false, false, false], [true, true, false, false], [true, true, true, false], [true, true, true, false]]]]> : tensor<1x1x4x4xi1>
  %tril = llmc.constant dense<[[[[true, false, false, false], [true, true, false, false], [true, true, true, false], [true, true, true, true]]]]> : tensor<1x1x4x4xi1>
  %kk = llmc.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %vv = llmc.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %kksh = llmc.shape_of %kk : tensor<1x2x?x8xf32> -> tensor<4xi64>
  %t = llmc.gather %kksh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %ksh = llmc.shape_of %k : tensor<1x2x?x8xf32> -> tensor<4xi64>
  %s = llmc.gather %ksh, %c2 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %start = llmc.sub %t, %s : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %ri = llmc.range %start, %t, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %ci = llmc.range %c0, %t, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rows1 = llmc.gather %bad, %ri {axis = 2 : i64} : (tensor<1x1x4x4xi1>, tensor<?xi64>) -> tensor<1x1x?x4xi1>
  %m1 = llmc.gather %rows1, %ci {axis = 3 : i64} : (tensor<1x1x?x4xi1>, tensor<?xi64>) -> tensor<1x1x?x?xi1>
  %r0 = llmc.range %c0, %s, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rows2 = llmc.gather %tril, %r0 {axis = 2 : i64} : (tensor<1x1x4x4xi1>, tensor<?xi64>) -> tensor<1x1x?x4xi1>
  %m2 = llmc.gather %rows2, %ci {axis = 3 : i64} : (tensor<1x1x?x4xi1>, tensor<?xi64>) -> tensor<1x1x?x?xi1>
  %kt = llmc.transpose %kk {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x?x8xf32>) -> tensor<1x2x8x?xf32>
  %sc = llmc.matmul %q, %kt : (tensor<1x2x?x8xf32>, tensor<1x2x8x?xf32>) -> tensor<1x2x?x?xf32>
  %d = llmc.constant dense<2.82842708> : tensor<f32>
  %ss = llmc.div %sc, %d : (tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %min = llmc.constant dense<-3.40282347E+38> : tensor<f32>
  %w1 = llmc.where %m1, %ss, %min : (tensor<1x1x?x?xi1>, tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %p1 = llmc.softmax %w1 : tensor<1x2x?x?xf32> -> tensor<1x2x?x?xf32>
  %o1 = llmc.matmul %p1, %vv : (tensor<1x2x?x?xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  %w2 = llmc.where %m2, %ss, %min : (tensor<1x1x?x?xi1>, tensor<1x2x?x?xf32>, tensor<f32>) -> tensor<1x2x?x?xf32>
  %p2 = llmc.softmax %w2 : tensor<1x2x?x?xf32> -> tensor<1x2x?x?xf32>
  %o2 = llmc.matmul %p2, %vv : (tensor<1x2x?x?xf32>, tensor<1x2x?x8xf32>) -> tensor<1x2x?x8xf32>
  return %o1, %o2 : tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>
}
