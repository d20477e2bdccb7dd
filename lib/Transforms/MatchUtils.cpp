//===- MatchUtils.cpp - Helpers shared by the fusion patterns -------------===//

#include "MatchUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <cmath>

using namespace mlir;

namespace llmc::match {

int64_t normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < 0)
    axis += rank;
  return (axis >= 0 && axis < rank) ? axis : -1;
}

//===----------------------------------------------------------------------===//
// Constants
//===----------------------------------------------------------------------===//

static DenseElementsAttr denseOf(Value v) {
  auto c = v.getDefiningOp<ConstantOp>();
  if (!c)
    return {};
  return llvm::dyn_cast<DenseElementsAttr>(c.getValue());
}

static double toDouble(APFloat f) {
  bool lost = false;
  f.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &lost);
  return f.convertToDouble();
}

std::optional<double> getSplatFloat(Value v) {
  DenseElementsAttr d = denseOf(v);
  if (!d || !d.isSplat() || !llvm::isa<FloatType>(d.getElementType()))
    return std::nullopt;
  return toDouble(d.getSplatValue<APFloat>());
}

std::optional<int64_t> getSplatInt(Value v) {
  DenseElementsAttr d = denseOf(v);
  if (!d || !d.isSplat() || !llvm::isa<IntegerType>(d.getElementType()) ||
      d.getElementType().isInteger(1))
    return std::nullopt;
  return d.getSplatValue<APInt>().getSExtValue();
}

static bool allDimsOne(Value v) {
  auto t = tensorTypeOf(v);
  return t && llvm::all_of(t.getShape(), [](int64_t d) { return d == 1; });
}

std::optional<double> getScalarFloat(Value v) {
  return allDimsOne(v) ? getSplatFloat(v) : std::nullopt;
}

std::optional<int64_t> getScalarInt(Value v) {
  return allDimsOne(v) ? getSplatInt(v) : std::nullopt;
}

std::optional<SmallVector<double>> getFloatValues(Value v) {
  DenseElementsAttr d = denseOf(v);
  if (!d || !llvm::isa<FloatType>(d.getElementType()))
    return std::nullopt;
  SmallVector<double> out;
  for (APFloat f : d.getValues<APFloat>())
    out.push_back(toDouble(f));
  return out;
}

bool isClose(double a, double b, double relTol) {
  return std::fabs(a - b) <= relTol * std::fabs(b) + 1e-30;
}

//===----------------------------------------------------------------------===//
// Casts
//===----------------------------------------------------------------------===//

Value peelFloatCasts(Value v) {
  while (auto cast = v.getDefiningOp<CastOp>()) {
    auto in = tensorTypeOf(cast.getX());
    auto out = tensorTypeOf(cast.getResult());
    if (!in || !out || !llvm::isa<FloatType>(in.getElementType()) ||
        !llvm::isa<FloatType>(out.getElementType()))
      break;
    v = cast.getX();
  }
  return v;
}

//===----------------------------------------------------------------------===//
// Reshapes, slices
//===----------------------------------------------------------------------===//

bool reshapeRegroups(ReshapeOp op, ArrayRef<SmallVector<int64_t, 2>> groups) {
  auto in = tensorTypeOf(op.getX());
  auto out = tensorTypeOf(op.getResult());
  ArrayRef<int64_t> shape = op.getShape();
  if (!in || !out || static_cast<int64_t>(groups.size()) != out.getRank() ||
      shape.size() != groups.size())
    return false;
  // The groups cover the input dims in order.
  int64_t next = 0;
  for (const auto &g : groups)
    for (int64_t d : g)
      if (d != next++)
        return false;
  if (next != in.getRank())
    return false;

  int inferred = 0;
  for (auto [i, g] : llvm::enumerate(groups)) {
    std::optional<int64_t> product = 1;
    for (int64_t d : g) {
      int64_t size = in.getDimSize(d);
      if (!isStaticDim(size))
        product = std::nullopt;
      else if (product)
        *product *= size;
    }
    int64_t outDim = out.getDimSize(i);
    if (product && !dimsCompatible(outDim, *product))
      return false;
    int64_t e = shape[i];
    if (e == -1) {
      // Inferred from the element count: right when every other dim is.
      if (++inferred > 1)
        return false;
      continue;
    }
    if (e == 0) {
      int64_t idx = static_cast<int64_t>(i);
      bool copiesSame = g.size() == 1 && g[0] == idx;
      bool equalStatic = product && idx < in.getRank() &&
                         in.getDimSize(idx) == *product;
      if (!copiesSame && !equalStatic)
        return false;
      continue;
    }
    if (!product || *product != e)
      return false;
  }
  return true;
}

static SmallVector<SmallVector<int64_t, 2>> identityGroups(int64_t rank) {
  SmallVector<SmallVector<int64_t, 2>> groups;
  for (int64_t d = 0; d < rank; ++d)
    groups.push_back({d});
  return groups;
}

Value matchUnsqueeze(Value v, int64_t axis) {
  auto op = v.getDefiningOp<ReshapeOp>();
  if (!op)
    return {};
  int64_t inRank = rankOf(op.getX());
  axis = normalizeAxis(axis, inRank + 1);
  if (axis < 0 || rankOf(v) != inRank + 1)
    return {};
  auto groups = identityGroups(inRank);
  groups.insert(groups.begin() + axis, SmallVector<int64_t, 2>{});
  return reshapeRegroups(op, groups) ? op.getX() : Value();
}

Value matchMergeDims(Value v, int64_t axis) {
  auto op = v.getDefiningOp<ReshapeOp>();
  if (!op)
    return {};
  int64_t inRank = rankOf(op.getX());
  axis = normalizeAxis(axis, inRank);
  if (axis < 0 || axis + 1 >= inRank || rankOf(v) != inRank - 1)
    return {};
  SmallVector<SmallVector<int64_t, 2>> groups;
  for (int64_t d = 0; d < inRank; ++d) {
    if (d == axis + 1)
      groups.back().push_back(d);
    else
      groups.push_back({d});
  }
  return reshapeRegroups(op, groups) ? op.getX() : Value();
}

Value matchPlaceVector(Value v, int64_t keep) {
  // Leading unit dims added by expand (no shape operand).
  while (auto e = v.getDefiningOp<ExpandOp>()) {
    if (e.getShape())
      return {};
    auto in = tensorTypeOf(e.getX()), out = tensorTypeOf(e.getResult());
    int64_t extra = out.getRank() - in.getRank();
    if (extra < 0 || !llvm::all_of(out.getShape().take_front(extra),
                                   [](int64_t d) { return d == 1; }))
      return {};
    if (keep >= 0)
      keep -= extra;
    v = e.getX();
  }
  int64_t rank = rankOf(v);
  if (rank == 1)
    return normalizeAxis(keep, 1) == 0 ? v : Value();
  auto op = v.getDefiningOp<ReshapeOp>();
  if (!op || rankOf(op.getX()) != 1)
    return {};
  keep = normalizeAxis(keep, rank);
  if (keep < 0)
    return {};
  SmallVector<SmallVector<int64_t, 2>> groups(rank);
  groups[keep] = {0};
  return reshapeRegroups(op, groups) ? op.getX() : Value();
}

std::optional<SliceInfo> matchSingleAxisSlice(Value v) {
  auto op = v.getDefiningOp<SliceOp>();
  if (!op || op.getStarts().size() != 1 || op.getEnds().size() != 1)
    return std::nullopt;
  SliceInfo info;
  info.x = op.getX();
  int64_t rank = rankOf(info.x);
  info.axis = normalizeAxis(op.getAxes() ? (*op.getAxes())[0] : 0, rank);
  info.step = op.getSteps() ? (*op.getSteps())[0] : 1;
  if (info.axis < 0 || info.step <= 0)
    return std::nullopt;
  int64_t n = tensorTypeOf(info.x).getDimSize(info.axis);
  if (!isStaticDim(n))
    return std::nullopt;
  auto clampIdx = [n](int64_t i) {
    if (i < 0)
      i += n;
    return std::clamp<int64_t>(i, 0, n);
  };
  info.start = clampIdx(op.getStarts()[0]);
  info.end = clampIdx(op.getEnds()[0]);
  return info;
}

//===----------------------------------------------------------------------===//
// Products
//===----------------------------------------------------------------------===//

static void flattenInto(Value v, Product &p, int depth) {
  if (depth > 16) {
    p.factors.push_back(v);
    return;
  }
  if (auto c = getScalarFloat(v)) {
    p.scale *= *c;
    return;
  }
  if (auto mul = v.getDefiningOp<MulOp>()) {
    flattenInto(mul.getLhs(), p, depth + 1);
    flattenInto(mul.getRhs(), p, depth + 1);
    return;
  }
  if (auto div = v.getDefiningOp<DivOp>()) {
    if (auto c = getScalarFloat(div.getRhs()); c && *c != 0.0) {
      flattenInto(div.getLhs(), p, depth + 1);
      p.scale /= *c;
      return;
    }
  }
  if (auto neg = v.getDefiningOp<NegOp>()) {
    flattenInto(neg.getX(), p, depth + 1);
    p.scale = -p.scale;
    return;
  }
  if (auto pow = v.getDefiningOp<PowOp>()) {
    if (auto e = getScalarFloat(pow.getRhs());
        e && (*e == 2.0 || *e == 3.0 || *e == 4.0)) {
      for (int i = 0; i < static_cast<int>(*e); ++i)
        flattenInto(pow.getLhs(), p, depth + 1);
      return;
    }
  }
  p.factors.push_back(v);
}

Product flattenProduct(Value v) {
  Product p;
  flattenInto(v, p, 0);
  return p;
}

Value peelScalarScale(Value v, double &scale) {
  while (true) {
    v = peelFloatCasts(v);
    Value inner;
    double factor = 1.0;
    bool matched = matchBinary<MulOp>(v, [&](Value a, Value b) {
      if (auto c = getScalarFloat(b)) {
        inner = a;
        factor = *c;
        return true;
      }
      return false;
    });
    if (!matched) {
      if (auto div = v.getDefiningOp<DivOp>()) {
        if (auto c = getScalarFloat(div.getRhs()); c && *c != 0.0) {
          inner = div.getLhs();
          factor = 1.0 / *c;
          matched = true;
        }
      }
    }
    if (!matched)
      return v;
    scale *= factor;
    v = inner;
  }
}

//===----------------------------------------------------------------------===//
// Runtime dimensions
//===----------------------------------------------------------------------===//

DimRoot traceDim(Value v, int64_t d) {
  for (int steps = 0; steps < 256; ++steps) {
    Operation *op = v.getDefiningOp();
    int64_t rank = rankOf(v);
    if (!op || d < 0 || d >= rank)
      break;
    Value next;
    int64_t nd = d;
    if (op->hasTrait<mlir::OpTrait::SameOperandsAndResultShape>() ||
        isa<CastOp, RMSNormOp, LayerNormOp, RopeOp, SoftmaxOp, GeluOp>(op)) {
      next = op->getOperand(0);
    } else if (op->hasTrait<llmc::OpTrait::BroadcastShapes>()) {
      // The first operand that has this dim and does not broadcast it.
      for (Value operand : op->getOperands()) {
        int64_t r = rankOf(operand);
        int64_t od = d - (rank - r);
        if (od < 0)
          continue;
        if (tensorTypeOf(operand).getDimSize(od) == 1 &&
            tensorTypeOf(v).getDimSize(d) != 1)
          continue;
        next = operand;
        nd = od;
        break;
      }
    } else if (auto t = dyn_cast<TransposeOp>(op)) {
      next = t.getX();
      nd = t.getPerm()[d];
    } else if (auto r = dyn_cast<ReshapeOp>(op)) {
      if (r.getShape()[d] == 0)
        next = r.getX();
    } else if (auto c = dyn_cast<ConcatOp>(op)) {
      if (normalizeAxis(c.getAxis(), rank) != d)
        next = c.getInputs().front();
    } else if (auto s = dyn_cast<SliceOp>(op)) {
      ArrayRef<int64_t> axes =
          s.getAxes() ? *s.getAxes() : ArrayRef<int64_t>();
      bool sliced = false;
      for (size_t i = 0; i < s.getStarts().size(); ++i) {
        int64_t a = s.getAxes() ? axes[i] : static_cast<int64_t>(i);
        sliced |= normalizeAxis(a, rank) == d;
      }
      if (!sliced)
        next = s.getX();
    } else if (auto m = dyn_cast<MatMulOp>(op)) {
      int64_t ra = rankOf(m.getA()), rb = rankOf(m.getB());
      if (d == rank - 1 && rb >= 2) {
        next = m.getB();
        nd = rb - 1;
      } else if (d == rank - 2 && ra >= 2) {
        next = m.getA();
        nd = ra - 2;
      } else if (d < rank - 2 && d - (rank - ra) >= 0) {
        next = m.getA();
        nd = d - (rank - ra);
      }
    } else if (auto g = dyn_cast<GatherOp>(op)) {
      int64_t axis = normalizeAxis(g.getAxis(), rankOf(g.getData()));
      int64_t ri = rankOf(g.getIndices());
      if (d < axis) {
        next = g.getData();
      } else if (d < axis + ri) {
        next = g.getIndices();
        nd = d - axis;
      } else {
        next = g.getData();
        nd = d - ri + 1;
      }
    } else if (auto mm = dyn_cast<MergedMatMulOp>(op)) {
      if (d < rank - 1)
        next = mm.getX();
    } else if (auto sp = dyn_cast<SplitOp>(op)) {
      if (normalizeAxis(sp.getAxis(), rank) != d)
        next = sp.getX();
    } else if (auto a = dyn_cast<AttentionOp>(op)) {
      // Batch and sequence (and, heads-first, heads) of out are q's.
      if (v == a.getOut() && d < rank - 1)
        next = a.getQ();
    } else if (auto s = dyn_cast<SwiGLUOp>(op)) {
      if (d < rank - 1)
        next = s.getGate();
    }
    if (!next)
      break;
    v = next;
    d = nd;
  }
  return {v, d};
}

static std::optional<std::string> argDimName(Value v, int64_t d) {
  auto arg = llvm::dyn_cast<BlockArgument>(v);
  if (!arg)
    return std::nullopt;
  auto fn = llvm::dyn_cast_or_null<func::FuncOp>(arg.getOwner()->getParentOp());
  if (!fn)
    return std::nullopt;
  auto dims = fn.getArgAttrOfType<ArrayAttr>(arg.getArgNumber(), "llmc.dims");
  if (!dims || d >= static_cast<int64_t>(dims.size()))
    return std::nullopt;
  auto name = llvm::dyn_cast<StringAttr>(dims[d]);
  if (!name || name.getValue().empty() || name.getValue() == "?")
    return std::nullopt;
  return name.getValue().str();
}

bool sameDim(Value a, int64_t da, Value b, int64_t db) {
  int64_t sa = tensorTypeOf(a).getDimSize(da), sb = tensorTypeOf(b).getDimSize(db);
  if (isStaticDim(sa) || isStaticDim(sb))
    return sa == sb;
  DimRoot ra = traceDim(a, da), rb = traceDim(b, db);
  if (ra.value == rb.value && ra.dim == rb.dim)
    return true;
  auto na = argDimName(ra.value, ra.dim), nb = argDimName(rb.value, rb.dim);
  return na && nb && *na == *nb;
}

std::optional<DimRoot> matchShapeDim(Value s) {
  while (true) {
    if (auto c = s.getDefiningOp<CastOp>())
      s = c.getX();
    else if (auto r = s.getDefiningOp<ReshapeOp>())
      s = r.getX();
    else
      break;
  }
  Value shape;
  int64_t index = 0;
  if (auto g = s.getDefiningOp<GatherOp>()) {
    auto i = getSplatInt(g.getIndices());
    if (!i || tensorTypeOf(g.getIndices()).getNumElements() != 1)
      return std::nullopt;
    shape = g.getData();
    index = *i;
  } else if (auto info = matchSingleAxisSlice(s)) {
    if (info->end != info->start + 1)
      return std::nullopt;
    shape = info->x;
    index = info->start;
  } else {
    return std::nullopt;
  }
  auto of = shape.getDefiningOp<ShapeOfOp>();
  if (!of)
    return std::nullopt;
  int64_t d = normalizeAxis(index, rankOf(of.getX()));
  if (d < 0)
    return std::nullopt;
  return DimRoot{of.getX(), d};
}

Value peelScalarPlumbing(Value v) {
  while (true) {
    if (auto c = v.getDefiningOp<CastOp>()) {
      v = c.getX();
    } else if (auto r = v.getDefiningOp<ReshapeOp>()) {
      v = r.getX();
    } else if (auto g = v.getDefiningOp<GatherOp>();
               g && tensorTypeOf(g.getData()) &&
               tensorTypeOf(g.getData()).hasStaticShape() &&
               tensorTypeOf(g.getData()).getNumElements() == 1) {
      v = g.getData();
    } else {
      return v;
    }
  }
}

} // namespace llmc::match
