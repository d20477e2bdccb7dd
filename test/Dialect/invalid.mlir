// RUN: llmc-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// Attributes and types
//===----------------------------------------------------------------------===//

// expected-error @+1 {{unknown target feature 'avx9'}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = ["avx2", "avx9"], vector_bits = 256, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{target vector_bits must be 128, 256 or 512, got 384}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = [], vector_bits = 384, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{target feature 'avx512bw' requires 'avx512f'}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = ["avx2", "avx512bw"], vector_bits = 512, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{target feature 'avx512f' requires vector_bits = 512, got 256}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = ["avx2", "avx512f"], vector_bits = 256, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{target vector_bits = 512 requires feature 'avx512f'}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = ["avx2"], vector_bits = 512, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{target vector_bits = 256 requires feature 'avx' or 'avx2'}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = ["sse4.2"], vector_bits = 256, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{target feature 'amx_int8' requires 'amx_tile'}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = ["avx512f", "amx_int8"], vector_bits = 512, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{duplicate target feature 'fma'}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = ["avx2", "fma", "fma"], vector_bits = 256, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{target features must be strings, got 3 : i64}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = [3], vector_bits = 128, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{target cache sizes must be non-zero (l1d = 32768, l2 = 0, l3 = 1)}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = [], vector_bits = 128, l1d = 32768, l2 = 0, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{target cores must be >= 1}}
module attributes {llmc.target = #llmc.target<cpu = "x", features = [], vector_bits = 128, l1d = 1, l2 = 1, l3 = 1, cores = 0>} {}

// -----

// expected-error @+1 {{target cpu name must not be empty}}
module attributes {llmc.target = #llmc.target<cpu = "", features = [], vector_bits = 128, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {}

// -----

// expected-error @+1 {{'llmc.target' must be a #llmc.target attribute, got "icelake"}}
module attributes {llmc.target = "icelake"} {}

// -----

// expected-error @+1 {{'llmc.target' may only be attached to a builtin.module}}
func.func @f() attributes {llmc.target = #llmc.target<cpu = "x", features = [], vector_bits = 128, l1d = 1, l2 = 1, l3 = 1, cores = 1>} {
  return
}

// -----

// expected-error @+1 {{quant bits must be 2, 3, 4 or 8, got 5}}
func.func @f(%w: !llmc.qweight<64x64, #llmc.quant<bits = 5, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">>)

// -----

// expected-error @+1 {{quant group_size must be 0 (per channel) or one of 16, 32, 64, 128, 256, got 48}}
func.func @f(%w: !llmc.qweight<96x64, #llmc.quant<bits = 4, group_size = 48, symmetric = true, scale_type = f16, layout = "plain">>)

// -----

// expected-error @+1 {{quant scale_type must be f32, f16 or bf16, got 'f64'}}
func.func @f(%w: !llmc.qweight<64x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f64, layout = "plain">>)

// -----

// expected-error @+1 {{quant layout must not be empty}}
func.func @f(%w: !llmc.qweight<64x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "">>)

// -----

// expected-error @+2 {{expected 'true' or 'false'}}
// expected-error @+1 {{failed to parse LLMC_QuantAttr parameter 'symmetric' which is to be a `bool`}}
func.func @f(%w: !llmc.qweight<64x64, #llmc.quant<bits = 4, group_size = 32, symmetric = 1, scale_type = f16, layout = "plain">>)

// -----

// expected-error @+1 {{expected a 2-D shape KxN for !llmc.qweight}}
func.func @f(%w: !llmc.qweight<64x64x2, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">>)

//===----------------------------------------------------------------------===//
// Constants and weights
//===----------------------------------------------------------------------===//

// -----

func.func @f() {
  // expected-error @+1 {{value type 'tensor<2xi64>' does not match result type 'tensor<2xi32>'}}
  %0 = "llmc.constant"() {value = dense<1> : tensor<2xi64>} : () -> tensor<2xi32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{length 30 does not match the 32 bytes of 'tensor<4x2xf32>'}}
  %0 = llmc.weight "w" from "model.bin" at 0 length 30 : tensor<4x2xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{weight tensor type must have a static shape, got 'tensor<?x2xf32>'}}
  %0 = llmc.weight "w" from "model.bin" at 0 : tensor<?x2xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{offset must be >= 0, got -8}}
  %0 = llmc.weight "w" from "model.bin" at -8 : tensor<4xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{weight name must not be empty}}
  %0 = llmc.weight "" from "model.bin" at 0 : tensor<4xf32>
  return
}

// -----

func.func @f() {
  // 64x256 int4 codes = 8192 bytes, plus 2 * 256 f16 scales = 1024 bytes.
  // expected-error @+1 {{length 9000 is smaller than the 9216 bytes of payload}}
  %0 = llmc.weight "w" from "model.bin" at 0 length 9000 : !llmc.qweight<64x256, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">>
  return
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{operands are not broadcast-compatible: operand #0 has size 3 and operand #1 has size 4 in broadcast dim 1}}
  %0 = llmc.add %a, %b : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{result rank 1 does not match the broadcast rank 2 of the operands}}
  %0 = llmc.mul %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3xf32>, %b: tensor<1x3xf32>) {
  // expected-error @+1 {{result dim 1 is 4 but the operands broadcast to 3}}
  %0 = llmc.sub %a, %b : (tensor<?x3xf32>, tensor<1x3xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @f(%a: tensor<3xf32>, %b: tensor<3xf16>) {
  // expected-error @+1 {{failed to verify that all of {lhs, rhs, result} have same element type}}
  %0 = llmc.add %a, %b : (tensor<3xf32>, tensor<3xf16>) -> tensor<3xf32>
  return
}

// -----

func.func @f(%a: tensor<3xi32>, %b: tensor<3xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %0 = llmc.pow %a, %b : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi32>
  return
}

// -----

func.func @f(%a: tensor<3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{result #0 must be ranked tensor of 1-bit signless integer values}}
  %0 = llmc.less %a, %b : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @f(%c: tensor<3xi1>, %a: tensor<2x1xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{operands are not broadcast-compatible: operand #0 has size 3 and operand #2 has size 4 in broadcast dim 1}}
  %0 = llmc.where %c, %a, %b : (tensor<3xi1>, tensor<2x1xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%c: tensor<3xf32>, %a: tensor<3xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 1-bit signless integer values}}
  %0 = llmc.where %c, %a, %a : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{requires the same shape for all operands and results}}
  %0 = llmc.exp %a : tensor<2x3xf32> -> tensor<3x2xf32>
  return
}

// -----

func.func @f(%a: tensor<3xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %0 = llmc.sqrt %a : tensor<3xi32> -> tensor<3xi32>
  return
}

// -----

func.func @f(%a: tensor<3xf32>) {
  // expected-error @+1 {{requires the same shape for all operands and results}}
  %0 = llmc.cast %a : tensor<3xf32> -> tensor<4xf16>
  return
}

//===----------------------------------------------------------------------===//
// Reductions, matmul, softmax
//===----------------------------------------------------------------------===//

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2 (expected in [-2, 2))}}
  %0 = llmc.reduce_sum %a {axes = array<i64: 2>} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis -1 is repeated in axes}}
  %0 = llmc.reduce_max %a {axes = array<i64: 1, -1>} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'result' must have rank 1, got 'tensor<2x1xf32>'}}
  %0 = llmc.reduce_mean %a {axes = array<i64: 1>, keepdims = false} : (tensor<2x3xf32>) -> tensor<2x1xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'result' dim 1 is 3 but 1 was expected}}
  %0 = llmc.reduce_mean %a {axes = array<i64: 1>} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3x4xf32>, %b: tensor<5x6xf32>) {
  // expected-error @+1 {{contraction dim of 'a' (4) must equal contraction dim of 'b' (5)}}
  %0 = llmc.matmul %a, %b : (tensor<?x3x4xf32>, tensor<5x6xf32>) -> tensor<?x3x6xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3x4xf32>, %b: tensor<3x4x6xf32>) {
  // expected-error @+1 {{operands are not broadcast-compatible: batch dims of 'a' has size 2 and batch dims of 'b' has size 3 in broadcast dim 0}}
  %0 = llmc.matmul %a, %b : (tensor<2x3x4xf32>, tensor<3x4x6xf32>) -> tensor<2x3x6xf32>
  return
}

// -----

func.func @f(%a: tensor<3x4xf32>, %b: tensor<4x6xf32>) {
  // expected-error @+1 {{'result' dim 1 is 4 but 6 was expected}}
  %0 = llmc.matmul %a, %b : (tensor<3x4xf32>, tensor<4x6xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%a: tensor<4xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{'result' must have rank 0, got 'tensor<1xf32>'}}
  %0 = llmc.matmul %a, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2 (expected in [-2, 2))}}
  %0 = llmc.softmax %a {axis = 2 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

// -----

func.func @f(%a: tensor<2x12xf32>) {
  // expected-error @+1 {{shape may contain at most one -1}}
  %0 = llmc.reshape %a {shape = array<i64: -1, -1>} : (tensor<2x12xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @f(%a: tensor<2x12xf32>) {
  // expected-error @+1 {{shape has 2 entries but the result has rank 3}}
  %0 = llmc.reshape %a {shape = array<i64: 2, 12>} : (tensor<2x12xf32>) -> tensor<2x3x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x12xf32>) {
  // expected-error @+1 {{input has 24 elements but the result has 20}}
  %0 = llmc.reshape %a {shape = array<i64: 4, 5>} : (tensor<2x12xf32>) -> tensor<4x5xf32>
  return
}

// -----

func.func @f(%a: tensor<24xf32>) {
  // expected-error @+1 {{shape entry 1 is 0 (copy) but the input has rank 1}}
  %0 = llmc.reshape %a {shape = array<i64: 24, 0>} : (tensor<24xf32>) -> tensor<24x1xf32>
  return
}

// -----

func.func @f(%a: tensor<?x12xf32>) {
  // expected-error @+1 {{result dim 1 (3) must equal shape entry 1 (4)}}
  %0 = llmc.reshape %a {shape = array<i64: -1, 4>} : (tensor<?x12xf32>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3x4xf32>) {
  // expected-error @+1 {{perm must be a permutation of [0, 3) for an input of rank 3}}
  %0 = llmc.transpose %a {perm = array<i64: 0, 1, 1>} : (tensor<2x3x4xf32>) -> tensor<2x3x3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3x4xf32>) {
  // expected-error @+1 {{'result' dim 0 is 2 but 3 was expected}}
  %0 = llmc.transpose %a {perm = array<i64: 1, 0, 2>} : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{'input #1' dim 1 (4) must equal the same dim of the other operands and the result (3)}}
  %0 = llmc.concat %a, %b {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{result dim 1 (8) must equal the sum of the input sizes along the axis (7)}}
  %0 = llmc.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'input #1' has rank 1 but the result has rank 2}}
  %0 = llmc.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x6xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x3xf16>) {
  // expected-error @+1 {{element type of 'input #1' ('f16') must match element type of 'result' ('f32')}}
  %0 = llmc.concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x3xf16>) -> tensor<2x6xf32>
  return
}

// -----

func.func @f(%a: tensor<8x8xf32>) {
  // expected-error @+1 {{step 0 must not be 0}}
  %0 = llmc.slice %a {starts = array<i64: 0>, ends = array<i64: 4>, steps = array<i64: 0>} : (tensor<8x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<8x8xf32>) {
  // expected-error @+1 {{starts, ends, axes and steps must have the same length (got 2, 1, 2, 2)}}
  %0 = llmc.slice %a {starts = array<i64: 0, 0>, ends = array<i64: 4>} : (tensor<8x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @f(%a: tensor<8x8xf32>) {
  // expected-error @+1 {{'result' dim 1 is 4 but 3 was expected}}
  %0 = llmc.slice %a {starts = array<i64: 2>, ends = array<i64: -1>, axes = array<i64: 1>, steps = array<i64: 2>} : (tensor<8x8xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @f(%a: tensor<8x8xf32>) {
  // expected-error @+1 {{axis -1 is sliced twice}}
  %0 = llmc.slice %a {starts = array<i64: 0, 0>, ends = array<i64: 4, 4>, axes = array<i64: 1, -1>} : (tensor<8x8xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x10xf32>) {
  // expected-error @+1 {{the sum of sizes (9) must equal input dim 1 (10)}}
  %0:2 = llmc.split %a {axis = 1 : i64, sizes = array<i64: 4, 5>} : (tensor<2x10xf32>) -> (tensor<2x4xf32>, tensor<2x5xf32>)
  return
}

// -----

func.func @f(%a: tensor<2x10xf32>) {
  // expected-error @+1 {{sizes has 3 entries but the op has 2 results}}
  %0:2 = llmc.split %a {axis = 1 : i64, sizes = array<i64: 4, 5, 1>} : (tensor<2x10xf32>) -> (tensor<2x4xf32>, tensor<2x5xf32>)
  return
}

// -----

func.func @f(%a: tensor<2x10xf32>) {
  // expected-error @+1 {{input dim 1 (10) cannot be split evenly into 3 results}}
  %0:3 = llmc.split %a {axis = 1 : i64} : (tensor<2x10xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x4xf32>)
  return
}

// -----

func.func @f(%a: tensor<2x10xf32>) {
  // expected-error @+1 {{'result #1' dim 1 is 4 but 6 was expected}}
  %0:2 = llmc.split %a {axis = 1 : i64, sizes = array<i64: 4, 6>} : (tensor<2x10xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>)
  return
}

// -----

func.func @f(%a: tensor<3x1xf32>) {
  // expected-error @+1 {{'x' dim 0 (3) must be 1 or equal result dim 1 (4)}}
  %0 = llmc.expand %a : (tensor<3x1xf32>) -> tensor<2x4x5xf32>
  return
}

// -----

func.func @f(%a: tensor<3x1xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{length of 'shape' (2) must equal the result rank (3)}}
  %0 = llmc.expand %a, %s : (tensor<3x1xf32>, tensor<2xi64>) -> tensor<2x3x5xf32>
  return
}

// -----

func.func @f(%a: tensor<3x4xf32>) {
  // expected-error @+1 {{result rank 1 is smaller than the input rank 2}}
  %0 = llmc.expand %a : (tensor<3x4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%t: tensor<100x64xf32>, %ids: tensor<2x7xi64>) {
  // expected-error @+1 {{'result' dim 1 is 8 but 7 was expected}}
  %0 = llmc.gather %t, %ids : (tensor<100x64xf32>, tensor<2x7xi64>) -> tensor<2x8x64xf32>
  return
}

// -----

func.func @f(%t: tensor<100x64xf32>, %ids: tensor<2x7xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = llmc.gather %t, %ids : (tensor<100x64xf32>, tensor<2x7xf32>) -> tensor<2x7x64xf32>
  return
}

// -----

func.func @f(%s: tensor<1xi64>) {
  // expected-error @+1 {{operand #0 must be 0D tensor of}}
  %0 = llmc.range %s, %s, %s : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?xi64>
  return
}

// -----

func.func @f(%a: tensor<8xf32>) {
  // expected-error @+1 {{'x' must have rank >= 2, got 'tensor<8xf32>'}}
  %0 = llmc.trilu %a : tensor<8xf32> -> tensor<8xf32>
  return
}

// -----

func.func @f(%a: tensor<2x?xf32>) {
  // expected-error @+1 {{result length (3) must equal the rank of 'x' (2)}}
  %0 = llmc.shape_of %a : tensor<2x?xf32> -> tensor<3xi64>
  return
}

// -----

func.func @f(%s: tensor<2xi64>) {
  // expected-error @+1 {{value type 'f16' must match the result element type 'f32'}}
  %0 = llmc.constant_of_shape %s {value = 0.0 : f16} : (tensor<2xi64>) -> tensor<?x?xf32>
  return
}

// -----

func.func @f(%s: tensor<2xi64>) {
  // expected-error @+1 {{length of 'shape' (2) must equal the result rank (3)}}
  %0 = llmc.constant_of_shape %s {value = 0.0 : f32} : (tensor<2xi64>) -> tensor<?x?x?xf32>
  return
}

//===----------------------------------------------------------------------===//
// Fused ops
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{size of 'weight' (32) must equal the last dim of 'x' (64)}}
  %0 = llmc.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : (tensor<?x?x64xf32>, tensor<32xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<1x64xf32>) {
  // expected-error @+1 {{'weight' must have rank 1, got 'tensor<1x64xf32>'}}
  %0 = llmc.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : (tensor<?x?x64xf32>, tensor<1x64xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf16>) {
  // expected-error @+1 {{failed to verify that all of {x, weight} have same element type}}
  %0 = llmc.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : (tensor<?x?x64xf32>, tensor<64xf16>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %b: tensor<32xf32>) {
  // expected-error @+1 {{'bias' dim 0 is 32 but 64 was expected}}
  %0 = llmc.layer_norm %x, %w, %b {epsilon = 1.0e-5 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<32xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'weight' must have rank 2, got 'tensor<64xf32>'}}
  %0 = llmc.layer_norm %x, %w {axis = -2 : i64, epsilon = 1.0e-5 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<1x8x?x7xf32>, %c: tensor<1x?x3xf32>) {
  // expected-error @+1 {{head dim of 'x' must be even, got 7}}
  %0 = llmc.rope half %x, %c, %c : (tensor<1x8x?x7xf32>, tensor<1x?x3xf32>, tensor<1x?x3xf32>) -> tensor<1x8x?x7xf32>
  return
}

// -----

func.func @f(%x: tensor<8x?x64xf32>, %c: tensor<1x?x32xf32>) {
  // expected-error @+1 {{'x' must have rank 4, got 'tensor<8x?x64xf32>'}}
  %0 = llmc.rope half %x, %c, %c : (tensor<8x?x64xf32>, tensor<1x?x32xf32>, tensor<1x?x32xf32>) -> tensor<8x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<1x8x?x64xf32>, %c: tensor<1x?x40xf32>) {
  // expected-error @+1 {{rotary dim (2 * 40 from 'cos') exceeds the head dim of 'x' (64)}}
  %0 = llmc.rope interleaved %x, %c, %c : (tensor<1x8x?x64xf32>, tensor<1x?x40xf32>, tensor<1x?x40xf32>) -> tensor<1x8x?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<1x8x5x64xf32>, %c: tensor<1x6x32xf32>) {
  // expected-error @+1 {{sequence dim of 'cos' (6) must equal sequence dim of 'x' (dim 2) (5)}}
  %0 = llmc.rope half %x, %c, %c : (tensor<1x8x5x64xf32>, tensor<1x6x32xf32>, tensor<1x6x32xf32>) -> tensor<1x8x5x64xf32>
  return
}

// -----

func.func @f(%x: tensor<1x8x5x64xf32>, %c: tensor<1x5x32xf32>, %s: tensor<1x5x16xf32>) {
  // expected-error @+1 {{failed to verify that all of {cos, sin} have same type}}
  %0 = llmc.rope half %x, %c, %s : (tensor<1x8x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>) -> tensor<1x8x5x64xf32>
  return
}

// -----

func.func @f(%x: tensor<1x8x5x64xf32>, %c: tensor<1x5x32xf32>) {
  // expected-error @+2 {{expected ::llmc::RopeConvention to be one of: interleaved, half}}
  // expected-error @+1 {{failed to parse LLMC_RopeConventionAttr parameter 'value'}}
  %0 = llmc.rope neox %x, %c, %c : (tensor<1x8x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>) -> tensor<1x8x5x64xf32>
  return
}

// -----

func.func @f(%p: tensor<1x?xi64>) {
  // expected-error @+1 {{dim must be a positive even number, got 63}}
  %c, %s = llmc.rope_cos_sin half %p {dim = 63 : i64, theta = 1.0e4 : f64} : (tensor<1x?xi64>) -> (tensor<1x?x31xf32>, tensor<1x?x31xf32>)
  return
}

// -----

func.func @f(%p: tensor<1x?xi64>) {
  // expected-error @+1 {{theta must be positive, got 0}}
  %c, %s = llmc.rope_cos_sin half %p {dim = 64 : i64, theta = 0.0 : f64} : (tensor<1x?xi64>) -> (tensor<1x?x32xf32>, tensor<1x?x32xf32>)
  return
}

// -----

func.func @f(%p: tensor<1x?xi64>) {
  // expected-error @+1 {{inv_freq has 3 values, expected dim/2 = 4}}
  %c, %s = llmc.rope_cos_sin half %p {dim = 8 : i64, theta = 1.0e4 : f64, inv_freq = array<f32: 1.0, 0.5, 0.25>} : (tensor<1x?xi64>) -> (tensor<1x?x4xf32>, tensor<1x?x4xf32>)
  return
}

// -----

func.func @f(%p: tensor<1x?xi64>) {
  // expected-error @+1 {{inv_freq values must be positive and finite, got -5.000000e-01}}
  %c, %s = llmc.rope_cos_sin half %p {dim = 8 : i64, theta = 1.0e4 : f64, inv_freq = array<f32: 1.0, -0.5, 0.25, 0.1>} : (tensor<1x?xi64>) -> (tensor<1x?x4xf32>, tensor<1x?x4xf32>)
  return
}

// -----

func.func @f(%p: tensor<1x?xi64>, %long: tensor<i1>) {
  // expected-error @+1 {{use_long needs inv_freq and long_inv_freq, and long_inv_freq needs use_long}}
  %c, %s = llmc.rope_cos_sin half %p long(%long) {dim = 4 : i64, theta = 1.0e4 : f64} : (tensor<1x?xi64>, tensor<i1>) -> (tensor<1x?x2xf32>, tensor<1x?x2xf32>)
  return
}

// -----

func.func @f(%p: tensor<1x?xi64>, %long: tensor<i1>) {
  // expected-error @+1 {{use_long needs inv_freq and long_inv_freq, and long_inv_freq needs use_long}}
  %c, %s = llmc.rope_cos_sin half %p long(%long) {dim = 4 : i64, theta = 1.0e4 : f64, long_inv_freq = array<f32: 1.0, 0.001>} : (tensor<1x?xi64>, tensor<i1>) -> (tensor<1x?x2xf32>, tensor<1x?x2xf32>)
  return
}

// -----

func.func @f(%p: tensor<1x?xi64>, %long: tensor<i1>) {
  // expected-error @+1 {{long_inv_freq has 1 values, expected dim/2 = 2}}
  %c, %s = llmc.rope_cos_sin half %p long(%long) {dim = 4 : i64, theta = 1.0e4 : f64, inv_freq = array<f32: 1.0, 0.01>, long_inv_freq = array<f32: 1.0>} : (tensor<1x?xi64>, tensor<i1>) -> (tensor<1x?x2xf32>, tensor<1x?x2xf32>)
  return
}

// -----

func.func @f(%p: tensor<1x?xi64>) {
  // expected-error @+1 {{attention_factor must be positive and finite, got 0}}
  %c, %s = llmc.rope_cos_sin half %p {dim = 8 : i64, theta = 1.0e4 : f64, attention_factor = 0.0 : f64} : (tensor<1x?xi64>) -> (tensor<1x?x4xf32>, tensor<1x?x4xf32>)
  return
}

// -----

func.func @f(%p: tensor<1x?xi64>) {
  // expected-error @+1 {{'cos' dim 2 is 64 but 32 was expected}}
  %c, %s = llmc.rope_cos_sin half %p {dim = 64 : i64, theta = 1.0e4 : f64} : (tensor<1x?xi64>) -> (tensor<1x?x64xf32>, tensor<1x?x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x?x64xf32>, %k: tensor<1x4x?x64xf32>) {
  // expected-error @+1 {{softcap must be 0 (none) or positive and finite, got -5}}
  %o:3 = llmc.attention %q, %k, %k {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32, softcap = -5.0 : f32} : (tensor<1x8x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>) -> (tensor<1x8x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{cap must be positive and finite, got 0}}
  %y = llmc.softcap %x {cap = 0.0 : f32} : tensor<2x8xf32> -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x6x?x64xf32>, %k: tensor<1x4x?x64xf32>) {
  // expected-error @+1 {{num_heads (6) must be a multiple of num_kv_heads (4)}}
  %o:3 = llmc.attention %q, %k, %k {num_heads = 6 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x6x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>) -> (tensor<1x6x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x?x64xf32>, %k: tensor<1x4x?x64xf32>) {
  // expected-error @+1 {{head dim 1 of 'q' (8) must equal num_heads (16)}}
  %o:3 = llmc.attention %q, %k, %k {num_heads = 16 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x8x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>) -> (tensor<1x8x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>) {
  // expected-error @+1 {{'k' dim 1 is 2 but 4 was expected}}
  %o:3 = llmc.attention %q, %k, %k {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32>) -> (tensor<1x8x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x?x64xf32>, %k: tensor<1x4x?x32xf32>) {
  // expected-error @+1 {{'k' dim 3 is 32 but 64 was expected}}
  %o:3 = llmc.attention %q, %k, %k {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x8x?x64xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>) -> (tensor<1x8x?x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x?x64xf32>, %k: tensor<1x4x?x64xf32>) {
  // expected-error @+1 {{past_key and past_value must be given together}}
  %o:3 = "llmc.attention"(%q, %k, %k, %k) <{num_heads = 8 : i64, num_kv_heads = 4 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>, scale = 0.125 : f32}> : (tensor<1x8x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>) -> (tensor<1x8x?x64xf32>, tensor<1x4x?x64xf32>, tensor<1x4x?x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x1x64xf32>, %k: tensor<1x4x1x64xf32>, %p: tensor<1x4x9x64xf32>) {
  // expected-error @+1 {{'present_key' dim 2 is 9 but 10 was expected}}
  %o:3 = llmc.attention %q, %k, %k past(%p, %p) {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x8x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x9x64xf32>, tensor<1x4x9x64xf32>) -> (tensor<1x8x1x64xf32>, tensor<1x4x9x64xf32>, tensor<1x4x10x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x1x64xf32>, %k: tensor<1x4x1x64xf32>, %p: tensor<1x4x9x64xf32>, %m: tensor<1x1x1x10xi16>) {
  // expected-error @+1 {{operand #5 must be ranked tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float or 1-bit signless integer or 8-bit signless integer or 32-bit signless integer or 64-bit signless integer values}}
  %o:3 = llmc.attention %q, %k, %k past(%p, %p) mask(%m) {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x8x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x9x64xf32>, tensor<1x4x9x64xf32>, tensor<1x1x1x10xi16>) -> (tensor<1x8x1x64xf32>, tensor<1x4x10x64xf32>, tensor<1x4x10x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x1x64xf32>, %k: tensor<1x4x1x64xf32>, %p: tensor<1x4x9x64xf32>, %m: tensor<1x1x1x10xf16>) {
  // expected-error @+1 {{mask must be boolean (i1 or integer) or additive with the element type of 'q' ('f32'), got 'f16'}}
  %o:3 = llmc.attention %q, %k, %k past(%p, %p) mask(%m) {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x8x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x9x64xf32>, tensor<1x4x9x64xf32>, tensor<1x1x1x10xf16>) -> (tensor<1x8x1x64xf32>, tensor<1x4x10x64xf32>, tensor<1x4x10x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x1x64xf32>, %k: tensor<1x4x1x64xf32>, %p: tensor<1x4x9x64xf32>, %m: tensor<1x1x1x9xi1>) {
  // expected-error @+1 {{dim 3 of 'mask' (9) must equal the total key length (past + new) (10)}}
  %o:3 = llmc.attention %q, %k, %k past(%p, %p) mask(%m) {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x8x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x9x64xf32>, tensor<1x4x9x64xf32>, tensor<1x1x1x9xi1>) -> (tensor<1x8x1x64xf32>, tensor<1x4x10x64xf32>, tensor<1x4x10x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x1x64xf32>, %k: tensor<1x4x1x64xf32>, %m: tensor<1x4x1x1xf32>) {
  // expected-error @+1 {{head dim of 'mask' (4) must be 1 or equal num_heads (8)}}
  %o:3 = llmc.attention %q, %k, %k mask(%m) {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x8x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x1xf32>) -> (tensor<1x8x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x1x64xf32>, %k: tensor<1x4x1x64xf32>) {
  // expected-error @+1 {{scale must be positive and finite, got 0}}
  %o:3 = llmc.attention %q, %k, %k {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.0 : f32} : (tensor<1x8x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>) -> (tensor<1x8x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x8x1x64xf32>, %k: tensor<1x4x1x64xf32>) {
  // expected-error @+1 {{'out' dim 1 is 4 but 8 was expected}}
  %o:3 = llmc.attention %q, %k, %k {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x8x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>) -> (tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>, tensor<1x4x1x64xf32>)
  return
}

// -----

func.func @f(%g: tensor<?x11xf32>) {
  // expected-error @+1 {{last dim of the merged gate/up operand must be even, got 11}}
  %0 = llmc.swiglu %g : (tensor<?x11xf32>) -> tensor<?x5xf32>
  return
}

// -----

func.func @f(%g: tensor<?x16xf32>) {
  // expected-error @+1 {{'result' dim 1 is 16 but 8 was expected}}
  %0 = llmc.swiglu %g : (tensor<?x16xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%g: tensor<?x16xf32>, %u: tensor<?x8xf32>) {
  // expected-error @+1 {{'up' type 'tensor<?x8xf32>' must match 'gate' type 'tensor<?x16xf32>'}}
  %0 = llmc.swiglu %g, %u : (tensor<?x16xf32>, tensor<?x8xf32>) -> tensor<?x16xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?xf32>) {
  // expected-error @+2 {{expected ::llmc::GeluApproximation to be one of: none, tanh}}
  // expected-error @+1 {{failed to parse LLMC_GeluApproximationAttr parameter 'value'}}
  %0 = llmc.gelu %x approximate fast : tensor<?x?xf32> -> tensor<?x?xf32>
  return
}

// -----

#q = #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">
func.func @f(%x: tensor<?x128xf32>, %w: !llmc.qweight<64x256, #q>) {
  // expected-error @+1 {{last dim of 'x' (128) must equal K of the quantized weight (64)}}
  %0 = llmc.qmatmul %x, %w : (tensor<?x128xf32>, !llmc.qweight<64x256, #q>) -> tensor<?x256xf32>
  return
}

// -----

#q = #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">
func.func @f(%x: tensor<?x64xf32>, %w: !llmc.qweight<64x256, #q>) {
  // expected-error @+1 {{'result' dim 1 is 128 but 256 was expected}}
  %0 = llmc.qmatmul %x, %w : (tensor<?x64xf32>, !llmc.qweight<64x256, #q>) -> tensor<?x128xf32>
  return
}

// -----

#q = #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">
func.func @f(%x: tensor<?x64xf32>, %w: !llmc.qweight<64x256, #q>, %b: tensor<128xf32>) {
  // expected-error @+1 {{'bias' dim 0 is 128 but 256 was expected}}
  %0 = llmc.qmatmul %x, %w, %b : (tensor<?x64xf32>, !llmc.qweight<64x256, #q>, tensor<128xf32>) -> tensor<?x256xf32>
  return
}

// -----

#q = #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">
func.func @f(%x: tensor<?x64xf32>, %w: !llmc.qweight<64x256, #q>) {
  // expected-error @+1 {{failed to verify that all of {x, result} have same element type}}
  %0 = llmc.qmatmul %x, %w : (tensor<?x64xf32>, !llmc.qweight<64x256, #q>) -> tensor<?x256xf16>
  return
}

// -----

func.func @partial_group_too_short() {
  // 5504 bytes of codes + 6 groups x 64 columns x 2 bytes of scales = 6272.
  // expected-error @+1 {{length 6271 is smaller than the 6272 bytes of payload}}
  %w = llmc.weight "w2" from "m.bin" at 0 length 6271 : !llmc.qweight<172x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">>
  return
}

// -----

func.func @f(%q: tensor<1x8x4x64xf32>, %k: tensor<1x4x4x64xf32>, %m: tensor<1x1x3x4xi1>) {
  // expected-error @+1 {{dim 2 of 'mask' (3) must be 1 or equal the query length (4)}}
  %o:3 = llmc.attention %q, %k, %k mask(%m) {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32, causal = true} : (tensor<1x8x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x1x3x4xi1>) -> (tensor<1x8x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>)
  return
}

// -----

func.func @f(%x: tensor<1x3x30xf32>, %c: tensor<1x3x2xf32>) {
  // expected-error @+1 {{last dim of 'x' (30) is not a multiple of num_heads (4)}}
  %0 = llmc.rope half %x, %c, %c {num_heads = 4 : i64} : (tensor<1x3x30xf32>, tensor<1x3x2xf32>, tensor<1x3x2xf32>) -> tensor<1x3x30xf32>
  return
}

// -----

func.func @f(%q: tensor<1x3x64xf32>, %k: tensor<1x3x16xf32>) {
  // expected-error @+1 {{head dim of 'k' (4) must equal head dim of 'q' (8)}}
  %o:3 = llmc.attention %q, %k, %k {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.125 : f32} : (tensor<1x3x64xf32>, tensor<1x3x16xf32>, tensor<1x3x16xf32>) -> (tensor<1x3x64xf32>, tensor<1x4x3x4xf32>, tensor<1x4x3x4xf32>)
  return
}

// -----

func.func @f(%x: tensor<?x16xf32>, %w: tensor<16x8xf32>, %w2: tensor<12x8xf32>) {
  // expected-error @+1 {{K of weight #1 (12) must equal the last dim of 'x' (16)}}
  %o:2 = llmc.merged_matmul %x, %w, %w2 : (tensor<?x16xf32>, tensor<16x8xf32>, tensor<12x8xf32>) -> (tensor<?x8xf32>, tensor<?x8xf32>)
  return
}

// -----

func.func @f(%w: !llmc.qweight<32x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f32, layout = "onnx.matmulnbits">>) {
  // expected-error @+1 {{result element type must be the weight's scale type 'f32', got 'f16'}}
  %kn = llmc.dequantize %w : !llmc.qweight<32x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f32, layout = "onnx.matmulnbits">> -> tensor<32x64xf16>
  return
}

// -----

func.func @f(%w: !llmc.qweight<32x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f32, layout = "onnx.matmulnbits">>) {
  // expected-error @+1 {{'result' dim 0 is 64 but 32 was expected}}
  %nk = llmc.dequantize %w : !llmc.qweight<32x64, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f32, layout = "onnx.matmulnbits">> -> tensor<64x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// MoE
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x2xf32>, %w1: tensor<4x4xf32>, %w2: tensor<2x4xf32>) {
  // expected-error @+1 {{has 2 fc1 weights but 1 fc2 weights}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2) {activation = #llmc<moe_activation swiglu>, k = 1 : i64} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x2xf32>, %w1: tensor<4x4xf32>, %w2: tensor<2x4xf32>) {
  // expected-error @+1 {{k must be in [1, 2], got 0}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) {activation = #llmc<moe_activation swiglu>, k = 0 : i64} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x2xf32>, %w1: tensor<4x4xf32>, %w2: tensor<2x4xf32>) {
  // expected-error @+1 {{k must be in [1, 2], got 3}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) {activation = #llmc<moe_activation swiglu>, k = 3 : i64} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x3xf32>, %w1: tensor<4x4xf32>, %w2: tensor<2x4xf32>) {
  // expected-error @+1 {{the router's last dim (3) must equal the number of experts (2)}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) {activation = #llmc<moe_activation swiglu>, k = 1 : i64} : (tensor<3x4xf32>, tensor<3x3xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x2xf32>, %w1: tensor<4x2xf32>, %w2: tensor<2x4xf32>) {
  // expected-error @+1 {{fc1's N (2) must equal twice fc2's K (swiglu) (4)}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) {activation = #llmc<moe_activation swiglu>, k = 1 : i64} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x2xf32>, %w1: tensor<4x4xf32>, %w2: tensor<2x4xf32>) {
  // expected-error @+1 {{fc1's N (4) must equal fc2's K (2)}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) {activation = #llmc<moe_activation silu>, k = 1 : i64} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x2xf32>, %w1: tensor<4x4xf32>, %w2: tensor<2x4xf32>, %b1: tensor<4xf32>) {
  // expected-error @+1 {{fc1_bias must be empty or one per expert (2), got 1}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) fc1_bias(%b1) {activation = #llmc<moe_activation swiglu>, k = 1 : i64} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x2xf32>, %w1: tensor<4x4xf32>, %w2: tensor<2x4xf32>, %b2: tensor<4xf32>) {
  // expected-error @+1 {{fc2_bias must be empty or one per expert (2), got 3}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) fc2_bias(%b2, %b2, %b2) {activation = #llmc<moe_activation swiglu>, k = 1 : i64} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x2xf32>, %w1: tensor<4x4xf32>, %w2: tensor<2x4xf32>) {
  // expected-error @+1 {{limit must be positive, got 0}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) {activation = #llmc<moe_activation swiglu>, k = 1 : i64, limit = 0.0 : f32} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<3x4xf32>, %r: tensor<3x2xf32>, %w1: tensor<4x4xf32>, %w2: tensor<2x4xf32>) {
  // expected-error @+1 {{limit must be positive, got -7}}
  %y = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) {activation = #llmc<moe_activation swiglu>, k = 1 : i64, limit = -7.0 : f32} : (tensor<3x4xf32>, tensor<3x2xf32>, tensor<4x4xf32>, tensor<4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<3x4xf32>
  return
}

// -----

func.func @moe_dynamic_weight(%x: tensor<3x8xf32>, %r: tensor<3x1xf32>, %w1: tensor<8x4xf32>, %w2: tensor<?x8xf32>) {
  // expected-error @+1 {{expert weights and biases must have static shapes, got 'tensor<?x8xf32>'}}
  %0 = llmc.moe %x, %r experts(%w1) (%w2) {activation = #llmc<moe_activation swiglu>, k = 1 : i64}
      : (tensor<3x8xf32>, tensor<3x1xf32>, tensor<8x4xf32>, tensor<?x8xf32>) -> tensor<3x8xf32>
  return
}

// -----

func.func @moe_bias_type(%x: tensor<3x8xf32>, %r: tensor<3x1xf32>, %w1: tensor<8x4xf32>, %w2: tensor<2x8xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{fc1_bias #0}}
  %0 = llmc.moe %x, %r experts(%w1) (%w2) fc1_bias(%b) {activation = #llmc<moe_activation swiglu>, k = 1 : i64}
      : (tensor<3x8xf32>, tensor<3x1xf32>, tensor<8x4xf32>, tensor<2x8xf32>, tensor<4xf16>) -> tensor<3x8xf32>
  return
}

// -----

func.func @moe_fc3_swiglu(%x: tensor<3x8xf32>, %r: tensor<3x1xf32>, %w1: tensor<8x4xf32>, %w2: tensor<2x8xf32>, %w3: tensor<8x2xf32>) {
  // expected-error @+1 {{fc3 gates an elementwise activation; swiglu is gated by fc1's own second half}}
  %0 = llmc.moe %x, %r experts(%w1) (%w2) fc3(%w3) {activation = #llmc<moe_activation swiglu>, k = 1 : i64}
      : (tensor<3x8xf32>, tensor<3x1xf32>, tensor<8x4xf32>, tensor<2x8xf32>, tensor<8x2xf32>) -> tensor<3x8xf32>
  return
}

// -----

func.func @moe_fc3_count(%x: tensor<3x8xf32>, %r: tensor<3x2xf32>, %w1: tensor<8x2xf32>, %w2: tensor<2x8xf32>, %w3: tensor<8x2xf32>) {
  // expected-error @+1 {{fc3 must be empty or one per expert (2), got 1}}
  %0 = llmc.moe %x, %r experts(%w1, %w1) (%w2, %w2) fc3(%w3) {activation = #llmc<moe_activation silu>, k = 1 : i64}
      : (tensor<3x8xf32>, tensor<3x2xf32>, tensor<8x2xf32>, tensor<8x2xf32>, tensor<2x8xf32>, tensor<2x8xf32>, tensor<8x2xf32>) -> tensor<3x8xf32>
  return
}

// -----

func.func @moe_fc3_shape(%x: tensor<3x8xf32>, %r: tensor<3x1xf32>, %w1: tensor<8x2xf32>, %w2: tensor<2x8xf32>, %w3: tensor<8x3xf32>) {
  // expected-error @+1 {{fc3 #0}}
  %0 = llmc.moe %x, %r experts(%w1) (%w2) fc3(%w3) {activation = #llmc<moe_activation silu>, k = 1 : i64}
      : (tensor<3x8xf32>, tensor<3x1xf32>, tensor<8x2xf32>, tensor<2x8xf32>, tensor<8x3xf32>) -> tensor<3x8xf32>
  return
}
