// RUN: llmc-opt --split-input-file --llmc-graph-canonicalize %s | FileCheck %s

// Reshape chains with dynamic dims compose into one reshape.
// CHECK-LABEL: func.func @compose_reshapes
// CHECK-NEXT: %[[R:.*]] = llmc.reshape %arg0 {shape = array<i64: 0, 1, 1, -1>} : (tensor<?x?xi64>) -> tensor<?x1x1x?xi64>
// CHECK-NEXT: return %[[R]]
func.func @compose_reshapes(%x: tensor<?x?xi64>) -> tensor<?x1x1x?xi64> {
  %a = llmc.reshape %x {shape = array<i64: 0, 1, -1>} : (tensor<?x?xi64>) -> tensor<?x1x?xi64>
  %b = llmc.reshape %a {shape = array<i64: 0, 1, 1, -1>} : (tensor<?x1x?xi64>) -> tensor<?x1x1x?xi64>
  return %b : tensor<?x1x1x?xi64>
}

// -----

// Near miss: two dynamic dims that neither reshape copies cannot be
// expressed by one reshape (only one -1 is allowed).
// CHECK-LABEL: func.func @compose_reshapes_near_miss
// CHECK: llmc.reshape
// CHECK-NEXT: llmc.reshape
func.func @compose_reshapes_near_miss(%x: tensor<?xf32>, %y: tensor<?x?x2xf32>) -> tensor<?x?xf32> {
  %a = llmc.reshape %y {shape = array<i64: -1, 2>} : (tensor<?x?x2xf32>) -> tensor<?x2xf32>
  %b = llmc.reshape %a {shape = array<i64: 2, -1>} : (tensor<?x2xf32>) -> tensor<2x?xf32>
  %c = llmc.reshape %b {shape = array<i64: -1, 0>} : (tensor<2x?xf32>) -> tensor<?x?xf32>
  return %c : tensor<?x?xf32>
}

// -----

// CHECK-LABEL: func.func @compose_transposes
// CHECK-NEXT: %[[T:.*]] = llmc.transpose %arg0 {perm = array<i64: 0, 2, 3, 1>}
// CHECK-NEXT: return %arg0, %[[T]]
func.func @compose_transposes(%x: tensor<1x2x3x4xf32>) -> (tensor<1x2x3x4xf32>, tensor<1x3x4x2xf32>) {
  %a = llmc.transpose %x {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x3x4xf32>) -> tensor<1x3x2x4xf32>
  %b = llmc.transpose %a {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x3x2x4xf32>) -> tensor<1x2x3x4xf32>
  %c = llmc.transpose %a {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x3x2x4xf32>) -> tensor<1x3x4x2xf32>
  return %b, %c : tensor<1x2x3x4xf32>, tensor<1x3x4x2xf32>
}

// -----

// f32 -> f64 -> f32 is exact and disappears; f32 -> f16 -> f32 rounds and stays.
// CHECK-LABEL: func.func @cast_chains
// CHECK-NEXT: %[[H:.*]] = llmc.cast %arg0 : tensor<4xf32> -> tensor<4xf16>
// CHECK-NEXT: %[[B:.*]] = llmc.cast %[[H]] : tensor<4xf16> -> tensor<4xf32>
// CHECK-NEXT: return %arg0, %[[B]]
func.func @cast_chains(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %a = llmc.cast %x : tensor<4xf32> -> tensor<4xf64>
  %b = llmc.cast %a : tensor<4xf64> -> tensor<4xf32>
  %h = llmc.cast %x : tensor<4xf32> -> tensor<4xf16>
  %c = llmc.cast %h : tensor<4xf16> -> tensor<4xf32>
  return %b, %c : tensor<4xf32>, tensor<4xf32>
}

// -----

// not(x == 0) is a cast to i1; the shape of a static dim is a constant;
// multiplying by one and a no-op expand disappear; x * sigmoid(x) is silu.
// CHECK-LABEL: func.func @small_folds
// CHECK-DAG: %[[C:.*]] = llmc.constant dense<4> : tensor<i64>
// CHECK-DAG: %[[B:.*]] = llmc.cast %arg0 : tensor<?x4xi64> -> tensor<?x4xi1>
// CHECK-DAG: %[[S:.*]] = llmc.silu %arg1 : tensor<?x4xf32> -> tensor<?x4xf32>
// CHECK: return %[[B]], %[[C]], %arg1, %[[S]]
func.func @small_folds(%m: tensor<?x4xi64>, %x: tensor<?x4xf32>) -> (tensor<?x4xi1>, tensor<i64>, tensor<?x4xf32>, tensor<?x4xf32>) {
  %z = llmc.constant dense<0> : tensor<i64>
  %e = llmc.equal %m, %z : (tensor<?x4xi64>, tensor<i64>) -> tensor<?x4xi1>
  %n = llmc.not %e : tensor<?x4xi1> -> tensor<?x4xi1>
  %sh = llmc.shape_of %m : tensor<?x4xi64> -> tensor<2xi64>
  %one = llmc.constant dense<1> : tensor<i64>
  %d = llmc.gather %sh, %one : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %f1 = llmc.constant dense<1.0> : tensor<f32>
  %x1 = llmc.mul %x, %f1 : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  %xe = llmc.expand %x1 : (tensor<?x4xf32>) -> tensor<?x4xf32>
  %sg = llmc.sigmoid %x : tensor<?x4xf32> -> tensor<?x4xf32>
  %si = llmc.mul %sg, %x : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  return %n, %d, %xe, %si : tensor<?x4xi1>, tensor<i64>, tensor<?x4xf32>, tensor<?x4xf32>
}

// -----

// Near misses: the shape of a dynamic dim stays; equality with 1 is not a cast.
// CHECK-LABEL: func.func @small_folds_near_miss
// CHECK-DAG: llmc.gather
// CHECK-DAG: llmc.equal
// CHECK-DAG: llmc.not
func.func @small_folds_near_miss(%m: tensor<?x4xi64>) -> (tensor<?x4xi1>, tensor<i64>) {
  %z = llmc.constant dense<1> : tensor<i64>
  %e = llmc.equal %m, %z : (tensor<?x4xi64>, tensor<i64>) -> tensor<?x4xi1>
  %n = llmc.not %e : tensor<?x4xi1> -> tensor<?x4xi1>
  %sh = llmc.shape_of %m : tensor<?x4xi64> -> tensor<2xi64>
  %zero = llmc.constant dense<0> : tensor<i64>
  %d = llmc.gather %sh, %zero : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  return %n, %d : tensor<?x4xi1>, tensor<i64>
}

// -----

// Float scalar arithmetic of constants folds (an exporter's
// `head_dim ** 0.5` traced as pow(12, 0.5) + 0), rounded to the result type.
// CHECK-LABEL: func.func @scalar_float_arith
// CHECK: %[[S:.*]] = llmc.constant dense<3.46410155> : tensor<f32>
// CHECK: %[[Y:.*]] = llmc.div %arg0, %[[S]]
// CHECK: return %[[Y]]
func.func @scalar_float_arith(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %d = llmc.constant dense<12.0> : tensor<f32>
  %h = llmc.constant dense<0.5> : tensor<f32>
  %z = llmc.constant dense<0.0> : tensor<f32>
  %p = llmc.pow %d, %h : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %s = llmc.add %p, %z : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %y = llmc.div %x, %s : (tensor<?x4xf32>, tensor<f32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// Near misses: a non-scalar constant operand, and an activation, stay.
// CHECK-LABEL: func.func @scalar_float_arith_near_miss
// CHECK: llmc.mul
// CHECK: llmc.add
func.func @scalar_float_arith_near_miss(%x: tensor<f32>) -> (tensor<2xf32>, tensor<f32>) {
  %v = llmc.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %h = llmc.constant dense<0.5> : tensor<f32>
  %m = llmc.mul %v, %h : (tensor<2xf32>, tensor<f32>) -> tensor<2xf32>
  %a = llmc.add %x, %h : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %m, %a : tensor<2xf32>, tensor<f32>
}

// -----

// Gemma's scaled embeddings: gather(W, ids) * c -> gather(W * c, ids), the
// scale part of the table; a gather of something other than a weight stays.
// CHECK-LABEL: func.func @scaled_embedding
// CHECK-DAG: %[[W:.*]] = llmc.weight "emb"
// CHECK-DAG: %[[C:.*]] = llmc.constant dense<4.000000e+00> : tensor<f32>
// CHECK: %[[S:.*]] = llmc.mul %[[W]], %[[C]] : (tensor<16x8xf32>, tensor<f32>) -> tensor<16x8xf32>
// CHECK: %[[E:.*]] = llmc.gather %[[S]], %arg0
// CHECK: %[[A:.*]] = llmc.gather %arg1, %arg0
// CHECK: llmc.mul %[[A]], %[[C]]
// CHECK: return %[[E]]
func.func @scaled_embedding(%ids: tensor<1x?xi64>, %t: tensor<16x8xf32>) -> (tensor<1x?x8xf32>, tensor<1x?x8xf32>) {
  %w = llmc.weight "emb" from "w.bin" at 0 length 512 : tensor<16x8xf32>
  %e = llmc.gather %w, %ids : (tensor<16x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %c = llmc.constant dense<4.0> : tensor<f32>
  %y = llmc.mul %e, %c : (tensor<1x?x8xf32>, tensor<f32>) -> tensor<1x?x8xf32>
  %a = llmc.gather %t, %ids : (tensor<16x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %z = llmc.mul %a, %c : (tensor<1x?x8xf32>, tensor<f32>) -> tensor<1x?x8xf32>
  return %y, %z : tensor<1x?x8xf32>, tensor<1x?x8xf32>
}
