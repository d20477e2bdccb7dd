//===- LLMCOps.cpp - llmc graph operations --------------------------------===//
//
// Op definitions (generated) and verifiers/folders of the graph operations.
// Fused operations are verified in LLMCFusedOps.cpp.
//
//===----------------------------------------------------------------------===//

#include "llmc/LLMCOps.h"
#include "LLMCVerify.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace llmc;
using namespace llmc::detail;

#define GET_OP_CLASSES
#include "llmc/LLMCOps.cpp.inc"

static bool isStatic(int64_t d) { return !ShapedType::isDynamic(d); }

static RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

ParseResult ConstantOp::parse(OpAsmParser &parser, OperationState &result) {
  ElementsAttr value;
  if (parser.parseOptionalAttrDict(result.attributes) ||
      parser.parseAttribute(value, "value", result.attributes))
    return failure();
  result.addTypes(value.getType());
  return success();
}

void ConstantOp::print(OpAsmPrinter &p) {
  p.printOptionalAttrDict((*this)->getAttrs(), /*elidedAttrs=*/{"value"});
  p << ' ';
  p.printAttribute(getValue());
}

LogicalResult ConstantOp::verify() {
  if (getValue().getType() != getType())
    return emitOpError() << "value type " << getValue().getType()
                         << " does not match result type " << getType();
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// WeightOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError() << "weight name must not be empty";
  if (getFile().empty())
    return emitOpError() << "weight file must not be empty";
  // I64Attr accessors return uint64_t; read the signed values.
  int64_t offset = getOffsetAttr().getInt();
  if (offset < 0)
    return emitOpError() << "offset must be >= 0, got " << offset;
  int64_t minBytes = 0;
  bool exact = true;
  if (auto t = dyn_cast<RankedTensorType>(getType())) {
    if (!t.hasStaticShape())
      return emitOpError() << "weight tensor type must have a static shape, got "
                           << t;
    if (!t.getElementType().isIntOrFloat())
      return emitOpError() << "weight element type must be an integer or "
                              "float type, got "
                           << t.getElementType();
    minBytes = llvm::divideCeil(
        t.getNumElements() * t.getElementType().getIntOrFloatBitWidth(), 8);
  } else {
    auto q = cast<QWeightType>(getType());
    minBytes = q.getQuant().getMinStorageBytes(q.getK(), q.getN());
    exact = false;
  }
  if (IntegerAttr lengthAttr = getLengthAttr()) {
    int64_t length = lengthAttr.getInt();
    if (length <= 0)
      return emitOpError() << "length must be positive, got " << length;
    if (exact && length != minBytes)
      return emitOpError() << "length " << length << " does not match the "
                           << minBytes << " bytes of " << getType();
    if (!exact && length < minBytes)
      return emitOpError() << "length " << length
                           << " is smaller than the " << minBytes
                           << " bytes of payload of " << getType();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// CastOp
//===----------------------------------------------------------------------===//

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getX().getType() == getType())
    return getX();
  return {};
}

//===----------------------------------------------------------------------===//
// MatMulOp
//===----------------------------------------------------------------------===//

LogicalResult MatMulOp::verify() {
  RankedTensorType a = tensorType(getA()), b = tensorType(getB());
  if (failed(checkMinRank(*this, "a", a, 1)) ||
      failed(checkMinRank(*this, "b", b, 1)))
    return failure();
  int64_t ra = a.getRank(), rb = b.getRank();
  int64_t ka = a.getDimSize(ra - 1);
  int64_t kb = rb == 1 ? b.getDimSize(0) : b.getDimSize(rb - 2);
  if (failed(checkSameDim(*this, ka, "contraction dim of 'a'", kb,
                          "contraction dim of 'b'")))
    return failure();
  ArrayRef<int64_t> batchA = a.getShape().drop_back(std::min<int64_t>(ra, 2));
  ArrayRef<int64_t> batchB = b.getShape().drop_back(std::min<int64_t>(rb, 2));
  FailureOr<SmallVector<int64_t>> expected =
      broadcastShapes(*this, {batchA, batchB},
                      {"batch dims of 'a'", "batch dims of 'b'"});
  if (failed(expected))
    return failure();
  if (ra >= 2)
    expected->push_back(a.getDimSize(ra - 2));
  if (rb >= 2)
    expected->push_back(b.getDimSize(rb - 1));
  return checkShape(*this, "result", tensorType(getResult()), *expected);
}

//===----------------------------------------------------------------------===//
// SoftmaxOp
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  return normalizeAxis(*this, "axis", getAxis(), tensorType(getX()).getRank());
}

//===----------------------------------------------------------------------===//
// ReshapeOp
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  RankedTensorType in = tensorType(getX()), out = tensorType(getResult());
  ArrayRef<int64_t> shape = getShape();
  if (static_cast<int64_t>(shape.size()) != out.getRank())
    return emitOpError() << "shape has " << shape.size()
                         << " entries but the result has rank "
                         << out.getRank();
  bool sawInferred = false;
  for (auto [i, s] : llvm::enumerate(shape)) {
    int64_t r = out.getDimSize(i);
    if (s < -1)
      return emitOpError() << "shape entry " << i << " is " << s
                           << "; entries must be >= -1";
    if (s == -1) {
      if (sawInferred)
        return emitOpError() << "shape may contain at most one -1";
      sawInferred = true;
    } else if (s == 0) {
      if (static_cast<int64_t>(i) >= in.getRank())
        return emitOpError() << "shape entry " << i
                             << " is 0 (copy) but the input has rank "
                             << in.getRank();
      if (failed(checkSameDim(*this, r, "result dim " + Twine(i),
                              in.getDimSize(i), "input dim " + Twine(i))))
        return failure();
    } else if (failed(checkSameDim(*this, r, "result dim " + Twine(i), s,
                                   "shape entry " + Twine(i)))) {
      return failure();
    }
  }
  if (in.hasStaticShape() && out.hasStaticShape() &&
      in.getNumElements() != out.getNumElements())
    return emitOpError() << "input has " << in.getNumElements()
                         << " elements but the result has "
                         << out.getNumElements();
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor) {
  auto type = tensorType(getX());
  if (type == getType() && type.getNumDynamicDims() <= 1)
    return getX();
  return {};
}

//===----------------------------------------------------------------------===//
// TransposeOp
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::verify() {
  RankedTensorType in = tensorType(getX()), out = tensorType(getResult());
  ArrayRef<int64_t> perm = getPerm();
  int64_t rank = in.getRank();
  SmallVector<bool> used(rank, false);
  bool valid = static_cast<int64_t>(perm.size()) == rank;
  for (int64_t p : perm) {
    if (!valid)
      break;
    valid = p >= 0 && p < rank && !used[p];
    if (valid)
      used[p] = true;
  }
  if (!valid)
    return emitOpError() << "perm must be a permutation of [0, " << rank
                         << ") for an input of rank " << rank;
  SmallVector<int64_t> expected;
  for (int64_t p : perm)
    expected.push_back(in.getDimSize(p));
  return checkShape(*this, "result", out, expected);
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  if (llvm::equal(getPerm(), llvm::seq<int64_t>(0, getPerm().size())) &&
      getX().getType() == getType())
    return getX();
  return {};
}

//===----------------------------------------------------------------------===//
// ConcatOp
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError() << "requires at least one input";
  RankedTensorType out = tensorType(getResult());
  int64_t rank = out.getRank();
  FailureOr<int64_t> axis = normalizeAxis(*this, "axis", getAxis(), rank);
  if (failed(axis))
    return failure();
  SmallVector<int64_t> expected(out.getShape());
  int64_t axisSum = 0;
  for (auto [i, v] : llvm::enumerate(getInputs())) {
    std::string name = ("input #" + Twine(i)).str();
    RankedTensorType t = tensorType(v);
    if (failed(checkSameElementType(*this, name, t, "result", out)))
      return failure();
    if (t.getRank() != rank)
      return emitOpError() << "'" << name << "' has rank " << t.getRank()
                           << " but the result has rank " << rank;
    for (int64_t d = 0; d < rank; ++d) {
      if (d == *axis)
        continue;
      if (failed(checkSameDim(*this, t.getDimSize(d), dimDesc(name, d),
                              expected[d], "the same dim of the other "
                                           "operands and the result")))
        return failure();
      if (ShapedType::isDynamic(expected[d]))
        expected[d] = t.getDimSize(d);
    }
    int64_t a = t.getDimSize(*axis);
    axisSum = (isStatic(axisSum) && isStatic(a)) ? axisSum + a
                                                  : ShapedType::kDynamic;
  }
  return checkSameDim(*this, out.getDimSize(*axis),
                      "result dim " + Twine(*axis), axisSum,
                      "the sum of the input sizes along the axis");
}

//===----------------------------------------------------------------------===//
// SliceOp
//===----------------------------------------------------------------------===//

/// Number of elements ONNX Slice selects from a dim of static size `dim`.
static int64_t sliceSize(int64_t dim, int64_t start, int64_t end,
                         int64_t step) {
  auto clamp = [](int64_t v, int64_t lo, int64_t hi) {
    return std::min(std::max(v, lo), hi);
  };
  if (start < 0)
    start += dim;
  if (end < 0 && end > std::numeric_limits<int64_t>::min() + dim)
    end += dim;
  else if (end < 0)
    end = -1;
  if (step > 0) {
    start = clamp(start, 0, dim);
    end = clamp(end, 0, dim);
    return end > start ? (end - start + step - 1) / step : 0;
  }
  start = clamp(start, 0, dim - 1);
  end = clamp(end, -1, dim - 1);
  return start > end ? (start - end + (-step) - 1) / (-step) : 0;
}

LogicalResult SliceOp::verify() {
  RankedTensorType in = tensorType(getX()), out = tensorType(getResult());
  int64_t rank = in.getRank();
  if (out.getRank() != rank)
    return emitOpError() << "result rank " << out.getRank()
                         << " must equal input rank " << rank;
  size_t n = getStarts().size();
  SmallVector<int64_t> axes, steps(n, 1);
  if (std::optional<ArrayRef<int64_t>> a = getAxes())
    axes.assign(a->begin(), a->end());
  else
    axes.assign(llvm::to_vector(llvm::seq<int64_t>(0, n)));
  if (std::optional<ArrayRef<int64_t>> s = getSteps())
    steps.assign(s->begin(), s->end());
  if (getEnds().size() != n || axes.size() != n || steps.size() != n)
    return emitOpError() << "starts, ends, axes and steps must have the same "
                            "length (got "
                         << n << ", " << getEnds().size() << ", "
                         << axes.size() << ", " << steps.size() << ")";
  SmallVector<int64_t> expected(in.getShape());
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < n; ++i) {
    FailureOr<int64_t> axis = normalizeAxis(*this, "axis", axes[i], rank);
    if (failed(axis))
      return failure();
    if (seen[*axis])
      return emitOpError() << "axis " << axes[i] << " is sliced twice";
    seen[*axis] = true;
    if (steps[i] == 0)
      return emitOpError() << "step " << i << " must not be 0";
    int64_t dim = in.getDimSize(*axis);
    expected[*axis] = isStatic(dim)
                          ? sliceSize(dim, getStarts()[i], getEnds()[i],
                                      steps[i])
                          : ShapedType::kDynamic;
  }
  return checkShape(*this, "result", out, expected);
}

//===----------------------------------------------------------------------===//
// SplitOp
//===----------------------------------------------------------------------===//

LogicalResult SplitOp::verify() {
  RankedTensorType in = tensorType(getX());
  int64_t rank = in.getRank();
  size_t n = getOutputs().size();
  if (n == 0)
    return emitOpError() << "requires at least one result";
  FailureOr<int64_t> axis = normalizeAxis(*this, "axis", getAxis(), rank);
  if (failed(axis))
    return failure();
  int64_t dim = in.getDimSize(*axis);
  SmallVector<int64_t> sizes;
  if (std::optional<ArrayRef<int64_t>> s = getSizes()) {
    if (s->size() != n)
      return emitOpError() << "sizes has " << s->size() << " entries but the "
                           << "op has " << n << " results";
    int64_t sum = 0;
    for (int64_t v : *s) {
      if (v < 0)
        return emitOpError() << "sizes must be >= 0, got " << v;
      sum += v;
    }
    if (failed(checkSameDim(*this, sum, "the sum of sizes", dim,
                            "input dim " + Twine(*axis))))
      return failure();
    sizes.assign(s->begin(), s->end());
  } else {
    if (isStatic(dim) && dim % static_cast<int64_t>(n) != 0)
      return emitOpError() << "input dim " << *axis << " (" << dim
                           << ") cannot be split evenly into " << n
                           << " results";
    sizes.assign(n, isStatic(dim) ? dim / static_cast<int64_t>(n)
                                  : ShapedType::kDynamic);
  }
  for (auto [i, v] : llvm::enumerate(getOutputs())) {
    std::string name = ("result #" + Twine(i)).str();
    if (failed(checkSameElementType(*this, name, v.getType(), "x", in)))
      return failure();
    SmallVector<int64_t> expected(in.getShape());
    expected[*axis] = sizes[i];
    if (failed(checkShape(*this, name, tensorType(v), expected)))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// ExpandOp
//===----------------------------------------------------------------------===//

LogicalResult ExpandOp::verify() {
  RankedTensorType in = tensorType(getX()), out = tensorType(getResult());
  if (out.getRank() < in.getRank())
    return emitOpError() << "result rank " << out.getRank()
                         << " is smaller than the input rank "
                         << in.getRank();
  if (Value shape = getShape())
    if (failed(checkSameDim(*this, tensorType(shape).getDimSize(0),
                            "length of 'shape'", out.getRank(),
                            "the result rank")))
      return failure();
  int64_t offset = out.getRank() - in.getRank();
  for (int64_t i = 0; i < in.getRank(); ++i)
    if (failed(checkDimOneOr(*this, in.getDimSize(i), dimDesc("x", i),
                             out.getDimSize(offset + i),
                             "result dim " + Twine(offset + i))))
      return failure();
  return success();
}

OpFoldResult ExpandOp::fold(FoldAdaptor) {
  if (getX().getType() == getType() && getType().hasStaticShape())
    return getX();
  return {};
}

//===----------------------------------------------------------------------===//
// GatherOp
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::verify() {
  RankedTensorType data = tensorType(getData());
  RankedTensorType indices = tensorType(getIndices());
  if (failed(checkMinRank(*this, "data", data, 1)))
    return failure();
  FailureOr<int64_t> axis =
      normalizeAxis(*this, "axis", getAxis(), data.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> expected(data.getShape().take_front(*axis));
  llvm::append_range(expected, indices.getShape());
  llvm::append_range(expected, data.getShape().drop_front(*axis + 1));
  return checkShape(*this, "result", tensorType(getResult()), expected);
}

//===----------------------------------------------------------------------===//
// TriluOp, ShapeOfOp, ConstantOfShapeOp
//===----------------------------------------------------------------------===//

LogicalResult TriluOp::verify() {
  return checkMinRank(*this, "x", tensorType(getX()), 2);
}

LogicalResult ShapeOfOp::verify() {
  return checkSameDim(*this, tensorType(getResult()).getDimSize(0),
                      "result length", tensorType(getX()).getRank(),
                      "the rank of 'x'");
}

OpFoldResult ShapeOfOp::fold(FoldAdaptor) {
  RankedTensorType in = tensorType(getX());
  RankedTensorType out = tensorType(getResult());
  if (!in.hasStaticShape() || !out.hasStaticShape())
    return {};
  return DenseIntElementsAttr::get(out, in.getShape());
}

LogicalResult ConstantOfShapeOp::verify() {
  RankedTensorType out = tensorType(getResult());
  Type valueType = cast<TypedAttr>(getValue()).getType();
  if (valueType != out.getElementType())
    return emitOpError() << "value type " << valueType
                         << " must match the result element type "
                         << out.getElementType();
  return checkSameDim(*this, tensorType(getShape()).getDimSize(0),
                      "length of 'shape'", out.getRank(), "the result rank");
}
