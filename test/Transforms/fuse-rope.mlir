// RUN: llmc-opt --split-input-file --llmc-fuse-rope %s | FileCheck %s

// rotate_half with given half-width tables, duplicated by concat (HF).
// CHECK-LABEL: func.func @rope_half_given_tables
// CHECK-SAME: (%[[X:.*]]: tensor<1x2x3x8xf32>, %[[C:.*]]: tensor<1x3x4xf32>, %[[S:.*]]: tensor<1x3x4xf32>)
// CHECK-NEXT: %[[Y:.*]] = llmc.rope half %[[X]], %[[C]], %[[S]] : (tensor<1x2x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @rope_half_given_tables(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
  %c2 = llmc.concat %c, %c {axis = -1 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x8xf32>
  %s2 = llmc.concat %s, %s {axis = -1 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x8xf32>
  %cu = llmc.reshape %c2 {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %su = llmc.reshape %s2 {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %x1 = llmc.slice %x {starts = array<i64: 0>, ends = array<i64: 4>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %x2 = llmc.slice %x {starts = array<i64: 4>, ends = array<i64: 8>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %nx2 = llmc.neg %x2 : tensor<1x2x3x4xf32> -> tensor<1x2x3x4xf32>
  %rot = llmc.concat %nx2, %x1 {axis = -1 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
  %a = llmc.mul %x, %cu : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %b = llmc.mul %rot, %su : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %y = llmc.add %a, %b : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
  return %y : tensor<1x2x3x8xf32>
}

// -----

// rotate_half with tables computed from position ids (dynamic dims):
// becomes rope_cos_sin of the positions.
// CHECK-LABEL: func.func @rope_half_positions
// CHECK-SAME: (%[[X:.*]]: tensor<?x4x?x8xf32>, %[[P:.*]]: tensor<?x?xi64>)
// CHECK-NEXT: %[[COS:.*]], %[[SIN:.*]] = llmc.rope_cos_sin half %[[P]] {dim = 8 : i64, theta = 1.000000e+04 : f64} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
// CHECK-NEXT: %[[Y:.*]] = llmc.rope half %[[X]], %[[COS]], %[[SIN]] : (tensor<?x4x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x4x?x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @rope_half_positions(%x: tensor<?x4x?x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x4x?x8xf32> {
  %pf = llmc.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %p3 = llmc.reshape %pf {shape = array<i64: 0, 0, 1>} : (tensor<?x?xf32>) -> tensor<?x?x1xf32>
  %inv = llmc.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
  %f = llmc.mul %p3, %inv : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %e = llmc.concat %f, %f {axis = 2 : i64} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
  %c = llmc.cos %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %s = llmc.sin %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 0>, steps = array<i64: 1>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 9223372036854775807>, starts = array<i64: 4>, steps = array<i64: 1>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %n = llmc.neg %x2 : tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %rot = llmc.concat %n, %x1 {axis = 3 : i64} : (tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> tensor<?x4x?x8xf32>
  %a = llmc.mul %x, %cu : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %b = llmc.mul %rot, %su : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %y = llmc.add %a, %b : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  return %y : tensor<?x4x?x8xf32>
}

// -----

// rotate-every-two (llama2.c / Meta), interleaved tables, theta = 500000,
// operands of the muls and the add commuted.
// CHECK-LABEL: func.func @rope_interleaved_positions
// CHECK-NEXT: %[[COS:.*]], %[[SIN:.*]] = llmc.rope_cos_sin interleaved %arg1 {dim = 8 : i64, theta = 5.000000e+05 : f64}
// CHECK-NEXT: %[[Y:.*]] = llmc.rope interleaved %arg0, %[[COS]], %[[SIN]]
// CHECK-NEXT: return %[[Y]]
func.func @rope_interleaved_positions(%x: tensor<?x8x?x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x8x?x8xf32> {
  %pf = llmc.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %p3 = llmc.reshape %pf {shape = array<i64: 0, 0, 1>} : (tensor<?x?xf32>) -> tensor<?x?x1xf32>
  %inv = llmc.constant dense<[1.00000000e+00, 3.76060307e-02, 1.41421345e-03, 5.31829646e-05]> : tensor<4xf32>
  %f = llmc.mul %inv, %p3 : (tensor<4xf32>, tensor<?x?x1xf32>) -> tensor<?x?x4xf32>
  %f1 = llmc.reshape %f {shape = array<i64: 0, 0, 4, 1>} : (tensor<?x?x4xf32>) -> tensor<?x?x4x1xf32>
  %f2 = llmc.reshape %f {shape = array<i64: 0, 0, 4, 1>} : (tensor<?x?x4xf32>) -> tensor<?x?x4x1xf32>
  %st = llmc.concat %f1, %f2 {axis = 3 : i64} : (tensor<?x?x4x1xf32>, tensor<?x?x4x1xf32>) -> tensor<?x?x4x2xf32>
  %e = llmc.reshape %st {shape = array<i64: 0, 0, 8>} : (tensor<?x?x4x2xf32>) -> tensor<?x?x8xf32>
  %c = llmc.cos %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %s = llmc.sin %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %ev = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 9223372036854775807>, starts = array<i64: 0>, steps = array<i64: 2>} : (tensor<?x8x?x8xf32>) -> tensor<?x8x?x4xf32>
  %od = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 9223372036854775807>, starts = array<i64: 1>, steps = array<i64: 2>} : (tensor<?x8x?x8xf32>) -> tensor<?x8x?x4xf32>
  %n = llmc.neg %od : tensor<?x8x?x4xf32> -> tensor<?x8x?x4xf32>
  %nr = llmc.reshape %n {shape = array<i64: 0, 8, 0, 4, 1>} : (tensor<?x8x?x4xf32>) -> tensor<?x8x?x4x1xf32>
  %er = llmc.reshape %ev {shape = array<i64: 0, 8, 0, 4, 1>} : (tensor<?x8x?x4xf32>) -> tensor<?x8x?x4x1xf32>
  %pr = llmc.concat %nr, %er {axis = 4 : i64} : (tensor<?x8x?x4x1xf32>, tensor<?x8x?x4x1xf32>) -> tensor<?x8x?x4x2xf32>
  %rot = llmc.reshape %pr {shape = array<i64: 0, 8, 0, 8>} : (tensor<?x8x?x4x2xf32>) -> tensor<?x8x?x8xf32>
  %a = llmc.mul %cu, %x : (tensor<?x1x?x8xf32>, tensor<?x8x?x8xf32>) -> tensor<?x8x?x8xf32>
  %b = llmc.mul %su, %rot : (tensor<?x1x?x8xf32>, tensor<?x8x?x8xf32>) -> tensor<?x8x?x8xf32>
  %y = llmc.add %b, %a : (tensor<?x8x?x8xf32>, tensor<?x8x?x8xf32>) -> tensor<?x8x?x8xf32>
  return %y : tensor<?x8x?x8xf32>
}

// -----

// rotate-every-two with the negation after the reshape, and given tables
// duplicated in interleaved order (stack + flatten).
// CHECK-LABEL: func.func @rope_interleaved_given_tables
// CHECK-NEXT: llmc.rope interleaved %arg0, %arg1, %arg2 : (tensor<1x2x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32>
// CHECK-NEXT: return
func.func @rope_interleaved_given_tables(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
  %c1 = llmc.reshape %c {shape = array<i64: 1, 3, 4, 1>} : (tensor<1x3x4xf32>) -> tensor<1x3x4x1xf32>
  %cs = llmc.concat %c1, %c1 {axis = 3 : i64} : (tensor<1x3x4x1xf32>, tensor<1x3x4x1xf32>) -> tensor<1x3x4x2xf32>
  %cf = llmc.reshape %cs {shape = array<i64: 1, 3, 8>} : (tensor<1x3x4x2xf32>) -> tensor<1x3x8xf32>
  %cu = llmc.reshape %cf {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %s1 = llmc.reshape %s {shape = array<i64: 1, 3, 4, 1>} : (tensor<1x3x4xf32>) -> tensor<1x3x4x1xf32>
  %ss = llmc.concat %s1, %s1 {axis = 3 : i64} : (tensor<1x3x4x1xf32>, tensor<1x3x4x1xf32>) -> tensor<1x3x4x2xf32>
  %sf = llmc.reshape %ss {shape = array<i64: 1, 3, 8>} : (tensor<1x3x4x2xf32>) -> tensor<1x3x8xf32>
  %su = llmc.reshape %sf {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %ev = llmc.slice %x {axes = array<i64: 3>, starts = array<i64: 0>, ends = array<i64: 8>, steps = array<i64: 2>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %od = llmc.slice %x {axes = array<i64: 3>, starts = array<i64: 1>, ends = array<i64: 8>, steps = array<i64: 2>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %or = llmc.reshape %od {shape = array<i64: 1, 2, 3, 4, 1>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x4x1xf32>
  %nr = llmc.neg %or : tensor<1x2x3x4x1xf32> -> tensor<1x2x3x4x1xf32>
  %er = llmc.reshape %ev {shape = array<i64: 1, 2, 3, 4, 1>} : (tensor<1x2x3x4xf32>) -> tensor<1x2x3x4x1xf32>
  %pr = llmc.concat %nr, %er {axis = -1 : i64} : (tensor<1x2x3x4x1xf32>, tensor<1x2x3x4x1xf32>) -> tensor<1x2x3x4x2xf32>
  %rot = llmc.reshape %pr {shape = array<i64: 1, 2, 3, 8>} : (tensor<1x2x3x4x2xf32>) -> tensor<1x2x3x8xf32>
  %a = llmc.mul %x, %cu : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %b = llmc.mul %rot, %su : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %y = llmc.add %a, %b : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
  return %y : tensor<1x2x3x8xf32>
}

// -----

// HF's angle computation: transpose(inv_freq[1, D/2, 1] @ pos[B, 1, S]).
// CHECK-LABEL: func.func @rope_half_hf_matmul_angles
// CHECK-NEXT: %[[COS:.*]], %[[SIN:.*]] = llmc.rope_cos_sin half %arg1 {dim = 8 : i64, theta = 1.000000e+04 : f64}
// CHECK-NEXT: llmc.rope half %arg0, %[[COS]], %[[SIN]]
// CHECK-NEXT: return
func.func @rope_half_hf_matmul_angles(%x: tensor<1x4x?x8xf32>, %pos: tensor<1x?xi64>) -> tensor<1x4x?x8xf32> {
  %inv = llmc.constant dense<[[[1.000000e+00], [1.000000e-01], [0.00999999977], [1.000000e-03]]]> : tensor<1x4x1xf32>
  %p1 = llmc.reshape %pos {shape = array<i64: 1, 1, -1>} : (tensor<1x?xi64>) -> tensor<1x1x?xi64>
  %pf = llmc.cast %p1 : tensor<1x1x?xi64> -> tensor<1x1x?xf32>
  %mm = llmc.matmul %inv, %pf : (tensor<1x4x1xf32>, tensor<1x1x?xf32>) -> tensor<1x4x?xf32>
  %f = llmc.transpose %mm {perm = array<i64: 0, 2, 1>} : (tensor<1x4x?xf32>) -> tensor<1x?x4xf32>
  %e = llmc.concat %f, %f {axis = -1 : i64} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x8xf32>
  %c = llmc.cos %e : tensor<1x?x8xf32> -> tensor<1x?x8xf32>
  %s = llmc.sin %e : tensor<1x?x8xf32> -> tensor<1x?x8xf32>
  %cu = llmc.reshape %c {shape = array<i64: 1, 1, -1, 8>} : (tensor<1x?x8xf32>) -> tensor<1x1x?x8xf32>
  %su = llmc.reshape %s {shape = array<i64: 1, 1, -1, 8>} : (tensor<1x?x8xf32>) -> tensor<1x1x?x8xf32>
  %x1 = llmc.slice %x {starts = array<i64: 0>, ends = array<i64: 4>, axes = array<i64: -1>} : (tensor<1x4x?x8xf32>) -> tensor<1x4x?x4xf32>
  %x2 = llmc.slice %x {starts = array<i64: -4>, ends = array<i64: 8>, axes = array<i64: -1>} : (tensor<1x4x?x8xf32>) -> tensor<1x4x?x4xf32>
  %n = llmc.neg %x2 : tensor<1x4x?x4xf32> -> tensor<1x4x?x4xf32>
  %rot = llmc.concat %n, %x1 {axis = -1 : i64} : (tensor<1x4x?x4xf32>, tensor<1x4x?x4xf32>) -> tensor<1x4x?x8xf32>
  %a = llmc.mul %x, %cu : (tensor<1x4x?x8xf32>, tensor<1x1x?x8xf32>) -> tensor<1x4x?x8xf32>
  %b = llmc.mul %rot, %su : (tensor<1x4x?x8xf32>, tensor<1x1x?x8xf32>) -> tensor<1x4x?x8xf32>
  %y = llmc.add %a, %b : (tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) -> tensor<1x4x?x8xf32>
  return %y : tensor<1x4x?x8xf32>
}

// -----

// A non-geometric inv_freq (scaled RoPE: linear, NTK, Llama 3, YaRN) fuses
// into rope_cos_sin with the frequencies themselves.
// CHECK-LABEL: func.func @rope_half_non_geometric_frequencies
// CHECK-NEXT: %[[COS:.*]], %[[SIN:.*]] = llmc.rope_cos_sin half %arg1 {dim = 8 : i64, inv_freq = array<f32: 1.000000e+00, 5.000000e-01, 1.000000e-01, 1.000000e-03>, theta = 1.000000e+04 : f64}
// CHECK-NEXT: llmc.rope half %arg0, %[[COS]], %[[SIN]]
// CHECK-NEXT: return
func.func @rope_half_non_geometric_frequencies(%x: tensor<?x4x?x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x4x?x8xf32> {
  %pf = llmc.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %p3 = llmc.reshape %pf {shape = array<i64: 0, 0, 1>} : (tensor<?x?xf32>) -> tensor<?x?x1xf32>
  %inv = llmc.constant dense<[1.000000e+00, 0.5, 1.000000e-01, 1.000000e-03]> : tensor<4xf32>
  %f = llmc.mul %p3, %inv : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %e = llmc.concat %f, %f {axis = 2 : i64} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
  %c = llmc.cos %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %s = llmc.sin %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 0>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 8>, starts = array<i64: 4>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %n = llmc.neg %x2 : tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %rot = llmc.concat %n, %x1 {axis = 3 : i64} : (tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> tensor<?x4x?x8xf32>
  %a = llmc.mul %x, %cu : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %b = llmc.mul %rot, %su : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %y = llmc.add %a, %b : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  return %y : tensor<?x4x?x8xf32>
}

// -----

// HF >= 4.38 scales both tables by the rope's attention factor (YaRN,
// LongRoPE): cos() * f and sin() * f fold into the op.
// CHECK-LABEL: func.func @rope_half_attention_factor
// CHECK-NEXT: %[[COS:.*]], %[[SIN:.*]] = llmc.rope_cos_sin half %arg1 {attention_factor = 1.25{{0*}}e+00 : f64, dim = 8 : i64, inv_freq = array<f32: 1.000000e+00, 2.500000e-01, 1.000000e-01, 1.000000e-03>, theta = 1.000000e+04 : f64}
// CHECK-NEXT: llmc.rope half %arg0, %[[COS]], %[[SIN]]
// CHECK-NEXT: return
func.func @rope_half_attention_factor(%x: tensor<?x4x?x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x4x?x8xf32> {
  %pf = llmc.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %p3 = llmc.reshape %pf {shape = array<i64: 0, 0, 1>} : (tensor<?x?xf32>) -> tensor<?x?x1xf32>
  %inv = llmc.constant dense<[1.000000e+00, 0.25, 1.000000e-01, 1.000000e-03]> : tensor<4xf32>
  %f = llmc.mul %p3, %inv : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %e = llmc.concat %f, %f {axis = 2 : i64} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
  %k = llmc.constant dense<1.25> : tensor<f32>
  %c0 = llmc.cos %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %c = llmc.mul %c0, %k : (tensor<?x?x8xf32>, tensor<f32>) -> tensor<?x?x8xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %s0 = llmc.sin %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %s = llmc.mul %k, %s0 : (tensor<f32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 0>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 8>, starts = array<i64: 4>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %n = llmc.neg %x2 : tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %rot = llmc.concat %n, %x1 {axis = 3 : i64} : (tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> tensor<?x4x?x8xf32>
  %a = llmc.mul %x, %cu : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %b = llmc.mul %rot, %su : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %y = llmc.add %a, %b : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  return %y : tensor<?x4x?x8xf32>
}

// -----

// Near miss: cos and sin scaled differently are not a rotation.
// CHECK-LABEL: func.func @rope_near_miss_unequal_factors
// CHECK-NOT: llmc.rope
// CHECK: return
func.func @rope_near_miss_unequal_factors(%x: tensor<?x4x?x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x4x?x8xf32> {
  %pf = llmc.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %p3 = llmc.reshape %pf {shape = array<i64: 0, 0, 1>} : (tensor<?x?xf32>) -> tensor<?x?x1xf32>
  %inv = llmc.constant dense<[1.000000e+00, 0.25, 1.000000e-01, 1.000000e-03]> : tensor<4xf32>
  %f = llmc.mul %p3, %inv : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %e = llmc.concat %f, %f {axis = 2 : i64} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
  %k = llmc.constant dense<1.25> : tensor<f32>
  %c0 = llmc.cos %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %c = llmc.mul %c0, %k : (tensor<?x?x8xf32>, tensor<f32>) -> tensor<?x?x8xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %s = llmc.sin %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 0>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 8>, starts = array<i64: 4>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %n = llmc.neg %x2 : tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %rot = llmc.concat %n, %x1 {axis = 3 : i64} : (tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> tensor<?x4x?x8xf32>
  %a = llmc.mul %x, %cu : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %b = llmc.mul %rot, %su : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %y = llmc.add %a, %b : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  return %y : tensor<?x4x?x8xf32>
}

// -----

// Near miss: rotate_half with tables duplicated in interleaved order (the
// conventions disagree: fusing would silently permute the rotation).
// CHECK-LABEL: func.func @rope_near_miss_convention_mismatch
// CHECK-NOT: llmc.rope
// CHECK: return
func.func @rope_near_miss_convention_mismatch(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
  %c1 = llmc.reshape %c {shape = array<i64: 1, 3, 4, 1>} : (tensor<1x3x4xf32>) -> tensor<1x3x4x1xf32>
  %cs = llmc.concat %c1, %c1 {axis = 3 : i64} : (tensor<1x3x4x1xf32>, tensor<1x3x4x1xf32>) -> tensor<1x3x4x2xf32>
  %cf = llmc.reshape %cs {shape = array<i64: 1, 3, 8>} : (tensor<1x3x4x2xf32>) -> tensor<1x3x8xf32>
  %cu = llmc.reshape %cf {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %s1 = llmc.reshape %s {shape = array<i64: 1, 3, 4, 1>} : (tensor<1x3x4xf32>) -> tensor<1x3x4x1xf32>
  %ss = llmc.concat %s1, %s1 {axis = 3 : i64} : (tensor<1x3x4x1xf32>, tensor<1x3x4x1xf32>) -> tensor<1x3x4x2xf32>
  %sf = llmc.reshape %ss {shape = array<i64: 1, 3, 8>} : (tensor<1x3x4x2xf32>) -> tensor<1x3x8xf32>
  %su = llmc.reshape %sf {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %x1 = llmc.slice %x {starts = array<i64: 0>, ends = array<i64: 4>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %x2 = llmc.slice %x {starts = array<i64: 4>, ends = array<i64: 8>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %nx2 = llmc.neg %x2 : tensor<1x2x3x4xf32> -> tensor<1x2x3x4xf32>
  %rot = llmc.concat %nx2, %x1 {axis = -1 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
  %a = llmc.mul %x, %cu : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %b = llmc.mul %rot, %su : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %y = llmc.add %a, %b : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
  return %y : tensor<1x2x3x8xf32>
}

// -----

// Near misses: halves split at 3 instead of D/2; cos and sin swapped; the
// rotation of another tensor.
// CHECK-LABEL: func.func @rope_near_miss_bad_split
// CHECK-NOT: llmc.rope
// CHECK: return
func.func @rope_near_miss_bad_split(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
  %c2 = llmc.concat %c, %c {axis = -1 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x8xf32>
  %s2 = llmc.concat %s, %s {axis = -1 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x8xf32>
  %cu = llmc.reshape %c2 {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %su = llmc.reshape %s2 {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %x1 = llmc.slice %x {starts = array<i64: 0>, ends = array<i64: 3>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x3xf32>
  %x2 = llmc.slice %x {starts = array<i64: 3>, ends = array<i64: 8>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x5xf32>
  %nx2 = llmc.neg %x2 : tensor<1x2x3x5xf32> -> tensor<1x2x3x5xf32>
  %rot = llmc.concat %nx2, %x1 {axis = -1 : i64} : (tensor<1x2x3x5xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x8xf32>
  %a = llmc.mul %x, %cu : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %b = llmc.mul %rot, %su : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %y = llmc.add %a, %b : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
  return %y : tensor<1x2x3x8xf32>
}

// CHECK-LABEL: func.func @rope_near_miss_swapped_tables
// CHECK-NOT: llmc.rope
// CHECK: return
func.func @rope_near_miss_swapped_tables(%x: tensor<?x4x?x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x4x?x8xf32> {
  %pf = llmc.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %p3 = llmc.reshape %pf {shape = array<i64: 0, 0, 1>} : (tensor<?x?xf32>) -> tensor<?x?x1xf32>
  %inv = llmc.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
  %f = llmc.mul %p3, %inv : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %e = llmc.concat %f, %f {axis = 2 : i64} : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
  %c = llmc.cos %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %s = llmc.sin %e : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 8>} : (tensor<?x?x8xf32>) -> tensor<?x1x?x8xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 0>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 8>, starts = array<i64: 4>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %n = llmc.neg %x2 : tensor<?x4x?x4xf32> -> tensor<?x4x?x4xf32>
  %rot = llmc.concat %n, %x1 {axis = 3 : i64} : (tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> tensor<?x4x?x8xf32>
  %a = llmc.mul %x, %su : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %b = llmc.mul %rot, %cu : (tensor<?x4x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x4x?x8xf32>
  %y = llmc.add %a, %b : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  return %y : tensor<?x4x?x8xf32>
}

// CHECK-LABEL: func.func @rope_near_miss_other_tensor
// CHECK-NOT: llmc.rope
// CHECK: return
func.func @rope_near_miss_other_tensor(%x: tensor<1x2x3x8xf32>, %z: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
  %c2 = llmc.concat %c, %c {axis = -1 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x8xf32>
  %s2 = llmc.concat %s, %s {axis = -1 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x8xf32>
  %cu = llmc.reshape %c2 {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %su = llmc.reshape %s2 {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
  %x1 = llmc.slice %z {starts = array<i64: 0>, ends = array<i64: 4>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %x2 = llmc.slice %z {starts = array<i64: 4>, ends = array<i64: 8>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %nx2 = llmc.neg %x2 : tensor<1x2x3x4xf32> -> tensor<1x2x3x4xf32>
  %rot = llmc.concat %nx2, %x1 {axis = -1 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
  %a = llmc.mul %x, %cu : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %b = llmc.mul %rot, %su : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
  %y = llmc.add %a, %b : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
  return %y : tensor<1x2x3x8xf32>
}

// -----

// Pair form, interleaved (Meta's complex multiplication in real ops): pairs
// from reshape(x, [..., D/2, 2]), tables reshaped to [1, 1, S, D/2, 1].
// CHECK-LABEL: func.func @rope_pair_form_interleaved
// CHECK-NEXT: %[[Y:.*]] = llmc.rope interleaved %arg0, %arg1, %arg2 : (tensor<1x2x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @rope_pair_form_interleaved(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
  %p = llmc.reshape %x {shape = array<i64: 1, 2, 3, 4, 2>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4x2xf32>
  %a = llmc.slice %p {starts = array<i64: 0>, ends = array<i64: 1>, axes = array<i64: 4>} : (tensor<1x2x3x4x2xf32>) -> tensor<1x2x3x4x1xf32>
  %b = llmc.slice %p {starts = array<i64: 1>, ends = array<i64: 2>, axes = array<i64: 4>} : (tensor<1x2x3x4x2xf32>) -> tensor<1x2x3x4x1xf32>
  %cu = llmc.reshape %c {shape = array<i64: 1, 1, 3, 4, 1>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4x1xf32>
  %su = llmc.reshape %s {shape = array<i64: 1, 1, 3, 4, 1>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4x1xf32>
  %ac = llmc.mul %a, %cu : (tensor<1x2x3x4x1xf32>, tensor<1x1x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
  %bs = llmc.mul %b, %su : (tensor<1x2x3x4x1xf32>, tensor<1x1x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
  %bc = llmc.mul %cu, %b : (tensor<1x1x3x4x1xf32>, tensor<1x2x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
  %as = llmc.mul %a, %su : (tensor<1x2x3x4x1xf32>, tensor<1x1x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
  %ra = llmc.sub %ac, %bs : (tensor<1x2x3x4x1xf32>, tensor<1x2x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
  %rb = llmc.add %bc, %as : (tensor<1x2x3x4x1xf32>, tensor<1x2x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
  %r = llmc.concat %ra, %rb {axis = 4 : i64} : (tensor<1x2x3x4x1xf32>, tensor<1x2x3x4x1xf32>) -> tensor<1x2x3x4x2xf32>
  %y = llmc.reshape %r {shape = array<i64: 1, 2, 3, 8>} : (tensor<1x2x3x4x2xf32>) -> tensor<1x2x3x8xf32>
  return %y : tensor<1x2x3x8xf32>
}

// -----

// Pair form, half: concat(x1*c - x2*s, x2*c + x1*s) with tables of the
// positions' angles -> rope_cos_sin.
// CHECK-LABEL: func.func @rope_pair_form_half_positions
// CHECK-NEXT: %[[COS:.*]], %[[SIN:.*]] = llmc.rope_cos_sin half %arg1 {dim = 8 : i64, theta = 1.000000e+04 : f64}
// CHECK-NEXT: %[[Y:.*]] = llmc.rope half %arg0, %[[COS]], %[[SIN]]
// CHECK-NEXT: return %[[Y]]
func.func @rope_pair_form_half_positions(%x: tensor<?x4x?x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x4x?x8xf32> {
  %pf = llmc.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %p3 = llmc.reshape %pf {shape = array<i64: 0, 0, 1>} : (tensor<?x?xf32>) -> tensor<?x?x1xf32>
  %inv = llmc.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
  %f = llmc.mul %p3, %inv : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %c = llmc.cos %f : tensor<?x?x4xf32> -> tensor<?x?x4xf32>
  %s = llmc.sin %f : tensor<?x?x4xf32> -> tensor<?x?x4xf32>
  %cu = llmc.reshape %c {shape = array<i64: 0, 1, -1, 4>} : (tensor<?x?x4xf32>) -> tensor<?x1x?x4xf32>
  %su = llmc.reshape %s {shape = array<i64: 0, 1, -1, 4>} : (tensor<?x?x4xf32>) -> tensor<?x1x?x4xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 0>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 8>, starts = array<i64: 4>} : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x4xf32>
  %ac = llmc.mul %x1, %cu : (tensor<?x4x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x4x?x4xf32>
  %bs = llmc.mul %x2, %su : (tensor<?x4x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x4x?x4xf32>
  %bc = llmc.mul %x2, %cu : (tensor<?x4x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x4x?x4xf32>
  %as = llmc.mul %x1, %su : (tensor<?x4x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x4x?x4xf32>
  %ra = llmc.sub %ac, %bs : (tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> tensor<?x4x?x4xf32>
  %rb = llmc.add %as, %bc : (tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> tensor<?x4x?x4xf32>
  %y = llmc.concat %ra, %rb {axis = 3 : i64} : (tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> tensor<?x4x?x8xf32>
  return %y : tensor<?x4x?x8xf32>
}

// -----

// Near miss of the pair form: the second half rotates the wrong way
// (b*c - a*s is a rotation by -angle), and the halves are swapped.
// CHECK-LABEL: func.func @rope_pair_form_near_miss
// CHECK-NOT: llmc.rope
// CHECK: return
func.func @rope_pair_form_near_miss(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) {
  %cu = llmc.reshape %c {shape = array<i64: 1, 1, 3, 4>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4xf32>
  %su = llmc.reshape %s {shape = array<i64: 1, 1, 3, 4>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4xf32>
  %x1 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 0>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %x2 = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 8>, starts = array<i64: 4>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %ac = llmc.mul %x1, %cu : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %bs = llmc.mul %x2, %su : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %bc = llmc.mul %x2, %cu : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %as = llmc.mul %x1, %su : (tensor<1x2x3x4xf32>, tensor<1x1x3x4xf32>) -> tensor<1x2x3x4xf32>
  %ra = llmc.sub %ac, %bs : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %rb = llmc.sub %bc, %as : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %y = llmc.concat %ra, %rb {axis = 3 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
  %ra2 = llmc.sub %bc, %as : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %rb2 = llmc.add %ac, %bs : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x4xf32>
  %z = llmc.concat %ra2, %rb2 {axis = 3 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
  return %y, %z : tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>
}

// -----

// Partial rotary (Phi, GPT-NeoX): the rope of x[..., :4] concatenated with
// x[..., 4:] is one rope of x with 2-wide tables.
// CHECK-LABEL: func.func @rope_partial
// CHECK-SAME: (%[[X:.*]]: tensor<1x2x3x8xf32>, %[[C:.*]]: tensor<1x3x2xf32>, %[[S:.*]]: tensor<1x3x2xf32>)
// CHECK-NEXT: %[[Y:.*]] = llmc.rope half %[[X]], %[[C]], %[[S]] : (tensor<1x2x3x8xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) -> tensor<1x2x3x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @rope_partial(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x2xf32>, %s: tensor<1x3x2xf32>) -> tensor<1x2x3x8xf32> {
  %rot = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 0>, steps = array<i64: 1>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %pass = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 9223372036854775807>, starts = array<i64: 4>, steps = array<i64: 1>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %r = llmc.rope half %rot, %c, %s : (tensor<1x2x3x4xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) -> tensor<1x2x3x4xf32>
  %y = llmc.concat %r, %pass {axis = 3 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
  return %y : tensor<1x2x3x8xf32>
}

// -----

// Near misses: the pass-through part from another offset (dims 5.. after a
// rotated 0..4), and the parts in the other order.
// CHECK-LABEL: func.func @rope_partial_near_miss
// CHECK-COUNT-2: llmc.concat
func.func @rope_partial_near_miss(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x2xf32>, %s: tensor<1x3x2xf32>) -> (tensor<1x2x3x7xf32>, tensor<1x2x3x8xf32>) {
  %rot = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 4>, starts = array<i64: 0>, steps = array<i64: 1>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %gap = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 8>, starts = array<i64: 5>, steps = array<i64: 1>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x3xf32>
  %pass = llmc.slice %x {axes = array<i64: 3>, ends = array<i64: 8>, starts = array<i64: 4>, steps = array<i64: 1>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
  %r1 = llmc.rope half %rot, %c, %s : (tensor<1x2x3x4xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) -> tensor<1x2x3x4xf32>
  %y1 = llmc.concat %r1, %gap {axis = 3 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x7xf32>
  %r2 = llmc.rope half %rot, %c, %s : (tensor<1x2x3x4xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) -> tensor<1x2x3x4xf32>
  %y2 = llmc.concat %pass, %r2 {axis = 3 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
  return %y1, %y2 : tensor<1x2x3x7xf32>, tensor<1x2x3x8xf32>
}
