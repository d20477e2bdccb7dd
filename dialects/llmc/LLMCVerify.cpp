//===- LLMCVerify.cpp - shape checking helpers for verifiers --------------===//

#include "LLMCVerify.h"

#include "llmc/LLMCTraits.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallSet.h"

using namespace mlir;

namespace llmc::detail {

static bool isStatic(int64_t d) { return !ShapedType::isDynamic(d); }

std::string dimDesc(StringRef name, int64_t dim) {
  return ("'" + name + "' dim " + llvm::Twine(dim)).str();
}

FailureOr<int64_t> normalizeAxis(Operation *op, StringRef what, int64_t axis,
                                 int64_t rank) {
  if (axis < -rank || axis >= rank)
    return op->emitOpError() << what << " " << axis
                             << " is out of range for rank " << rank
                             << " (expected in [" << -rank << ", " << rank
                             << "))";
  return axis < 0 ? axis + rank : axis;
}

LogicalResult checkRank(Operation *op, StringRef what, ShapedType type,
                        int64_t rank) {
  if (type.getRank() != rank)
    return op->emitOpError() << "'" << what << "' must have rank " << rank
                             << ", got " << type;
  return success();
}

LogicalResult checkMinRank(Operation *op, StringRef what, ShapedType type,
                           int64_t rank) {
  if (type.getRank() < rank)
    return op->emitOpError() << "'" << what << "' must have rank >= " << rank
                             << ", got " << type;
  return success();
}

LogicalResult checkSameDim(Operation *op, int64_t a, const Twine &aDesc,
                           int64_t b, const Twine &bDesc) {
  if (isStatic(a) && isStatic(b) && a != b)
    return op->emitOpError() << aDesc << " (" << a << ") must equal " << bDesc
                             << " (" << b << ")";
  return success();
}

LogicalResult checkDimOneOr(Operation *op, int64_t a, const Twine &aDesc,
                            int64_t b, const Twine &bDesc) {
  if (isStatic(a) && a != 1 && isStatic(b) && a != b)
    return op->emitOpError() << aDesc << " (" << a << ") must be 1 or equal "
                             << bDesc << " (" << b << ")";
  return success();
}

LogicalResult checkShape(Operation *op, StringRef what, ShapedType actual,
                         ArrayRef<int64_t> expected) {
  if (actual.getRank() != static_cast<int64_t>(expected.size()))
    return op->emitOpError() << "'" << what << "' must have rank "
                             << expected.size() << ", got " << actual;
  for (auto [i, pair] : llvm::enumerate(llvm::zip(actual.getShape(), expected))) {
    auto [a, e] = pair;
    if (isStatic(a) && isStatic(e) && a != e)
      return op->emitOpError()
             << dimDesc(what, i) << " is " << a << " but " << e
             << " was expected (" << actual << ")";
  }
  return success();
}

FailureOr<SmallVector<int64_t>>
broadcastShapes(Operation *op, ArrayRef<ArrayRef<int64_t>> shapes,
                ArrayRef<std::string> names) {
  size_t rank = 0;
  for (ArrayRef<int64_t> s : shapes)
    rank = std::max(rank, s.size());
  SmallVector<int64_t> result(rank, 1);
  // Index of the operand that fixed the static dim (for messages).
  SmallVector<int> source(rank, -1);
  for (auto [idx, shape] : llvm::enumerate(shapes)) {
    size_t offset = rank - shape.size();
    for (auto [j, d] : llvm::enumerate(shape)) {
      size_t r = offset + j;
      if (d == 1)
        continue;
      if (ShapedType::isDynamic(d)) {
        if (result[r] == 1)
          result[r] = ShapedType::kDynamic;
        continue;
      }
      if (isStatic(result[r]) && result[r] != 1 && result[r] != d)
        return op->emitOpError()
               << "operands are not broadcast-compatible: " << names[source[r]]
               << " has size " << result[r] << " and " << names[idx]
               << " has size " << d << " in broadcast dim " << r;
      result[r] = d;
      source[r] = idx;
    }
  }
  return result;
}

LogicalResult checkSameElementType(Operation *op, StringRef aName, Type a,
                                   StringRef bName, Type b) {
  Type ea = getElementTypeOrSelf(a), eb = getElementTypeOrSelf(b);
  if (ea != eb)
    return op->emitOpError() << "element type of '" << aName << "' (" << ea
                             << ") must match element type of '" << bName
                             << "' (" << eb << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// Trait and shared op verifiers
//===----------------------------------------------------------------------===//

LogicalResult verifyBroadcastShapes(Operation *op) {
  SmallVector<ArrayRef<int64_t>> shapes;
  SmallVector<std::string> names;
  for (auto [i, v] : llvm::enumerate(op->getOperands())) {
    shapes.push_back(cast<ShapedType>(v.getType()).getShape());
    names.push_back(("operand #" + Twine(i)).str());
  }
  FailureOr<SmallVector<int64_t>> shape = broadcastShapes(op, shapes, names);
  if (failed(shape))
    return failure();
  auto resultType = cast<ShapedType>(op->getResult(0).getType());
  if (resultType.getRank() != static_cast<int64_t>(shape->size()))
    return op->emitOpError() << "result rank " << resultType.getRank()
                             << " does not match the broadcast rank "
                             << shape->size() << " of the operands";
  for (auto [i, pair] :
       llvm::enumerate(llvm::zip(resultType.getShape(), *shape))) {
    auto [r, b] = pair;
    // A static broadcast dim (or a dim of 1 in every operand) fixes the
    // result dim.
    if (isStatic(r) && isStatic(b) && r != b)
      return op->emitOpError() << "result dim " << i << " is " << r
                               << " but the operands broadcast to " << b;
  }
  return success();
}

LogicalResult verifyReduction(Operation *op, ArrayRef<int64_t> axes,
                              bool keepdims) {
  auto input = cast<ShapedType>(op->getOperand(0).getType());
  auto result = cast<ShapedType>(op->getResult(0).getType());
  int64_t rank = input.getRank();
  SmallVector<bool> reduced(rank, axes.empty());
  for (int64_t axis : axes) {
    FailureOr<int64_t> a = normalizeAxis(op, "axis", axis, rank);
    if (failed(a))
      return failure();
    if (reduced[*a])
      return op->emitOpError() << "axis " << axis << " is repeated in axes";
    reduced[*a] = true;
  }
  SmallVector<int64_t> expected;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i])
      expected.push_back(input.getDimSize(i));
    else if (keepdims)
      expected.push_back(1);
  }
  return checkShape(op, "result", result, expected);
}

} // namespace llmc::detail
