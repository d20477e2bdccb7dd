//===- FuseMLP.cpp - swiglu, gelu and softcap fusion -----------------------===//
//
// SwiGLU: silu(g) * u, with silu as `silu` or `g * sigmoid(g)`.
// GELU:   0.5 * x * (1 + erf(x / sqrt(2)))                          (none)
//         0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))   (tanh)
// Softcap: c * tanh(x / c) (Gemma-2's final logits; its attention scores'
//         cap is the attention fusion's).
// The GELU and softcap forms are matched on the flattened product of their
// factors, so any association/order of the multiplications and constants is
// accepted.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace llmc {
#define GEN_PASS_DEF_FUSEMLP
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::match;

namespace {

/// `silu(g)` or `g * sigmoid(g)`; returns g.
static Value matchSilu(Value v) {
  if (auto silu = v.getDefiningOp<SiluOp>())
    return silu.getX();
  Value g;
  matchBinary<MulOp>(v, [&](Value a, Value b) {
    auto sig = b.getDefiningOp<SigmoidOp>();
    if (sig && sig.getX() == a)
      g = a;
    return static_cast<bool>(g);
  });
  return g;
}

struct SwiGLUMatch {
  Value gate, up;
};

static FailureOr<SwiGLUMatch> matchSwiGLU(MulOp root) {
  SwiGLUMatch m;
  bool ok = matchBinary<MulOp>(root.getResult(), [&](Value a, Value b) {
    Value g = matchSilu(a);
    // The up operand must not itself be the gate's silu partner (x * sigmoid(x)).
    if (!g || b.getDefiningOp<SigmoidOp>() || g.getType() != root.getType() ||
        b.getType() != root.getType())
      return false;
    m = {g, b};
    return true;
  });
  if (!ok)
    return failure();
  return m;
}

struct FuseSwiGLU : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<SwiGLUMatch> m = matchSwiGLU(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "not silu(g) * u");
    rewriter.replaceOpWithNewOp<SwiGLUOp>(op, op.getType(), m->gate, m->up,
                                          GeluApproximationAttr());
    return success();
  }
};

/// GeGLU: `gelu(gate) * up` (either order, the gelu read only here) ->
/// swiglu {gelu = approximation}.
struct FuseGeGLU : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    GeluOp gelu;
    Value up;
    if (!matchBinary<MulOp>(op.getResult(), [&](Value a, Value b) {
          gelu = a.getDefiningOp<GeluOp>();
          up = b;
          return gelu && gelu->hasOneUse() && gelu.getType() == up.getType() &&
                 up.getType() == op.getType();
        }))
      return rewriter.notifyMatchFailure(op, "not gelu(g) * u");
    rewriter.replaceOpWithNewOp<SwiGLUOp>(op, op.getType(), gelu.getX(), up,
                                          gelu.getApproximateAttr());
    return success();
  }
};

/// `1 + f(z)` (either order) for the unary op F; returns z.
template <typename F>
static Value matchOnePlus(Value v) {
  Value z;
  matchBinary<AddOp>(v, [&](Value a, Value b) {
    auto one = getScalarFloat(a);
    auto f = b.getDefiningOp<F>();
    if (one && *one == 1.0 && f)
      z = f.getX();
    return static_cast<bool>(z);
  });
  return z;
}

/// `scale * x` exactly (one factor, x).
static bool isScaled(Value v, Value x, double scale, double tol) {
  Product p = flattenProduct(v);
  return p.factors.size() == 1 && p.factors[0] == x && isClose(p.scale, scale, tol);
}

struct GeluMatch {
  Value x;
  GeluApproximation approximation;
};

static FailureOr<GeluMatch> matchGelu(MulOp root) {
  Product p = flattenProduct(root.getResult());
  if (p.factors.size() != 2 || !isClose(p.scale, 0.5, 1e-6))
    return failure();
  for (int i = 0; i < 2; ++i) {
    Value x = p.factors[i], t = p.factors[1 - i];
    if (x.getType() != root.getType())
      continue;
    if (Value z = matchOnePlus<ErfOp>(t); z && isScaled(z, x, M_SQRT1_2, 1e-5))
      return GeluMatch{x, GeluApproximation::none};
    Value w = matchOnePlus<TanhOp>(t);
    if (!w)
      continue;
    Product pw = flattenProduct(w);
    if (pw.factors.size() != 1 || !isClose(pw.scale, std::sqrt(2.0 / M_PI), 1e-5))
      continue;
    bool inner = matchBinary<AddOp>(pw.factors[0], [&](Value a, Value b) {
      Product cube = flattenProduct(b);
      return a == x && cube.factors.size() == 3 &&
             llvm::all_of(cube.factors, [&](Value f) { return f == x; }) &&
             isClose(cube.scale, 0.044715, 1e-5);
    });
    if (inner)
      return GeluMatch{x, GeluApproximation::tanh};
  }
  return failure();
}

struct FuseGelu : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<GeluMatch> m = matchGelu(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "not a GELU");
    rewriter.replaceOpWithNewOp<GeluOp>(
        op, op.getType(), m->x,
        GeluApproximationAttr::get(op.getContext(), m->approximation));
    return success();
  }
};

/// c * tanh(x / c) (x / c also as x * (1 / c)), c > 0.
struct FuseSoftcap : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    Product outer = flattenProduct(op.getResult());
    auto tanh = outer.factors.size() == 1 ? outer.factors[0].getDefiningOp<TanhOp>()
                                          : TanhOp();
    const double cap = outer.scale;
    if (!tanh || !(cap > 0.0) || !std::isfinite(cap))
      return rewriter.notifyMatchFailure(op, "not c * tanh(...)");
    Product inner = flattenProduct(tanh.getX());
    if (inner.factors.size() != 1 || inner.factors[0].getType() != op.getType() ||
        !isClose(inner.scale * cap, 1.0, 1e-6))
      return rewriter.notifyMatchFailure(op, "not c * tanh(x / c)");
    rewriter.replaceOpWithNewOp<SoftcapOp>(op, op.getType(), inner.factors[0],
                                           rewriter.getF32FloatAttr(float(cap)));
    return success();
  }
};

} // namespace

void llmc::populateFuseMLPPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseSwiGLU, FuseGelu, FuseGeGLU, FuseSoftcap>(patterns.getContext());
}

namespace {
struct FuseMLPPass : llmc::impl::FuseMLPBase<FuseMLPPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseMLPPatterns(patterns);
    (void)applyPatternsAndFoldGreedily(getOperation(), std::move(patterns));
  }
};
} // namespace
