// RUN: llmc-opt --split-input-file --llmc-last-position-logits %s | FileCheck %s
// RUN: llmc-opt --split-input-file --llmc-last-position-logits=functions=decode %s | FileCheck %s --check-prefix=ONLY

// The final norm and lm_head run on the last position; the result (and the
// function type and dim names) become [B, 1, V].
// CHECK-LABEL: func.func @decode
// CHECK-SAME: -> (tensor<?x1x32xf32> {llmc.dims = ["batch_size", 1, 32]}, tensor<?x?x16xf32>)
// CHECK: %[[L:.*]] = llmc.slice %arg0 {axes = array<i64: 1>, ends = array<i64: 9223372036854775807>, starts = array<i64: -1>} : (tensor<?x?x16xf32>) -> tensor<?x1x16xf32>
// CHECK-NEXT: %[[N:.*]] = llmc.rms_norm %[[L]], %{{.*}} {epsilon = 9.99999974E-6 : f32} : (tensor<?x1x16xf32>, tensor<16xf32>) -> tensor<?x1x16xf32>
// CHECK-NEXT: %[[Y:.*]] = llmc.matmul %[[N]], %{{.*}} : (tensor<?x1x16xf32>, tensor<16x32xf32>) -> tensor<?x1x32xf32>
// CHECK-NEXT: return %[[Y]], %arg0
// ONLY-LABEL: func.func @decode
// ONLY-SAME: -> (tensor<?x1x32xf32>
func.func @decode(%h: tensor<?x?x16xf32>) -> (tensor<?x?x32xf32> {llmc.dims = ["batch_size", "sequence_length", 32]}, tensor<?x?x16xf32>) {
  %w = llmc.weight "norm" from "m.bin" at 0 : tensor<16xf32>
  %n = llmc.rms_norm %h, %w {epsilon = 1.0e-05 : f32} : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
  %wo = llmc.weight "output" from "m.bin" at 64 : tensor<16x32xf32>
  %y = llmc.matmul %n, %wo : (tensor<?x?x16xf32>, tensor<16x32xf32>) -> tensor<?x?x32xf32>
  return %y, %h : tensor<?x?x32xf32>, tensor<?x?x16xf32>
}

// -----

// Tied embeddings: the lm_head weight is the transposed embedding table.
// CHECK-LABEL: func.func @tied
// CHECK-SAME: -> tensor<2x1x32xf32>
// CHECK: llmc.slice %arg0
// CHECK: llmc.matmul {{.*}} -> tensor<2x1x32xf32>
// ONLY-LABEL: func.func @tied
// ONLY-SAME: -> tensor<2x7x32xf32>
// ONLY-NOT: llmc.slice
func.func @tied(%h: tensor<2x7x16xf32>) -> tensor<2x7x32xf32> {
  %w = llmc.weight "norm" from "m.bin" at 0 : tensor<16xf32>
  %n = llmc.rms_norm %h, %w {epsilon = 1.0e-05 : f32} : (tensor<2x7x16xf32>, tensor<16xf32>) -> tensor<2x7x16xf32>
  %e = llmc.weight "embed" from "m.bin" at 64 : tensor<32x16xf32>
  %et = llmc.transpose %e {perm = array<i64: 1, 0>} : (tensor<32x16xf32>) -> tensor<16x32xf32>
  %y = llmc.matmul %n, %et : (tensor<2x7x16xf32>, tensor<16x32xf32>) -> tensor<2x7x32xf32>
  return %y : tensor<2x7x32xf32>
}

// -----

// Near miss: a returned matmul of two activations is not an lm_head.
// CHECK-LABEL: func.func @not_lm_head
// CHECK-NOT: llmc.slice
// CHECK: return
func.func @not_lm_head(%h: tensor<2x7x16xf32>, %w: tensor<16x32xf32>) -> tensor<2x7x32xf32> {
  %y = llmc.matmul %h, %w : (tensor<2x7x16xf32>, tensor<16x32xf32>) -> tensor<2x7x32xf32>
  return %y : tensor<2x7x32xf32>
}
