//===- MergeProjections.cpp - merge matmuls that share their input ---------===//
//
// matmul(x, Wa), matmul(x, Wb), ... with 2-D `llmc.weight` operands become
//   %a, %b, ... = llmc.merged_matmul %x, %Wa, %Wb, ...
// one product by the N-concatenation [K, Na + Nb + ...] whose results are
// its column blocks. The weights stay `llmc.weight` references: CodeGen
// packs the concatenation, never the IR. A gate/up pair feeding one
// swiglu(gate, up) is ordered gate first. Separately, swiglu(split#0,
// split#1) of a two-way split into equal halves (a model's own chunk of a
// merged weight) takes the split operand directly.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace llmc {
#define GEN_PASS_DEF_MERGEPROJECTIONS
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::match;

namespace {

static bool isMergeableWeight(Value w) {
  auto t = tensorTypeOf(w);
  return w.getDefiningOp<WeightOp>() && t && t.getRank() == 2 &&
         t.hasStaticShape();
}

struct MergeMatch {
  Value x;
  SmallVector<MatMulOp> matmuls; // in the order of the merged weight
};

static FailureOr<MergeMatch> matchSiblingMatmuls(MatMulOp op) {
  Value x = op.getA();
  if (!isMergeableWeight(op.getB()) || rankOf(x) < 2)
    return failure();
  auto wt = tensorTypeOf(op.getB());
  MergeMatch m{x, {}};
  for (Operation *user : x.getUsers()) {
    auto mm = dyn_cast<MatMulOp>(user);
    if (!mm || mm.getA() != x || mm->getBlock() != op->getBlock() ||
        !isMergeableWeight(mm.getB()) || llvm::is_contained(m.matmuls, mm))
      continue;
    auto t = tensorTypeOf(mm.getB());
    if (t.getDimSize(0) != wt.getDimSize(0) ||
        t.getElementType() != wt.getElementType() ||
        mm.getB().getDefiningOp()->getBlock() != op->getBlock())
      continue;
    m.matmuls.push_back(mm);
  }
  if (m.matmuls.size() < 2)
    return failure();
  llvm::sort(m.matmuls, [](MatMulOp a, MatMulOp b) {
    return a->isBeforeInBlock(b);
  });
  // A gate/up pair feeding one swiglu: gate first.
  if (m.matmuls.size() == 2) {
    MatMulOp a = m.matmuls[0], b = m.matmuls[1];
    if (a->hasOneUse() && b->hasOneUse()) {
      auto s = dyn_cast<SwiGLUOp>(*a->getUsers().begin());
      if (s && s.getUp() == a.getResult() && s.getGate() == b.getResult())
        std::swap(m.matmuls[0], m.matmuls[1]);
    }
  }
  return m;
}

struct MergeSiblingMatmuls : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<MergeMatch> m = matchSiblingMatmuls(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "no sibling projections");
    Operation *first = m->matmuls.front();
    for (MatMulOp mm : m->matmuls)
      if (mm->isBeforeInBlock(first))
        first = mm;
    SmallVector<Value> weights;
    SmallVector<Type> types;
    for (MatMulOp mm : m->matmuls) {
      Operation *w = mm.getB().getDefiningOp();
      if (first->isBeforeInBlock(w))
        rewriter.moveOpBefore(w, first);
      weights.push_back(mm.getB());
      types.push_back(mm.getType());
    }
    rewriter.setInsertionPoint(first);
    auto merged =
        rewriter.create<MergedMatMulOp>(op.getLoc(), types, m->x, weights);
    for (auto [i, mm] : llvm::enumerate(m->matmuls))
      rewriter.replaceOp(mm, merged.getResult(i));
    return success();
  }
};

/// swiglu(split#0, split#1) of equal halves -> swiglu(merged).
struct MergeSwiGLUHalves : OpRewritePattern<SwiGLUOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SwiGLUOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getUp())
      return failure();
    auto gate = dyn_cast<OpResult>(op.getGate());
    auto up = dyn_cast<OpResult>(op.getUp());
    auto split = gate ? dyn_cast<SplitOp>(gate.getOwner()) : SplitOp();
    if (!split || !up || up.getOwner() != split || split.getNumResults() != 2 ||
        gate.getResultNumber() != 0 || up.getResultNumber() != 1 ||
        normalizeAxis(split.getAxisAttr().getInt(), rankOf(split.getX())) !=
            rankOf(split.getX()) - 1 ||
        gate.getType() != up.getType())
      return rewriter.notifyMatchFailure(op, "not the halves of one split");
    rewriter.replaceOpWithNewOp<SwiGLUOp>(op, op.getType(), split.getX(),
                                          Value(), op.getGeluAttr());
    return success();
  }
};

} // namespace

void llmc::populateMergeProjectionPatterns(RewritePatternSet &patterns) {
  patterns.add<MergeSiblingMatmuls, MergeSwiGLUHalves>(patterns.getContext());
}

namespace {
struct MergeProjectionsPass
    : llmc::impl::MergeProjectionsBase<MergeProjectionsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMergeProjectionPatterns(patterns);
    (void)applyPatternsAndFoldGreedily(getOperation(), std::move(patterns));
  }
};
} // namespace
