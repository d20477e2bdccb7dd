//===- FuseRope.cpp - rotary position embedding fusion ---------------------===//
//
// Matches `x * C + rot(x) * S` (either operand order) where
//   rot = rotate_half:      concat(-x[..., h:], x[..., :h])            (half)
//         rotate_every_two: flatten(stack(-x[..., 1::2], x[..., 0::2]))
//                                                          (interleaved)
//   C/S = full-width tables [B|1, 1, S, D] that duplicate a half-width
//         table in the same convention (concat(t, t) / flatten(stack(t, t)))
//         either before or after cos/sin.
// and rewrites it to `llmc.rope conv x, cos, sin` with half-width tables.
// When the angles are `float(position_ids) * inv_freq` (or HF's
// `inv_freq @ position_ids` transposed), or the tables are constant caches
// gathered by position_ids whose values are checked, the tables become one
// `llmc.rope_cos_sin` of the positions: with theta when inv_freq is
// geometric (theta^(-2i/D)), with the frequencies themselves when they are
// not (scaled RoPE: linear, NTK, Llama 3, YaRN), and with the scalar both
// tables are multiplied by (YaRN's attention factor). Otherwise they are
// cos/sin of the matched half-width angles or the matched half-width tables
// themselves. A `llmc.rope` whose tables are half-width constant caches
// gathered by positions (ONNX Runtime's contrib ops, as imported) gets the
// same `llmc.rope_cos_sin` once the caches are checked.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace llmc {
#define GEN_PASS_DEF_FUSEROPE
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::match;

namespace {

//===----------------------------------------------------------------------===//
// rot(x)
//===----------------------------------------------------------------------===//

struct RotateMatch {
  Value x;
  RopeConvention convention;
};

/// A slice of the last axis of `x` with the given start/step covering
/// `count` elements; returns x.
static Value matchLastAxisSlice(Value v, int64_t start, int64_t step,
                                int64_t count) {
  auto s = matchSingleAxisSlice(v);
  if (!s || s->axis != rankOf(s->x) - 1 || s->start != start || s->step != step)
    return {};
  int64_t n = s->end > s->start ? (s->end - s->start + step - 1) / step : 0;
  return n == count ? s->x : Value();
}

static int64_t lastDim(Value v) {
  auto t = tensorTypeOf(v);
  return t.getDimSize(t.getRank() - 1);
}

/// A two-input concat along the last axis.
static ConcatOp matchLastAxisConcat(Value v) {
  auto c = v.getDefiningOp<ConcatOp>();
  if (!c || c.getInputs().size() != 2 ||
      normalizeAxis(c.getAxis(), rankOf(v)) != rankOf(v) - 1)
    return {};
  return c;
}

static std::optional<RotateMatch> matchRotateHalf(Value r) {
  ConcatOp c = matchLastAxisConcat(r);
  if (!c)
    return std::nullopt;
  int64_t d = lastDim(r);
  if (!isStaticDim(d) || d % 2)
    return std::nullopt;
  auto neg = c.getInputs()[0].getDefiningOp<NegOp>();
  if (!neg)
    return std::nullopt;
  Value x2 = matchLastAxisSlice(neg.getX(), d / 2, 1, d / 2);
  Value x1 = matchLastAxisSlice(c.getInputs()[1], 0, 1, d / 2);
  if (!x1 || x1 != x2 || lastDim(x1) != d)
    return std::nullopt;
  return RotateMatch{x1, RopeConvention::half};
}

static std::optional<RotateMatch> matchRotateEveryTwo(Value r) {
  Value stacked = matchMergeDims(r, -2);
  ConcatOp c = stacked ? matchLastAxisConcat(stacked) : ConcatOp();
  int64_t d = lastDim(r);
  if (!c || !isStaticDim(d) || d % 2)
    return std::nullopt;
  // First: unsqueeze(neg(odd)) or neg(unsqueeze(odd)); second: unsqueeze(even).
  Value first = c.getInputs()[0], odd;
  if (auto neg = first.getDefiningOp<NegOp>()) {
    odd = matchUnsqueeze(neg.getX(), -1);
  } else if (Value u = matchUnsqueeze(first, -1)) {
    if (auto neg = u.getDefiningOp<NegOp>())
      odd = neg.getX();
  }
  Value even = matchUnsqueeze(c.getInputs()[1], -1);
  if (!odd || !even)
    return std::nullopt;
  Value x1 = matchLastAxisSlice(odd, 1, 2, d / 2);
  Value x0 = matchLastAxisSlice(even, 0, 2, d / 2);
  if (!x0 || x0 != x1 || lastDim(x0) != d)
    return std::nullopt;
  return RotateMatch{x0, RopeConvention::interleaved};
}

//===----------------------------------------------------------------------===//
// Tables
//===----------------------------------------------------------------------===//

/// The half-width value `t` of a duplication `dup(t)` in `convention`.
static Value matchDuplicated(Value v, RopeConvention convention) {
  if (convention == RopeConvention::half) {
    ConcatOp c = matchLastAxisConcat(v);
    if (!c || c.getInputs()[0] != c.getInputs()[1])
      return {};
    return c.getInputs()[0];
  }
  Value stacked = matchMergeDims(v, -2);
  ConcatOp c = stacked ? matchLastAxisConcat(stacked) : ConcatOp();
  if (!c)
    return {};
  Value a = matchUnsqueeze(c.getInputs()[0], -1);
  Value b = matchUnsqueeze(c.getInputs()[1], -1);
  return (a && a == b) ? a : Value();
}

/// Where a half-width table comes from: trig of angles, or a given table;
/// or, with `cached` set, a full-width constant table gathered by position
/// ids (HF's `cos_cached[:T][position_ids]`), whose values are checked
/// against the standard ones before it is trusted.
struct TableSource {
  Value value;
  bool isAngles = false;
  Value cached, positions;
  /// A scalar the table is multiplied by (HF's `cos() * attention_scaling`).
  double factor = 1.0;
};

/// `v = gather(src, pos)` on axis 0 with `pos` integer [B, S] and `src` a
/// constant [N, D] or `gather(constant, range(0, n, 1))` (the slice
/// `[:seq_len]` with a run-time end). Returns (constant, pos).
static std::optional<std::pair<Value, Value>> matchCachedTable(Value v) {
  auto g = v.getDefiningOp<GatherOp>();
  if (!g || normalizeAxis(g.getAxis(), rankOf(g.getData())) != 0)
    return std::nullopt;
  Value pos = g.getIndices();
  auto pt = tensorTypeOf(pos);
  if (!pt || pt.getRank() != 2 ||
      !(pt.getElementType().isInteger(32) || pt.getElementType().isInteger(64)))
    return std::nullopt;
  Value src = g.getData();
  if (auto inner = src.getDefiningOp<GatherOp>()) {
    auto r = inner.getIndices().getDefiningOp<RangeOp>();
    if (!r || normalizeAxis(inner.getAxis(), rankOf(inner.getData())) != 0 ||
        getScalarInt(r.getStart()) != std::optional<int64_t>(0) ||
        getScalarInt(r.getDelta()) != std::optional<int64_t>(1))
      return std::nullopt;
    src = inner.getData();
  }
  auto st = tensorTypeOf(src);
  if (!st || st.getRank() != 2 || !st.hasStaticShape() ||
      !src.getDefiningOp<ConstantOp>())
    return std::nullopt;
  return std::make_pair(src, pos);
}

/// `full` is [B|1, 1, S, D]: unsqueeze(dup-and-trig(...), axis 1).
template <typename TrigOp>
static std::optional<TableSource> matchTable(Value full,
                                             RopeConvention convention) {
  auto ft = tensorTypeOf(full);
  if (!ft || ft.getRank() != 4 || ft.getDimSize(1) != 1)
    return std::nullopt;
  Value t = matchUnsqueeze(full, 1);
  if (!t)
    return std::nullopt;
  t = peelFloatCasts(t);
  double factor = 1.0;
  matchBinary<MulOp>(t, [&](Value table, Value scalar) {
    auto f = getScalarFloat(scalar);
    if (!f || !(*f > 0.0) || !std::isfinite(*f))
      return false;
    factor = *f;
    t = peelFloatCasts(table);
    return true;
  });
  if (auto cached = matchCachedTable(t))
    return TableSource{Value(), false, cached->first, cached->second, factor};
  if (auto trig = t.getDefiningOp<TrigOp>()) {
    // trig(dup(angles))
    if (Value angles = matchDuplicated(trig.getX(), convention))
      return TableSource{angles, true, Value(), Value(), factor};
    return std::nullopt;
  }
  Value half = matchDuplicated(t, convention);
  if (!half)
    return std::nullopt;
  Value inner = peelFloatCasts(half);
  if (auto trig = inner.getDefiningOp<TrigOp>())
    return TableSource{trig.getX(), true, Value(), Value(), factor};
  return TableSource{half, false, Value(), Value(), factor};
}

//===----------------------------------------------------------------------===//
// Angles from positions
//===----------------------------------------------------------------------===//

/// theta of a geometric inv_freq[i] = theta^(-2i/dim), or nothing.
static std::optional<double> inferTheta(ArrayRef<double> invFreq, int64_t dim) {
  int64_t n = invFreq.size();
  if (n == 0 || 2 * n != dim || !isClose(invFreq[0], 1.0, 1e-6))
    return std::nullopt;
  // With one frequency every theta gives the same angles.
  double theta = 10000.0;
  if (n > 1) {
    if (!(invFreq[n - 1] > 0.0))
      return std::nullopt;
    theta = std::pow(invFreq[n - 1], -double(dim) / (2.0 * double(n - 1)));
    double rounded = std::round(theta);
    if (std::fabs(theta - rounded) <= 1e-4 * theta)
      theta = rounded;
  }
  if (!(theta > 1.0) || !std::isfinite(theta))
    return std::nullopt;
  for (int64_t i = 0; i < n; ++i)
    if (!isClose(invFreq[i], std::pow(theta, -2.0 * double(i) / double(dim)),
                 1e-5))
      return std::nullopt;
  return theta;
}

/// Integer position ids [B, S] converted to float: cast(pos) possibly
/// reshaped with a unit dim at `axis` before or after the cast.
static Value matchFloatPositions(Value v, int64_t axis) {
  Value u = matchUnsqueeze(v, axis);
  Value pos;
  if (u) {
    auto cast = u.getDefiningOp<CastOp>();
    pos = cast ? cast.getX() : Value();
  } else if (auto cast = v.getDefiningOp<CastOp>()) {
    pos = matchUnsqueeze(cast.getX(), axis);
  }
  auto pt = pos ? tensorTypeOf(pos) : RankedTensorType();
  if (!pt || pt.getRank() != 2 || !llvm::isa<IntegerType>(pt.getElementType()) ||
      pt.getElementType().isInteger(1))
    return {};
  return pos;
}

/// The float values of a constant, looking through reshapes/expands.
static std::optional<SmallVector<double>> constantValues(Value v) {
  while (true) {
    if (auto r = v.getDefiningOp<ReshapeOp>())
      v = r.getX();
    else if (auto e = v.getDefiningOp<ExpandOp>())
      v = e.getX();
    else
      break;
  }
  return getFloatValues(v);
}

/// The rotary frequencies: theta^(-2i/D), or explicit ones no theta
/// describes; and the factor both tables are scaled by.
struct RopeFrequencies {
  double theta = 10000.0;
  std::optional<SmallVector<float>> invFreq;
  double attentionFactor = 1.0;
};

/// Frequencies from inv_freq values: theta when geometric, else the values
/// themselves (positive and finite).
static std::optional<RopeFrequencies> frequenciesOf(ArrayRef<double> invFreq,
                                                    int64_t dim) {
  if (auto theta = inferTheta(invFreq, dim))
    return RopeFrequencies{*theta, std::nullopt, 1.0};
  if (int64_t(invFreq.size()) * 2 != dim)
    return std::nullopt;
  SmallVector<float> values;
  for (double f : invFreq) {
    if (!(f > 0.0) || !std::isfinite(f))
      return std::nullopt;
    values.push_back(float(f));
  }
  return RopeFrequencies{10000.0, std::move(values), 1.0};
}

struct PositionAngles {
  Value positions;
  RopeFrequencies freqs;
};

/// angles [B, S, D/2] = float(pos)[B, S, 1] * inv_freq[D/2], or
/// transpose(inv_freq[*, D/2, 1] @ float(pos)[B, 1, S]).
static std::optional<PositionAngles> matchPositionAngles(Value angles,
                                                         int64_t dim) {
  auto at = tensorTypeOf(angles);
  if (!at || at.getRank() != 3)
    return std::nullopt;
  Value pos;
  std::optional<SmallVector<double>> invFreq;
  matchBinary<MulOp>(angles, [&](Value p, Value f) {
    auto ft = tensorTypeOf(f);
    if (!ft || !ft.hasStaticShape() || ft.getNumElements() * 2 != dim ||
        llvm::count_if(ft.getShape(), [](int64_t d) { return d != 1; }) > 1 ||
        (ft.getRank() > 0 && ft.getDimSize(ft.getRank() - 1) * 2 != dim))
      return false;
    pos = matchFloatPositions(p, -1);
    invFreq = pos ? getFloatValues(f) : std::nullopt;
    return static_cast<bool>(invFreq);
  });
  if (!invFreq) {
    auto t = angles.getDefiningOp<TransposeOp>();
    auto mm = t && t.getPerm() == ArrayRef<int64_t>{0, 2, 1}
                  ? t.getX().getDefiningOp<MatMulOp>()
                  : MatMulOp();
    auto ft = mm ? tensorTypeOf(mm.getA()) : RankedTensorType();
    if (!ft || ft.getRank() != 3 || ft.getDimSize(1) * 2 != dim ||
        ft.getDimSize(2) != 1)
      return std::nullopt;
    pos = matchFloatPositions(mm.getB(), 1);
    invFreq = pos ? constantValues(mm.getA()) : std::nullopt;
    if (!invFreq || static_cast<int64_t>(invFreq->size()) * 2 != dim)
      return std::nullopt;
  }
  auto freqs = frequenciesOf(*invFreq, dim);
  if (!freqs)
    return std::nullopt;
  return PositionAngles{pos, std::move(*freqs)};
}

/// The frequencies of constant tables `cosT`/`sinT` in `convention`, once
/// every entry is checked: full-width [N, D] (HF's caches), or with
/// `halfWidth` [N, D/2] (ONNX Runtime's cos_cache/sin_cache, one column per
/// frequency, either convention). Entry (p, col(i)) must be factor * cos/sin
/// of p * f_i computed in f32 as exporters do (full width: col(i) = i and
/// i + D/2 for `half`, 2i and 2i + 1 for `interleaved`; half width: i). Geometric
/// frequencies (theta from the angle of row 1 at frequency 1, factor 1) are
/// tried first; otherwise the factor is row 0's cosine and each f_i is read
/// from the angles of rows 1, 2, 4, ..., N - 1, each unwrapped with the
/// estimate of the row before (an f32 angle's error shrinks as 1/p).
static std::optional<RopeFrequencies>
verifyCachedTables(Value cosT, Value sinT, RopeConvention convention,
                   bool halfWidth = false) {
  auto ct = tensorTypeOf(cosT), st = tensorTypeOf(sinT);
  if (ct != st)
    return std::nullopt;
  // w columns per row; d the rotary dim.
  const int64_t n = ct.getDimSize(0), w = ct.getDimSize(1);
  const int64_t d = halfWidth ? 2 * w : w, half = d / 2, copies = halfWidth ? 1 : 2;
  auto cv = getFloatValues(cosT), sv = getFloatValues(sinT);
  if (d % 2 || half == 0 || n < 2 || !cv || !sv ||
      int64_t(cv->size()) != n * w || int64_t(sv->size()) != n * w)
    return std::nullopt;
  auto col = [&](int64_t i, int64_t k) {
    if (halfWidth)
      return i;
    return convention == RopeConvention::half ? i + k * half : 2 * i + k;
  };
  // f32 tables: rounding of the angle (an ulp of p * inv_freq) dominates;
  // f16/bf16 tables add their own rounding.
  Type et = ct.getElementType();
  const double base = (et.isF32() || et.isF64()) ? 2e-6 : 8e-3;
  auto matches = [&](double factor, llvm::function_ref<float(int64_t)> invFreqOf) {
    for (int64_t i = 0; i < half; ++i) {
      const float invFreq = invFreqOf(i);
      for (int64_t p = 0; p < n; ++p) {
        float angle = float(p) * invFreq;
        double tol = (base + 4e-7 * std::fabs(double(angle))) * factor;
        double c = factor * std::cos(double(angle)), sn = factor * std::sin(double(angle));
        for (int64_t k = 0; k < copies; ++k) {
          int64_t at = p * w + col(i, k);
          if (!(std::fabs((*cv)[at] - c) <= tol) || !(std::fabs((*sv)[at] - sn) <= tol))
            return false;
        }
      }
    }
    return true;
  };
  auto angleAt = [&](int64_t p, int64_t i) {
    return std::atan2((*sv)[p * w + col(i, 0)], (*cv)[p * w + col(i, 0)]);
  };

  double theta = 10000.0; // one frequency: every theta gives the same angles
  bool geometric = true;
  if (half > 1) {
    double a1 = angleAt(1, 1);
    geometric = a1 > 0.0 && a1 < 1.0;
    if (geometric) {
      theta = std::pow(a1, -double(d) / 2.0);
      double rounded = std::round(theta);
      if (std::fabs(theta - rounded) <= 1e-4 * theta)
        theta = rounded;
      geometric = theta > 1.0 && std::isfinite(theta);
    }
  }
  if (geometric && matches(1.0, [&](int64_t i) {
        return 1.0f / std::pow(float(theta), float(2 * i) / float(d));
      }))
    return RopeFrequencies{theta, std::nullopt, 1.0};

  const double factor = (*cv)[col(0, 0)];
  if (!(factor > 0.0) || !std::isfinite(factor))
    return std::nullopt;
  SmallVector<float> invFreq;
  for (int64_t i = 0; i < half; ++i) {
    double f = angleAt(1, i);
    if (!(f > 0.0))
      return std::nullopt;
    for (int64_t p = std::min<int64_t>(2, n - 1); p > 1;
         p = p == n - 1 ? 0 : std::min(2 * p, n - 1)) {
      const double measured = angleAt(p, i);
      const double turns = std::round((double(p) * f - measured) / (2.0 * M_PI));
      f = (measured + 2.0 * M_PI * turns) / double(p);
    }
    if (!(f > 0.0))
      return std::nullopt;
    invFreq.push_back(float(f));
  }
  if (!matches(factor, [&](int64_t i) { return invFreq[i]; }))
    return std::nullopt;
  return RopeFrequencies{10000.0, std::move(invFreq), factor};
}

//===----------------------------------------------------------------------===//
// The pattern
//===----------------------------------------------------------------------===//

struct RopeMatch {
  Value x;
  RopeConvention convention;
  TableSource cos, sin;
  std::optional<PositionAngles> positions; // set when both share them
};

/// Shape checks of a half-width table [B|1, S, D/2] against x [B, H, S, D].
static bool isValidHalfTable(Value t, Value x) {
  auto tt = tensorTypeOf(t);
  auto xt = tensorTypeOf(x);
  if (!tt || tt.getRank() != 3 || !llvm::isa<FloatType>(tt.getElementType()))
    return false;
  int64_t b = tt.getDimSize(0), s = tt.getDimSize(1), h = tt.getDimSize(2);
  int64_t xs = xt.getDimSize(2);
  // A static unit dim would broadcast over the sequence: not a rope table.
  if (s == 1 && xs != 1)
    return false;
  return (b == 1 || dimsCompatible(b, xt.getDimSize(0))) &&
         dimsCompatible(s, xs) && isStaticDim(h) && 2 * h == xt.getDimSize(3);
}

static FailureOr<RopeMatch> matchRope(AddOp root) {
  RopeMatch m;
  bool ok = matchBinary<AddOp>(root.getResult(), [&](Value xc, Value rs) {
    return matchBinary<MulOp>(rs, [&](Value r, Value sinFull) {
      std::optional<RotateMatch> rot = matchRotateHalf(r);
      if (!rot)
        rot = matchRotateEveryTwo(r);
      if (!rot || rot->x.getType() != root.getType() || rankOf(rot->x) != 4)
        return false;
      Value cosFull;
      matchBinary<MulOp>(xc, [&](Value a, Value b) {
        if (a == rot->x)
          cosFull = b;
        return a == rot->x;
      });
      if (!cosFull)
        return false;
      auto c = matchTable<CosOp>(cosFull, rot->convention);
      auto s = matchTable<SinOp>(sinFull, rot->convention);
      if (c && s && (c->cached || s->cached)) {
        // Cached tables: both, gathered by the same positions [B, S], of
        // x's head dim, with the standard values.
        auto xt = tensorTypeOf(rot->x);
        if (!c->cached || !s->cached || c->positions != s->positions ||
            tensorTypeOf(c->cached).getDimSize(1) != xt.getDimSize(3))
          return false;
        auto pt = tensorTypeOf(c->positions);
        if (!dimsCompatible(pt.getDimSize(0), xt.getDimSize(0)) ||
            !dimsCompatible(pt.getDimSize(1), xt.getDimSize(2)))
          return false;
        auto freqs = verifyCachedTables(c->cached, s->cached, rot->convention);
        if (!freqs || c->factor != s->factor)
          return false;
        freqs->attentionFactor *= c->factor;
        m = {rot->x, rot->convention, *c, *s,
             PositionAngles{c->positions, std::move(*freqs)}};
        return true;
      }
      if (!c || !s || !isValidHalfTable(c->value, rot->x) ||
          !isValidHalfTable(s->value, rot->x))
        return false;
      if (c->factor != s->factor)
        return false;
      m = {rot->x, rot->convention, *c, *s, std::nullopt};
      if (c->isAngles && s->isAngles && c->value == s->value)
        m.positions = matchPositionAngles(c->value, lastDim(rot->x));
      if (m.positions)
        m.positions->freqs.attentionFactor = c->factor;
      else if (c->factor != 1.0)
        return false; // explicit tables are used as they are
      // Explicit tables must agree in shape (llmc.rope needs equal types).
      return m.positions.has_value() ||
             tensorTypeOf(c->value).getShape() ==
                 tensorTypeOf(s->value).getShape();
    });
  });
  if (!ok)
    return failure();
  return m;
}

/// The half-width tables of `angles` for a rotary dim `dim`, of `elementType`.
static RopeCosSinOp buildCosSin(PatternRewriter &rewriter, Location loc,
                                const PositionAngles &angles, int64_t dim,
                                Type elementType, RopeConventionAttr convention) {
  auto pt = tensorTypeOf(angles.positions);
  auto tableType =
      RankedTensorType::get({pt.getDimSize(0), pt.getDimSize(1), dim / 2}, elementType);
  const RopeFrequencies &f = angles.freqs;
  return rewriter.create<RopeCosSinOp>(
      loc, tableType, tableType, angles.positions, /*use_long=*/Value(),
      rewriter.getF64FloatAttr(f.theta), rewriter.getI64IntegerAttr(dim), convention,
      f.invFreq ? rewriter.getDenseF32ArrayAttr(*f.invFreq) : DenseF32ArrayAttr(),
      rewriter.getF64FloatAttr(f.attentionFactor), DenseF32ArrayAttr(),
      rewriter.getF64FloatAttr(1.0));
}

/// The half-width tables of `angles` for x [B, H, S, D] of type `xt`.
static RopeCosSinOp buildCosSin(PatternRewriter &rewriter, Location loc,
                                const PositionAngles &angles, RankedTensorType xt,
                                RopeConventionAttr convention) {
  return buildCosSin(rewriter, loc, angles, xt.getDimSize(3), xt.getElementType(),
                     convention);
}

struct FuseRopePattern : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;

  /// A half-width table of x's element type.
  template <typename TrigOp>
  static Value buildTable(PatternRewriter &rewriter, Location loc,
                          const TableSource &src, Type elementType) {
    Value t = src.value;
    auto type = tensorTypeOf(t);
    if (src.isAngles)
      t = rewriter.create<TrigOp>(loc, type, t);
    if (type.getElementType() != elementType)
      t = rewriter.create<CastOp>(loc, type.clone(elementType), t);
    return t;
  }

  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<RopeMatch> m = matchRope(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "not a rotary embedding");
    Location loc = op.getLoc();
    auto xt = tensorTypeOf(m->x);
    auto convention = RopeConventionAttr::get(op.getContext(), m->convention);
    Value cos, sin;
    if (m->positions) {
      auto cs = buildCosSin(rewriter, loc, *m->positions, xt, convention);
      cos = cs.getCos();
      sin = cs.getSin();
    } else {
      cos = buildTable<CosOp>(rewriter, loc, m->cos, xt.getElementType());
      sin = buildTable<SinOp>(rewriter, loc, m->sin, xt.getElementType());
    }
    rewriter.replaceOpWithNewOp<RopeOp>(op, op.getType(), m->x, cos, sin,
                                        convention, IntegerAttr());
    return success();
  }
};

//===----------------------------------------------------------------------===//
// The pair form: rotate the pairs explicitly
//===----------------------------------------------------------------------===//
//
//   half:        concat(a*c - b*s, b*c + a*s) with a = x[..., :D/2],
//                b = x[..., D/2:], c/s = unsqueeze(half table, 1)
//   interleaved: the same on p = reshape(x, [..., D/2, 2]) with a = p[..., 0:1],
//                b = p[..., 1:2], c/s = the half table reshaped to
//                [B|1, 1, S, D/2, 1], and the result merged back to [..., D]
//                (Meta's complex multiplication written with real ops).

struct PairRopeMatch {
  Value x;
  RopeConvention convention;
  Value cos, sin; // half-width tables [B|1, S, D/2] (before trig folding)
  std::optional<PositionAngles> positions;
};

/// `u*c - v*s` (muls commuted freely); returns whether it matched.
static bool matchRotatedFirst(Value r, Value &u, Value &v, Value &c, Value &s) {
  auto sub = r.getDefiningOp<SubOp>();
  if (!sub)
    return false;
  auto split = [](Value m, Value &a, Value &b) {
    auto mul = m.getDefiningOp<MulOp>();
    if (!mul)
      return false;
    a = mul.getLhs();
    b = mul.getRhs();
    return true;
  };
  return split(sub.getLhs(), u, c) && split(sub.getRhs(), v, s);
}

/// Whether `r` is `v*c + u*s` for the given values (any operand order).
static bool matchRotatedSecond(Value r, Value u, Value v, Value c, Value s) {
  auto isProduct = [](Value m, Value a, Value b) {
    auto mul = m.getDefiningOp<MulOp>();
    return mul && ((mul.getLhs() == a && mul.getRhs() == b) ||
                   (mul.getLhs() == b && mul.getRhs() == a));
  };
  return matchBinary<AddOp>(r, [&](Value p, Value q) {
    return isProduct(p, v, c) && isProduct(q, u, s);
  });
}

/// The half table behind a broadcast table: unsqueeze at 1 (half) or
/// [B|1, 1, S, D/2, 1] (interleaved).
static Value matchPairTable(Value t, RopeConvention convention) {
  if (convention == RopeConvention::half)
    return rankOf(t) == 4 ? matchUnsqueeze(t, 1) : Value();
  auto r = t.getDefiningOp<ReshapeOp>();
  if (!r || rankOf(t) != 5 || rankOf(r.getX()) != 3)
    return {};
  SmallVector<SmallVector<int64_t, 2>> groups = {{0}, {}, {1}, {2}, {}};
  return reshapeRegroups(r, groups) ? r.getX() : Value();
}

/// `p = reshape(x, [..., D/2, 2])` splitting the last dim into pairs.
static Value matchPairSplit(Value p) {
  auto r = p.getDefiningOp<ReshapeOp>();
  if (!r || rankOf(p) != rankOf(r.getX()) + 1)
    return {};
  auto in = tensorTypeOf(r.getX()), out = tensorTypeOf(p);
  int64_t rank = in.getRank(), d = in.getDimSize(rank - 1);
  ArrayRef<int64_t> shape = r.getShape();
  if (!isStaticDim(d) || d % 2 || shape[rank] != 2 || shape[rank - 1] != d / 2)
    return {};
  for (int64_t i = 0; i < rank - 1; ++i) {
    bool copies = shape[i] == 0 ||
                  (isStaticDim(in.getDimSize(i)) && shape[i] == in.getDimSize(i));
    if (!copies || !dimsCompatible(out.getDimSize(i), in.getDimSize(i)))
      return {};
  }
  return r.getX();
}

static FailureOr<PairRopeMatch> matchPairRope(ConcatOp concat,
                                              RopeConvention convention,
                                              Type resultType) {
  if (concat.getInputs().size() != 2 ||
      normalizeAxis(concat.getAxis(), rankOf(concat)) != rankOf(concat) - 1)
    return failure();
  Value u, v, c, s;
  if (!matchRotatedFirst(concat.getInputs()[0], u, v, c, s))
    return failure();
  // The muls are commutative: try the orders of (u, c) and (v, s).
  for (int order = 0; order < 4; ++order) {
    Value a = (order & 1) ? c : u, ct = (order & 1) ? u : c;
    Value b = (order & 2) ? s : v, st = (order & 2) ? v : s;
    if (!matchRotatedSecond(concat.getInputs()[1], a, b, ct, st))
      continue;
    Value x;
    if (convention == RopeConvention::half) {
      int64_t d = lastDim(concat);
      if (!isStaticDim(d) || d % 2)
        continue;
      Value xa = matchLastAxisSlice(a, 0, 1, d / 2);
      Value xb = matchLastAxisSlice(b, d / 2, 1, d / 2);
      if (!xa || xa != xb || lastDim(xa) != d)
        continue;
      x = xa;
    } else {
      Value pa = matchLastAxisSlice(a, 0, 1, 1);
      Value pb = matchLastAxisSlice(b, 1, 1, 1);
      if (!pa || pa != pb || lastDim(pa) != 2)
        continue;
      x = matchPairSplit(pa);
      if (!x)
        continue;
    }
    if (rankOf(x) != 4 || x.getType() != resultType)
      continue;
    Value ch = matchPairTable(ct, convention);
    Value sh = matchPairTable(st, convention);
    if (!ch || !sh || !isValidHalfTable(ch, x) || !isValidHalfTable(sh, x))
      continue;
    PairRopeMatch m{x, convention, ch, sh, std::nullopt};
    auto cosOp = peelFloatCasts(ch).getDefiningOp<CosOp>();
    auto sinOp = peelFloatCasts(sh).getDefiningOp<SinOp>();
    if (cosOp && sinOp && cosOp.getX() == sinOp.getX())
      m.positions = matchPositionAngles(cosOp.getX(), lastDim(x));
    if (!m.positions &&
        tensorTypeOf(ch).getShape() != tensorTypeOf(sh).getShape())
      continue;
    return m;
  }
  return failure();
}

/// Builds the rope for a pair-form match and replaces `root` with it.
static void rewritePairRope(PatternRewriter &rewriter, Operation *root,
                            const PairRopeMatch &m) {
  Location loc = root->getLoc();
  auto xt = tensorTypeOf(m.x);
  auto convention = RopeConventionAttr::get(root->getContext(), m.convention);
  Value cos = m.cos, sin = m.sin;
  if (m.positions) {
    auto cs = buildCosSin(rewriter, loc, *m.positions, xt, convention);
    cos = cs.getCos();
    sin = cs.getSin();
  } else {
    for (Value *t : {&cos, &sin})
      if (tensorTypeOf(*t).getElementType() != xt.getElementType())
        *t = rewriter.create<CastOp>(
            loc, tensorTypeOf(*t).clone(xt.getElementType()), *t);
  }
  rewriter.replaceOpWithNewOp<RopeOp>(root, xt, m.x, cos, sin, convention, IntegerAttr());
}

struct FusePairRopeHalf : OpRewritePattern<ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConcatOp op,
                                PatternRewriter &rewriter) const override {
    if (rankOf(op) != 4)
      return failure();
    auto m = matchPairRope(op, RopeConvention::half, op.getType());
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "not a pair-form rope");
    rewritePairRope(rewriter, op, *m);
    return success();
  }
};

struct FusePairRopeInterleaved : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    Value stacked = matchMergeDims(op.getResult(), -2);
    auto concat = stacked ? stacked.getDefiningOp<ConcatOp>() : ConcatOp();
    if (!concat || rankOf(concat) != 5)
      return failure();
    auto m = matchPairRope(concat, RopeConvention::interleaved, op.getType());
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "not a pair-form rope");
    rewritePairRope(rewriter, op, *m);
    return success();
  }
};

/// Partial rotary (Phi, GPT-NeoX, GPT-J): `concat(rope(x[..., :R]),
/// x[..., R:])` along the head dim is `rope(x)` with R/2-wide tables: the
/// op rotates the first R dims of each head and passes the rest through.
struct FusePartialRope : OpRewritePattern<ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConcatOp op,
                                PatternRewriter &rewriter) const override {
    const int64_t rank = rankOf(op);
    if (rank != 4 || op.getInputs().size() != 2 ||
        normalizeAxis(op.getAxis(), rank) != rank - 1)
      return failure();
    auto rope = op.getInputs()[0].getDefiningOp<RopeOp>();
    if (!rope || rope.getNumHeads() || !rope->hasOneUse())
      return rewriter.notifyMatchFailure(op, "the first part is not a rope");
    auto rot = matchSingleAxisSlice(rope.getX());
    auto pass = matchSingleAxisSlice(op.getInputs()[1]);
    if (!rot || !pass || rot->x != pass->x || rot->x.getType() != op.getType() ||
        rot->axis != rank - 1 || pass->axis != rank - 1 || rot->step != 1 ||
        pass->step != 1 || rot->start != 0 || pass->start != rot->end ||
        pass->end != op.getType().getDimSize(rank - 1))
      return rewriter.notifyMatchFailure(op, "not x[..., :R] and x[..., R:]");
    rewriter.replaceOpWithNewOp<RopeOp>(op, op.getType(), rot->x, rope.getCos(),
                                        rope.getSin(), rope.getConventionAttr(),
                                        IntegerAttr());
    return success();
  }
};

/// `rope(x, C[pos], S[pos])` with C/S constant half-width caches [N, R/2]
/// (ONNX Runtime's cos_cache/sin_cache, gathered by RotaryEmbedding and
/// GroupQueryAttention) whose entries are the standard ones: the tables
/// become `llmc.rope_cos_sin` of the positions, computed at any position
/// instead of read from a cache.
struct RopeTablesFromCaches : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    auto c = matchCachedTable(op.getCos());
    auto s = matchCachedTable(op.getSin());
    if (!c || !s || c->second != s->second)
      return rewriter.notifyMatchFailure(op, "tables are not caches gathered by one "
                                             "position tensor");
    auto freqs = verifyCachedTables(c->first, s->first, op.getConvention(),
                                    /*halfWidth=*/true);
    if (!freqs)
      return rewriter.notifyMatchFailure(op, "cache entries are not a rotary table");
    const int64_t dim = 2 * tensorTypeOf(c->first).getDimSize(1);
    auto cs = buildCosSin(rewriter, op.getLoc(), PositionAngles{c->second, std::move(*freqs)},
                          dim, tensorTypeOf(op.getX()).getElementType(),
                          op.getConventionAttr());
    rewriter.replaceOpWithNewOp<RopeOp>(op, op.getType(), op.getX(), cs.getCos(),
                                        cs.getSin(), op.getConventionAttr(),
                                        op.getNumHeadsAttr());
    return success();
  }
};

/// `v` without the zero rows an If's import appended to make its branches
/// one shape (concat(v, zeros) on axis 0; OpsControlFlow.cpp).
static Value withoutZeroRows(Value v) {
  auto c = v.getDefiningOp<ConcatOp>();
  if (!c || c.getInputs().size() != 2 || normalizeAxis(c.getAxis(), rankOf(v)) != 0)
    return v;
  auto pad = getFloatValues(c.getInputs()[1]);
  if (!pad || llvm::any_of(*pad, [](double x) { return x != 0.0; }))
    return v;
  return c.getInputs()[0];
}

/// LongRoPE's caches as ONNX Runtime GenAI picks them: `v = gather(where(c,
/// long, short), pos)` on axis 0, `c` a bool scalar, `long` and `short`
/// constant [N, D/2] tables (short maybe padded with zero rows).
struct ChosenTables {
  Value useLong, longTable, shortTable, positions;
};
static std::optional<ChosenTables> matchChosenTables(Value v) {
  auto g = v.getDefiningOp<GatherOp>();
  if (!g || normalizeAxis(g.getAxis(), rankOf(g.getData())) != 0)
    return std::nullopt;
  auto w = g.getData().getDefiningOp<WhereOp>();
  auto pt = tensorTypeOf(g.getIndices());
  if (!w || tensorTypeOf(w.getCondition()).getRank() != 0 || !pt || pt.getRank() != 2)
    return std::nullopt;
  Value l = w.getTrueValue(), s = withoutZeroRows(w.getFalseValue());
  for (Value t : {l, s}) {
    auto tt = tensorTypeOf(t);
    if (!tt || tt.getRank() != 2 || !tt.hasStaticShape() || !t.getDefiningOp<ConstantOp>())
      return std::nullopt;
  }
  return ChosenTables{w.getCondition(), l, s, g.getIndices()};
}

/// inv_freq of `f` as values (theta^(-2i/dim) in f32 when geometric).
static SmallVector<float> explicitInvFreq(const RopeFrequencies &f, int64_t dim) {
  if (f.invFreq)
    return *f.invFreq;
  SmallVector<float> out;
  for (int64_t i = 0; i < dim / 2; ++i)
    out.push_back(1.0f / std::pow(float(f.theta), float(2 * i) / float(dim)));
  return out;
}

/// A rope reading caches chosen per call (matchChosenTables) becomes one
/// llmc.rope_cos_sin with both sets of frequencies and the choice as its
/// use_long operand, once every entry of all four tables is checked.
struct LongRopeTablesFromCaches : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    auto c = matchChosenTables(op.getCos());
    auto s = matchChosenTables(op.getSin());
    if (!c || !s || c->useLong != s->useLong || c->positions != s->positions)
      return rewriter.notifyMatchFailure(op, "tables are not caches chosen by one "
                                             "condition and gathered by one position tensor");
    auto longF = verifyCachedTables(c->longTable, s->longTable, op.getConvention(),
                                    /*halfWidth=*/true);
    auto shortF = verifyCachedTables(c->shortTable, s->shortTable, op.getConvention(),
                                     /*halfWidth=*/true);
    const int64_t dim = 2 * tensorTypeOf(c->longTable).getDimSize(1);
    if (!longF || !shortF || 2 * tensorTypeOf(c->shortTable).getDimSize(1) != dim)
      return rewriter.notifyMatchFailure(op, "cache entries are not rotary tables");
    auto pt = tensorTypeOf(c->positions);
    auto tableType = RankedTensorType::get({pt.getDimSize(0), pt.getDimSize(1), dim / 2},
                                           tensorTypeOf(op.getX()).getElementType());
    // Both sets explicit: the step reads each from a slot.
    auto cs = rewriter.create<RopeCosSinOp>(
        op.getLoc(), tableType, tableType, c->positions, c->useLong,
        rewriter.getF64FloatAttr(shortF->theta), rewriter.getI64IntegerAttr(dim),
        op.getConventionAttr(),
        rewriter.getDenseF32ArrayAttr(explicitInvFreq(*shortF, dim)),
        rewriter.getF64FloatAttr(shortF->attentionFactor),
        rewriter.getDenseF32ArrayAttr(explicitInvFreq(*longF, dim)),
        rewriter.getF64FloatAttr(longF->attentionFactor));
    rewriter.replaceOpWithNewOp<RopeOp>(op, op.getType(), op.getX(), cs.getCos(),
                                        cs.getSin(), op.getConventionAttr(),
                                        op.getNumHeadsAttr());
    return success();
  }
};

} // namespace

void llmc::populateFuseRopePatterns(RewritePatternSet &patterns) {
  patterns.add<FuseRopePattern, FusePairRopeHalf, FusePairRopeInterleaved,
               FusePartialRope, RopeTablesFromCaches, LongRopeTablesFromCaches>(
      patterns.getContext());
}

namespace {
struct FuseRopePass : llmc::impl::FuseRopeBase<FuseRopePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseRopePatterns(patterns);
    (void)applyPatternsAndFoldGreedily(getOperation(), std::move(patterns));
  }
};
} // namespace
