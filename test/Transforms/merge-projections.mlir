// RUN: llmc-opt --split-input-file --llmc-merge-projections %s | FileCheck %s

// q/k/v projections of one activation: one llmc.merged_matmul by the
// weights (still llmc.weight references), one result per projection. The
// weights are moved before the first projection.
// CHECK-LABEL: func.func @merge_qkv
// CHECK-DAG: %[[WQ:.*]] = llmc.weight "wq"
// CHECK-DAG: %[[WK:.*]] = llmc.weight "wk"
// CHECK-DAG: %[[WV:.*]] = llmc.weight "wv"
// CHECK: %[[S:.*]]:3 = llmc.merged_matmul %arg0, %[[WQ]], %[[WK]], %[[WV]] : (tensor<?x?x16xf32>, tensor<16x16xf32>, tensor<16x8xf32>, tensor<16x8xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK-NOT: llmc.concat
// CHECK-NOT: llmc.split
// CHECK: return %[[S]]#0, %[[S]]#1, %[[S]]#2
func.func @merge_qkv(%x: tensor<?x?x16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) {
  %wq = llmc.weight "wq" from "m.bin" at 0 : tensor<16x16xf32>
  %q = llmc.matmul %x, %wq : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
  %wk = llmc.weight "wk" from "m.bin" at 1024 : tensor<16x8xf32>
  %k = llmc.matmul %x, %wk : (tensor<?x?x16xf32>, tensor<16x8xf32>) -> tensor<?x?x8xf32>
  %wv = llmc.weight "wv" from "m.bin" at 1536 : tensor<16x8xf32>
  %v = llmc.matmul %x, %wv : (tensor<?x?x16xf32>, tensor<16x8xf32>) -> tensor<?x?x8xf32>
  return %q, %k, %v : tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>
}

// -----

// gate/up of a swiglu: one merged matmul, gate first even when the up
// projection comes first; swiglu reads its two results.
// CHECK-LABEL: func.func @merge_gate_up
// CHECK-DAG: %[[WG:.*]] = llmc.weight "w1"
// CHECK-DAG: %[[WU:.*]] = llmc.weight "w3"
// CHECK: %[[Y:.*]]:2 = llmc.merged_matmul %arg0, %[[WG]], %[[WU]] : (tensor<2x5x16xf32>, tensor<16x24xf32>, tensor<16x24xf32>) -> (tensor<2x5x24xf32>, tensor<2x5x24xf32>)
// CHECK-NEXT: %[[A:.*]] = llmc.swiglu %[[Y]]#0, %[[Y]]#1 : (tensor<2x5x24xf32>, tensor<2x5x24xf32>) -> tensor<2x5x24xf32>
// CHECK-NEXT: return %[[A]]
func.func @merge_gate_up(%x: tensor<2x5x16xf32>) -> tensor<2x5x24xf32> {
  %wu = llmc.weight "w3" from "m.bin" at 0 : tensor<16x24xf32>
  %u = llmc.matmul %x, %wu : (tensor<2x5x16xf32>, tensor<16x24xf32>) -> tensor<2x5x24xf32>
  %wg = llmc.weight "w1" from "m.bin" at 1536 : tensor<16x24xf32>
  %g = llmc.matmul %x, %wg : (tensor<2x5x16xf32>, tensor<16x24xf32>) -> tensor<2x5x24xf32>
  %a = llmc.swiglu %g, %u : (tensor<2x5x24xf32>, tensor<2x5x24xf32>) -> tensor<2x5x24xf32>
  return %a : tensor<2x5x24xf32>
}

// -----

// Near misses: different activations; an activation (not a weight) as the
// right operand; a weight of another element type.
// CHECK-LABEL: func.func @merge_near_miss
// CHECK-NOT: llmc.merged_matmul
// CHECK: return
func.func @merge_near_miss(%x: tensor<4x16xf32>, %z: tensor<4x16xf32>, %y: tensor<16x8xf32>, %xh: tensor<4x16xf16>)
    -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf16>, tensor<4x8xf16>) {
  %wa = llmc.weight "wa" from "m.bin" at 0 : tensor<16x8xf32>
  %a = llmc.matmul %x, %wa : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %wb = llmc.weight "wb" from "m.bin" at 512 : tensor<16x8xf32>
  %b = llmc.matmul %z, %wb : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %c = llmc.matmul %x, %y : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %wh = llmc.weight "wh" from "m.bin" at 1024 : tensor<16x8xf16>
  %d = llmc.matmul %xh, %wh : (tensor<4x16xf16>, tensor<16x8xf16>) -> tensor<4x8xf16>
  %y2 = llmc.cast %y : tensor<16x8xf32> -> tensor<16x8xf16>
  %e = llmc.matmul %xh, %y2 : (tensor<4x16xf16>, tensor<16x8xf16>) -> tensor<4x8xf16>
  return %a, %b, %c, %d, %e : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf16>, tensor<4x8xf16>
}

// -----

// A model's own chunk of a merged gate/up product: swiglu of the two equal
// halves of a split takes the split operand.
// CHECK-LABEL: func.func @swiglu_of_split_halves
// CHECK-NEXT: %[[A:.*]] = llmc.swiglu %arg0 : (tensor<2x5x48xf32>) -> tensor<2x5x24xf32>
// CHECK-NEXT: return %[[A]]
func.func @swiglu_of_split_halves(%y: tensor<2x5x48xf32>) -> tensor<2x5x24xf32> {
  %g, %u = llmc.split %y {axis = 2 : i64} : (tensor<2x5x48xf32>) -> (tensor<2x5x24xf32>, tensor<2x5x24xf32>)
  %a = llmc.swiglu %g, %u : (tensor<2x5x24xf32>, tensor<2x5x24xf32>) -> tensor<2x5x24xf32>
  return %a : tensor<2x5x24xf32>
}
