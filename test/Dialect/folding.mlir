// Trivial folds of llmc ops.
// RUN: llmc-opt %s -split-input-file -canonicalize | FileCheck %s

// CHECK-LABEL: func.func @identity_folds(
// CHECK-SAME: %[[X:.*]]: tensor<2x3xf32>
// CHECK-NOT: llmc.
// CHECK: return %[[X]], %[[X]], %[[X]], %[[X]]
func.func @identity_folds(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = llmc.cast %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %1 = llmc.transpose %x {perm = array<i64: 0, 1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %2 = llmc.reshape %x {shape = array<i64: 2, 3>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = llmc.expand %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0, %1, %2, %3 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @no_fold(
// CHECK: llmc.cast
// CHECK: llmc.transpose
func.func @no_fold(%x: tensor<2x2xf32>) -> (tensor<2x2xf16>, tensor<2x2xf32>) {
  %0 = llmc.cast %x : tensor<2x2xf32> -> tensor<2x2xf16>
  %1 = llmc.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x2xf32>) -> tensor<2x2xf32>
  return %0, %1 : tensor<2x2xf16>, tensor<2x2xf32>
}

// -----

// shape_of of a static tensor becomes an llmc.constant (materialized by the
// dialect).
// CHECK-LABEL: func.func @shape_of_static(
// CHECK: %[[C:.*]] = llmc.constant dense<[4, 8, 16]> : tensor<3xi64>
// CHECK: %[[D:.*]] = llmc.shape_of %{{.*}} : tensor<?x8xf32> -> tensor<2xi64>
// CHECK: return %[[C]], %[[D]]
func.func @shape_of_static(%x: tensor<4x8x16xf32>, %y: tensor<?x8xf32>) -> (tensor<3xi64>, tensor<2xi64>) {
  %0 = llmc.shape_of %x : tensor<4x8x16xf32> -> tensor<3xi64>
  %1 = llmc.shape_of %y : tensor<?x8xf32> -> tensor<2xi64>
  return %0, %1 : tensor<3xi64>, tensor<2xi64>
}

// -----

// Identical constants are deduplicated (ConstantLike + fold).
// CHECK-LABEL: func.func @constants(
// CHECK: %[[C:.*]] = llmc.constant dense<1.000000e+00> : tensor<4xf32>
// CHECK-NOT: llmc.constant
// CHECK: llmc.add %[[C]], %[[C]]
func.func @constants() -> tensor<4xf32> {
  %0 = llmc.constant dense<1.0> : tensor<4xf32>
  %1 = llmc.constant dense<1.0> : tensor<4xf32>
  %2 = llmc.add %0, %1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %2 : tensor<4xf32>
}
