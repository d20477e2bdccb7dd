//===- ElementwiseShapeOps.cpp - Elementwise, reduction and shape ops ----===//

#include "llmc/OpEval/ElementwiseShapeOps.h"

#include "llmc/LLMCOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include <cmath>
#include <functional>
#include <numeric>

using namespace llmc;
using namespace llmc::ref;
using llvm::Error;

llvm::Error llmc::ref::opError(mlir::Operation *op, const llvm::Twine &msg) {
  std::string loc;
  llvm::raw_string_ostream os(loc);
  op->getLoc().print(os);
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "'" + op->getName().getStringRef() + "' at " +
                                     os.str() + ": " + msg);
}

llvm::Expected<RefTensor> llmc::ref::makeResult(mlir::Operation *op, unsigned i,
                                                std::vector<int64_t> shape) {
  auto type = llvm::dyn_cast<mlir::RankedTensorType>(op->getResult(i).getType());
  if (!type)
    return opError(op, "result is not a ranked tensor");
  if (type.getRank() != int64_t(shape.size()))
    return opError(op, "computed rank " + llvm::Twine(shape.size()) +
                           " but the result type has rank " +
                           llvm::Twine(type.getRank()));
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (!type.isDynamicDim(d) && type.getDimSize(d) != shape[d])
      return opError(op, "computed dim " + llvm::Twine(d) + " = " +
                             llvm::Twine(shape[d]) +
                             " but the result type says " +
                             llvm::Twine(type.getDimSize(d)));
  // Shapes computed from values (constant_of_shape, expand, range) may be
  // anything in an untrusted model: a bound instead of an allocation failure.
  int64_t elements = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return opError(op, "computed a negative dimension " + llvm::Twine(d));
    if (d != 0 && elements > kMaxHostElements / d)
      return opError(op, "the result would have more than " +
                             llvm::Twine(kMaxHostElements) +
                             " elements, more than are evaluated on the host");
    elements *= d;
  }
  auto kind = elementKindOf(type.getElementType());
  if (!kind)
    return kind.takeError();
  return RefTensor(std::move(shape), *kind);
}

/// A dimension computed as a value: finite, and small enough that the
/// element count check sees it (int64_t(x) of NaN or 1e300 is undefined).
static int64_t toDim(double x) {
  if (!(x >= -1.0) || !(x <= double(kMaxHostElements) + 1.0))
    return x < 0 ? -1 : kMaxHostElements + 1;
  return int64_t(x);
}

llvm::Expected<RefTensor> llmc::ref::tensorFromAttr(mlir::Operation *op,
                                                    mlir::ElementsAttr attr) {
  auto type = llvm::cast<mlir::RankedTensorType>(attr.getType());
  auto kind = elementKindOf(type.getElementType());
  if (!kind)
    return kind.takeError();
  RefTensor t(type.getShape().vec(), *kind);
  int64_t i = 0;
  if (isFloat(*kind)) {
    auto values = attr.tryGetValues<llvm::APFloat>();
    if (!values)
      return opError(op, "cannot read the constant's float values");
    for (llvm::APFloat v : *values)
      t.data[i++] = v.convertToDouble();
  } else {
    auto values = attr.tryGetValues<llvm::APInt>();
    if (!values)
      return opError(op, "cannot read the constant's integer values");
    for (llvm::APInt v : *values)
      t.data[i++] = *kind == ElementKind::Bool ? double(v.getBoolValue())
                                               : double(v.getSExtValue());
  }
  return t;
}


namespace {

using Operands = llvm::ArrayRef<const RefTensor *>;

int64_t normAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

Error binary(mlir::Operation *op, Operands in, std::vector<RefTensor> &out,
             const std::function<double(double, double)> &f) {
  auto shape = broadcastShapes(in[0]->shape, in[1]->shape);
  if (!shape)
    return opError(op, llvm::toString(shape.takeError()));
  auto r = makeResult(op, 0, *shape);
  if (!r)
    return r.takeError();
  std::vector<std::vector<int64_t>> strides = {
      broadcastStrides(in[0]->shape, *shape), broadcastStrides(in[1]->shape, *shape)};
  const auto &a = in[0]->data, &b = in[1]->data;
  forEachBroadcast(*shape, strides, [&](int64_t i, const std::vector<int64_t> &o) {
    r->data[i] = f(a[o[0]], b[o[1]]);
  });
  out.push_back(std::move(*r));
  return Error::success();
}

Error unary(mlir::Operation *op, Operands in, std::vector<RefTensor> &out,
            const std::function<double(double)> &f) {
  auto r = makeResult(op, 0, in[0]->shape);
  if (!r)
    return r.takeError();
  for (int64_t i = 0; i < r->numel(); ++i)
    r->data[i] = f(in[0]->data[i]);
  out.push_back(std::move(*r));
  return Error::success();
}

Error reduce(mlir::Operation *op, Operands in, llvm::ArrayRef<int64_t> axesAttr,
             bool keepdims, std::vector<RefTensor> &out, int kind /*0 mean 1 sum 2 max*/) {
  const RefTensor &x = *in[0];
  std::vector<bool> reduced(x.rank(), axesAttr.empty());
  for (int64_t a : axesAttr)
    reduced[normAxis(a, x.rank())] = true;
  std::vector<int64_t> keptShape, outShape;
  for (int64_t d = 0; d < x.rank(); ++d) {
    keptShape.push_back(reduced[d] ? 1 : x.shape[d]);
    if (!reduced[d] || keepdims)
      outShape.push_back(reduced[d] ? 1 : x.shape[d]);
  }
  auto r = makeResult(op, 0, outShape);
  if (!r)
    return r.takeError();
  RefTensor acc(keptShape, ElementKind::F64);
  std::vector<int64_t> count(acc.numel(), 0);
  if (kind == 2)
    std::fill(acc.data.begin(), acc.data.end(), -INFINITY);
  std::vector<std::vector<int64_t>> strides = {broadcastStrides(keptShape, x.shape)};
  forEachBroadcast(x.shape, strides, [&](int64_t i, const std::vector<int64_t> &o) {
    double v = x.data[i];
    acc.data[o[0]] = kind == 2 ? std::max(acc.data[o[0]], v) : acc.data[o[0]] + v;
    ++count[o[0]];
  });
  for (int64_t i = 0; i < acc.numel(); ++i)
    r->data[i] = kind == 0 ? acc.data[i] / std::max<int64_t>(count[i], 1) : acc.data[i];
  out.push_back(std::move(*r));
  return Error::success();
}

// Copy `x` into the region of `r` selected by per-dim start/step (strided).
Error sliceOp(SliceOp op, const RefTensor &x, std::vector<RefTensor> &out) {
  const int64_t rank = x.rank();
  std::vector<int64_t> start(rank, 0), step(rank, 1), shape = x.shape;
  llvm::ArrayRef<int64_t> starts = op.getStarts(), ends = op.getEnds();
  std::vector<int64_t> axes(starts.size()), steps(starts.size(), 1);
  std::iota(axes.begin(), axes.end(), 0);
  if (auto a = op.getAxes())
    axes.assign(a->begin(), a->end());
  if (auto s = op.getSteps())
    steps.assign(s->begin(), s->end());
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t ax = normAxis(axes[i], rank), dim = x.shape[ax], st = steps[i];
    if (st == 0)
      return opError(op, "slice step 0");
    // ONNX Slice: negative values count from the back, then clamp to
    // [0, dim] for positive steps and [-1, dim-1] for negative ones.
    auto clampIdx = [&](int64_t v) {
      if (v < 0)
        v += dim;
      return st > 0 ? std::clamp<int64_t>(v, 0, dim) : std::clamp<int64_t>(v, -1, dim - 1);
    };
    int64_t b = clampIdx(starts[i]), e = clampIdx(ends[i]);
    int64_t n = st > 0 ? (e - b + st - 1) / st : (b - e + (-st) - 1) / (-st);
    start[ax] = b;
    step[ax] = st;
    shape[ax] = std::max<int64_t>(n, 0);
  }
  auto r = makeResult(op, 0, shape);
  if (!r)
    return r.takeError();
  std::vector<int64_t> xs = x.strides(), srcStrides(rank);
  int64_t base = 0;
  for (int64_t d = 0; d < rank; ++d) {
    base += start[d] * xs[d];
    srcStrides[d] = step[d] * xs[d];
  }
  forEachBroadcast(shape, {srcStrides}, [&](int64_t i, const std::vector<int64_t> &o) {
    r->data[i] = x.data[base + o[0]];
  });
  out.push_back(std::move(*r));
  return Error::success();
}

Error concatAlong(mlir::Operation *op, Operands in, int64_t axis,
                  std::vector<RefTensor> &out) {
  std::vector<int64_t> shape = in[0]->shape;
  axis = normAxis(axis, int64_t(shape.size()));
  shape[axis] = 0;
  for (const RefTensor *t : in)
    shape[axis] += t->shape[axis];
  auto r = makeResult(op, 0, shape);
  if (!r)
    return r.takeError();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d)
    inner *= shape[d];
  int64_t pos = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (const RefTensor *t : in) {
      int64_t n = t->shape[axis] * inner;
      std::copy_n(t->data.begin() + o * n, n, r->data.begin() + pos);
      pos += n;
    }
  out.push_back(std::move(*r));
  return Error::success();
}

} // namespace

Error llmc::ref::evalElementwiseOrShapeOp(mlir::Operation *op, Operands in,
                                          std::vector<RefTensor> &out, bool &handled) {
  handled = true;
  auto isInt = [&] {
    auto t = llvm::cast<mlir::RankedTensorType>(op->getResult(0).getType());
    return t.getElementType().isIntOrIndex();
  };
  // Binary arithmetic and comparisons.
  if (llvm::isa<AddOp>(op))
    return binary(op, in, out, std::plus<double>());
  if (llvm::isa<SubOp>(op))
    return binary(op, in, out, std::minus<double>());
  if (llvm::isa<MulOp>(op))
    return binary(op, in, out, std::multiplies<double>());
  if (llvm::isa<DivOp>(op)) {
    bool integer = isInt();
    return binary(op, in, out, [integer](double a, double b) {
      return integer ? (b == 0 ? 0 : std::trunc(a / b)) : a / b;
    });
  }
  if (llvm::isa<PowOp>(op))
    return binary(op, in, out, [](double a, double b) { return std::pow(a, b); });
  if (llvm::isa<MaxOp>(op))
    return binary(op, in, out, [](double a, double b) { return std::max(a, b); });
  if (llvm::isa<MinOp>(op))
    return binary(op, in, out, [](double a, double b) { return std::min(a, b); });
  if (llvm::isa<EqualOp>(op))
    return binary(op, in, out, [](double a, double b) { return double(a == b); });
  if (llvm::isa<GreaterOp>(op))
    return binary(op, in, out, [](double a, double b) { return double(a > b); });
  if (llvm::isa<LessOp>(op))
    return binary(op, in, out, [](double a, double b) { return double(a < b); });
  if (llvm::isa<LessEqualOp>(op))
    return binary(op, in, out, [](double a, double b) { return double(a <= b); });
  if (llvm::isa<GreaterEqualOp>(op))
    return binary(op, in, out, [](double a, double b) { return double(a >= b); });
  if (llvm::isa<AndOp>(op))
    return binary(op, in, out, [](double a, double b) { return double(a && b); });
  if (llvm::isa<OrOp>(op))
    return binary(op, in, out, [](double a, double b) { return double(a || b); });
  if (llvm::isa<WhereOp>(op)) {
    auto s1 = broadcastShapes(in[0]->shape, in[1]->shape);
    if (!s1)
      return opError(op, llvm::toString(s1.takeError()));
    auto shape = broadcastShapes(*s1, in[2]->shape);
    if (!shape)
      return opError(op, llvm::toString(shape.takeError()));
    auto r = makeResult(op, 0, *shape);
    if (!r)
      return r.takeError();
    std::vector<std::vector<int64_t>> strides;
    for (const RefTensor *t : in)
      strides.push_back(broadcastStrides(t->shape, *shape));
    forEachBroadcast(*shape, strides, [&](int64_t i, const std::vector<int64_t> &o) {
      r->data[i] = in[0]->data[o[0]] != 0 ? in[1]->data[o[1]] : in[2]->data[o[2]];
    });
    out.push_back(std::move(*r));
    return Error::success();
  }

  // Unary.
  if (llvm::isa<NegOp>(op))
    return unary(op, in, out, [](double x) { return -x; });
  if (llvm::isa<AbsOp>(op))
    return unary(op, in, out, [](double x) { return std::fabs(x); });
  if (llvm::isa<SqrtOp>(op))
    return unary(op, in, out, [](double x) { return std::sqrt(x); });
  if (llvm::isa<RsqrtOp>(op))
    return unary(op, in, out, [](double x) { return 1.0 / std::sqrt(x); });
  if (llvm::isa<ReciprocalOp>(op))
    return unary(op, in, out, [](double x) { return 1.0 / x; });
  if (llvm::isa<ExpOp>(op))
    return unary(op, in, out, [](double x) { return std::exp(x); });
  if (llvm::isa<LogOp>(op))
    return unary(op, in, out, [](double x) { return std::log(x); });
  if (llvm::isa<TanhOp>(op))
    return unary(op, in, out, [](double x) { return std::tanh(x); });
  if (llvm::isa<SigmoidOp>(op))
    return unary(op, in, out, [](double x) { return 1.0 / (1.0 + std::exp(-x)); });
  if (llvm::isa<ErfOp>(op))
    return unary(op, in, out, [](double x) { return std::erf(x); });
  if (llvm::isa<CosOp>(op))
    return unary(op, in, out, [](double x) { return std::cos(x); });
  if (llvm::isa<SinOp>(op))
    return unary(op, in, out, [](double x) { return std::sin(x); });
  if (llvm::isa<SiluOp>(op))
    return unary(op, in, out, [](double x) { return x / (1.0 + std::exp(-x)); });
  if (llvm::isa<NotOp>(op))
    return unary(op, in, out, [](double x) { return double(x == 0); });
  if (llvm::isa<CastOp>(op)) // rounding to the result kind does the work
    return unary(op, in, out, [](double x) { return x; });

  // Reductions and softmax.
  if (auto r = llvm::dyn_cast<ReduceMeanOp>(op))
    return reduce(op, in, r.getAxes(), r.getKeepdims(), out, 0);
  if (auto r = llvm::dyn_cast<ReduceSumOp>(op))
    return reduce(op, in, r.getAxes(), r.getKeepdims(), out, 1);
  if (auto r = llvm::dyn_cast<ReduceMaxOp>(op))
    return reduce(op, in, r.getAxes(), r.getKeepdims(), out, 2);

  // Shape and data movement.
  if (auto r = llvm::dyn_cast<ReshapeOp>(op)) {
    const RefTensor &x = *in[0];
    std::vector<int64_t> shape(r.getShape().begin(), r.getShape().end());
    int64_t known = 1, inferAt = -1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 0)
        shape[d] = x.shape[d];
      if (shape[d] == -1)
        inferAt = int64_t(d);
      else
        known *= shape[d];
    }
    if (inferAt >= 0)
      shape[inferAt] = known ? x.numel() / known : 0;
    auto res = makeResult(op, 0, shape);
    if (!res)
      return res.takeError();
    if (res->numel() != x.numel())
      return opError(op, "reshape of " + x.shapeString() + " to " + res->shapeString());
    res->data = x.data;
    out.push_back(std::move(*res));
    return Error::success();
  }
  if (auto t = llvm::dyn_cast<TransposeOp>(op)) {
    const RefTensor &x = *in[0];
    llvm::ArrayRef<int64_t> perm = t.getPerm();
    std::vector<int64_t> shape, srcStrides;
    std::vector<int64_t> xs = x.strides();
    for (int64_t p : perm) {
      shape.push_back(x.shape[p]);
      srcStrides.push_back(xs[p]);
    }
    auto res = makeResult(op, 0, shape);
    if (!res)
      return res.takeError();
    forEachBroadcast(shape, {srcStrides}, [&](int64_t i, const std::vector<int64_t> &o) {
      res->data[i] = x.data[o[0]];
    });
    out.push_back(std::move(*res));
    return Error::success();
  }
  if (auto c = llvm::dyn_cast<ConcatOp>(op))
    return concatAlong(op, in, c.getAxisAttr().getInt(), out);
  if (auto s = llvm::dyn_cast<SliceOp>(op))
    return sliceOp(s, *in[0], out);
  if (auto s = llvm::dyn_cast<SplitOp>(op)) {
    const RefTensor &x = *in[0];
    int64_t axis = normAxis(s.getAxisAttr().getInt(), x.rank());
    std::vector<int64_t> sizes;
    if (auto given = s.getSizes())
      sizes.assign(given->begin(), given->end());
    else
      sizes.assign(op->getNumResults(), x.shape[axis] / op->getNumResults());
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d)
      outer *= x.shape[d];
    for (int64_t d = axis + 1; d < x.rank(); ++d)
      inner *= x.shape[d];
    int64_t begin = 0;
    for (unsigned i = 0; i < op->getNumResults(); ++i) {
      std::vector<int64_t> shape = x.shape;
      shape[axis] = sizes[i];
      auto res = makeResult(op, i, shape);
      if (!res)
        return res.takeError();
      for (int64_t o = 0; o < outer; ++o)
        std::copy_n(x.data.begin() + (o * x.shape[axis] + begin) * inner,
                    sizes[i] * inner, res->data.begin() + o * sizes[i] * inner);
      begin += sizes[i];
      out.push_back(std::move(*res));
    }
    return Error::success();
  }
  if (auto e = llvm::dyn_cast<ExpandOp>(op)) {
    auto type = llvm::cast<mlir::RankedTensorType>(e.getType());
    std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
    const RefTensor &x = *in[0];
    for (int64_t d = 0; d < type.getRank(); ++d) {
      int64_t xd = d - (type.getRank() - x.rank());
      if (in.size() > 1)
        shape[d] = toDim(in[1]->data[d]);
      else if (type.isDynamicDim(d))
        shape[d] = xd >= 0 ? x.shape[xd] : 1;
      // ONNX Expand: a shape entry of 1 keeps the input's dim.
      if (xd >= 0 && shape[d] == 1)
        shape[d] = x.shape[xd];
    }
    auto res = makeResult(op, 0, shape);
    if (!res)
      return res.takeError();
    forEachBroadcast(shape, {broadcastStrides(x.shape, shape)},
                     [&](int64_t i, const std::vector<int64_t> &o) {
                       res->data[i] = x.data[o[0]];
                     });
    out.push_back(std::move(*res));
    return Error::success();
  }
  if (auto g = llvm::dyn_cast<GatherOp>(op)) {
    const RefTensor &data = *in[0], &idx = *in[1];
    int64_t axis = normAxis(g.getAxisAttr().getInt(), data.rank());
    std::vector<int64_t> shape(data.shape.begin(), data.shape.begin() + axis);
    shape.insert(shape.end(), idx.shape.begin(), idx.shape.end());
    shape.insert(shape.end(), data.shape.begin() + axis + 1, data.shape.end());
    auto res = makeResult(op, 0, shape);
    if (!res)
      return res.takeError();
    int64_t outer = 1, inner = 1, dim = data.shape[axis];
    for (int64_t d = 0; d < axis; ++d)
      outer *= data.shape[d];
    for (int64_t d = axis + 1; d < data.rank(); ++d)
      inner *= data.shape[d];
    int64_t pos = 0;
    for (int64_t o = 0; o < outer; ++o)
      for (double iv : idx.data) {
        int64_t i = int64_t(iv);
        if (i < 0)
          i += dim;
        if (i < 0 || i >= dim)
          return opError(op, "index " + llvm::Twine(int64_t(iv)) +
                                 " out of range for dim " + llvm::Twine(dim));
        std::copy_n(data.data.begin() + (o * dim + i) * inner, inner,
                    res->data.begin() + pos);
        pos += inner;
      }
    out.push_back(std::move(*res));
    return Error::success();
  }
  if (llvm::isa<RangeOp>(op)) {
    double start = in[0]->data[0], limit = in[1]->data[0], delta = in[2]->data[0];
    int64_t n = std::max<int64_t>(toDim(std::ceil((limit - start) / delta)), 0);
    auto res = makeResult(op, 0, {n});
    if (!res)
      return res.takeError();
    for (int64_t i = 0; i < n; ++i)
      res->data[i] = start + double(i) * delta;
    out.push_back(std::move(*res));
    return Error::success();
  }
  if (auto t = llvm::dyn_cast<TriluOp>(op)) {
    const RefTensor &x = *in[0];
    auto res = makeResult(op, 0, x.shape);
    if (!res)
      return res.takeError();
    int64_t rows = x.shape[x.rank() - 2], cols = x.shape[x.rank() - 1];
    int64_t k = t.getKAttr().getInt();
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t col = i % cols, row = (i / cols) % rows;
      bool keep = t.getUpper() ? col - row >= k : col - row <= k;
      res->data[i] = keep ? x.data[i] : 0.0;
    }
    out.push_back(std::move(*res));
    return Error::success();
  }
  if (llvm::isa<ShapeOfOp>(op)) {
    const RefTensor &x = *in[0];
    auto res = makeResult(op, 0, {x.rank()});
    if (!res)
      return res.takeError();
    for (int64_t d = 0; d < x.rank(); ++d)
      res->data[d] = double(x.shape[d]);
    out.push_back(std::move(*res));
    return Error::success();
  }
  if (auto c = llvm::dyn_cast<ConstantOfShapeOp>(op)) {
    std::vector<int64_t> shape;
    for (double d : in[0]->data)
      shape.push_back(toDim(d));
    auto res = makeResult(op, 0, shape);
    if (!res)
      return res.takeError();
    double v = 0;
    if (auto f = llvm::dyn_cast<mlir::FloatAttr>(c.getValue()))
      v = f.getValueAsDouble();
    else if (auto i = llvm::dyn_cast<mlir::IntegerAttr>(c.getValue()))
      v = double(i.getValue().getSExtValue());
    else if (auto e = llvm::dyn_cast<mlir::DenseElementsAttr>(c.getValue()))
      v = isFloat(res->kind) ? (*e.getValues<llvm::APFloat>().begin()).convertToDouble()
                             : double((*e.getValues<llvm::APInt>().begin()).getSExtValue());
    std::fill(res->data.begin(), res->data.end(), v);
    out.push_back(std::move(*res));
    return Error::success();
  }
  handled = false;
  return Error::success();
}
