//===- OpsShape.cpp - Shape and constant ONNX operators --------------------===//
//
// Constant ConstantOfShape Shape Range Reshape Unsqueeze Squeeze Flatten
// Expand. These carry the exporter's shape plumbing: their integer contents
// are evaluated symbolically, and the shapes they feed become attributes.
//
//===----------------------------------------------------------------------===//

#include "OpHelpers.h"
#include "OpRegistry.h"

#include "llmc/LLMCOps.h"

#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace llmc::onnx_import;
using llvm::ArrayRef;
using llvm::Error;
using llvm::SmallVector;

namespace {

Error emitNothing(NodeContext &) { return Error::success(); }

mlir::RankedTensorType i64Type(NodeContext &nc, ArrayRef<int64_t> shape) {
  return mlir::RankedTensorType::get(shape,
                                     mlir::IntegerType::get(nc.getContext(), 64));
}

// --- Constant ------------------------------------------------------------------

Error inferConstant(NodeContext &nc) {
  mlir::MLIRContext *ctx = nc.getContext();
  mlir::Builder b(ctx);
  for (const auto &a : nc.node().attribute()) {
    llvm::StringRef name = a.name();
    if (name == "value") {
      const onnx::TensorProto &t = a.t();
      mlir::Type elem = elementTypeOf(ctx, t.data_type());
      if (!elem)
        return nc.error("has a value of unsupported type " +
                        dataTypeName(t.data_type()));
      auto bytes = nc.importer().model().tensorBytes(t);
      if (!bytes)
        return nc.error(llvm::toString(bytes.takeError()));
      SmallVector<DimExpr, 4> dims;
      SmallVector<int64_t> shape;
      for (int64_t d : t.dims()) {
        dims.push_back(DimExpr::constant(d));
        shape.push_back(d);
      }
      TensorInfo &out = nc.setOutput(0, elem, dims);
      setConstantValue(out, denseFromBytes(
                                mlir::RankedTensorType::get(shape, elem), *bytes));
      return Error::success();
    }
    if (name == "value_float" || name == "value_int") {
      bool isFloat = name == "value_float";
      mlir::Type elem = isFloat ? mlir::Type(b.getF32Type()) : b.getIntegerType(64);
      TensorInfo &out = nc.setOutput(0, elem, {});
      auto type = mlir::RankedTensorType::get({}, elem);
      setConstantValue(out, isFloat ? mlir::DenseElementsAttr::get(type, a.f())
                                    : mlir::DenseElementsAttr::get(type, a.i()));
      return Error::success();
    }
    if (name == "value_floats" || name == "value_ints") {
      bool isFloat = name == "value_floats";
      mlir::Type elem = isFloat ? mlir::Type(b.getF32Type()) : b.getIntegerType(64);
      int64_t n = isFloat ? a.floats_size() : a.ints_size();
      TensorInfo &out = nc.setOutput(0, elem, {DimExpr::constant(n)});
      auto type = mlir::RankedTensorType::get({n}, elem);
      if (isFloat)
        setConstantValue(out, mlir::DenseElementsAttr::get(
                                  type, ArrayRef<float>(a.floats().data(), n)));
      else
        setConstantValue(out, mlir::DenseElementsAttr::get(
                                  type, ArrayRef<int64_t>(a.ints().data(), n)));
      return Error::success();
    }
    return nc.error("attribute '" + name + "' is not supported");
  }
  return nc.error("has no value attribute");
}

// --- ConstantOfShape ---------------------------------------------------------------

/// The fill value of ConstantOfShape as a rank-0 attribute.
llvm::Expected<mlir::DenseElementsAttr> fillValue(NodeContext &nc) {
  const auto *a = nc.attr("value");
  if (!a) {
    auto type = mlir::RankedTensorType::get(
        {}, mlir::Float32Type::get(nc.getContext()));
    return mlir::DenseElementsAttr::get(type, 0.0f);
  }
  const onnx::TensorProto &t = a->t();
  mlir::Type elem = elementTypeOf(nc.getContext(), t.data_type());
  if (!elem)
    return nc.error("has a value of unsupported type " +
                    dataTypeName(t.data_type()));
  auto bytes = nc.importer().model().tensorBytes(t);
  if (!bytes)
    return nc.error(llvm::toString(bytes.takeError()));
  if (bytes->size() != elementByteSize(t.data_type()))
    return nc.error("value must have exactly one element");
  return denseFromBytes(mlir::RankedTensorType::get({}, elem), *bytes);
}

Error inferConstantOfShape(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects a shape input");
  auto fill = fillValue(nc);
  if (!fill)
    return fill.takeError();
  auto shapeDims = shapeInputDims(nc, nc.input(0));
  if (!shapeDims)
    return shapeDims.takeError();
  SmallVector<DimExpr, 4> dims = std::move(*shapeDims);
  for (const DimExpr &d : dims)
    if (auto c = d.getConstant(); c && *c < 0)
      return nc.error("negative dim in its shape");
  TensorInfo &out = nc.setOutput(0, fill->getElementType(), dims);
  auto type = tensorTypeOf(out);
  if (type.hasStaticShape())
    setConstantValue(out, mlir::DenseElementsAttr::get(
                              type, *fill->getValues<mlir::Attribute>().begin()));
  return Error::success();
}

Error emitConstantOfShape(NodeContext &nc) {
  auto shape = nc.operand(0);
  if (!shape)
    return shape.takeError();
  auto fill = fillValue(nc);
  if (!fill)
    return fill.takeError();
  auto value = llvm::cast<mlir::TypedAttr>(*fill->getValues<mlir::Attribute>().begin());
  nc.setResult(0, nc.builder().create<llmc::ConstantOfShapeOp>(
                      nc.loc(), nc.outputType(0), *shape, value));
  return Error::success();
}

// --- Shape ----------------------------------------------------------------------------

std::pair<int64_t, int64_t> shapeRange(NodeContext &nc, int64_t rank) {
  auto clampIdx = [&](int64_t v) {
    if (v < 0)
      v += rank;
    return std::clamp<int64_t>(v, 0, rank);
  };
  int64_t start = 0, end = rank;
  if (auto s = nc.attrInt("start", 0))
    start = clampIdx(*s);
  else
    llvm::consumeError(s.takeError());
  if (nc.attr("end")) {
    if (auto e = nc.attrInt("end", rank))
      end = clampIdx(*e);
    else
      llvm::consumeError(e.takeError());
  }
  return {start, std::max(start, end)};
}

Error inferShape(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  TensorInfo &x = nc.input(0);
  auto [start, end] = shapeRange(nc, x.rank());
  TensorInfo &out = nc.setOutput(0, mlir::IntegerType::get(nc.getContext(), 64),
                                 {DimExpr::constant(end - start)});
  setContentValue(out, ArrayRef<DimExpr>(x.dims).slice(start, end - start));
  return Error::success();
}

Error emitShape(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  int64_t rank = nc.input(0).rank();
  mlir::Value v =
      nc.builder().create<llmc::ShapeOfOp>(nc.loc(), i64Type(nc, {rank}), *x);
  auto [start, end] = shapeRange(nc, rank);
  if (start != 0 || end != rank)
    v = nc.builder().create<llmc::SliceOp>(
        nc.loc(), nc.outputType(0), v,
        nc.builder().getDenseI64ArrayAttr({start}),
        nc.builder().getDenseI64ArrayAttr({end}),
        nc.builder().getDenseI64ArrayAttr({0}),
        nc.builder().getDenseI64ArrayAttr({1}));
  nc.setResult(0, v);
  return Error::success();
}

// --- Range ----------------------------------------------------------------------------

Error inferRange(NodeContext &nc) {
  for (unsigned i = 0; i < 3; ++i)
    if (!nc.hasInput(i) || nc.input(i).rank() != 0)
      return nc.error("expects three scalar inputs");
  TensorInfo &start = nc.input(0), &limit = nc.input(1), &delta = nc.input(2);
  mlir::Type elem = start.elemType;
  if (limit.elemType != elem || delta.elemType != elem)
    return nc.error("inputs have different element types");
  if (llvm::isa<mlir::IntegerType>(elem)) {
    if (!start.content || !limit.content || !delta.content) {
      nc.setOutput(0, elem, {freshDim(nc)});
      return Error::success();
    }
    const DimExpr &s = (*start.content)[0], &l = (*limit.content)[0],
                  &d = (*delta.content)[0];
    auto cs = s.getConstant(), cl = l.getConstant(), cd = d.getConstant();
    if (cd && *cd == 0)
      return nc.error("delta is 0");
    if (cs && cl && cd) {
      int64_t n = std::max<int64_t>(0, (*cl - *cs + *cd + (*cd > 0 ? -1 : 1)) / *cd);
      TensorInfo &out = nc.setOutput(0, elem, {DimExpr::constant(n)});
      if (n <= kMaxContentElements) {
        SmallVector<DimExpr, 4> vals;
        for (int64_t i = 0; i < n; ++i)
          vals.push_back(DimExpr::constant(*cs + i * *cd));
        setContentValue(out, vals);
      }
      return Error::success();
    }
    // Symbolic: the length is (limit - start) / delta when that is exact.
    std::optional<DimExpr> len;
    if (auto diff = sub(l, s))
      len = cd && *cd > 0 ? div(*diff, d) : std::nullopt;
    nc.setOutput(0, elem, {len ? *len : freshDim(nc)});
    return Error::success();
  }
  // Floating point: only constants give a static length.
  auto cs = scalarAsDouble(start.constant), cl = scalarAsDouble(limit.constant),
       cd = scalarAsDouble(delta.constant);
  if (cs && cl && cd && *cd != 0) {
    int64_t n = std::max<int64_t>(0, int64_t(std::ceil((*cl - *cs) / *cd)));
    nc.setOutput(0, elem, {DimExpr::constant(n)});
  } else {
    nc.setOutput(0, elem, {freshDim(nc)});
  }
  return Error::success();
}

Error emitRange(NodeContext &nc) {
  SmallVector<mlir::Value, 3> ops;
  for (unsigned i = 0; i < 3; ++i) {
    auto v = nc.operand(i);
    if (!v)
      return v.takeError();
    ops.push_back(*v);
  }
  nc.setResult(0, nc.builder().create<llmc::RangeOp>(nc.loc(), nc.outputType(0),
                                                     ops[0], ops[1], ops[2]));
  return Error::success();
}

// --- Reshape family -------------------------------------------------------------------

/// Output dims and passed-through contents for a reshape to `dims`.
Error finishReshape(NodeContext &nc, SmallVector<DimExpr, 4> dims) {
  TensorInfo &x = nc.input(0);
  auto inN = product(x.dims);
  auto outN = product(dims);
  if (inN && outN && inN->isConstant() && outN->isConstant() && *inN != *outN)
    return nc.error("cannot reshape " + dimsToString(nc, x.dims) + " to " +
                    dimsToString(nc, dims) + ": element counts differ");
  TensorInfo &out = nc.setOutput(0, x.elemType, dims);
  if (x.content && out.hasStaticShape())
    setContentValue(out, *x.content);
  else if (x.constant && out.hasStaticShape())
    setConstantValue(out, x.constant.reshape(tensorTypeOf(out)));
  return Error::success();
}

Error inferReshape(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.hasInput(1))
    return nc.error("expects data and shape inputs");
  TensorInfo &x = nc.input(0), &shape = nc.input(1);
  if (!shape.content)
    return nc.error("its shape input ('" + nc.node().input(1) +
                    "') cannot be evaluated at import time; llmc.reshape "
                    "needs it as an attribute");
  nc.consumeAsAttribute(1);
  auto allowZero = nc.attrInt("allowzero", 0);
  if (!allowZero)
    return allowZero.takeError();
  SmallVector<DimExpr, 4> dims;
  int inferIndex = -1;
  for (size_t i = 0; i < shape.content->size(); ++i) {
    const DimExpr &e = (*shape.content)[i];
    auto c = e.getConstant();
    if (c && *c == 0 && !*allowZero) {
      if (int64_t(i) >= x.rank())
        return nc.error("shape entry " + llvm::Twine(i) +
                        " is 0 (copy) but the input has rank " +
                        llvm::Twine(x.rank()));
      dims.push_back(x.dims[i]);
    } else if (c && *c == -1) {
      if (inferIndex >= 0)
        return nc.error("its shape has more than one -1");
      inferIndex = int(i);
      dims.push_back(DimExpr::constant(-1));
    } else if (c && *c < -1) {
      return nc.error("its shape has an invalid entry " + llvm::Twine(*c));
    } else if (!c && !e.isNonNegative()) {
      return nc.error("its shape entry " + llvm::Twine(i) + " (" +
                      e.str(nc.symbols()) +
                      ") may be -1 or 0 at run time; cannot resolve it");
    } else {
      dims.push_back(e);
    }
  }
  if (inferIndex >= 0) {
    SmallVector<DimExpr, 4> others;
    for (size_t i = 0; i < dims.size(); ++i)
      if (int(i) != inferIndex)
        others.push_back(dims[i]);
    std::optional<DimExpr> inferred;
    if (auto num = product(x.dims))
      if (auto den = product(others))
        inferred = div(*num, *den);
    dims[inferIndex] = inferred ? *inferred : freshDim(nc);
  }
  return finishReshape(nc, dims);
}

Error emitReshapeNode(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  auto v = emitReshape(nc, *x, nc.input(0).dims, nc.output(0).dims,
                       nc.outputType(0));
  if (!v)
    return v.takeError();
  nc.setResult(0, *v);
  return Error::success();
}

llvm::Expected<SmallVector<int64_t>> axesOf(NodeContext &nc) {
  if (nc.hasInput(1))
    return nc.constIntsInput(1, "axes");
  auto attr = nc.attrInts("axes");
  if (!attr)
    return attr.takeError();
  if (!*attr)
    return SmallVector<int64_t>();
  return **attr;
}

Error inferUnsqueeze(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  auto axes = axesOf(nc);
  if (!axes)
    return axes.takeError();
  if (axes->empty())
    return nc.error("needs axes");
  TensorInfo &x = nc.input(0);
  int64_t outRank = x.rank() + int64_t(axes->size());
  SmallVector<bool> isNew(outRank, false);
  for (int64_t a : *axes) {
    auto n = normalizeAxis(nc, a, outRank);
    if (!n)
      return n.takeError();
    if (isNew[*n])
      return nc.error("repeats axis " + llvm::Twine(a));
    isNew[*n] = true;
  }
  SmallVector<DimExpr, 4> dims;
  size_t j = 0;
  for (int64_t i = 0; i < outRank; ++i)
    dims.push_back(isNew[i] ? DimExpr::constant(1) : x.dims[j++]);
  return finishReshape(nc, dims);
}

Error inferSqueeze(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  auto axes = axesOf(nc);
  if (!axes)
    return axes.takeError();
  TensorInfo &x = nc.input(0);
  SmallVector<bool> drop(x.rank(), false);
  if (axes->empty()) {
    for (int64_t i = 0; i < x.rank(); ++i) {
      auto c = x.staticDim(i);
      if (!c)
        return nc.error("without axes, it cannot tell whether run-time dim " +
                        llvm::Twine(i) + " is 1");
      drop[i] = *c == 1;
    }
  }
  for (int64_t a : *axes) {
    auto n = normalizeAxis(nc, a, x.rank());
    if (!n)
      return n.takeError();
    if (auto c = x.staticDim(*n); c && *c != 1)
      return nc.error("squeezes axis " + llvm::Twine(a) + " of size " +
                      llvm::Twine(*c));
    drop[*n] = true;
  }
  SmallVector<DimExpr, 4> dims;
  for (int64_t i = 0; i < x.rank(); ++i)
    if (!drop[i])
      dims.push_back(x.dims[i]);
  return finishReshape(nc, dims);
}

Error emitSqueeze(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  // Dims being removed are 1 even when their type says `?`.
  SmallVector<DimExpr, 4> inDims(nc.input(0).dims.begin(), nc.input(0).dims.end());
  const auto &outDims = nc.output(0).dims;
  size_t j = 0;
  for (auto &d : inDims) {
    if (j < outDims.size() && d == outDims[j])
      ++j;
    else
      d = DimExpr::constant(1);
  }
  auto v = emitReshape(nc, *x, inDims, outDims, nc.outputType(0));
  if (!v)
    return v.takeError();
  nc.setResult(0, *v);
  return Error::success();
}

Error inferFlatten(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  TensorInfo &x = nc.input(0);
  auto axisAttr = nc.attrInt("axis", 1);
  if (!axisAttr)
    return axisAttr.takeError();
  int64_t axis = *axisAttr < 0 ? *axisAttr + x.rank() : *axisAttr;
  if (axis < 0 || axis > x.rank())
    return nc.error("axis out of range");
  auto outer = product(ArrayRef<DimExpr>(x.dims).take_front(axis));
  auto inner = product(ArrayRef<DimExpr>(x.dims).drop_front(axis));
  return finishReshape(nc, {outer ? *outer : freshDim(nc),
                            inner ? *inner : freshDim(nc)});
}

// --- Expand ---------------------------------------------------------------------------

/// The static target shape for llmc.expand without a shape operand: entries
/// equal to the input's aligned dim become 1. std::nullopt when some entry
/// is only known at run time.
std::optional<SmallVector<int64_t>> staticExpandShape(ArrayRef<DimExpr> in,
                                                      ArrayRef<DimExpr> shape) {
  SmallVector<int64_t> out;
  size_t offset = shape.size() >= in.size() ? shape.size() - in.size() : 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i >= offset && i - offset < in.size() && shape[i] == in[i - offset]) {
      out.push_back(1);
      continue;
    }
    auto c = shape[i].getConstant();
    if (!c)
      return std::nullopt;
    out.push_back(*c);
  }
  return out;
}

Error inferExpand(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.hasInput(1))
    return nc.error("expects data and shape inputs");
  TensorInfo &x = nc.input(0), &shape = nc.input(1);
  auto target = shapeInputDims(nc, shape);
  if (!target)
    return target.takeError();
  auto dims = broadcastShapes(nc, {x.dims, *target});
  if (!dims)
    return dims.takeError();
  nc.setOutput(0, x.elemType, *dims);
  if (shape.content && staticExpandShape(x.dims, *shape.content))
    nc.consumeAsAttribute(1);
  foldElementwise(nc, {0}, [](ArrayRef<DimExpr> v) { return std::optional(v[0]); });
  if (x.constant && x.constant.isSplat() && nc.output(0).hasStaticShape())
    setConstantValue(nc.output(0),
                     mlir::DenseElementsAttr::get(
                         nc.outputType(0),
                         *x.constant.getValues<mlir::Attribute>().begin()));
  return Error::success();
}

Error emitExpand(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  mlir::Value shape;
  if (!nc.isConsumedAsAttribute(1)) {
    auto s = nc.operand(1);
    if (!s)
      return s.takeError();
    shape = *s;
  }
  nc.setResult(0, nc.builder().create<llmc::ExpandOp>(nc.loc(), nc.outputType(0),
                                                      *x, shape));
  return Error::success();
}

} // namespace

void llmc::onnx_import::registerShapeOps(OpRegistry &r) {
  constexpr int64_t lo = kMinOpset, hi = kMaxOpset;
  r.add({"", "Constant", lo, hi, inferConstant, emitNothing});
  r.add({"", "ConstantOfShape", lo, hi, inferConstantOfShape, emitConstantOfShape});
  r.add({"", "Shape", lo, hi, inferShape, emitShape});
  r.add({"", "Range", lo, hi, inferRange, emitRange});
  r.add({"", "Reshape", lo, hi, inferReshape, emitReshapeNode});
  r.add({"", "Unsqueeze", lo, hi, inferUnsqueeze, emitReshapeNode});
  r.add({"", "Squeeze", lo, hi, inferSqueeze, emitSqueeze});
  r.add({"", "Flatten", lo, hi, inferFlatten, emitReshapeNode});
  r.add({"", "Expand", lo, hi, inferExpand, emitExpand});
}
