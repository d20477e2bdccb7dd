// RUN: llmc-opt --split-input-file --llmc-fuse-rope %s | FileCheck %s

// HF-style cached tables (cos_cached[position_ids], full width, half
// convention) whose constant values are the standard theta = 10000 tables:
// one rope_cos_sin of the positions.
// CHECK-LABEL: func.func @cached_tables_standard
// CHECK: %[[C:.*]], %[[S:.*]] = llmc.rope_cos_sin half %arg1 {dim = 4 : i64, theta = 1.000000e+04 : f64}
// CHECK-NEXT: %[[R:.*]] = llmc.rope half %arg0, %[[C]], %[[S]]
// CHECK-NEXT: return %[[R]]
func.func @cached_tables_standard(%x: tensor<1x2x3x4xf32>, %pos: tensor<1x3xi64>) -> tensor<1x2x3x4xf32> {
  %ct = llmc.constant dense<[[1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00], [5.403022766e-01, 9.999499917e-01, 5.403022766e-01, 9.999499917e-01], [-4.161468148e-01, 9.998000264e-01, -4.161468148e-01, 9.998000264e-01]]> : tensor<3x4xf32>
  %st = llmc.constant dense<[[0.000000000e+00, 0.000000000e+00, 0.000000000e+00, 0.000000000e+00], [8.414710164e-01, 9.999833070e-03, 8.414710164e-01, 9.999833070e-03], [9.092974067e-01, 1.999866590e-02, 9.092974067e-01, 1.999866590e-02]]> : tensor<3x4xf32>
  %c = llmc.gather %ct, %pos : (tensor<3x4xf32>, tensor<1x3xi64>) -> tensor<1x3x4xf32>
  %s = llmc.gather %st, %pos : (tensor<3x4xf32>, tensor<1x3xi64>) -> tensor<1x3x4xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 4>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 4>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4xf32>
  %xc = llmc.mul %x, %cu : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 2>, starts = array<i64: 0>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x2xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 2>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x2xf32>
  %n = llmc.neg %x2 : tensor<1x2x3x2xf32> -> tensor<1x2x3x2xf32>
  %r = llmc.concat %n, %x1 {axis = 3 : i64} : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x4xf32>
  %rs = llmc.mul %r, %su : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %y = llmc.add %xc, %rs : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %y : tensor<1x2x3x4xf32>
}

// -----

// The tables of scaled positions (p / 2, linear RoPE scaling) are not the
// standard ones of any theta: the frequencies come from the tables' angles
// (unwrapped row by row) and every entry is checked against them.
// CHECK-LABEL: func.func @cached_tables_scaled
// CHECK: %[[C:.*]], %[[S:.*]] = llmc.rope_cos_sin half %arg1 {dim = 4 : i64, inv_freq = array<f32: 5.000000e-01, 5.000000e-03>, theta = 1.000000e+04 : f64}
// CHECK-NEXT: %[[R:.*]] = llmc.rope half %arg0, %[[C]], %[[S]]
// CHECK-NEXT: return %[[R]]
func.func @cached_tables_scaled(%x: tensor<1x2x3x4xf32>, %pos: tensor<1x3xi64>) -> tensor<1x2x3x4xf32> {
  %ct = llmc.constant dense<[[1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00], [8.775825500e-01, 9.999874830e-01, 8.775825500e-01, 9.999874830e-01], [5.403022766e-01, 9.999499917e-01, 5.403022766e-01, 9.999499917e-01]]> : tensor<3x4xf32>
  %st = llmc.constant dense<[[0.000000000e+00, 0.000000000e+00, 0.000000000e+00, 0.000000000e+00], [4.794255495e-01, 4.999978933e-03, 4.794255495e-01, 4.999978933e-03], [8.414710164e-01, 9.999833070e-03, 8.414710164e-01, 9.999833070e-03]]> : tensor<3x4xf32>
  %c = llmc.gather %ct, %pos : (tensor<3x4xf32>, tensor<1x3xi64>) -> tensor<1x3x4xf32>
  %s = llmc.gather %st, %pos : (tensor<3x4xf32>, tensor<1x3xi64>) -> tensor<1x3x4xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 4>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 4>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4xf32>
  %xc = llmc.mul %x, %cu : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 2>, starts = array<i64: 0>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x2xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 2>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x2xf32>
  %n = llmc.neg %x2 : tensor<1x2x3x2xf32> -> tensor<1x2x3x2xf32>
  %r = llmc.concat %n, %x1 {axis = 3 : i64} : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x4xf32>
  %rs = llmc.mul %r, %su : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %y = llmc.add %xc, %rs : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %y : tensor<1x2x3x4xf32>
}

// -----

// Near miss: one entry of the scaled tables off (row 2, column 0: cos 0.6
// instead of cos(1) = 0.5403): no frequency explains them, nothing fuses.
// CHECK-LABEL: func.func @cached_tables_not_a_rotation
// CHECK-NOT: llmc.rope
// CHECK: return
func.func @cached_tables_not_a_rotation(%x: tensor<1x2x3x4xf32>, %pos: tensor<1x3xi64>) -> tensor<1x2x3x4xf32> {
  %ct = llmc.constant dense<[[1.000000000e+00, 1.000000000e+00, 1.000000000e+00, 1.000000000e+00], [8.775825500e-01, 9.999874830e-01, 8.775825500e-01, 9.999874830e-01], [6.000000000e-01, 9.999499917e-01, 5.403022766e-01, 9.999499917e-01]]> : tensor<3x4xf32>
  %st = llmc.constant dense<[[0.000000000e+00, 0.000000000e+00, 0.000000000e+00, 0.000000000e+00], [4.794255495e-01, 4.999978933e-03, 4.794255495e-01, 4.999978933e-03], [8.414710164e-01, 9.999833070e-03, 8.414710164e-01, 9.999833070e-03]]> : tensor<3x4xf32>
  %c = llmc.gather %ct, %pos : (tensor<3x4xf32>, tensor<1x3xi64>) -> tensor<1x3x4xf32>
  %s = llmc.gather %st, %pos : (tensor<3x4xf32>, tensor<1x3xi64>) -> tensor<1x3x4xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 4>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 4>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4xf32>
  %xc = llmc.mul %x, %cu : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 2>, starts = array<i64: 0>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x2xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 2>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x2xf32>
  %n = llmc.neg %x2 : tensor<1x2x3x2xf32> -> tensor<1x2x3x2xf32>
  %r = llmc.concat %n, %x1 {axis = 3 : i64} : (tensor<1x2x3x2xf32>, tensor<1x2x3x2xf32>) -> tensor<1x2x3x4xf32>
  %rs = llmc.mul %r, %su : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %y = llmc.add %xc, %rs : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  return %y : tensor<1x2x3x4xf32>
}

// -----

// ONNX Runtime's half-width caches [N, D/2] (RotaryEmbedding and
// GroupQueryAttention, imported as a rope of the gathered rows), token-major
// with num_heads: the standard theta = 10000 rows become rope_cos_sin.
// CHECK-LABEL: func.func @half_width_caches
// CHECK: %[[C:.*]], %[[S:.*]] = llmc.rope_cos_sin interleaved %arg1 {dim = 4 : i64, theta = 1.000000e+04 : f64}
// CHECK-NEXT: %[[R:.*]] = llmc.rope interleaved %arg0, %[[C]], %[[S]] {num_heads = 2 : i64}
// CHECK-NEXT: return %[[R]]
func.func @half_width_caches(%x: tensor<1x3x8xf32>, %pos: tensor<1x3xi64>) -> tensor<1x3x8xf32> {
  %ct = llmc.constant dense<[[1.000000000e+00, 1.000000000e+00], [5.403022766e-01, 9.999499917e-01], [-4.161468148e-01, 9.998000264e-01]]> : tensor<3x2xf32>
  %st = llmc.constant dense<[[0.000000000e+00, 0.000000000e+00], [8.414710164e-01, 9.999833070e-03], [9.092974067e-01, 1.999866590e-02]]> : tensor<3x2xf32>
  %c = llmc.gather %ct, %pos : (tensor<3x2xf32>, tensor<1x3xi64>) -> tensor<1x3x2xf32>
  %s = llmc.gather %st, %pos : (tensor<3x2xf32>, tensor<1x3xi64>) -> tensor<1x3x2xf32>
  %y = llmc.rope interleaved %x, %c, %s {num_heads = 2 : i64} : (tensor<1x3x8xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) -> tensor<1x3x8xf32>
  return %y : tensor<1x3x8xf32>
}

// -----

// Half-width caches whose row 2 is not the rotation of row 1's angles
// (sin(2) replaced): the rope keeps its gathered tables.
// CHECK-LABEL: func.func @half_width_caches_not_a_rotation
// CHECK-NOT: llmc.rope_cos_sin
// CHECK: llmc.rope interleaved %arg0, %{{.*}}, %{{.*}} {num_heads = 2 : i64}
func.func @half_width_caches_not_a_rotation(%x: tensor<1x3x8xf32>, %pos: tensor<1x3xi64>) -> tensor<1x3x8xf32> {
  %ct = llmc.constant dense<[[1.000000000e+00, 1.000000000e+00], [5.403022766e-01, 9.999499917e-01], [-4.161468148e-01, 9.998000264e-01]]> : tensor<3x2xf32>
  %st = llmc.constant dense<[[0.000000000e+00, 0.000000000e+00], [8.414710164e-01, 9.999833070e-03], [9.000000000e-01, 1.999866590e-02]]> : tensor<3x2xf32>
  %c = llmc.gather %ct, %pos : (tensor<3x2xf32>, tensor<1x3xi64>) -> tensor<1x3x2xf32>
  %s = llmc.gather %st, %pos : (tensor<3x2xf32>, tensor<1x3xi64>) -> tensor<1x3x2xf32>
  %y = llmc.rope interleaved %x, %c, %s {num_heads = 2 : i64} : (tensor<1x3x8xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) -> tensor<1x3x8xf32>
  return %y : tensor<1x3x8xf32>
}
