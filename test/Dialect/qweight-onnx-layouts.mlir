// RUN: llmc-opt %s --split-input-file | FileCheck %s
// The forms the ONNX importer gives pre-quantized weights (lib/Frontend/ONNX/OpsQuantized.cpp):
// an llmc.weight of !llmc.qweight type with an ONNX layout and the llmc.prequant description
// (read by lib/CodeGen/PrequantizedWeights.cpp), consumed by llmc.qmatmul; they round-trip.

// CHECK-LABEL: func.func @matmulnbits
// CHECK: llmc.weight "B" from "m.onnx" at 155 {llmc.prequant = {codes_length = 1152 : i64, scales = {file = "m.onnx", length = 288 : i64, name = "scales", offset = 1325 : i64}, zero_point_type = ui8, zero_points = {file = "m.onnx", length = 48 : i64, name = "zero_points", offset = 1634 : i64}}} : !llmc.qweight<80x24, #quant>
// CHECK: llmc.qmatmul
func.func @matmulnbits(%x: tensor<3x80xf32>) -> tensor<3x24xf32> {
  %w = llmc.weight "B" from "m.onnx" at 155 {llmc.prequant = {codes_length = 1152 : i64, scales = {file = "m.onnx", length = 288 : i64, name = "scales", offset = 1325 : i64}, zero_point_type = ui8, zero_points = {file = "m.onnx", length = 48 : i64, name = "zero_points", offset = 1634 : i64}}} : !llmc.qweight<80x24, #llmc.quant<bits = 4, group_size = 32, symmetric = false, scale_type = f32, layout = "onnx.matmulnbits">>
  %y = llmc.qmatmul %x, %w : (tensor<3x80xf32>, !llmc.qweight<80x24, #llmc.quant<bits = 4, group_size = 32, symmetric = false, scale_type = f32, layout = "onnx.matmulnbits">>) -> tensor<3x24xf32>
  return %y : tensor<3x24xf32>
}

// -----

// Typed-field scales are embedded as values; per-tensor scale of a [K, N] int8 weight.
// CHECK-LABEL: func.func @kn_embedded_scale
// CHECK: llmc.prequant = {codes_length = 1024 : i64, codes_signed = true, scales = dense<5.000000e-03> : tensor<f32>}
func.func @kn_embedded_scale(%x: tensor<?x64xf32>) -> tensor<?x16xf32> {
  %w = llmc.weight "W" from "m.onnx" at 64 {llmc.prequant = {codes_length = 1024 : i64, codes_signed = true, scales = dense<5.000000e-03> : tensor<f32>}} : !llmc.qweight<64x16, #llmc.quant<bits = 8, group_size = 0, symmetric = true, scale_type = f32, layout = "onnx.kn">>
  %y = llmc.qmatmul %x, %w : (tensor<?x64xf32>, !llmc.qweight<64x16, #llmc.quant<bits = 8, group_size = 0, symmetric = true, scale_type = f32, layout = "onnx.kn">>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// CHECK-LABEL: func.func @kn_blocked_int4
// CHECK: llmc.qmatmul %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x3x64xf32>, !llmc.qweight<64x8, #quant>, tensor<8xf32>) -> tensor<2x3x8xf32>
func.func @kn_blocked_int4(%x: tensor<2x3x64xf32>, %b: tensor<8xf32>) -> tensor<2x3x8xf32> {
  %w = llmc.weight "W" from "m.onnx" at 64 {llmc.prequant = {codes_length = 256 : i64, codes_signed = true, scales = {file = "m.onnx", length = 64 : i64, name = "s", offset = 400 : i64}, zero_point_type = i4, zero_points = {file = "m.onnx", length = 8 : i64, name = "z", offset = 500 : i64}}} : !llmc.qweight<64x8, #llmc.quant<bits = 4, group_size = 32, symmetric = false, scale_type = f32, layout = "onnx.kn">>
  %y = llmc.qmatmul %x, %w, %b : (tensor<2x3x64xf32>, !llmc.qweight<64x8, #llmc.quant<bits = 4, group_size = 32, symmetric = false, scale_type = f32, layout = "onnx.kn">>, tensor<8xf32>) -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}
