//===- FoldHeadLayout.cpp - head layouts and mask plumbing into the ops ----===//
//
// After rope and attention fusion, every layer still splits the projections
// into heads and merges them back:
//   q4 = transpose(reshape(q, [B, S, H, D]), [0, 2, 1, 3])    // head split
//   o  = reshape(transpose(out4, [0, 2, 1, 3]), [B, S, H * D]) // head merge
// and the padding mask is `cast(reshape(attention_mask, [B, 1, 1, T]) -> i1)`.
// The patterns here fold them into the ops' token-major forms:
//   * rope(split(x))                  -> split(rope(x) {num_heads = H})
//   * attention(split(q), split(k), split(v)) -> token-major attention whose
//     `out` is [B, S, Hq * Dv] (uses of the old out get split(out))
//   * merge(split(y))                 -> y
//   * attention mask cast(int -> i1) / reshape([B, T] -> [B, 1, 1, T]) ->
//     the integer / [B, T] mask itself (the ops' boolean and key-padding
//     mask forms have the same meaning).
// Each pattern's match... function only reads the IR.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llmc {
#define GEN_PASS_DEF_FOLDHEADLAYOUT
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::match;

namespace {

constexpr int64_t kHeadPerm[] = {0, 2, 1, 3};

/// Result dim `i` (0 or 1) of `r` provably copies input dim `i`.
static bool keepsLeadingDim(ReshapeOp r, int64_t i, bool otherDetermined) {
  auto in = tensorTypeOf(r.getX());
  int64_t e = r.getShape()[i];
  if (e == 0)
    return true;
  if (e > 0)
    return in.getDimSize(i) == e;
  // -1: inferred; right when every other dim of the result is known to
  // equal its input counterpart.
  return e == -1 && otherDetermined;
}

/// `r` reshapes [B, S, E] into [B, S, H, D] with H * D == E (static).
static bool splitsLastDim(ReshapeOp r) {
  auto in = tensorTypeOf(r.getX()), out = tensorTypeOf(r.getResult());
  if (!in || !out || in.getRank() != 3 || out.getRank() != 4)
    return false;
  ArrayRef<int64_t> shape = r.getShape();
  int64_t e = in.getDimSize(2), h = out.getDimSize(2), d = out.getDimSize(3);
  if (!isStaticDim(e) || !isStaticDim(h) || !isStaticDim(d) || h * d != e)
    return false;
  // The head entries: static, or one inferred (-1) entry; never a copy.
  int inferred = 0;
  for (int64_t i : {2, 3}) {
    if (shape[i] == -1)
      ++inferred;
    else if (shape[i] != out.getDimSize(i))
      return false;
  }
  for (int64_t i : {0, 1})
    if (shape[i] == -1)
      ++inferred;
  if (inferred > 1)
    return false;
  return keepsLeadingDim(r, 0, /*otherDetermined=*/shape[1] != -1) &&
         keepsLeadingDim(r, 1, /*otherDetermined=*/shape[0] != -1);
}

struct HeadSplit {
  Value x;           // [B, S, H * D]
  int64_t heads = 0; // H
};

/// `v = transpose(reshape(x, [B, S, H, D]), [0, 2, 1, 3])`.
static std::optional<HeadSplit> matchHeadSplit(Value v) {
  auto t = v.getDefiningOp<TransposeOp>();
  if (!t || !llvm::equal(t.getPerm(), kHeadPerm))
    return std::nullopt;
  auto r = t.getX().getDefiningOp<ReshapeOp>();
  if (!r || !splitsLastDim(r))
    return std::nullopt;
  return HeadSplit{r.getX(), tensorTypeOf(r.getResult()).getDimSize(2)};
}

/// `v = reshape(transpose(x4, [0, 2, 1, 3]), [B, S, H * D])`: the x4
/// [B, H, S, D] whose heads it merges.
static Value matchHeadMerge(Value v) {
  Value t = matchMergeDims(v, 2);
  auto tr = t ? t.getDefiningOp<TransposeOp>() : TransposeOp();
  if (!tr || !llvm::equal(tr.getPerm(), kHeadPerm) || rankOf(tr.getX()) != 4)
    return {};
  return tr.getX();
}

/// Builds the head split of a token-major [B, S, H * D] value.
static Value buildHeadSplit(PatternRewriter &rewriter, Location loc, Value x,
                            int64_t heads) {
  auto t = tensorTypeOf(x);
  int64_t d = t.getDimSize(2) / heads;
  auto split = rewriter.create<ReshapeOp>(
      loc, t.clone({t.getDimSize(0), t.getDimSize(1), heads, d}), x,
      rewriter.getDenseI64ArrayAttr({0, 0, heads, d}));
  return rewriter.create<TransposeOp>(
      loc, t.clone({t.getDimSize(0), heads, t.getDimSize(1), d}), split,
      rewriter.getDenseI64ArrayAttr(kHeadPerm));
}

//===----------------------------------------------------------------------===//
// rope
//===----------------------------------------------------------------------===//

static FailureOr<HeadSplit> matchRopeOfHeadSplit(RopeOp op) {
  if (op.getNumHeads())
    return failure();
  auto hs = matchHeadSplit(op.getX());
  if (!hs)
    return failure();
  // cos/sin index the sequence dim: it must be the split's dim 1.
  auto cos = tensorTypeOf(op.getCos()), x = tensorTypeOf(hs->x);
  if (!dimsCompatible(cos.getDimSize(1), x.getDimSize(1)))
    return failure();
  return *hs;
}

struct RopeTokenMajor : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<HeadSplit> m = matchRopeOfHeadSplit(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "x is not a head split");
    auto rope = rewriter.create<RopeOp>(
        op.getLoc(), m->x.getType(), m->x, op.getCos(), op.getSin(),
        op.getConventionAttr(), rewriter.getI64IntegerAttr(m->heads));
    rewriter.replaceOp(op, buildHeadSplit(rewriter, op.getLoc(), rope, m->heads));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// attention
//===----------------------------------------------------------------------===//

struct AttentionSplits {
  Value q, k, v;
};

static FailureOr<AttentionSplits> matchAttentionOfHeadSplits(AttentionOp op) {
  if (rankOf(op.getQ()) != 4)
    return failure();
  auto q = matchHeadSplit(op.getQ()), k = matchHeadSplit(op.getK()),
       v = matchHeadSplit(op.getV());
  const int64_t hq = int64_t(op.getNumHeads()), hkv = int64_t(op.getNumKvHeads());
  // (The op's contract already gives q, k and v one batch and sequence.)
  if (!q || !k || !v || q->heads != hq || k->heads != hkv || v->heads != hkv)
    return failure();
  return AttentionSplits{q->x, k->x, v->x};
}

struct AttentionTokenMajor : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<AttentionSplits> m = matchAttentionOfHeadSplits(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "q/k/v are not all head splits");
    auto qt = tensorTypeOf(m->q), vt = tensorTypeOf(m->v);
    const int64_t hq = int64_t(op.getNumHeads());
    int64_t dv = vt.getDimSize(2) / int64_t(op.getNumKvHeads());
    auto outType = qt.clone({qt.getDimSize(0), qt.getDimSize(1), hq * dv});
    auto att = rewriter.create<AttentionOp>(
        op.getLoc(),
        TypeRange{outType, op.getPresentKey().getType(),
                  op.getPresentValue().getType()},
        m->q, m->k, m->v, op.getPastKey(), op.getPastValue(), op.getMask(),
        op.getNumHeadsAttr(), op.getNumKvHeadsAttr(), op.getScaleAttr(),
        op.getCausalAttr(), op.getSoftcapAttr());
    Value out = buildHeadSplit(rewriter, op.getLoc(), att.getOut(), hq);
    rewriter.replaceOp(op, {out, att.getPresentKey(), att.getPresentValue()});
    return success();
  }
};

/// merge(split(y)) -> y.
static FailureOr<Value> matchMergeOfSplit(ReshapeOp op) {
  Value x4 = matchHeadMerge(op.getResult());
  auto hs = x4 ? matchHeadSplit(x4) : std::nullopt;
  if (!hs || hs->x.getType() != op.getType())
    return failure();
  return hs->x;
}

struct FoldHeadMergeOfSplit : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<Value> y = matchMergeOfSplit(op);
    if (failed(y))
      return rewriter.notifyMatchFailure(op, "not the merge of a head split");
    rewriter.replaceOp(op, *y);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// mask
//===----------------------------------------------------------------------===//

/// The mask under casts of an integer mask to i1 (both boolean with the same
/// meaning: nonzero = attend) and reshapes [B, T] -> [B, 1, 1, T] (the
/// key-padding form). At least one must be peeled.
static FailureOr<Value> matchMaskPlumbing(AttentionOp op) {
  Value m = op.getMask();
  if (!m)
    return failure();
  bool peeled = true, any = false;
  while (peeled) {
    peeled = false;
    if (auto c = m.getDefiningOp<CastOp>()) {
      auto in = tensorTypeOf(c.getX()), out = tensorTypeOf(c.getResult());
      if (in && out && out.getElementType().isInteger(1) &&
          in.getElementType().isSignlessInteger()) {
        m = c.getX();
        peeled = any = true;
        continue;
      }
    }
    if (auto r = m.getDefiningOp<ReshapeOp>()) {
      auto out = tensorTypeOf(r.getResult());
      if (rankOf(r.getX()) == 2 && out.getRank() == 4 &&
          reshapeRegroups(r, {{0}, {}, {}, {1}})) {
        m = r.getX();
        peeled = any = true;
        continue;
      }
    }
  }
  if (!any)
    return failure();
  return m;
}

struct FoldMaskPlumbing : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<Value> m = matchMaskPlumbing(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "no mask plumbing to fold");
    rewriter.modifyOpInPlace(op, [&] { op.getMaskMutable().assign(*m); });
    return success();
  }
};

} // namespace

void llmc::populateFoldHeadLayoutPatterns(RewritePatternSet &patterns) {
  patterns.add<RopeTokenMajor, AttentionTokenMajor, FoldHeadMergeOfSplit,
               FoldMaskPlumbing>(patterns.getContext());
}

namespace {
struct FoldHeadLayoutPass : llmc::impl::FoldHeadLayoutBase<FoldHeadLayoutPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFoldHeadLayoutPatterns(patterns);
    (void)applyPatternsAndFoldGreedily(getOperation(), std::move(patterns));
  }
};
} // namespace
