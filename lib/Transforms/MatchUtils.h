//===- MatchUtils.h - Helpers shared by the fusion patterns -----*- C++ -*-===//
//
// Small, precise predicates over llmc graph ops: constants, casts, reshapes
// that only insert or merge dims, single-axis slices, products of factors,
// and runtime-dimension identity. The fusion patterns build their match...
// functions from these; each helper answers "yes" only when it can prove
// the property from the IR (static shapes, reshape attributes, the
// `llmc.dims` names the importer puts on function arguments).
//
// One assumption is made throughout, as in other ML compilers: a dynamic
// dim is never broadcast against another dynamic dim (`?` vs `?` are equal
// at run time, never 1 vs N).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_TRANSFORMS_MATCHUTILS_H
#define LLMC_LIB_TRANSFORMS_MATCHUTILS_H

#include "llmc/LLMCOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace llmc::match {

inline mlir::RankedTensorType tensorTypeOf(mlir::Value v) {
  return llvm::dyn_cast<mlir::RankedTensorType>(v.getType());
}
inline int64_t rankOf(mlir::Value v) {
  auto t = tensorTypeOf(v);
  return t ? t.getRank() : -1;
}
inline bool isStaticDim(int64_t d) { return !mlir::ShapedType::isDynamic(d); }
/// Static dims must be equal; a dynamic dim is compatible with anything.
inline bool dimsCompatible(int64_t a, int64_t b) {
  return !isStaticDim(a) || !isStaticDim(b) || a == b;
}
/// Normalizes a possibly negative axis; -1 when out of range.
int64_t normalizeAxis(int64_t axis, int64_t rank);

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

/// The value of a splat `llmc.constant` of float elements (any shape).
std::optional<double> getSplatFloat(mlir::Value v);
/// The value of a splat `llmc.constant` of integer elements (any shape).
std::optional<int64_t> getSplatInt(mlir::Value v);
/// A splat float constant whose every dim is 1 (a scalar under broadcasting).
std::optional<double> getScalarFloat(mlir::Value v);
/// Likewise for integers.
std::optional<int64_t> getScalarInt(mlir::Value v);
/// The float values of a `llmc.constant` (any element count).
std::optional<llvm::SmallVector<double>> getFloatValues(mlir::Value v);
/// |a - b| <= relTol * |b| (+ a tiny absolute slack).
bool isClose(double a, double b, double relTol = 1e-6);

//===----------------------------------------------------------------------===//
// Casts, commutative operands
//===----------------------------------------------------------------------===//

/// Looks through `llmc.cast` ops between float element types.
mlir::Value peelFloatCasts(mlir::Value v);

/// For a binary op `v = op(a, b)` of type OpTy, calls `f(a, b)` and, when the
/// op is commutative and that failed, `f(b, a)`. Returns whether f matched.
template <typename OpTy, typename F>
bool matchBinary(mlir::Value v, F &&f) {
  auto op = v.getDefiningOp<OpTy>();
  if (!op)
    return false;
  if (f(op->getOperand(0), op->getOperand(1)))
    return true;
  if constexpr (OpTy::template hasTrait<mlir::OpTrait::IsCommutative>())
    return f(op->getOperand(1), op->getOperand(0));
  return false;
}

//===----------------------------------------------------------------------===//
// Reshapes, slices
//===----------------------------------------------------------------------===//

/// True when reshape `op` regroups its input dims: result dim i is the
/// product of the input dims `groups[i]` (an empty group is a unit dim).
/// The groups must cover the input dims in order. Proven from the `shape`
/// attribute (0 copies a dim, -1 is inferred) and the static dims.
bool reshapeRegroups(ReshapeOp op, llvm::ArrayRef<llvm::SmallVector<int64_t, 2>> groups);

/// `v = reshape(input)` inserting one unit dim at `axis` (of the result).
mlir::Value matchUnsqueeze(mlir::Value v, int64_t axis);
/// `v = reshape(input)` merging input dims `axis` and `axis + 1`.
mlir::Value matchMergeDims(mlir::Value v, int64_t axis);
/// `v = reshape(input)` whose result dims are all static 1 except one
/// (result dim `keep`, negative from the back), which is the single
/// non-unit dim of a 1-D input. Also accepts `v` itself 1-D (keep = -1) or
/// an `llmc.expand` that only adds leading unit dims.
mlir::Value matchPlaceVector(mlir::Value v, int64_t keep);

struct SliceInfo {
  mlir::Value x;
  int64_t axis = 0;  // normalized
  int64_t start = 0; // normalized and clamped against a static dim
  int64_t end = 0;
  int64_t step = 1;
};
/// A slice along one axis whose dim is static (so bounds can be normalized).
std::optional<SliceInfo> matchSingleAxisSlice(mlir::Value v);

//===----------------------------------------------------------------------===//
// Products
//===----------------------------------------------------------------------===//

/// A product `scale * factors[0] * factors[1] * ...`, flattened through
/// mul, div by a scalar constant, neg, and pow by a small positive integer.
struct Product {
  double scale = 1.0;
  llvm::SmallVector<mlir::Value> factors;
};
Product flattenProduct(mlir::Value v);

/// Peels multiplications/divisions by scalar float constants (and float
/// casts) off `v`, accumulating them into `scale`.
mlir::Value peelScalarScale(mlir::Value v, double &scale);

//===----------------------------------------------------------------------===//
// Runtime dimensions
//===----------------------------------------------------------------------===//

struct DimRoot {
  mlir::Value value;
  int64_t dim = 0;
};
/// Follows dim `d` of `v` back through ops that carry it unchanged
/// (elementwise ops, casts, transposes, reshapes copying it with 0, matmul
/// rows, concat along another axis, gathers, norms, rope, ...).
DimRoot traceDim(mlir::Value v, int64_t d);
/// True when dim `da` of `a` and dim `db` of `b` are provably the same
/// runtime size: equal static sizes, the same traced root, or function
/// arguments whose `llmc.dims` give both dims the same name.
bool sameDim(mlir::Value a, int64_t da, mlir::Value b, int64_t db);
/// `s = gather(shape_of(x), i)` (scalar or [1]), possibly cast/reshaped: the
/// (x, i) it reads.
std::optional<DimRoot> matchShapeDim(mlir::Value s);
/// A scalar through what keeps it one: casts, reshapes and element 0 of a
/// one-element tensor (exporters' `size(2)` as `[1]` tensors and back).
mlir::Value peelScalarPlumbing(mlir::Value v);

} // namespace llmc::match

#endif
