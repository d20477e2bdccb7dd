// RUN: llmc-opt --split-input-file --llmc-fuse-norms %s | FileCheck %s

// The exporter's form: w * (x * (1 / sqrt(mean(x^2) + eps))).
// CHECK-LABEL: func.func @rms_pow_div_sqrt
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x16xf32>, %[[W:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[Y:.*]] = llmc.rms_norm %[[X]], %[[W]] {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
// CHECK-NEXT: return %[[Y]]
func.func @rms_pow_div_sqrt(%x: tensor<?x?x16xf32>, %w: tensor<16xf32>) -> tensor<?x?x16xf32> {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %one = llmc.constant dense<1.0> : tensor<f32>
  %sq = llmc.pow %x, %two : (tensor<?x?x16xf32>, tensor<f32>) -> tensor<?x?x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: 2>} : (tensor<?x?x16xf32>) -> tensor<?x?x1xf32>
  %a = llmc.add %m, %eps : (tensor<?x?x1xf32>, tensor<f32>) -> tensor<?x?x1xf32>
  %s = llmc.sqrt %a : tensor<?x?x1xf32> -> tensor<?x?x1xf32>
  %r = llmc.div %one, %s : (tensor<f32>, tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %n = llmc.mul %x, %r : (tensor<?x?x16xf32>, tensor<?x?x1xf32>) -> tensor<?x?x16xf32>
  %y = llmc.mul %w, %n : (tensor<16xf32>, tensor<?x?x16xf32>) -> tensor<?x?x16xf32>
  return %y : tensor<?x?x16xf32>
}

// -----

// x * x instead of pow, eps first, rsqrt, commuted multiplications.
// CHECK-LABEL: func.func @rms_mul_rsqrt_commuted
// CHECK-NEXT: llmc.rms_norm %arg0, %arg1 {epsilon = 9.99999997E-7 : f32}
// CHECK-NEXT: return
func.func @rms_mul_rsqrt_commuted(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>) -> tensor<2x5x16xf32> {
  %eps = llmc.constant dense<1.0e-06> : tensor<1xf32>
  %sq = llmc.mul %x, %x : (tensor<2x5x16xf32>, tensor<2x5x16xf32>) -> tensor<2x5x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: -1>, keepdims = true} : (tensor<2x5x16xf32>) -> tensor<2x5x1xf32>
  %a = llmc.add %eps, %m : (tensor<1xf32>, tensor<2x5x1xf32>) -> tensor<2x5x1xf32>
  %r = llmc.rsqrt %a : tensor<2x5x1xf32> -> tensor<2x5x1xf32>
  %n = llmc.mul %r, %x : (tensor<2x5x1xf32>, tensor<2x5x16xf32>) -> tensor<2x5x16xf32>
  %y = llmc.mul %n, %w : (tensor<2x5x16xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
  return %y : tensor<2x5x16xf32>
}

// -----

// CHECK-LABEL: func.func @rms_reciprocal_sqrt
// CHECK-NEXT: llmc.rms_norm %arg0, %arg1
// CHECK-NEXT: return
func.func @rms_reciprocal_sqrt(%x: tensor<2x16xf32>, %w: tensor<16xf32>) -> tensor<2x16xf32> {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %sq = llmc.pow %x, %two : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %a = llmc.add %m, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %s = llmc.sqrt %a : tensor<2x1xf32> -> tensor<2x1xf32>
  %r = llmc.reciprocal %s : tensor<2x1xf32> -> tensor<2x1xf32>
  %n = llmc.mul %x, %r : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %y = llmc.mul %w, %n : (tensor<16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// x / sqrt(v) instead of x * (1 / sqrt(v)).
// CHECK-LABEL: func.func @rms_div_by_sqrt
// CHECK-NEXT: llmc.rms_norm %arg0, %arg1
// CHECK-NEXT: return
func.func @rms_div_by_sqrt(%x: tensor<2x16xf32>, %w: tensor<16xf32>) -> tensor<2x16xf32> {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %sq = llmc.pow %x, %two : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %a = llmc.add %m, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %s = llmc.sqrt %a : tensor<2x1xf32> -> tensor<2x1xf32>
  %n = llmc.div %x, %s : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %y = llmc.mul %w, %n : (tensor<16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// fp16 model, statistics in f32 (HF): cast in, normalize, cast back.
// CHECK-LABEL: func.func @rms_f16_with_f32_statistics
// CHECK-NEXT: llmc.rms_norm %arg0, %arg1 {{.*}} : (tensor<2x16xf16>, tensor<16xf16>) -> tensor<2x16xf16>
// CHECK-NEXT: return
func.func @rms_f16_with_f32_statistics(%x: tensor<2x16xf16>, %w: tensor<16xf16>) -> tensor<2x16xf16> {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %x32 = llmc.cast %x : tensor<2x16xf16> -> tensor<2x16xf32>
  %sq = llmc.pow %x32, %two : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %a = llmc.add %m, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %r = llmc.rsqrt %a : tensor<2x1xf32> -> tensor<2x1xf32>
  %n = llmc.mul %x32, %r : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %n16 = llmc.cast %n : tensor<2x16xf32> -> tensor<2x16xf16>
  %y = llmc.mul %w, %n16 : (tensor<16xf16>, tensor<2x16xf16>) -> tensor<2x16xf16>
  return %y : tensor<2x16xf16>
}

// -----

// Near miss: the mean runs over axis 0, not the last axis.
// CHECK-LABEL: func.func @rms_near_miss_axis
// CHECK-NOT: llmc.rms_norm
// CHECK: llmc.reduce_mean
func.func @rms_near_miss_axis(%x: tensor<16x16xf32>, %w: tensor<16xf32>) -> tensor<16x16xf32> {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %sq = llmc.pow %x, %two : (tensor<16x16xf32>, tensor<f32>) -> tensor<16x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: 0>} : (tensor<16x16xf32>) -> tensor<1x16xf32>
  %a = llmc.add %m, %eps : (tensor<1x16xf32>, tensor<f32>) -> tensor<1x16xf32>
  %r = llmc.rsqrt %a : tensor<1x16xf32> -> tensor<1x16xf32>
  %n = llmc.mul %x, %r : (tensor<16x16xf32>, tensor<1x16xf32>) -> tensor<16x16xf32>
  %y = llmc.mul %w, %n : (tensor<16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  return %y : tensor<16x16xf32>
}

// -----

// Near miss: the statistics are of another tensor.
// CHECK-LABEL: func.func @rms_near_miss_other_input
// CHECK-NOT: llmc.rms_norm
// CHECK: return
func.func @rms_near_miss_other_input(%x: tensor<2x16xf32>, %z: tensor<2x16xf32>, %w: tensor<16xf32>) -> tensor<2x16xf32> {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %sq = llmc.pow %z, %two : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %a = llmc.add %m, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %r = llmc.rsqrt %a : tensor<2x1xf32> -> tensor<2x1xf32>
  %n = llmc.mul %x, %r : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %y = llmc.mul %w, %n : (tensor<16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// Near miss: x^3 is not a square; a variable epsilon is not a constant.
// CHECK-LABEL: func.func @rms_near_miss_cube
// CHECK-NOT: llmc.rms_norm
// CHECK: return
func.func @rms_near_miss_cube(%x: tensor<2x16xf32>, %w: tensor<16xf32>) -> tensor<2x16xf32> {
  %three = llmc.constant dense<3.0> : tensor<f32>
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %sq = llmc.pow %x, %three : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %a = llmc.add %m, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %r = llmc.rsqrt %a : tensor<2x1xf32> -> tensor<2x1xf32>
  %n = llmc.mul %x, %r : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %y = llmc.mul %w, %n : (tensor<16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// CHECK-LABEL: func.func @rms_near_miss_variable_eps
// CHECK-NOT: llmc.rms_norm
// CHECK: return
func.func @rms_near_miss_variable_eps(%x: tensor<2x16xf32>, %w: tensor<16xf32>, %eps: tensor<f32>) -> tensor<2x16xf32> {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %sq = llmc.pow %x, %two : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %a = llmc.add %m, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %r = llmc.rsqrt %a : tensor<2x1xf32> -> tensor<2x1xf32>
  %n = llmc.mul %x, %r : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %y = llmc.mul %w, %n : (tensor<16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// Near miss: a per-row (2-D) scale is not an RMSNorm weight.
// CHECK-LABEL: func.func @rms_near_miss_2d_weight
// CHECK-NOT: llmc.rms_norm
// CHECK: return
func.func @rms_near_miss_2d_weight(%x: tensor<2x16xf32>, %w: tensor<2x16xf32>) -> tensor<2x16xf32> {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %sq = llmc.pow %x, %two : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
  %m = llmc.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %a = llmc.add %m, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %r = llmc.rsqrt %a : tensor<2x1xf32> -> tensor<2x1xf32>
  %n = llmc.mul %x, %r : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %y = llmc.mul %w, %n : (tensor<2x16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// LayerNorm with bias: ((x - mean) / sqrt(var + eps)) * w + b.
// CHECK-LABEL: func.func @layer_norm_with_bias
// CHECK-SAME: (%[[X:.*]]: tensor<2x5x16xf32>, %[[W:.*]]: tensor<16xf32>, %[[B:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[Y:.*]] = llmc.layer_norm %[[X]], %[[W]], %[[B]] {epsilon = 9.99999974E-6 : f32}
// CHECK-NEXT: return %[[Y]]
func.func @layer_norm_with_bias(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<2x5x16xf32> {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %mu = llmc.reduce_mean %x {axes = array<i64: -1>} : (tensor<2x5x16xf32>) -> tensor<2x5x1xf32>
  %d = llmc.sub %x, %mu : (tensor<2x5x16xf32>, tensor<2x5x1xf32>) -> tensor<2x5x16xf32>
  %sq = llmc.pow %d, %two : (tensor<2x5x16xf32>, tensor<f32>) -> tensor<2x5x16xf32>
  %var = llmc.reduce_mean %sq {axes = array<i64: -1>} : (tensor<2x5x16xf32>) -> tensor<2x5x1xf32>
  %a = llmc.add %var, %eps : (tensor<2x5x1xf32>, tensor<f32>) -> tensor<2x5x1xf32>
  %s = llmc.sqrt %a : tensor<2x5x1xf32> -> tensor<2x5x1xf32>
  %n = llmc.div %d, %s : (tensor<2x5x16xf32>, tensor<2x5x1xf32>) -> tensor<2x5x16xf32>
  %nw = llmc.mul %n, %w : (tensor<2x5x16xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
  %y = llmc.add %nw, %b : (tensor<2x5x16xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
  return %y : tensor<2x5x16xf32>
}

// -----

// LayerNorm without bias, rsqrt form, variance from a second copy of x - mean.
// CHECK-LABEL: func.func @layer_norm_rsqrt_no_bias
// CHECK-NEXT: llmc.layer_norm %arg0, %arg1 {epsilon = 9.99999974E-6 : f32}
// CHECK-NEXT: return
func.func @layer_norm_rsqrt_no_bias(%x: tensor<2x16xf32>, %w: tensor<16xf32>) -> tensor<2x16xf32> {
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %mu = llmc.reduce_mean %x {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %d = llmc.sub %x, %mu : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %d2 = llmc.sub %x, %mu : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %sq = llmc.mul %d2, %d2 : (tensor<2x16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  %var = llmc.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %a = llmc.add %var, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %r = llmc.rsqrt %a : tensor<2x1xf32> -> tensor<2x1xf32>
  %n = llmc.mul %d, %r : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %y = llmc.mul %w, %n : (tensor<16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// Near miss: centered by the mean of another tensor.
// CHECK-LABEL: func.func @layer_norm_near_miss_other_mean
// CHECK-NOT: llmc.layer_norm
// CHECK: return
func.func @layer_norm_near_miss_other_mean(%x: tensor<2x16xf32>, %z: tensor<2x16xf32>, %w: tensor<16xf32>) -> tensor<2x16xf32> {
  %eps = llmc.constant dense<1.0e-05> : tensor<f32>
  %mu = llmc.reduce_mean %z {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %d = llmc.sub %x, %mu : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %sq = llmc.mul %d, %d : (tensor<2x16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  %var = llmc.reduce_mean %sq {axes = array<i64: 1>} : (tensor<2x16xf32>) -> tensor<2x1xf32>
  %a = llmc.add %var, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %r = llmc.rsqrt %a : tensor<2x1xf32> -> tensor<2x1xf32>
  %n = llmc.mul %d, %r : (tensor<2x16xf32>, tensor<2x1xf32>) -> tensor<2x16xf32>
  %y = llmc.mul %w, %n : (tensor<16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}
