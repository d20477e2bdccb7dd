//===- EmbeddingTables.h - How embedding tables are stored (internal) -*- C++ -*-===//
//
// An Embed step reads one row of its table per token. The table is stored
// dense (fp32 rows, read with pread) unless
//  - it is a pre-quantized table (com.microsoft GatherBlockQuantized: the
//    dequantized rows of an !llmc.qweight), which keeps its format as
//    pre-quantized matmul weights do; or
//  - --quant-embedding asks for a format (CompileOptions::embedding): the
//    table is rounded to it (round to nearest, optionally with the MSE
//    clipping search: a table has no inputs to calibrate a method on).
// Either is a SlotKind::PackedTable slot: kernels::PackedWeights with N =
// rows, K = width, dequantized a row at a time at lookup. Where a packed
// matmul slot holds the same rows in the same format with nothing folded into
// them (a tied lm_head: the table transposed), the table slot takes that
// slot's bytes instead of storing its own copy.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_CODEGEN_EMBEDDINGTABLES_H
#define LLMC_LIB_CODEGEN_EMBEDDINGTABLES_H

#include "PlanBuilder.h"

#include "llmc/Quant/Recipe.h"

#include "mlir/IR/Value.h"

#include <vector>

namespace llmc::codegen {

struct EmbeddingTable {
  int32_t slot = -1;
  /// The !llmc.qweight whose dequantized rows the table is, or null.
  mlir::Value prequantized;
  /// Packed (matmul) slots holding the table's rows (holdsTableRows): a
  /// tied lm_head, whose bytes the table may share, each row times
  /// `rowScale` (the table root is the lm_head's weight times a scalar
  /// constant: Gemma's scaled embeddings; else 1).
  std::vector<int32_t> tiedTo;
  float rowScale = 1.0f;
  /// The root of the table's rows before that scale (the slot's root
  /// itself when unscaled).
  mlir::Value rows;
};

/// The Embed steps' tables that are stored packed (above), their slots made
/// SlotKind::PackedTable. `rotatedTable`: the slot of a table the residual
/// stream rotation rotates (-1: none); a pre-quantized one then stays dense,
/// its dequantized rows rotated.
std::vector<EmbeddingTable> choosePackedTables(PlanResult &planned,
                                               const quant::QuantSpec &spec,
                                               int32_t rotatedTable);

/// Whether the rows of packed slot root `packed` (its [N, K], the
/// transpose of the matmul's [K, N] weight) are the rows of table root
/// `table` (its [rows, width]) by construction: the transpose of the same
/// initializer, or the same pre-quantized weight.
bool holdsTableRows(mlir::Value packed, mlir::Value table);

} // namespace llmc::codegen

#endif
