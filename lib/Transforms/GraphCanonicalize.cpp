//===- GraphCanonicalize.cpp - Fold shape plumbing and trivial graph ops --===//
//
// The importer evaluates static shape plumbing; what is left is dynamic
// (batch, sequence and past lengths). These patterns put it in the forms the
// fusion patterns expect: one reshape instead of a chain, one transpose,
// no exact cast round trips, boolean tests as casts, silu as one op.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>
#include <type_traits>

namespace llmc {
#define GEN_PASS_DEF_GRAPHCANONICALIZE
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::match;

namespace {

/// reshape(reshape(x)) -> reshape(x). Static result dims become literals;
/// a dynamic one is a 0 when both reshapes copy it, else the single -1.
struct ComposeReshapes : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;

  static std::optional<SmallVector<int64_t>> composedShape(ReshapeOp outer,
                                                           ReshapeOp inner) {
    ArrayRef<int64_t> outerShape = outer.getShape();
    ArrayRef<int64_t> innerShape = inner.getShape();
    RankedTensorType type = outer.getType();
    SmallVector<int64_t> shape;
    int inferred = 0;
    for (int64_t i = 0; i < type.getRank(); ++i) {
      int64_t d = type.getDimSize(i), e = outerShape[i];
      if (isStaticDim(d)) {
        shape.push_back(d);
        continue;
      }
      if (e == 0 && i < static_cast<int64_t>(innerShape.size()) &&
          innerShape[i] == 0) {
        shape.push_back(0);
        continue;
      }
      if (e == -1 || (e == 0 && i < static_cast<int64_t>(innerShape.size()) &&
                      innerShape[i] == -1)) {
        ++inferred;
        shape.push_back(-1);
        continue;
      }
      return std::nullopt;
    }
    if (inferred > 1)
      return std::nullopt;
    return shape;
  }

  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getX().getDefiningOp<ReshapeOp>();
    if (!inner)
      return failure();
    auto shape = composedShape(op, inner);
    if (!shape)
      return rewriter.notifyMatchFailure(op, "dynamic dim not expressible");
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), inner.getX(),
                                           rewriter.getDenseI64ArrayAttr(*shape));
    return success();
  }
};

/// transpose(transpose(x, p), q) -> transpose(x, p o q).
struct ComposeTransposes : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getX().getDefiningOp<TransposeOp>();
    if (!inner)
      return failure();
    SmallVector<int64_t> perm;
    for (int64_t p : op.getPerm())
      perm.push_back(inner.getPerm()[p]);
    rewriter.replaceOpWithNewOp<TransposeOp>(op, op.getType(), inner.getX(),
                                             rewriter.getDenseI64ArrayAttr(perm));
    return success();
  }
};

/// Whether converting `from` to `to` preserves every value exactly.
static bool isExactConversion(Type from, Type to) {
  if (from == to || from.isInteger(1))
    return true;
  auto ff = llvm::dyn_cast<FloatType>(from), ft = llvm::dyn_cast<FloatType>(to);
  if (ff && ft) {
    if (ff.getWidth() >= ft.getWidth())
      return false;
    // f16 and bf16 do not contain each other; both fit in f32/f64.
    return ft.getWidth() >= 32;
  }
  auto inf = llvm::dyn_cast<IntegerType>(from), intt = llvm::dyn_cast<IntegerType>(to);
  return inf && intt && inf.getWidth() < intt.getWidth();
}

/// cast(cast(x)) -> cast(x) (or x) when the inner cast is exact.
struct ComposeCasts : OpRewritePattern<CastOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CastOp op,
                                PatternRewriter &rewriter) const override {
    auto inner = op.getX().getDefiningOp<CastOp>();
    if (!inner)
      return failure();
    Type a = getElementTypeOrSelf(inner.getX().getType());
    Type b = getElementTypeOrSelf(inner.getType());
    if (!isExactConversion(a, b))
      return rewriter.notifyMatchFailure(op, "inner cast rounds");
    if (inner.getX().getType() == op.getType()) {
      rewriter.replaceOp(op, inner.getX());
      return success();
    }
    rewriter.replaceOpWithNewOp<CastOp>(op, op.getType(), inner.getX());
    return success();
  }
};

/// not(equal(x, 0)) -> cast(x to i1) (casting to i1 is `x != 0`).
struct NotEqualZeroToCast : OpRewritePattern<NotOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(NotOp op,
                                PatternRewriter &rewriter) const override {
    Value x;
    bool matched = matchBinary<EqualOp>(op.getX(), [&](Value a, Value b) {
      auto zero = getScalarInt(b);
      if (!zero || *zero != 0 ||
          !llvm::isa<IntegerType>(tensorTypeOf(a).getElementType()) ||
          tensorTypeOf(a).getShape() != op.getType().getShape())
        return false;
      x = a;
      return true;
    });
    if (!matched)
      return failure();
    rewriter.replaceOpWithNewOp<CastOp>(op, op.getType(), x);
    return success();
  }
};

/// gather(shape_of(x), i) -> constant when dim i of x is static.
struct FoldStaticShapeDim : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    auto shapeOf = op.getData().getDefiningOp<ShapeOfOp>();
    auto index = getSplatInt(op.getIndices());
    if (!shapeOf || !index || op.getType().getNumElements() != 1 ||
        !op.getType().getElementType().isInteger(64))
      return failure();
    int64_t d = normalizeAxis(*index, rankOf(shapeOf.getX()));
    if (d < 0)
      return failure();
    int64_t size = tensorTypeOf(shapeOf.getX()).getDimSize(d);
    if (!isStaticDim(size))
      return failure();
    auto attr = DenseElementsAttr::get(op.getType(), llvm::ArrayRef<int64_t>(size));
    rewriter.replaceOpWithNewOp<ConstantOp>(op, op.getType(), attr);
    return success();
  }
};

/// mul(x, 1) and div(x, 1) -> x when the type does not change.
template <typename OpTy>
struct DropUnitScale : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    Value x;
    matchBinary<OpTy>(op.getResult(), [&](Value a, Value b) {
      auto one = getScalarFloat(b);
      if (one && *one == 1.0 && a.getType() == op.getType())
        x = a;
      return static_cast<bool>(x);
    });
    if (!x)
      return failure();
    rewriter.replaceOp(op, x);
    return success();
  }
};

/// expand to the operand's own type (dynamic dims are not broadcast).
struct DropNoOpExpand : OpRewritePattern<ExpandOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpandOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getX().getType() != op.getType())
      return failure();
    rewriter.replaceOp(op, op.getX());
    return success();
  }
};

/// mul(x, sigmoid(x)) -> silu(x).
struct SiluFromSigmoid : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    Value x;
    matchBinary<MulOp>(op.getResult(), [&](Value a, Value b) {
      auto sig = b.getDefiningOp<SigmoidOp>();
      if (sig && sig.getX() == a && a.getType() == op.getType())
        x = a;
      return static_cast<bool>(x);
    });
    if (!x)
      return failure();
    rewriter.replaceOpWithNewOp<SiluOp>(op, op.getType(), x);
    return success();
  }
};

/// op(a, b) of float scalar constants -> their value, rounded to the result
/// type (exporters trace `head_dim ** 0.5` as pow(12, 0.5) + 0: folded, the
/// attention scale is a constant the fusion can read).
/// `gather(table, ids) * s` -> `gather(table * s, ids)` for a weight table
/// and a scalar float constant s (Gemma scales its embeddings by
/// sqrt(hidden)): the scaling becomes part of the table, computed when the
/// weights are packed, and the lookup stays a plain embedding. A tied
/// lm_head keeps reading the unscaled table.
struct FoldScaleIntoGatherTable : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op,
                                PatternRewriter &rewriter) const override {
    GatherOp gather;
    std::optional<double> scale;
    if (!matchBinary<MulOp>(op.getResult(), [&](Value g, Value s) {
          gather = g.getDefiningOp<GatherOp>();
          scale = getScalarFloat(s);
          return gather && scale && gather.getType() == op.getType() && gather->hasOneUse();
        }))
      return rewriter.notifyMatchFailure(op, "not gather(table, ids) * scalar");
    auto table = tensorTypeOf(gather.getData());
    Value root = gather.getData();
    while (isa_and_nonnull<CastOp, TransposeOp, ReshapeOp>(root.getDefiningOp()))
      root = root.getDefiningOp()->getOperand(0);
    auto elem = dyn_cast<FloatType>(table.getElementType());
    if (!elem || !table.hasStaticShape() || !root.getDefiningOp<WeightOp>())
      return rewriter.notifyMatchFailure(op, "the table is not a weight");
    auto scalarType = RankedTensorType::get({}, elem);
    llvm::APFloat v(*scale);
    bool lost;
    v.convert(elem.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven, &lost);
    Value s = rewriter.create<ConstantOp>(op.getLoc(), scalarType,
                                          DenseElementsAttr::get(scalarType, v));
    Value scaled = rewriter.create<MulOp>(op.getLoc(), table, gather.getData(), s);
    rewriter.replaceOpWithNewOp<GatherOp>(op, op.getType(), scaled, gather.getIndices(),
                                          gather.getAxisAttr());
    return success();
  }
};

template <typename OpTy>
struct FoldScalarFloatArith : OpRewritePattern<OpTy> {
  using OpRewritePattern<OpTy>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const override {
    auto type = tensorTypeOf(op.getResult());
    auto elem = type ? dyn_cast<FloatType>(type.getElementType()) : FloatType();
    if (!elem || !type.hasStaticShape() || type.getNumElements() != 1)
      return failure();
    std::optional<double> a = getScalarFloat(op.getLhs());
    std::optional<double> b = getScalarFloat(op.getRhs());
    if (!a || !b)
      return failure();
    double r;
    if constexpr (std::is_same_v<OpTy, AddOp>)
      r = *a + *b;
    else if constexpr (std::is_same_v<OpTy, SubOp>)
      r = *a - *b;
    else if constexpr (std::is_same_v<OpTy, MulOp>)
      r = *a * *b;
    else if constexpr (std::is_same_v<OpTy, DivOp>)
      r = *a / *b;
    else
      r = std::pow(*a, *b);
    llvm::APFloat v(r);
    bool lost;
    v.convert(elem.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven, &lost);
    rewriter.replaceOpWithNewOp<ConstantOp>(op, type, DenseElementsAttr::get(type, v));
    return success();
  }
};

} // namespace

void llmc::populateGraphCanonicalizationPatterns(RewritePatternSet &patterns) {
  patterns.add<ComposeReshapes, ComposeTransposes, ComposeCasts,
               NotEqualZeroToCast, FoldStaticShapeDim, DropUnitScale<MulOp>,
               DropUnitScale<DivOp>, DropNoOpExpand, SiluFromSigmoid,
               FoldScalarFloatArith<AddOp>, FoldScalarFloatArith<SubOp>,
               FoldScalarFloatArith<MulOp>, FoldScalarFloatArith<DivOp>,
               FoldScalarFloatArith<PowOp>, FoldScaleIntoGatherTable>(patterns.getContext());
}

namespace {
struct GraphCanonicalizePass
    : llmc::impl::GraphCanonicalizeBase<GraphCanonicalizePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateGraphCanonicalizationPatterns(patterns);
    // Not converging within the iteration limit is not an error: the IR is
    // valid after every rewrite.
    (void)applyPatternsAndFoldGreedily(getOperation(), std::move(patterns));
  }
};
} // namespace
