//===- OpsElementwise.cpp - Elementwise ONNX operators ---------------------===//
//
// Add Sub Mul Div Pow Max Min, Equal Less Greater LessOrEqual
// GreaterOrEqual, And Or Not, Where, unary math (Neg Abs Sqrt Reciprocal
// Exp Log Tanh Sigmoid Erf Cos Sin Relu Gelu), Cast CastLike Identity
// Dropout. Integer contents are folded (shape arithmetic).
//
//===----------------------------------------------------------------------===//

#include "OpHelpers.h"
#include "OpRegistry.h"

#include "llmc/LLMCOps.h"

using namespace llmc::onnx_import;
using llvm::ArrayRef;
using llvm::Error;

namespace {

using FoldFn = std::optional<DimExpr> (*)(ArrayRef<DimExpr>);

DimExpr boolExpr(bool v) { return DimExpr::constant(v ? 1 : 0); }

/// a == b when decidable: structurally equal, two constants, or a
/// non-negative (dim-like) expression against a negative constant.
std::optional<bool> decideEqual(const DimExpr &a, const DimExpr &b) {
  if (a == b)
    return true;
  auto ca = a.getConstant(), cb = b.getConstant();
  if (ca && cb)
    return *ca == *cb;
  if ((cb && *cb < 0 && a.isNonNegative()) || (ca && *ca < 0 && b.isNonNegative()))
    return false;
  return std::nullopt;
}

std::optional<bool> decideLess(const DimExpr &a, const DimExpr &b) {
  auto ca = a.getConstant(), cb = b.getConstant();
  if (ca && cb)
    return *ca < *cb;
  if (a == b)
    return false;
  return std::nullopt;
}

template <typename T>
std::optional<DimExpr> fromBool(std::optional<T> v) {
  if (!v)
    return std::nullopt;
  return boolExpr(*v);
}

// --- Binary ------------------------------------------------------------------

Error inferBinaryWith(NodeContext &nc, bool boolResult, FoldFn fold) {
  if (!nc.hasInput(0) || !nc.hasInput(1))
    return nc.error("expects two inputs");
  TensorInfo &a = nc.input(0), &b = nc.input(1);
  if (nc.opType() != "Pow" && a.elemType != b.elemType)
    return nc.error("inputs have different element types");
  auto dims = broadcastShapes(nc, {a.dims, b.dims});
  if (!dims)
    return dims.takeError();
  mlir::Type elem =
      boolResult ? mlir::IntegerType::get(nc.getContext(), 1) : a.elemType;
  nc.setOutput(0, elem, *dims);
  if (fold)
    foldElementwise(nc, {0, 1}, fold);
  return Error::success();
}

template <FoldFn F> Error inferArith(NodeContext &nc) {
  return inferBinaryWith(nc, false, F);
}
template <FoldFn F> Error inferCompare(NodeContext &nc) {
  return inferBinaryWith(nc, true, F);
}
Error inferPow(NodeContext &nc) {
  if (!llvm::isa<mlir::FloatType>(nc.hasInput(0) ? nc.input(0).elemType
                                                 : mlir::Type()))
    return nc.error("integer Pow is not supported");
  return inferBinaryWith(nc, false, nullptr);
}

std::optional<DimExpr> foldAdd(ArrayRef<DimExpr> v) { return add(v[0], v[1]); }
std::optional<DimExpr> foldSub(ArrayRef<DimExpr> v) { return sub(v[0], v[1]); }
std::optional<DimExpr> foldMul(ArrayRef<DimExpr> v) { return mul(v[0], v[1]); }
std::optional<DimExpr> foldDiv(ArrayRef<DimExpr> v) { return div(v[0], v[1]); }
std::optional<DimExpr> foldMax(ArrayRef<DimExpr> v) {
  auto l = decideLess(v[0], v[1]);
  if (!l)
    return std::nullopt;
  return *l ? v[1] : v[0];
}
std::optional<DimExpr> foldMin(ArrayRef<DimExpr> v) {
  auto l = decideLess(v[0], v[1]);
  if (!l)
    return std::nullopt;
  return *l ? v[0] : v[1];
}
std::optional<DimExpr> foldEqual(ArrayRef<DimExpr> v) {
  return fromBool(decideEqual(v[0], v[1]));
}
std::optional<DimExpr> foldLess(ArrayRef<DimExpr> v) {
  return fromBool(decideLess(v[0], v[1]));
}
std::optional<DimExpr> foldGreater(ArrayRef<DimExpr> v) {
  return fromBool(decideLess(v[1], v[0]));
}
std::optional<DimExpr> foldLessEqual(ArrayRef<DimExpr> v) {
  auto l = decideLess(v[1], v[0]);
  if (!l)
    return std::nullopt;
  return boolExpr(!*l);
}
std::optional<DimExpr> foldGreaterEqual(ArrayRef<DimExpr> v) {
  auto l = decideLess(v[0], v[1]);
  if (!l)
    return std::nullopt;
  return boolExpr(!*l);
}
std::optional<DimExpr> foldAnd(ArrayRef<DimExpr> v) {
  auto a = v[0].getConstant(), b = v[1].getConstant();
  if ((a && !*a) || (b && !*b))
    return boolExpr(false);
  if (a && b)
    return boolExpr(true);
  return std::nullopt;
}
std::optional<DimExpr> foldOr(ArrayRef<DimExpr> v) {
  auto a = v[0].getConstant(), b = v[1].getConstant();
  if ((a && *a) || (b && *b))
    return boolExpr(true);
  if (a && b)
    return boolExpr(false);
  return std::nullopt;
}

template <typename OpT> Error emitBinary(NodeContext &nc) {
  auto lhs = nc.operand(0);
  if (!lhs)
    return lhs.takeError();
  auto rhs = nc.operand(1);
  if (!rhs)
    return rhs.takeError();
  // A flattened operand ([batch * seq, N], GraphImporter::Flattened) with
  // the other one the same for every row (a bias): computed on the
  // unflattened rows, so that a later view(size_out) restores them (a
  // Conv1D written as matmul + bias).
  auto sameForEveryRow = [](mlir::Value v) {
    auto t = llvm::cast<mlir::RankedTensorType>(v.getType());
    return t.getRank() <= 1 || (t.getRank() == 2 && t.getDimSize(0) == 1);
  };
  auto &flattened = nc.importer().flattened;
  const bool lhsRows = flattened.count(*lhs) && sameForEveryRow(*rhs);
  const bool rhsRows = !lhsRows && flattened.count(*rhs) && sameForEveryRow(*lhs);
  if ((lhsRows || rhsRows) && nc.output(0).rank() == 2) {
    auto y = emitOnRows(nc, lhsRows ? *lhs : *rhs, true,
                        [&](mlir::Value rows, mlir::RankedTensorType type)
                            -> llvm::Expected<mlir::Value> {
                          return nc.builder()
                              .create<OpT>(nc.loc(), type, lhsRows ? rows : *lhs,
                                           lhsRows ? *rhs : rows)
                              .getResult();
                        });
    if (!y)
      return y.takeError();
    nc.setResult(0, *y);
    return Error::success();
  }
  nc.setResult(0, nc.builder().create<OpT>(nc.loc(), nc.outputType(0), *lhs, *rhs));
  return Error::success();
}

Error emitPow(NodeContext &nc) {
  auto lhs = nc.operand(0);
  if (!lhs)
    return lhs.takeError();
  auto rhs = nc.operand(1);
  if (!rhs)
    return rhs.takeError();
  mlir::Value exponent = *rhs;
  auto et = llvm::cast<mlir::RankedTensorType>(exponent.getType());
  mlir::Type elem = nc.output(0).elemType;
  if (et.getElementType() != elem)
    exponent = nc.builder().create<llmc::CastOp>(
        nc.loc(), mlir::RankedTensorType::get(et.getShape(), elem), exponent);
  nc.setResult(0, nc.builder().create<llmc::PowOp>(nc.loc(), nc.outputType(0),
                                                   *lhs, exponent));
  return Error::success();
}

// Max / Min are variadic.
template <FoldFn F> Error inferVariadic(NodeContext &nc) {
  llvm::SmallVector<ArrayRef<DimExpr>> shapes;
  if (nc.numInputs() == 0)
    return nc.error("expects at least one input");
  for (unsigned i = 0; i < nc.numInputs(); ++i) {
    if (!nc.hasInput(i))
      return nc.error("has an empty input");
    if (nc.input(i).elemType != nc.input(0).elemType)
      return nc.error("inputs have different element types");
    shapes.push_back(nc.input(i).dims);
  }
  auto dims = broadcastShapes(nc, shapes);
  if (!dims)
    return dims.takeError();
  nc.setOutput(0, nc.input(0).elemType, *dims);
  if (nc.numInputs() == 2)
    foldElementwise(nc, {0, 1}, F);
  return Error::success();
}

template <typename OpT> Error emitVariadic(NodeContext &nc) {
  auto acc = nc.operand(0);
  if (!acc)
    return acc.takeError();
  mlir::Value v = *acc;
  llvm::SmallVector<ArrayRef<DimExpr>> shapes = {nc.input(0).dims};
  for (unsigned i = 1; i < nc.numInputs(); ++i) {
    auto rhs = nc.operand(i);
    if (!rhs)
      return rhs.takeError();
    shapes.push_back(nc.input(i).dims);
    mlir::RankedTensorType type = nc.outputType(0);
    if (i + 1 < nc.numInputs()) {
      auto dims = broadcastShapes(nc, shapes);
      if (!dims)
        return dims.takeError();
      TensorInfo tmp;
      tmp.elemType = nc.output(0).elemType;
      tmp.dims = *dims;
      type = tensorTypeOf(tmp);
    }
    v = nc.builder().create<OpT>(nc.loc(), type, v, *rhs);
  }
  nc.setResult(0, v);
  return Error::success();
}

// --- Clip ------------------------------------------------------------------------

Error inferSameAsInput(NodeContext &nc);

Error inferClip(NodeContext &nc) {
  if (Error err = inferSameAsInput(nc))
    return err;
  for (unsigned i = 1; i < 3; ++i)
    if (nc.hasInput(i) && (nc.input(i).rank() != 0 ||
                           nc.input(i).elemType != nc.input(0).elemType))
      return nc.error("min and max must be scalars of the input's type");
  return Error::success();
}

Error emitClip(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  mlir::Value v = *x;
  if (nc.hasInput(2)) { // min(x, max)
    auto hi = nc.operand(2);
    if (!hi)
      return hi.takeError();
    v = nc.builder().create<llmc::MinOp>(nc.loc(), nc.outputType(0), v, *hi);
  }
  if (nc.hasInput(1)) { // max(., min)
    auto lo = nc.operand(1);
    if (!lo)
      return lo.takeError();
    v = nc.builder().create<llmc::MaxOp>(nc.loc(), nc.outputType(0), v, *lo);
  }
  nc.setResult(0, v);
  return Error::success();
}

// --- Where ---------------------------------------------------------------------

Error inferWhere(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.hasInput(1) || !nc.hasInput(2))
    return nc.error("expects three inputs");
  TensorInfo &c = nc.input(0), &x = nc.input(1), &y = nc.input(2);
  if (!c.elemType.isInteger(1))
    return nc.error("condition must be bool");
  if (x.elemType != y.elemType)
    return nc.error("the two value inputs have different element types");
  auto dims = broadcastShapes(nc, {c.dims, x.dims, y.dims});
  if (!dims)
    return dims.takeError();
  nc.setOutput(0, x.elemType, *dims);
  foldElementwise(nc, {0, 1, 2}, [](ArrayRef<DimExpr> v) -> std::optional<DimExpr> {
    if (v[1] == v[2])
      return v[1];
    auto c = v[0].getConstant();
    if (!c)
      return std::nullopt;
    return *c ? v[1] : v[2];
  });
  return Error::success();
}

Error emitWhere(NodeContext &nc) {
  llvm::SmallVector<mlir::Value, 3> ops;
  for (unsigned i = 0; i < 3; ++i) {
    auto v = nc.operand(i);
    if (!v)
      return v.takeError();
    ops.push_back(*v);
  }
  nc.setResult(0, nc.builder().create<llmc::WhereOp>(nc.loc(), nc.outputType(0),
                                                     ops[0], ops[1], ops[2]));
  return Error::success();
}

// --- Unary ---------------------------------------------------------------------

Error inferSameAsInput(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  TensorInfo &x = nc.input(0);
  nc.setOutput(0, x.elemType, x.dims);
  return Error::success();
}

Error inferFloatUnary(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  if (!llvm::isa<mlir::FloatType>(nc.input(0).elemType))
    return nc.error("expects a floating-point input");
  return inferSameAsInput(nc);
}

Error inferNeg(NodeContext &nc) {
  if (Error err = inferSameAsInput(nc))
    return err;
  foldElementwise(nc, {0}, [](ArrayRef<DimExpr> v) {
    return mul(v[0], DimExpr::constant(-1));
  });
  return Error::success();
}

Error inferAbs(NodeContext &nc) {
  if (Error err = inferSameAsInput(nc))
    return err;
  foldElementwise(nc, {0}, [](ArrayRef<DimExpr> v) -> std::optional<DimExpr> {
    if (v[0].isNonNegative())
      return v[0];
    if (auto c = v[0].getConstant())
      return DimExpr::constant(*c < 0 ? -*c : *c);
    return std::nullopt;
  });
  return Error::success();
}

Error inferNot(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.input(0).elemType.isInteger(1))
    return nc.error("expects a bool input");
  if (Error err = inferSameAsInput(nc))
    return err;
  foldElementwise(nc, {0}, [](ArrayRef<DimExpr> v) -> std::optional<DimExpr> {
    if (auto c = v[0].getConstant())
      return boolExpr(!*c);
    return std::nullopt;
  });
  return Error::success();
}

template <typename OpT> Error emitUnary(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  nc.setResult(0, nc.builder().create<OpT>(nc.loc(), nc.outputType(0), *x));
  return Error::success();
}

Error emitRelu(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  auto scalar = mlir::RankedTensorType::get({}, nc.output(0).elemType);
  mlir::Value zero = nc.constantOf(scalar, splatOf(scalar, 0.0));
  nc.setResult(0, nc.builder().create<llmc::MaxOp>(nc.loc(), nc.outputType(0),
                                                   *x, zero));
  return Error::success();
}

Error inferGelu(NodeContext &nc) {
  auto approx = nc.attrString("approximate", "none");
  if (!approx)
    return approx.takeError();
  if (*approx != "none" && *approx != "tanh")
    return nc.error("unknown approximate '" + *approx + "'");
  return inferFloatUnary(nc);
}

Error emitGelu(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  auto approx = nc.attrString("approximate", "none");
  if (!approx)
    return approx.takeError();
  auto attr = llmc::GeluApproximationAttr::get(
      nc.getContext(), *approx == "tanh" ? llmc::GeluApproximation::tanh
                                         : llmc::GeluApproximation::none);
  nc.setResult(0, nc.builder().create<llmc::GeluOp>(nc.loc(), nc.outputType(0),
                                                    *x, attr));
  return Error::success();
}

// --- Identity / Dropout --------------------------------------------------------

Error inferIdentity(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  if (nc.opType() == "Dropout" && nc.isOutputUsed(1))
    return nc.error("its mask output is used; only inference-mode Dropout "
                    "(output unused mask) is supported");
  TensorInfo &x = nc.input(0);
  TensorInfo &out = nc.setOutput(0, x.elemType, x.dims);
  out.content = x.content;
  out.constant = x.constant;
  if (nc.opType() == "Dropout" && nc.hasOutput(1))
    nc.setOutput(1, mlir::IntegerType::get(nc.getContext(), 1), x.dims);
  for (unsigned i = 1; i < nc.numInputs(); ++i)
    nc.consumeAsAttribute(i); // Dropout's ratio / training_mode
  return Error::success();
}

Error emitIdentity(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  nc.setResult(0, *x);
  return Error::success();
}

// --- Cast ------------------------------------------------------------------------

Error inferCastTo(NodeContext &nc, mlir::Type to) {
  TensorInfo &x = nc.input(0);
  TensorInfo &out = nc.setOutput(0, to, x.dims);
  bool fromInt = llvm::isa<mlir::IntegerType>(x.elemType);
  bool toInt = llvm::isa<mlir::IntegerType>(to);
  if (fromInt && toInt && x.content) {
    if (to.isInteger(1)) {
      foldElementwise(nc, {0}, [](ArrayRef<DimExpr> v) -> std::optional<DimExpr> {
        auto eq = decideEqual(v[0], DimExpr::constant(0));
        if (!eq)
          return std::nullopt;
        return boolExpr(!*eq);
      });
    } else {
      setContentValue(out, *x.content); // shape arithmetic: no overflow
    }
    return Error::success();
  }
  // Small constants of other types: convert the values.
  mlir::DenseElementsAttr c = x.constant;
  if (!c && x.isConstant())
    setContentValue(x, *x.content), c = x.constant;
  if (!c || c.getNumElements() > kMaxContentElements)
    return Error::success();
  auto type = tensorTypeOf(out);
  if (!type.hasStaticShape())
    return Error::success();
  llvm::SmallVector<mlir::Attribute> vals;
  auto elemAttrs = c.getValues<mlir::Attribute>();
  for (mlir::Attribute a : elemAttrs) {
    double v;
    if (auto f = llvm::dyn_cast<mlir::FloatAttr>(a))
      v = f.getValueAsDouble();
    else if (auto i = llvm::dyn_cast<mlir::IntegerAttr>(a))
      v = i.getType().isUnsignedInteger() || i.getType().isInteger(1)
              ? double(i.getValue().getZExtValue())
              : double(i.getValue().getSExtValue());
    else
      return Error::success();
    auto scalar = mlir::RankedTensorType::get({}, to);
    vals.push_back(*splatOf(scalar, toInt && !to.isInteger(1) ? double(int64_t(v))
                                    : to.isInteger(1) ? double(v != 0) : v)
                        .getValues<mlir::Attribute>()
                        .begin());
  }
  setConstantValue(out, mlir::DenseElementsAttr::get(type, vals));
  return Error::success();
}

Error inferCast(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  auto to = nc.attrInt("to", 0);
  if (!to)
    return to.takeError();
  mlir::Type t = elementTypeOf(nc.getContext(), int32_t(*to));
  if (!t)
    return nc.error("casts to unsupported type " + dataTypeName(int32_t(*to)));
  return inferCastTo(nc, t);
}

Error inferCastLike(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.hasInput(1))
    return nc.error("expects two inputs");
  nc.consumeAsAttribute(1);
  return inferCastTo(nc, nc.input(1).elemType);
}

Error emitCast(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  if (nc.input(0).elemType == nc.output(0).elemType) {
    nc.setResult(0, *x);
    return Error::success();
  }
  nc.setResult(0, nc.builder().create<llmc::CastOp>(nc.loc(), nc.outputType(0), *x));
  return Error::success();
}

} // namespace

void llmc::onnx_import::registerElementwiseOps(OpRegistry &r) {
  constexpr int64_t lo = kMinOpset, hi = kMaxOpset;
  r.add({"", "Add", lo, hi, inferArith<foldAdd>, emitBinary<llmc::AddOp>});
  r.add({"", "Sub", lo, hi, inferArith<foldSub>, emitBinary<llmc::SubOp>});
  r.add({"", "Mul", lo, hi, inferArith<foldMul>, emitBinary<llmc::MulOp>});
  r.add({"", "Div", lo, hi, inferArith<foldDiv>, emitBinary<llmc::DivOp>});
  r.add({"", "Pow", lo, hi, inferPow, emitPow});
  r.add({"", "Max", lo, hi, inferVariadic<foldMax>, emitVariadic<llmc::MaxOp>});
  r.add({"", "Min", lo, hi, inferVariadic<foldMin>, emitVariadic<llmc::MinOp>});
  r.add({"", "Sum", lo, hi, inferVariadic<foldAdd>, emitVariadic<llmc::AddOp>});
  r.add({"", "Clip", lo, hi, inferClip, emitClip});
  r.add({"", "Equal", lo, hi, inferCompare<foldEqual>, emitBinary<llmc::EqualOp>});
  r.add({"", "Less", lo, hi, inferCompare<foldLess>, emitBinary<llmc::LessOp>});
  r.add({"", "Greater", lo, hi, inferCompare<foldGreater>,
         emitBinary<llmc::GreaterOp>});
  r.add({"", "LessOrEqual", lo, hi, inferCompare<foldLessEqual>,
         emitBinary<llmc::LessEqualOp>});
  r.add({"", "GreaterOrEqual", lo, hi, inferCompare<foldGreaterEqual>,
         emitBinary<llmc::GreaterEqualOp>});
  r.add({"", "And", lo, hi, inferCompare<foldAnd>, emitBinary<llmc::AndOp>});
  r.add({"", "Or", lo, hi, inferCompare<foldOr>, emitBinary<llmc::OrOp>});
  r.add({"", "Not", lo, hi, inferNot, emitUnary<llmc::NotOp>});
  r.add({"", "Where", lo, hi, inferWhere, emitWhere});

  r.add({"", "Neg", lo, hi, inferNeg, emitUnary<llmc::NegOp>});
  r.add({"", "Abs", lo, hi, inferAbs, emitUnary<llmc::AbsOp>});
  r.add({"", "Sqrt", lo, hi, inferFloatUnary, emitUnary<llmc::SqrtOp>});
  r.add({"", "Reciprocal", lo, hi, inferFloatUnary,
         emitUnary<llmc::ReciprocalOp>});
  r.add({"", "Exp", lo, hi, inferFloatUnary, emitUnary<llmc::ExpOp>});
  r.add({"", "Log", lo, hi, inferFloatUnary, emitUnary<llmc::LogOp>});
  r.add({"", "Tanh", lo, hi, inferFloatUnary, emitUnary<llmc::TanhOp>});
  r.add({"", "Sigmoid", lo, hi, inferFloatUnary, emitUnary<llmc::SigmoidOp>});
  r.add({"", "Erf", lo, hi, inferFloatUnary, emitUnary<llmc::ErfOp>});
  r.add({"", "Cos", lo, hi, inferFloatUnary, emitUnary<llmc::CosOp>});
  r.add({"", "Sin", lo, hi, inferFloatUnary, emitUnary<llmc::SinOp>});
  r.add({"", "Relu", lo, hi, inferSameAsInput, emitRelu});
  r.add({"", "Gelu", 20, hi, inferGelu, emitGelu});

  r.add({"", "Identity", lo, hi, inferIdentity, emitIdentity});
  r.add({"", "Dropout", lo, hi, inferIdentity, emitIdentity});
  r.add({"", "Cast", lo, hi, inferCast, emitCast});
  r.add({"", "CastLike", 15, hi, inferCastLike, emitCast});
}
