// RUN: llmc-opt %s -split-input-file | FileCheck %s
// RUN: llmc-opt %s -split-input-file | llmc-opt -split-input-file | FileCheck %s
// RUN: llmc-opt %s -split-input-file -mlir-print-op-generic | llmc-opt -split-input-file | FileCheck %s

// CHECK: #target = #llmc.target<cpu = "icelake-server", features = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"], vector_bits = 512, l1d = 49152, l2 = 1310720, l3 = 50331648, cores = 2>
// CHECK: module attributes {llmc.target = #target}
// CHECK-LABEL: func.func @icelake
module attributes {llmc.target = #llmc.target<cpu = "icelake-server", features = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni"], vector_bits = 512, l1d = 49152, l2 = 1310720, l3 = 50331648, cores = 2>} {
  func.func @icelake() {
    return
  }
}

// -----

// CHECK: #target = #llmc.target<cpu = "x86-64-v3", features = ["avx", "avx2", "fma", "f16c"], vector_bits = 256, l1d = 32768, l2 = 262144, l3 = 8388608, cores = 4>
// CHECK: module attributes {llmc.target = #target}
module attributes {llmc.target = #llmc.target<cpu = "x86-64-v3", features = ["avx", "avx2", "fma", "f16c"], vector_bits = 256, l1d = 32768, l2 = 262144, l3 = 8388608, cores = 4>} {
}

// -----

// A baseline SSE target with no optional features.
// CHECK: #target = #llmc.target<cpu = "x86-64", features = [], vector_bits = 128, l1d = 32768, l2 = 524288, l3 = 16777216, cores = 1>
// CHECK: module attributes {llmc.target = #target}
module attributes {llmc.target = #llmc.target<cpu = "x86-64", features = [], vector_bits = 128, l1d = 32768, l2 = 524288, l3 = 16777216, cores = 1>} {
}

// -----

// CHECK: #target = #llmc.target<cpu = "sapphirerapids", features = ["sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"], vector_bits = 512, l1d = 49152, l2 = 2097152, l3 = 110100480, cores = 56>
// CHECK: module attributes {llmc.target = #target}
module attributes {llmc.target = #llmc.target<cpu = "sapphirerapids", features = ["sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"], vector_bits = 512, l1d = 49152, l2 = 2097152, l3 = 110100480, cores = 56>} {
}

// -----

// A target next to other module attributes and used by several ops.
// CHECK: #target = #llmc.target<cpu = "native-znver4"
// CHECK: module attributes {llmc.other = 1 : i64, llmc.target = #target}
// CHECK: llmc.add
module attributes {llmc.target = #llmc.target<cpu = "native-znver4", features = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16"], vector_bits = 512, l1d = 32768, l2 = 1048576, l3 = 33554432, cores = 16>, llmc.other = 1 : i64} {
  func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
    %0 = llmc.add %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}
