//===- SymbolicDim.h - Symbolic tensor dimensions ---------------*- C++ -*-===//
//
// A DimExpr is an integer polynomial over named symbols (ONNX dim_params
// such as batch_size, or fresh symbols for dims nothing names), kept in a
// canonical form so that structurally equal expressions compare equal:
// `past_sequence_length + sequence_length`, `4 * num_kv`, `64`.
//
// The importer uses DimExprs both for tensor dimensions and for the
// contents of small integer tensors (the exporter's shape plumbing), so
// that Shape -> Gather -> Concat -> Reshape chains evaluate at import time.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_FRONTEND_ONNX_SYMBOLICDIM_H
#define LLMC_LIB_FRONTEND_ONNX_SYMBOLICDIM_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace llmc::onnx_import {

/// Interned symbol names. Symbols named after ONNX dim_params share an id;
/// fresh symbols get unique names.
class SymbolTable {
public:
  unsigned intern(llvm::StringRef name);
  unsigned fresh(llvm::StringRef hint = "d");
  llvm::StringRef name(unsigned id) const { return names[id]; }
  /// True for symbols created by fresh(): they stand for a dim nothing names.
  bool isFresh(unsigned id) const { return freshIds[id]; }

private:
  std::vector<std::string> names;
  std::vector<bool> freshIds;
  llvm::StringMap<unsigned> ids;
  unsigned nextFresh = 0;
};

class DimExpr {
public:
  using Monomial = std::vector<unsigned>; // sorted symbol ids (a multiset)

  DimExpr() = default; // the constant 0
  static DimExpr constant(int64_t c);
  static DimExpr symbol(unsigned id);

  bool isConstant() const;
  std::optional<int64_t> getConstant() const;
  /// True when the expression is a single symbol with coefficient 1.
  std::optional<unsigned> getSymbol() const;
  /// All coefficients >= 0: the value is >= 0 whenever the symbols are (dims
  /// always are).
  bool isNonNegative() const;

  /// Arithmetic; std::nullopt on int64 overflow.
  friend std::optional<DimExpr> add(const DimExpr &a, const DimExpr &b);
  friend std::optional<DimExpr> sub(const DimExpr &a, const DimExpr &b);
  friend std::optional<DimExpr> mul(const DimExpr &a, const DimExpr &b);
  /// a / b when it is exact term by term (b a constant or a single term), or
  /// truncating division of two constants. std::nullopt otherwise.
  friend std::optional<DimExpr> div(const DimExpr &a, const DimExpr &b);

  bool operator==(const DimExpr &o) const { return terms == o.terms; }
  bool operator!=(const DimExpr &o) const { return terms != o.terms; }
  bool operator<(const DimExpr &o) const { return terms < o.terms; }

  std::string str(const SymbolTable &symbols) const;

private:
  // Monomial -> non-zero coefficient. The empty monomial is the constant.
  std::map<Monomial, int64_t> terms;
};

/// The product of `dims`, std::nullopt on overflow.
std::optional<DimExpr> product(llvm::ArrayRef<DimExpr> dims);

} // namespace llmc::onnx_import

#endif // LLMC_LIB_FRONTEND_ONNX_SYMBOLICDIM_H
