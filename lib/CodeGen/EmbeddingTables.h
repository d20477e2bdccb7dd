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
// them, the table slot takes that slot's bytes instead of storing its own
// copy: a tied lm_head (the table transposed, by construction, or an
// exporter's transposed copy with the same values), also under a constant
// scale of the table (Gemma's), which the lookup then applies (row_scale).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_CODEGEN_EMBEDDINGTABLES_H
#define LLMC_LIB_CODEGEN_EMBEDDINGTABLES_H

#include "PlanBuilder.h"
#include "WeightReader.h"

#include "llmc/Quant/Hadamard.h"
#include "llmc/Quant/Recipe.h"
#include "llmc/Target/Target.h"

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

/// Writes the packed tables, after the matmul slots (whose bytes a table may
/// take: notePackedSlot records each).
class PackedTableWriter {
public:
  using Append =
      llvm::function_ref<llvm::Error(WeightSlot &, llvm::ArrayRef<uint8_t>)>;
  /// `streamRotation`: the residual stream's folded rotation, which rotates
  /// the rows of table slot `rotatedTable`; null and -1 without one.
  PackedTableWriter(PlanResult &planned, llvm::ArrayRef<EmbeddingTable> tables,
                    const CompileOptions &opts, WeightReader &reader, IsaTier tier,
                    const quant::RandomizedHadamard *streamRotation,
                    int32_t rotatedTable);

  /// Packed matmul slot `slot` is written. `plain`: its bytes are its source
  /// rows' rounding with nothing folded into them or rotated; `rows`, those
  /// [N, K] source rows (empty for a pre-quantized weight).
  void notePackedSlot(int32_t slot, bool plain, llvm::ArrayRef<float> rows);

  /// Writes `table`'s slot: a tied matmul slot's bytes where they hold its
  /// rows in the format wanted, else its own (a pre-quantized table in its
  /// format, dense if the kernels cannot hold that exactly; else rounded to
  /// CompileOptions::embedding).
  llvm::Error write(const EmbeddingTable &table, Append append);

private:
  bool shareable(const EmbeddingTable &table, int32_t slot) const;
  llvm::Error share(const EmbeddingTable &table, int32_t slot, llvm::StringRef how);

  PlanResult &planned_;
  const CompileOptions &opts_;
  WeightReader &reader_;
  IsaTier tier_;
  const quant::RandomizedHadamard *streamRotation_;
  int32_t rotatedTable_;
  /// [rows, width] of the float tables (whose values a matmul slot may hold).
  std::vector<std::vector<int64_t>> floatTableShapes_;
  /// Per slot: noted plain, and a digest of its source rows (0: none).
  std::vector<bool> plain_;
  std::vector<uint64_t> digest_;
};

/// Whether the rows of packed slot root `packed` (its [N, K], the
/// transpose of the matmul's [K, N] weight) are the rows of table root
/// `table` (its [rows, width]) by construction: the transpose of the same
/// initializer, or the same pre-quantized weight.
bool holdsTableRows(mlir::Value packed, mlir::Value table);

} // namespace llmc::codegen

#endif
