// Round trip of every llmc op, attribute and type: custom form, a second
// round trip of the printed output, and the generic form.
// RUN: llmc-opt %s -split-input-file | FileCheck %s
// RUN: llmc-opt %s -split-input-file | llmc-opt -split-input-file | FileCheck %s
// RUN: llmc-opt %s -split-input-file -mlir-print-op-generic | llmc-opt -split-input-file | FileCheck %s

#plain4 = #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">

func.func @constants_and_weights() {
  %0 = llmc.constant dense<[1, 2]> : tensor<2xi64>
  %1 = llmc.constant dense<0.5> : tensor<2x3xf32>
  %2 = llmc.constant dense_resource<blob1> : tensor<2xf32>
  %3 = llmc.weight "layers.0.wq" from "model.bin" at 4096 length 32 : tensor<4x2xf32>
  %4 = llmc.weight "embed" from "model.bin" at 0 : tensor<32000x64xf16>
  %5 = llmc.weight "layers.0.wq.q4" from "model.llmc" at 65536 length 10240 : !llmc.qweight<64x256, #plain4>
  %6 = llmc.weight "w8" from "w.bin" at 0 : !llmc.qweight<4096x4096, #llmc.quant<bits = 8, group_size = 0, symmetric = false, scale_type = f32, layout = "avx512_vnni.n16k4">>
  return
}

{-#
  dialect_resources: {
    builtin: {
      blob1: "0x040000000000803F00000040"
    }
  }
#-}

// CHECK-DAG: #quant = #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">
// CHECK-DAG: #quant1 = #llmc.quant<bits = 8, group_size = 0, symmetric = false, scale_type = f32, layout = "avx512_vnni.n16k4">
// CHECK-LABEL: func.func @constants_and_weights(
// CHECK: %{{.*}} = llmc.constant dense<[1, 2]> : tensor<2xi64>
// CHECK-NEXT: %{{.*}} = llmc.constant dense<5.000000e-01> : tensor<2x3xf32>
// CHECK-NEXT: %{{.*}} = llmc.constant dense_resource<blob1> : tensor<2xf32>
// CHECK-NEXT: %{{.*}} = llmc.weight "layers.0.wq" from "model.bin" at 4096 length 32 : tensor<4x2xf32>
// CHECK-NEXT: %{{.*}} = llmc.weight "embed" from "model.bin" at 0 : tensor<32000x64xf16>
// CHECK-NEXT: %{{.*}} = llmc.weight "layers.0.wq.q4" from "model.llmc" at 65536 length 10240 : !llmc.qweight<64x256, #quant>
// CHECK-NEXT: %{{.*}} = llmc.weight "w8" from "w.bin" at 0 : !llmc.qweight<4096x4096, #quant1>

// -----

func.func @binary(%a: tensor<?x4xf32>, %b: tensor<4xf32>, %i: tensor<2x1xi64>, %j: tensor<3xi64>) {
  %0 = llmc.add %a, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %1 = llmc.sub %a, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %2 = llmc.mul %a, %a : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %3 = llmc.div %i, %j : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi64>
  %4 = llmc.pow %a, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %5 = llmc.max %a, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  %6 = llmc.min %i, %j : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi64>
  return
}

// CHECK-LABEL: func.func @binary(
// CHECK: %{{.*}} = llmc.add %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
// CHECK-NEXT: %{{.*}} = llmc.sub %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
// CHECK-NEXT: %{{.*}} = llmc.mul %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
// CHECK-NEXT: %{{.*}} = llmc.div %{{.*}}, %{{.*}} : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi64>
// CHECK-NEXT: %{{.*}} = llmc.pow %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
// CHECK-NEXT: %{{.*}} = llmc.max %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
// CHECK-NEXT: %{{.*}} = llmc.min %{{.*}}, %{{.*}} : (tensor<2x1xi64>, tensor<3xi64>) -> tensor<2x3xi64>

// -----

func.func @compare_logic(%a: tensor<?x4xf32>, %b: tensor<4xf32>, %c: tensor<2x1xi1>, %d: tensor<3xi1>, %x: tensor<2x3xf16>, %y: tensor<f16>) {
  %0 = llmc.equal %a, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
  %1 = llmc.greater %a, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
  %2 = llmc.less %a, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
  %3 = llmc.less_equal %a, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
  %4 = llmc.greater_equal %a, %b : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
  %5 = llmc.and %c, %d : (tensor<2x1xi1>, tensor<3xi1>) -> tensor<2x3xi1>
  %6 = llmc.or %c, %d : (tensor<2x1xi1>, tensor<3xi1>) -> tensor<2x3xi1>
  %7 = llmc.not %c : tensor<2x1xi1> -> tensor<2x1xi1>
  %8 = llmc.equal %c, %d : (tensor<2x1xi1>, tensor<3xi1>) -> tensor<2x3xi1>
  %9 = llmc.where %c, %x, %y : (tensor<2x1xi1>, tensor<2x3xf16>, tensor<f16>) -> tensor<2x3xf16>
  return
}

// CHECK-LABEL: func.func @compare_logic(
// CHECK: %{{.*}} = llmc.equal %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
// CHECK-NEXT: %{{.*}} = llmc.greater %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
// CHECK-NEXT: %{{.*}} = llmc.less %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
// CHECK-NEXT: %{{.*}} = llmc.less_equal %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
// CHECK-NEXT: %{{.*}} = llmc.greater_equal %{{.*}}, %{{.*}} : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?x4xi1>
// CHECK-NEXT: %{{.*}} = llmc.and %{{.*}}, %{{.*}} : (tensor<2x1xi1>, tensor<3xi1>) -> tensor<2x3xi1>
// CHECK-NEXT: %{{.*}} = llmc.or %{{.*}}, %{{.*}} : (tensor<2x1xi1>, tensor<3xi1>) -> tensor<2x3xi1>
// CHECK-NEXT: %{{.*}} = llmc.not %{{.*}} : tensor<2x1xi1> -> tensor<2x1xi1>
// CHECK-NEXT: %{{.*}} = llmc.equal %{{.*}}, %{{.*}} : (tensor<2x1xi1>, tensor<3xi1>) -> tensor<2x3xi1>
// CHECK-NEXT: %{{.*}} = llmc.where %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x1xi1>, tensor<2x3xf16>, tensor<f16>) -> tensor<2x3xf16>

// -----

func.func @unary(%x: tensor<?x8xf32>, %i: tensor<4xi32>) {
  %0 = llmc.neg %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %1 = llmc.abs %i : tensor<4xi32> -> tensor<4xi32>
  %2 = llmc.sqrt %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %3 = llmc.rsqrt %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %4 = llmc.reciprocal %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %5 = llmc.exp %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %6 = llmc.log %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %7 = llmc.tanh %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %8 = llmc.sigmoid %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %9 = llmc.erf %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %10 = llmc.cos %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %11 = llmc.sin %x : tensor<?x8xf32> -> tensor<?x8xf32>
  %12 = llmc.silu %x : tensor<?x8xf32> -> tensor<2x8xf32>
  %13 = llmc.cast %x : tensor<?x8xf32> -> tensor<?x8xf16>
  %14 = llmc.cast %i : tensor<4xi32> -> tensor<4xi1>
  return
}

// CHECK-LABEL: func.func @unary(
// CHECK: %{{.*}} = llmc.neg %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.abs %{{.*}} : tensor<4xi32> -> tensor<4xi32>
// CHECK-NEXT: %{{.*}} = llmc.sqrt %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.rsqrt %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.reciprocal %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.exp %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.log %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.tanh %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.sigmoid %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.erf %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.cos %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.sin %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.silu %{{.*}} : tensor<?x8xf32> -> tensor<2x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.cast %{{.*}} : tensor<?x8xf32> -> tensor<?x8xf16>
// CHECK-NEXT: %{{.*}} = llmc.cast %{{.*}} : tensor<4xi32> -> tensor<4xi1>

// -----

func.func @reductions(%x: tensor<2x?x8xf32>) {
  %0 = llmc.reduce_mean %x {axes = array<i64: -1>} : (tensor<2x?x8xf32>) -> tensor<2x?x1xf32>
  %1 = llmc.reduce_sum %x {axes = array<i64: 0, 2>, keepdims = false} : (tensor<2x?x8xf32>) -> tensor<?xf32>
  %2 = llmc.reduce_max %x : (tensor<2x?x8xf32>) -> tensor<1x1x1xf32>
  %3 = llmc.softmax %x : tensor<2x?x8xf32> -> tensor<2x?x8xf32>
  %4 = llmc.softmax %x {axis = 1 : i64} : tensor<2x?x8xf32> -> tensor<2x?x8xf32>
  return
}

// CHECK-LABEL: func.func @reductions(
// CHECK: %{{.*}} = llmc.reduce_mean %{{.*}} {axes = array<i64: -1>} : (tensor<2x?x8xf32>) -> tensor<2x?x1xf32>
// CHECK-NEXT: %{{.*}} = llmc.reduce_sum %{{.*}} {axes = array<i64: 0, 2>, keepdims = false} : (tensor<2x?x8xf32>) -> tensor<?xf32>
// CHECK-NEXT: %{{.*}} = llmc.reduce_max %{{.*}} : (tensor<2x?x8xf32>) -> tensor<1x1x1xf32>
// CHECK-NEXT: %{{.*}} = llmc.softmax %{{.*}} : tensor<2x?x8xf32> -> tensor<2x?x8xf32>
// CHECK-NEXT: %{{.*}} = llmc.softmax %{{.*}} {axis = 1 : i64} : tensor<2x?x8xf32> -> tensor<2x?x8xf32>

// -----

func.func @matmul(%a: tensor<?x3x4xf32>, %b: tensor<4x5xf32>, %c: tensor<2x1x4x5xf32>, %v: tensor<4xf32>) {
  %0 = llmc.matmul %a, %b : (tensor<?x3x4xf32>, tensor<4x5xf32>) -> tensor<?x3x5xf32>
  %1 = llmc.matmul %a, %c : (tensor<?x3x4xf32>, tensor<2x1x4x5xf32>) -> tensor<2x?x3x5xf32>
  %2 = llmc.matmul %a, %v : (tensor<?x3x4xf32>, tensor<4xf32>) -> tensor<?x3xf32>
  %3 = llmc.matmul %v, %b : (tensor<4xf32>, tensor<4x5xf32>) -> tensor<5xf32>
  return
}

// CHECK-LABEL: func.func @matmul(
// CHECK: %{{.*}} = llmc.matmul %{{.*}}, %{{.*}} : (tensor<?x3x4xf32>, tensor<4x5xf32>) -> tensor<?x3x5xf32>
// CHECK-NEXT: %{{.*}} = llmc.matmul %{{.*}}, %{{.*}} : (tensor<?x3x4xf32>, tensor<2x1x4x5xf32>) -> tensor<2x?x3x5xf32>
// CHECK-NEXT: %{{.*}} = llmc.matmul %{{.*}}, %{{.*}} : (tensor<?x3x4xf32>, tensor<4xf32>) -> tensor<?x3xf32>
// CHECK-NEXT: %{{.*}} = llmc.matmul %{{.*}}, %{{.*}} : (tensor<4xf32>, tensor<4x5xf32>) -> tensor<5xf32>

// -----

func.func @shapes(%x: tensor<?x?x4096xf32>, %y: tensor<?x?x32x128xf32>, %s: tensor<4xi64>) {
  %0 = llmc.reshape %x {shape = array<i64: 0, 0, 32, 128>} : (tensor<?x?x4096xf32>) -> tensor<?x?x32x128xf32>
  %1 = llmc.reshape %y {shape = array<i64: 0, -1, 4096>} : (tensor<?x?x32x128xf32>) -> tensor<?x?x4096xf32>
  %2 = llmc.transpose %y {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x32x128xf32>) -> tensor<?x32x?x128xf32>
  %3 = llmc.concat %y, %y {axis = -1 : i64} : (tensor<?x?x32x128xf32>, tensor<?x?x32x128xf32>) -> tensor<?x?x32x256xf32>
  %4 = llmc.slice %y {ends = array<i64: 64>, starts = array<i64: 0>, axes = array<i64: 3>} : (tensor<?x?x32x128xf32>) -> tensor<?x?x32x64xf32>
  %5 = llmc.slice %y {ends = array<i64: -1, -9223372036854775808>, starts = array<i64: -2, -1>, axes = array<i64: 1, 2>, steps = array<i64: 1, -2>} : (tensor<?x?x32x128xf32>) -> tensor<?x?x16x128xf32>
  %6:3 = llmc.split %x {axis = 2 : i64, sizes = array<i64: 2048, 1024, 1024>} : (tensor<?x?x4096xf32>) -> (tensor<?x?x2048xf32>, tensor<?x?x1024xf32>, tensor<?x?x1024xf32>)
  %7:2 = llmc.split %x {axis = -1 : i64} : (tensor<?x?x4096xf32>) -> (tensor<?x?x2048xf32>, tensor<?x?x2048xf32>)
  %8 = llmc.shape_of %y : tensor<?x?x32x128xf32> -> tensor<4xi64>
  %9 = llmc.expand %y, %s : (tensor<?x?x32x128xf32>, tensor<4xi64>) -> tensor<?x?x32x128xf32>
  return
}

// CHECK-LABEL: func.func @shapes(
// CHECK: %{{.*}} = llmc.reshape %{{.*}} {shape = array<i64: 0, 0, 32, 128>} : (tensor<?x?x4096xf32>) -> tensor<?x?x32x128xf32>
// CHECK-NEXT: %{{.*}} = llmc.reshape %{{.*}} {shape = array<i64: 0, -1, 4096>} : (tensor<?x?x32x128xf32>) -> tensor<?x?x4096xf32>
// CHECK-NEXT: %{{.*}} = llmc.transpose %{{.*}} {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x32x128xf32>) -> tensor<?x32x?x128xf32>
// CHECK-NEXT: %{{.*}} = llmc.concat %{{.*}}, %{{.*}} {axis = -1 : i64} : (tensor<?x?x32x128xf32>, tensor<?x?x32x128xf32>) -> tensor<?x?x32x256xf32>
// CHECK-NEXT: %{{.*}} = llmc.slice %{{.*}} {axes = array<i64: 3>, ends = array<i64: 64>, starts = array<i64: 0>} : (tensor<?x?x32x128xf32>) -> tensor<?x?x32x64xf32>
// CHECK-NEXT: %{{.*}} = llmc.slice %{{.*}} {axes = array<i64: 1, 2>, ends = array<i64: -1, -9223372036854775808>, starts = array<i64: -2, -1>, steps = array<i64: 1, -2>} : (tensor<?x?x32x128xf32>) -> tensor<?x?x16x128xf32>
// CHECK-NEXT: %{{.*}} = llmc.split %{{.*}} {axis = 2 : i64, sizes = array<i64: 2048, 1024, 1024>} : (tensor<?x?x4096xf32>) -> (tensor<?x?x2048xf32>, tensor<?x?x1024xf32>, tensor<?x?x1024xf32>)
// CHECK-NEXT: %{{.*}} = llmc.split %{{.*}} {axis = -1 : i64} : (tensor<?x?x4096xf32>) -> (tensor<?x?x2048xf32>, tensor<?x?x2048xf32>)
// CHECK-NEXT: %{{.*}} = llmc.shape_of %{{.*}} : tensor<?x?x32x128xf32> -> tensor<4xi64>
// CHECK-NEXT: %{{.*}} = llmc.expand %{{.*}}, %{{.*}} : (tensor<?x?x32x128xf32>, tensor<4xi64>) -> tensor<?x?x32x128xf32>

// -----

func.func @data(%t: tensor<32000x64xf16>, %ids: tensor<?x?xi64>, %x: tensor<1x1x?x?xf32>, %s: tensor<2xi64>, %m: tensor<1x?xf32>) {
  %0 = llmc.gather %t, %ids : (tensor<32000x64xf16>, tensor<?x?xi64>) -> tensor<?x?x64xf16>
  %1 = llmc.gather %t, %ids {axis = 1 : i64} : (tensor<32000x64xf16>, tensor<?x?xi64>) -> tensor<32000x?x?xf16>
  %start = llmc.constant dense<0> : tensor<i64>
  %limit = llmc.constant dense<16> : tensor<i64>
  %delta = llmc.constant dense<1> : tensor<i64>
  %2 = llmc.range %start, %limit, %delta : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %3 = llmc.trilu %x {k = 1 : i64} : tensor<1x1x?x?xf32> -> tensor<1x1x?x?xf32>
  %4 = llmc.trilu %x {upper = false} : tensor<1x1x?x?xf32> -> tensor<1x1x?x?xf32>
  %5 = llmc.constant_of_shape %s {value = -3.40282347E+38 : f32} : (tensor<2xi64>) -> tensor<?x?xf32>
  %6 = llmc.expand %m : (tensor<1x?xf32>) -> tensor<4x3x?xf32>
  return
}

// CHECK-LABEL: func.func @data(
// CHECK: %{{.*}} = llmc.gather %{{.*}}, %{{.*}} : (tensor<32000x64xf16>, tensor<?x?xi64>) -> tensor<?x?x64xf16>
// CHECK-NEXT: %{{.*}} = llmc.gather %{{.*}}, %{{.*}} {axis = 1 : i64} : (tensor<32000x64xf16>, tensor<?x?xi64>) -> tensor<32000x?x?xf16>
// CHECK-NEXT: %{{.*}} = llmc.constant dense<0> : tensor<i64>
// CHECK-NEXT: %{{.*}} = llmc.constant dense<16> : tensor<i64>
// CHECK-NEXT: %{{.*}} = llmc.constant dense<1> : tensor<i64>
// CHECK-NEXT: %{{.*}} = llmc.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
// CHECK-NEXT: %{{.*}} = llmc.trilu %{{.*}} {k = 1 : i64} : tensor<1x1x?x?xf32> -> tensor<1x1x?x?xf32>
// CHECK-NEXT: %{{.*}} = llmc.trilu %{{.*}} {upper = false} : tensor<1x1x?x?xf32> -> tensor<1x1x?x?xf32>
// CHECK-NEXT: %{{.*}} = llmc.constant_of_shape %{{.*}} {value = -3.40282347E+38 : f32} : (tensor<2xi64>) -> tensor<?x?xf32>
// CHECK-NEXT: %{{.*}} = llmc.expand %{{.*}} : (tensor<1x?xf32>) -> tensor<4x3x?xf32>

// -----

func.func @norms(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %w2: tensor<?x64xf32>) {
  %0 = llmc.rms_norm %x, %w {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %1 = llmc.layer_norm %x, %w, %w {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %2 = llmc.layer_norm %x, %w2 {axis = 1 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<?x?x64xf32>, tensor<?x64xf32>) -> tensor<?x?x64xf32>
  return
}

// CHECK-LABEL: func.func @norms(
// CHECK: %{{.*}} = llmc.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: %{{.*}} = llmc.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: %{{.*}} = llmc.layer_norm %{{.*}}, %{{.*}} {axis = 1 : i64, epsilon = 9.99999974E-6 : f32} : (tensor<?x?x64xf32>, tensor<?x64xf32>) -> tensor<?x?x64xf32>

// -----

func.func @rope(%pos: tensor<?x?xi64>, %q: tensor<?x32x?x128xf16>, %k: tensor<?x8x?x128xf16>) {
  %cos, %sin = llmc.rope_cos_sin half %pos {dim = 128 : i64, theta = 1.000000e+04 : f64} : (tensor<?x?xi64>) -> (tensor<?x?x64xf16>, tensor<?x?x64xf16>)
  %0 = llmc.rope half %q, %cos, %sin : (tensor<?x32x?x128xf16>, tensor<?x?x64xf16>, tensor<?x?x64xf16>) -> tensor<?x32x?x128xf16>
  %1 = llmc.rope interleaved %k, %cos, %sin : (tensor<?x8x?x128xf16>, tensor<?x?x64xf16>, tensor<?x?x64xf16>) -> tensor<?x8x?x128xf16>
  %c2, %s2 = llmc.rope_cos_sin interleaved %pos {dim = 32 : i64, theta = 5.000000e+05 : f64} : (tensor<?x?xi64>) -> (tensor<1x?x16xf16>, tensor<1x?x16xf16>)
  %2 = llmc.rope half %q, %c2, %s2 : (tensor<?x32x?x128xf16>, tensor<1x?x16xf16>, tensor<1x?x16xf16>) -> tensor<?x32x?x128xf16>
  return
}

// CHECK-LABEL: func.func @rope(
// CHECK: %{{.*}}, %{{.*}} = llmc.rope_cos_sin half %{{.*}} {dim = 128 : i64, theta = 1.000000e+04 : f64} : (tensor<?x?xi64>) -> (tensor<?x?x64xf16>, tensor<?x?x64xf16>)
// CHECK-NEXT: %{{.*}} = llmc.rope half %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x32x?x128xf16>, tensor<?x?x64xf16>, tensor<?x?x64xf16>) -> tensor<?x32x?x128xf16>
// CHECK-NEXT: %{{.*}} = llmc.rope interleaved %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x8x?x128xf16>, tensor<?x?x64xf16>, tensor<?x?x64xf16>) -> tensor<?x8x?x128xf16>
// CHECK-NEXT: %{{.*}}, %{{.*}} = llmc.rope_cos_sin interleaved %{{.*}} {dim = 32 : i64, theta = 5.000000e+05 : f64} : (tensor<?x?xi64>) -> (tensor<1x?x16xf16>, tensor<1x?x16xf16>)
// CHECK-NEXT: %{{.*}} = llmc.rope half %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x32x?x128xf16>, tensor<1x?x16xf16>, tensor<1x?x16xf16>) -> tensor<?x32x?x128xf16>

// -----

// LongRoPE: a second set of frequencies for the calls where %long holds.
func.func @rope_long(%pos: tensor<1x?xi64>, %long: tensor<i1>) -> (tensor<1x?x2xf32>, tensor<1x?x2xf32>) {
  %c, %s = llmc.rope_cos_sin half %pos long(%long) {dim = 4 : i64, theta = 1.0e4 : f64, inv_freq = array<f32: 1.0, 0.01>, long_inv_freq = array<f32: 1.0, 0.001>, long_attention_factor = 1.25 : f64} : (tensor<1x?xi64>, tensor<i1>) -> (tensor<1x?x2xf32>, tensor<1x?x2xf32>)
  return %c, %s : tensor<1x?x2xf32>, tensor<1x?x2xf32>
}

// CHECK-LABEL: func.func @rope_long(
// CHECK: llmc.rope_cos_sin half %{{.*}} long(%{{.*}}) {dim = 4 : i64, inv_freq = array<f32: 1.000000e+00, 0.00999999977>, long_attention_factor = 1.250000e+00 : f64, long_inv_freq = array<f32: 1.000000e+00, 1.000000e-03>, theta = 1.000000e+04 : f64} : (tensor<1x?xi64>, tensor<i1>) -> (tensor<1x?x2xf32>, tensor<1x?x2xf32>)

// -----

func.func @attention(%q: tensor<1x32x?x128xf32>, %k: tensor<1x8x?x128xf32>, %v: tensor<1x8x?x128xf32>, %pk: tensor<1x8x?x128xf32>, %pv: tensor<1x8x?x128xf32>, %mask: tensor<1x1x?x?xf32>, %bmask: tensor<1x32x4x20xi1>, %q4: tensor<1x32x4x128xf32>, %k4: tensor<1x8x4x128xf32>, %p16: tensor<1x8x16x128xf32>) {
  %out, %present_key, %present_value = llmc.attention %q, %k, %v {causal = true, num_heads = 32 : i64, num_kv_heads = 8 : i64, scale = 0.0883883461 : f32} : (tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>) -> (tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>)
  %out_0, %present_key_1, %present_value_2 = llmc.attention %q, %k, %v past(%pk, %pv) mask(%mask) {num_heads = 32 : i64, num_kv_heads = 8 : i64, scale = 0.0883883461 : f32} : (tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x1x?x?xf32>) -> (tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>)
  %out_3, %present_key_4, %present_value_5 = llmc.attention %q4, %k4, %k4 past(%p16, %p16) mask(%bmask) {causal = true, num_heads = 32 : i64, num_kv_heads = 8 : i64, scale = 0.0883883461 : f32} : (tensor<1x32x4x128xf32>, tensor<1x8x4x128xf32>, tensor<1x8x4x128xf32>, tensor<1x8x16x128xf32>, tensor<1x8x16x128xf32>, tensor<1x32x4x20xi1>) -> (tensor<1x32x4x128xf32>, tensor<1x8x20x128xf32>, tensor<1x8x20x128xf32>)
  return
}

// CHECK-LABEL: func.func @attention(
// CHECK: %{{.*}}, %{{.*}}, %{{.*}} = llmc.attention %{{.*}}, %{{.*}}, %{{.*}} {causal = true, num_heads = 32 : i64, num_kv_heads = 8 : i64, scale = 0.0883883461 : f32} : (tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>) -> (tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>)
// CHECK-NEXT: %{{.*}}, %{{.*}}, %{{.*}} = llmc.attention %{{.*}}, %{{.*}}, %{{.*}} past(%{{.*}}, %{{.*}}) mask(%{{.*}}) {num_heads = 32 : i64, num_kv_heads = 8 : i64, scale = 0.0883883461 : f32} : (tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x1x?x?xf32>) -> (tensor<1x32x?x128xf32>, tensor<1x8x?x128xf32>, tensor<1x8x?x128xf32>)
// CHECK-NEXT: %{{.*}}, %{{.*}}, %{{.*}} = llmc.attention %{{.*}}, %{{.*}}, %{{.*}} past(%{{.*}}, %{{.*}}) mask(%{{.*}}) {causal = true, num_heads = 32 : i64, num_kv_heads = 8 : i64, scale = 0.0883883461 : f32} : (tensor<1x32x4x128xf32>, tensor<1x8x4x128xf32>, tensor<1x8x4x128xf32>, tensor<1x8x16x128xf32>, tensor<1x8x16x128xf32>, tensor<1x32x4x20xi1>) -> (tensor<1x32x4x128xf32>, tensor<1x8x20x128xf32>, tensor<1x8x20x128xf32>)

// -----

#q4 = #llmc.quant<bits = 4, group_size = 128, symmetric = false, scale_type = bf16, layout = "avx2.n8k8">

func.func @mlp(%x: tensor<?x?x4096xf32>, %gu: tensor<?x?x22016xf32>, %g: tensor<?x?x11008xf32>, %b: tensor<11008xf32>, %h: tensor<2x4096xf16>) {
  %w = llmc.weight "w" from "model.bin" at 0 : !llmc.qweight<4096x11008, #q4>
  %0 = llmc.swiglu %gu : (tensor<?x?x22016xf32>) -> tensor<?x?x11008xf32>
  %1 = llmc.swiglu %g, %g : (tensor<?x?x11008xf32>, tensor<?x?x11008xf32>) -> tensor<?x?x11008xf32>
  %2 = llmc.gelu %g : tensor<?x?x11008xf32> -> tensor<?x?x11008xf32>
  %3 = llmc.gelu %g approximate tanh : tensor<?x?x11008xf32> -> tensor<?x?x11008xf32>
  %4 = llmc.qmatmul %x, %w : (tensor<?x?x4096xf32>, !llmc.qweight<4096x11008, #q4>) -> tensor<?x?x11008xf32>
  %5 = llmc.qmatmul %x, %w, %b : (tensor<?x?x4096xf32>, !llmc.qweight<4096x11008, #q4>, tensor<11008xf32>) -> tensor<?x?x11008xf32>
  %wh = llmc.weight "wh" from "model.bin" at 0 : !llmc.qweight<4096x11008, #llmc.quant<bits = 2, group_size = 16, symmetric = true, scale_type = f32, layout = "plain">>
  %6 = llmc.qmatmul %h, %wh : (tensor<2x4096xf16>, !llmc.qweight<4096x11008, #llmc.quant<bits = 2, group_size = 16, symmetric = true, scale_type = f32, layout = "plain">>) -> tensor<2x11008xf16>
  return
}

// CHECK-DAG: #quant = #llmc.quant<bits = 4, group_size = 128, symmetric = false, scale_type = bf16, layout = "avx2.n8k8">
// CHECK-DAG: #quant1 = #llmc.quant<bits = 2, group_size = 16, symmetric = true, scale_type = f32, layout = "plain">
// CHECK-LABEL: func.func @mlp(
// CHECK: %{{.*}} = llmc.weight "w" from "model.bin" at 0 : !llmc.qweight<4096x11008, #quant>
// CHECK-NEXT: %{{.*}} = llmc.swiglu %{{.*}} : (tensor<?x?x22016xf32>) -> tensor<?x?x11008xf32>
// CHECK-NEXT: %{{.*}} = llmc.swiglu %{{.*}}, %{{.*}} : (tensor<?x?x11008xf32>, tensor<?x?x11008xf32>) -> tensor<?x?x11008xf32>
// CHECK-NEXT: %{{.*}} = llmc.gelu %{{.*}} : tensor<?x?x11008xf32> -> tensor<?x?x11008xf32>
// CHECK-NEXT: %{{.*}} = llmc.gelu %{{.*}} approximate tanh : tensor<?x?x11008xf32> -> tensor<?x?x11008xf32>
// CHECK-NEXT: %{{.*}} = llmc.qmatmul %{{.*}}, %{{.*}} : (tensor<?x?x4096xf32>, !llmc.qweight<4096x11008, #quant>) -> tensor<?x?x11008xf32>
// CHECK-NEXT: %{{.*}} = llmc.qmatmul %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x?x4096xf32>, !llmc.qweight<4096x11008, #quant>, tensor<11008xf32>) -> tensor<?x?x11008xf32>
// CHECK-NEXT: %{{.*}} = llmc.weight "wh" from "model.bin" at 0 : !llmc.qweight<4096x11008, #quant1>
// CHECK-NEXT: %{{.*}} = llmc.qmatmul %{{.*}}, %{{.*}} : (tensor<2x4096xf16>, !llmc.qweight<4096x11008, #quant1>) -> tensor<2x11008xf16>

// -----

// The [K, N] matrix a qweight stands for, in its scale type (a weight
// expression: a quantized embedding table is its transpose).
func.func @dequantize(%ids: tensor<1x?xi64>) -> tensor<1x?x32xf32> {
  %w = llmc.weight "emb" from "model.onnx" at 0 : !llmc.qweight<32x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f32, layout = "onnx.matmulnbits">>
  %kn = llmc.dequantize %w : !llmc.qweight<32x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f32, layout = "onnx.matmulnbits">> -> tensor<32x64xf32>
  %t = llmc.transpose %kn {perm = array<i64: 1, 0>} : (tensor<32x64xf32>) -> tensor<64x32xf32>
  %e = llmc.gather %t, %ids : (tensor<64x32xf32>, tensor<1x?xi64>) -> tensor<1x?x32xf32>
  return %e : tensor<1x?x32xf32>
}

// CHECK-LABEL: func.func @dequantize(
// CHECK: %[[W:.*]] = llmc.weight "emb" from "model.onnx" at 0 : !llmc.qweight<32x64, #quant>
// CHECK-NEXT: %{{.*}} = llmc.dequantize %[[W]] : <32x64, #quant> -> tensor<32x64xf32>

// -----

// A partial last group: K = 172 with groups of 32 (stories260K's FFN down
// projection). Payload: 172*64/2 bytes of codes + ceil(172/32)*64 f16 scales.
func.func @partial_group(%x: tensor<3x172xf32>) -> tensor<3x64xf32> {
  %w = llmc.weight "w2" from "m.bin" at 0 length 6272 : !llmc.qweight<172x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">>
  %y = llmc.qmatmul %x, %w : (tensor<3x172xf32>, !llmc.qweight<172x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">>) -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}
// CHECK-LABEL: func.func @partial_group(
// CHECK: llmc.weight "w2" from "m.bin" at 0 length 6272 : !llmc.qweight<172x64, #quant>

// -----

// A padding mask: one row ([B, 1, 1, P+S]) shared by every query.
func.func @padding_mask(%q: tensor<2x8x4x64xf32>, %k: tensor<2x4x4x64xf32>, %m: tensor<2x1x1x4xi1>) -> tensor<2x8x4x64xf32> {
  %o:3 = llmc.attention %q, %k, %k mask(%m) {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32, causal = true} : (tensor<2x8x4x64xf32>, tensor<2x4x4x64xf32>, tensor<2x4x4x64xf32>, tensor<2x1x1x4xi1>) -> (tensor<2x8x4x64xf32>, tensor<2x4x4x64xf32>, tensor<2x4x4x64xf32>)
  return %o#0 : tensor<2x8x4x64xf32>
}
// CHECK-LABEL: func.func @padding_mask(
// CHECK: llmc.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}}) {causal = true, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 1.250000e-01 : f32} : ({{.*}}tensor<2x1x1x4xi1>)

// -----

// Token-major forms: rope with num_heads, attention on [B, S, H * D] with a
// [B, T] integer padding mask, merged_matmul.
// CHECK-LABEL: func.func @token_major
// CHECK-NEXT: llmc.merged_matmul %arg0, %arg1, %arg2 : (tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64x32xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xf32>)
// CHECK-NEXT: llmc.rope half %{{.*}}#0, %arg3, %arg4 {num_heads = 8 : i64} : (tensor<?x?x64xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: llmc.attention %{{.*}}, %{{.*}}#1, %{{.*}}#1 past(%arg5, %arg5) mask(%arg6) {causal = true, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x?xi64>) -> (tensor<?x?x64xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
func.func @token_major(%x: tensor<?x?x64xf32>, %wq: tensor<64x64xf32>, %wk: tensor<64x32xf32>,
                       %c: tensor<?x?x4xf32>, %s: tensor<?x?x4xf32>, %p: tensor<?x4x?x8xf32>, %m: tensor<?x?xi64>) {
  %qk:2 = llmc.merged_matmul %x, %wq, %wk : (tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64x32xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xf32>)
  %q = llmc.rope half %qk#0, %c, %s {num_heads = 8 : i64} : (tensor<?x?x64xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x64xf32>
  %o:3 = llmc.attention %q, %qk#1, %qk#1 past(%p, %p) mask(%m) {causal = true, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.353553385 : f32}
      : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x?xi64>)
      -> (tensor<?x?x64xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  return
}

// -----

// Mixture of experts: two experts, gpt-oss's swiglu with biases; and a
// chunked-swiglu MoE without biases on a dynamic [B, S] activation.
// CHECK-LABEL: func.func @moe
// CHECK-NEXT: llmc.moe %arg0, %arg1 experts(%arg2, %arg3) (%arg4, %arg5) fc1_bias(%arg6, %arg7) fc2_bias(%arg8, %arg9) {activation = #llmc<moe_activation swiglu>, alpha = 1.702000e+00 : f32, beta = 1.000000e+00 : f32, k = 2 : i64, limit = 7.000000e+00 : f32, normalize = true} : (tensor<3x8xf32>, tensor<3x2xf32>, tensor<8x12xf32>, tensor<8x12xf32>, tensor<6x8xf32>, tensor<6x8xf32>, tensor<12xf32>, tensor<12xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<3x8xf32>
// CHECK-NEXT: llmc.moe %arg10, %arg11 experts(%arg2, %arg3) (%arg4, %arg5) {activation = #llmc<moe_activation swiglu>, interleaved = false, k = 1 : i64} : (tensor<?x?x8xf32>, tensor<?x?x2xf32>, {{.*}}) -> tensor<?x?x8xf32>
func.func @moe(%x: tensor<3x8xf32>, %r: tensor<3x2xf32>, %w10: tensor<8x12xf32>, %w11: tensor<8x12xf32>,
               %w20: tensor<6x8xf32>, %w21: tensor<6x8xf32>, %b10: tensor<12xf32>, %b11: tensor<12xf32>,
               %b20: tensor<8xf32>, %b21: tensor<8xf32>, %y: tensor<?x?x8xf32>, %ry: tensor<?x?x2xf32>) {
  %0 = llmc.moe %x, %r experts(%w10, %w11) (%w20, %w21) fc1_bias(%b10, %b11) fc2_bias(%b20, %b21)
      {activation = #llmc<moe_activation swiglu>, alpha = 1.702 : f32, beta = 1.0 : f32, k = 2 : i64, limit = 7.0 : f32, normalize = true}
      : (tensor<3x8xf32>, tensor<3x2xf32>, tensor<8x12xf32>, tensor<8x12xf32>, tensor<6x8xf32>, tensor<6x8xf32>,
         tensor<12xf32>, tensor<12xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<3x8xf32>
  %1 = llmc.moe %y, %ry experts(%w10, %w11) (%w20, %w21) {activation = #llmc<moe_activation swiglu>, interleaved = false, k = 1 : i64}
      : (tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<8x12xf32>, tensor<8x12xf32>, tensor<6x8xf32>, tensor<6x8xf32>) -> tensor<?x?x8xf32>
  return
}

// -----

// Gated experts (Mixtral's form): silu(x @ fc1) * (x @ fc3), then fc2.
// CHECK-LABEL: func.func @moe_gated
// CHECK-NEXT: llmc.moe %arg0, %arg1 experts(%arg2, %arg3) (%arg4, %arg5) fc3(%arg6, %arg7) fc3_bias(%arg8, %arg9) {activation = #llmc<moe_activation silu>, k = 1 : i64} : (tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<8x6xf32>, tensor<8x6xf32>, tensor<6x8xf32>, tensor<6x8xf32>, tensor<8x6xf32>, tensor<8x6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x?x8xf32>
func.func @moe_gated(%x: tensor<?x?x8xf32>, %r: tensor<?x?x2xf32>, %w10: tensor<8x6xf32>, %w11: tensor<8x6xf32>,
                     %w20: tensor<6x8xf32>, %w21: tensor<6x8xf32>, %w30: tensor<8x6xf32>, %w31: tensor<8x6xf32>,
                     %b30: tensor<6xf32>, %b31: tensor<6xf32>) {
  %0 = llmc.moe %x, %r experts(%w10, %w11) (%w20, %w21) fc3(%w30, %w31) fc3_bias(%b30, %b31) {activation = #llmc<moe_activation silu>, k = 1 : i64}
      : (tensor<?x?x8xf32>, tensor<?x?x2xf32>, tensor<8x6xf32>, tensor<8x6xf32>, tensor<6x8xf32>, tensor<6x8xf32>,
         tensor<8x6xf32>, tensor<8x6xf32>, tensor<6xf32>, tensor<6xf32>) -> tensor<?x?x8xf32>
  return
}
