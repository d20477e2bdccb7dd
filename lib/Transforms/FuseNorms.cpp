//===- FuseNorms.cpp - rms_norm and layer_norm fusion ----------------------===//
//
// RMSNorm  y = w * (x * 1/sqrt(mean(x^2) + eps))
// LayerNorm y = w * ((x - mean(x)) * 1/sqrt(mean((x - mean(x))^2) + eps)) + b
// over the last axis, in the forms exporters produce: x^2 as pow or mul,
// 1/sqrt as rsqrt, reciprocal(sqrt), 1/sqrt or pow(-0.5), or a division by
// sqrt; operands of commutative ops in either order; the statistics computed
// in f32 between casts for f16/bf16 models.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llmc {
#define GEN_PASS_DEF_FUSENORMS
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::match;

namespace {

/// `reduce_mean(v)` over the last axis with keepdims.
static Value matchMeanLastAxis(Value m) {
  auto mean = m.getDefiningOp<ReduceMeanOp>();
  if (!mean || !mean.getKeepdims() || mean.getAxes().size() != 1)
    return {};
  int64_t rank = rankOf(mean.getData());
  if (normalizeAxis(mean.getAxes()[0], rank) != rank - 1)
    return {};
  return mean.getData();
}

/// `sq = x^2` as pow(x, 2) or mul(x, x).
static Value matchSquare(Value sq) {
  if (auto pow = sq.getDefiningOp<PowOp>()) {
    auto e = getScalarFloat(pow.getRhs());
    return (e && *e == 2.0) ? pow.getLhs() : Value();
  }
  if (auto mul = sq.getDefiningOp<MulOp>())
    return mul.getLhs() == mul.getRhs() ? mul.getLhs() : Value();
  return {};
}

/// `v + eps` with a scalar constant eps >= 0 (either order).
static Value matchPlusEps(Value v, double &eps) {
  Value inner;
  matchBinary<AddOp>(v, [&](Value a, Value b) {
    auto c = getScalarFloat(b);
    if (!c || *c < 0.0)
      return false;
    eps = *c;
    inner = a;
    return true;
  });
  return inner;
}

/// `r = 1 / sqrt(v)` in any of its spellings; returns v.
static Value matchInvSqrt(Value r) {
  if (auto op = r.getDefiningOp<RsqrtOp>())
    return op.getX();
  if (auto op = r.getDefiningOp<ReciprocalOp>())
    if (auto s = op.getX().getDefiningOp<SqrtOp>())
      return s.getX();
  if (auto op = r.getDefiningOp<DivOp>()) {
    auto one = getScalarFloat(op.getLhs());
    if (one && *one == 1.0)
      if (auto s = op.getRhs().getDefiningOp<SqrtOp>())
        return s.getX();
  }
  if (auto op = r.getDefiningOp<PowOp>()) {
    auto e = getScalarFloat(op.getRhs());
    if (e && *e == -0.5)
      return op.getLhs();
  }
  return {};
}

/// `n = x * invsqrt(v)` or `x / sqrt(v)`: calls `check(x, v)` on each
/// candidate split and returns whether one was accepted.
template <typename F>
static bool matchScaledByInvSqrt(Value n, F &&check) {
  if (matchBinary<MulOp>(n, [&](Value x, Value r) {
        Value v = matchInvSqrt(r);
        return v && check(x, v);
      }))
    return true;
  if (auto div = n.getDefiningOp<DivOp>())
    if (auto s = div.getRhs().getDefiningOp<SqrtOp>())
      return check(div.getLhs(), s.getX());
  return false;
}

/// The normalized value `n` and the weight `w` of `y = w * n`, with `n`
/// possibly cast back from the statistics' type.
template <typename F>
static bool matchWeighted(MulOp root, F &&matchNormalized) {
  return matchBinary<MulOp>(root.getResult(), [&](Value n, Value w) {
    auto wt = tensorTypeOf(w);
    RankedTensorType yt = root.getType();
    if (!wt || wt.getRank() != 1 ||
        !dimsCompatible(wt.getDimSize(0), yt.getDimSize(yt.getRank() - 1)) ||
        wt.getElementType() != yt.getElementType())
      return false;
    return matchNormalized(n, w);
  });
}

/// `x` as the statistics see it -> the op's input: the same value, or the
/// value a float cast was applied to when `n` was cast back.
static Value inputOf(Value statsX, bool castBack, Type resultType) {
  Value x = statsX;
  if (castBack) {
    auto cast = statsX.getDefiningOp<CastOp>();
    if (!cast)
      return {};
    x = cast.getX();
  }
  return x.getType() == resultType ? x : Value();
}

/// What both norms capture: the normalized input (in the result's type), the
/// weight and epsilon.
struct NormMatch {
  Value x, weight;
  double eps = 0.0;
};

/// The shell both norms share: `w * [cast](d * 1/sqrt(v))`. `statsOf(d, v,
/// eps)` checks the norm's own statistics (v = mean(...) + eps) and returns
/// the x they are computed from, before the optional cast back, or null.
template <typename F>
static FailureOr<NormMatch> matchNormShell(MulOp root, F &&statsOf) {
  NormMatch m;
  bool ok = matchWeighted(root, [&](Value n, Value w) {
    bool castBack = false;
    if (Value inner = peelFloatCasts(n); inner != n) {
      castBack = true;
      n = inner;
    }
    return matchScaledByInvSqrt(n, [&](Value d, Value v) {
      double eps = 0.0;
      Value x = statsOf(d, v, eps);
      Value input = x ? inputOf(x, castBack, root.getType()) : Value();
      if (!input)
        return false;
      m = {input, w, eps};
      return true;
    });
  });
  if (!ok)
    return failure();
  return m;
}

//===----------------------------------------------------------------------===//
// RMSNorm
//===----------------------------------------------------------------------===//

/// `x * 1/sqrt(mean(x^2) + eps)`: the scaled value is x itself.
static FailureOr<NormMatch> matchRMSNorm(MulOp root) {
  return matchNormShell(root, [](Value x, Value v, double &eps) -> Value {
    Value mean = matchPlusEps(v, eps);
    Value sq = mean ? matchMeanLastAxis(mean) : Value();
    return sq && matchSquare(sq) == x ? x : Value();
  });
}

struct FuseRMSNorm : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<NormMatch> m = matchRMSNorm(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "not an RMSNorm");
    rewriter.replaceOpWithNewOp<RMSNormOp>(
        op, op.getType(), m->x, m->weight,
        rewriter.getF32FloatAttr(static_cast<float>(m->eps)));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// LayerNorm
//===----------------------------------------------------------------------===//

/// `d = x - reduce_mean(x)` over the last axis; returns x.
static Value matchCentered(Value d) {
  auto sub = d.getDefiningOp<SubOp>();
  if (!sub || matchMeanLastAxis(sub.getRhs()) != sub.getLhs())
    return {};
  return sub.getLhs();
}

/// `d * 1/sqrt(mean(d^2) + eps)` with `d = x - mean(x)`.
static FailureOr<NormMatch> matchLayerNorm(MulOp root) {
  return matchNormShell(root, [](Value d, Value v, double &eps) -> Value {
    Value x = matchCentered(d);
    Value mean = x ? matchPlusEps(v, eps) : Value();
    Value sq = mean ? matchMeanLastAxis(mean) : Value();
    Value d2 = sq ? matchSquare(sq) : Value();
    // The variance may use its own (not yet CSE'd) copy of x - mean.
    if (!d2 || (d2 != d && matchCentered(d2) != x))
      return {};
    return x;
  });
}

struct FuseLayerNorm : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<NormMatch> m = matchLayerNorm(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "not a LayerNorm");
    rewriter.replaceOpWithNewOp<LayerNormOp>(
        op, op.getType(), m->x, m->weight, /*bias=*/Value(),
        rewriter.getF32FloatAttr(static_cast<float>(m->eps)),
        rewriter.getI64IntegerAttr(-1));
    return success();
  }
};

/// add(layer_norm(x, w), b) -> layer_norm(x, w, b) for a 1-D bias.
struct FoldLayerNormBias : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    LayerNormOp ln;
    Value bias;
    matchBinary<AddOp>(op.getResult(), [&](Value a, Value b) {
      auto n = a.getDefiningOp<LayerNormOp>();
      if (!n || n.getBias() || !n->hasOneUse() || n.getType() != op.getType() ||
          n.getAxisAttr().getInt() != -1)
        return false;
      auto bt = tensorTypeOf(b);
      RankedTensorType wt = n.getWeight().getType();
      if (!bt || bt.getRank() != 1 || bt.getElementType() != wt.getElementType() ||
          !dimsCompatible(bt.getDimSize(0), wt.getDimSize(0)))
        return false;
      ln = n;
      bias = b;
      return true;
    });
    if (!ln)
      return rewriter.notifyMatchFailure(op, "not a LayerNorm bias");
    rewriter.replaceOpWithNewOp<LayerNormOp>(op, op.getType(), ln.getX(),
                                             ln.getWeight(), bias,
                                             ln.getEpsilonAttr(), ln.getAxisAttr());
    return success();
  }
};

} // namespace

void llmc::populateFuseNormPatterns(RewritePatternSet &patterns) {
  // LayerNorm is an RMSNorm of x - mean(x): try it first.
  patterns.add<FuseLayerNorm>(patterns.getContext(), /*benefit=*/2);
  patterns.add<FuseRMSNorm, FoldLayerNormBias>(patterns.getContext());
}

namespace {
struct FuseNormsPass : llmc::impl::FuseNormsBase<FuseNormsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseNormPatterns(patterns);
    (void)applyPatternsAndFoldGreedily(getOperation(), std::move(patterns));
  }
};
} // namespace
