// RUN: llmc-opt --split-input-file --llmc-fuse-mlp %s | FileCheck %s

// silu(g) * u with silu spelled g * sigmoid(g) (the exporter's SiLU).
// CHECK-LABEL: func.func @swiglu_sigmoid_form
// CHECK-SAME: (%[[G:.*]]: tensor<?x?x72xf32>, %[[U:.*]]: tensor<?x?x72xf32>)
// CHECK-NEXT: %[[Y:.*]] = llmc.swiglu %[[G]], %[[U]] : (tensor<?x?x72xf32>, tensor<?x?x72xf32>) -> tensor<?x?x72xf32>
// CHECK-NEXT: return %[[Y]]
func.func @swiglu_sigmoid_form(%g: tensor<?x?x72xf32>, %u: tensor<?x?x72xf32>) -> tensor<?x?x72xf32> {
  %s = llmc.sigmoid %g : tensor<?x?x72xf32> -> tensor<?x?x72xf32>
  %a = llmc.mul %g, %s : (tensor<?x?x72xf32>, tensor<?x?x72xf32>) -> tensor<?x?x72xf32>
  %y = llmc.mul %a, %u : (tensor<?x?x72xf32>, tensor<?x?x72xf32>) -> tensor<?x?x72xf32>
  return %y : tensor<?x?x72xf32>
}

// -----

// silu op, operands commuted everywhere.
// CHECK-LABEL: func.func @swiglu_silu_commuted
// CHECK-NEXT: llmc.swiglu %arg0, %arg1
// CHECK-NEXT: llmc.swiglu %arg0, %arg1
// CHECK-NEXT: return
func.func @swiglu_silu_commuted(%g: tensor<3x8xf32>, %u: tensor<3x8xf32>) -> (tensor<3x8xf32>, tensor<3x8xf32>) {
  %a = llmc.silu %g : tensor<3x8xf32> -> tensor<3x8xf32>
  %y = llmc.mul %u, %a : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  %s = llmc.sigmoid %g : tensor<3x8xf32> -> tensor<3x8xf32>
  %b = llmc.mul %s, %g : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  %z = llmc.mul %u, %b : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  return %y, %z : tensor<3x8xf32>, tensor<3x8xf32>
}

// -----

// Near miss: the sigmoid is of another tensor (not silu); and a gate that
// broadcasts against up is not a swiglu operand pair.
// CHECK-LABEL: func.func @swiglu_near_miss
// CHECK-NOT: llmc.swiglu
// CHECK: return
func.func @swiglu_near_miss(%g: tensor<3x8xf32>, %h: tensor<3x8xf32>, %u: tensor<3x8xf32>, %v: tensor<8xf32>) -> (tensor<3x8xf32>, tensor<3x8xf32>) {
  %s = llmc.sigmoid %h : tensor<3x8xf32> -> tensor<3x8xf32>
  %a = llmc.mul %g, %s : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  %y = llmc.mul %a, %u : (tensor<3x8xf32>, tensor<3x8xf32>) -> tensor<3x8xf32>
  %b = llmc.silu %g : tensor<3x8xf32> -> tensor<3x8xf32>
  %z = llmc.mul %b, %v : (tensor<3x8xf32>, tensor<8xf32>) -> tensor<3x8xf32>
  return %y, %z : tensor<3x8xf32>, tensor<3x8xf32>
}

// -----

// GELU, erf form: 0.5 * x * (1 + erf(x / sqrt(2))).
// CHECK-LABEL: func.func @gelu_erf
// CHECK-NEXT: %[[Y:.*]] = llmc.gelu %arg0 : tensor<2x8xf32> -> tensor<2x8xf32>
// CHECK-NEXT: return %[[Y]]
func.func @gelu_erf(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = llmc.constant dense<1.41421354> : tensor<f32>
  %one = llmc.constant dense<1.0> : tensor<f32>
  %half = llmc.constant dense<0.5> : tensor<f32>
  %d = llmc.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = llmc.erf %d : tensor<2x8xf32> -> tensor<2x8xf32>
  %a = llmc.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = llmc.mul %x, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = llmc.mul %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// GELU, erf form with x * 0.7071 and a different association.
// CHECK-LABEL: func.func @gelu_erf_reassociated
// CHECK-NEXT: llmc.gelu %arg0 : tensor<2x8xf32> -> tensor<2x8xf32>
// CHECK-NEXT: return
func.func @gelu_erf_reassociated(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %c = llmc.constant dense<0.707106769> : tensor<f32>
  %one = llmc.constant dense<1.0> : tensor<f32>
  %half = llmc.constant dense<0.5> : tensor<f32>
  %d = llmc.mul %x, %c : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = llmc.erf %d : tensor<2x8xf32> -> tensor<2x8xf32>
  %a = llmc.add %one, %e : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %hx = llmc.mul %half, %x : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = llmc.mul %hx, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// GELU, tanh form: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))).
// CHECK-LABEL: func.func @gelu_tanh
// CHECK-NEXT: llmc.gelu %arg0 approximate tanh : tensor<2x8xf32> -> tensor<2x8xf32>
// CHECK-NEXT: return
func.func @gelu_tanh(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %three = llmc.constant dense<3.0> : tensor<f32>
  %k = llmc.constant dense<4.471500e-02> : tensor<f32>
  %c = llmc.constant dense<0.797884583> : tensor<f32>
  %one = llmc.constant dense<1.0> : tensor<f32>
  %half = llmc.constant dense<0.5> : tensor<f32>
  %x3 = llmc.pow %x, %three : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %kx3 = llmc.mul %k, %x3 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %in = llmc.add %x, %kx3 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %ci = llmc.mul %c, %in : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %t = llmc.tanh %ci : tensor<2x8xf32> -> tensor<2x8xf32>
  %a = llmc.add %t, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %hx = llmc.mul %x, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %y = llmc.mul %hx, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}

// -----

// GeGLU (Gemma): gelu(g) * u, the gelu read only by the product, becomes a
// swiglu with the gelu's approximation; a gelu read elsewhere stays.
// CHECK-LABEL: func.func @geglu
// CHECK-NEXT: %[[G:.*]] = llmc.swiglu %arg0, %arg1 {gelu = #llmc<gelu_approximation tanh>} : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
// CHECK-NEXT: %[[E:.*]] = llmc.gelu %arg0 : tensor<2x8xf32> -> tensor<2x8xf32>
// CHECK-NEXT: %[[M:.*]] = llmc.mul %arg1, %[[E]]
// CHECK-NEXT: return %[[G]], %[[M]], %[[E]]
func.func @geglu(%g: tensor<2x8xf32>, %u: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
  %a = llmc.gelu %g approximate tanh : tensor<2x8xf32> -> tensor<2x8xf32>
  %y = llmc.mul %u, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %e = llmc.gelu %g : tensor<2x8xf32> -> tensor<2x8xf32>
  %z = llmc.mul %u, %e : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %y, %z, %e : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
}

// -----

// Near misses: erf(x / 2) is not GELU; tanh with x^2 instead of x^3 is not
// either.
// CHECK-LABEL: func.func @gelu_near_miss
// CHECK-NOT: llmc.gelu
// CHECK: return
func.func @gelu_near_miss(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %two = llmc.constant dense<2.0> : tensor<f32>
  %one = llmc.constant dense<1.0> : tensor<f32>
  %half = llmc.constant dense<0.5> : tensor<f32>
  %d = llmc.div %x, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %e = llmc.erf %d : tensor<2x8xf32> -> tensor<2x8xf32>
  %a = llmc.add %e, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = llmc.mul %x, %a : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %y = llmc.mul %m, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %k = llmc.constant dense<4.471500e-02> : tensor<f32>
  %c = llmc.constant dense<0.797884583> : tensor<f32>
  %x2 = llmc.pow %x, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %kx2 = llmc.mul %k, %x2 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %in = llmc.add %x, %kx2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %ci = llmc.mul %c, %in : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %t = llmc.tanh %ci : tensor<2x8xf32> -> tensor<2x8xf32>
  %b = llmc.add %t, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %hx = llmc.mul %x, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %z = llmc.mul %hx, %b : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %y, %z : tensor<2x8xf32>, tensor<2x8xf32>
}

// -----

// Gemma-2's final logit soft-capping: c * tanh(x / c), the division also
// written as a multiply by 1 / c; a cap that does not undo the inner scale
// stays as it is.
// CHECK-LABEL: func.func @softcap
// CHECK: %[[A:.*]] = llmc.softcap %arg0 {cap = 3.000000e+01 : f32} : tensor<2x8xf32> -> tensor<2x8xf32>
// CHECK: %[[B:.*]] = llmc.softcap %arg0 {cap = 4.000000e+00 : f32}
// CHECK: %[[T:.*]] = llmc.tanh
// CHECK: %[[C:.*]] = llmc.mul %[[T]]
// CHECK: return %[[A]], %[[B]], %[[C]]
func.func @softcap(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>) {
  %cap = llmc.constant dense<30.0> : tensor<f32>
  %d = llmc.div %x, %cap : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %t = llmc.tanh %d : tensor<2x8xf32> -> tensor<2x8xf32>
  %a = llmc.mul %t, %cap : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %quarter = llmc.constant dense<0.25> : tensor<f32>
  %four = llmc.constant dense<4.0> : tensor<f32>
  %m = llmc.mul %x, %quarter : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %t2 = llmc.tanh %m : tensor<2x8xf32> -> tensor<2x8xf32>
  %b = llmc.mul %four, %t2 : (tensor<f32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %two = llmc.constant dense<2.0> : tensor<f32>
  %m3 = llmc.mul %x, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %t3 = llmc.tanh %m3 : tensor<2x8xf32> -> tensor<2x8xf32>
  %c = llmc.mul %t3, %four : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  return %a, %b, %c : tensor<2x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>
}
