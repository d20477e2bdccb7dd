//===- LastPositionLogits.cpp - lm_head on the last position only ----------===//
//
// A decode step (and the last chunk of a prefill) needs the logits of the
// last position only, yet the exported graph computes [B, S, V]. For a
// function result `matmul(norm(h), W)` with a 2-D W (the lm_head; W may be
// a transposed weight, as with tied embeddings) and a [B, S, D] input, this
// pass rewrites it to `matmul(norm(h[:, -1:, :]), W)` and changes the result
// type to [B, 1, V]. The full-logits function (eval, perplexity) is simply
// the one this pass did not run on: the driver clones the entry point first.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

#include <limits>

namespace llmc {
#define GEN_PASS_DEF_LASTPOSITIONLOGITS
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::match;

namespace {

static RankedTensorType withUnitSequence(RankedTensorType t) {
  SmallVector<int64_t> shape(t.getShape());
  shape[1] = 1;
  return t.clone(shape);
}

/// The lm_head matmul producing result `v`, if it is one.
static MatMulOp matchLMHead(Value v) {
  auto mm = v.getDefiningOp<MatMulOp>();
  if (!mm || rankOf(mm.getA()) != 3 || rankOf(v) != 3 || rankOf(mm.getB()) != 2)
    return {};
  Value w = mm.getB();
  if (auto t = w.getDefiningOp<TransposeOp>())
    w = t.getX();
  if (!w.getDefiningOp<WeightOp>() && !w.getDefiningOp<ConcatOp>())
    return {};
  return mm;
}

struct LastPositionLogitsPass
    : llmc::impl::LastPositionLogitsBase<LastPositionLogitsPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (!functions.empty() && !llvm::is_contained(functions, fn.getSymName()))
      return;
    if (!fn.getBody().hasOneBlock())
      return;
    auto ret = dyn_cast<func::ReturnOp>(fn.getBody().front().getTerminator());
    if (!ret)
      return;
    for (OpOperand &result : ret->getOpOperands()) {
      MatMulOp mm = matchLMHead(result.get());
      if (!mm)
        continue;
      rewrite(fn, result, mm);
      return;
    }
  }

  void rewrite(func::FuncOp fn, OpOperand &result, MatMulOp mm) {
    OpBuilder b(mm);
    Location loc = mm.getLoc();
    // Slice before the final norm when there is one: it works per row.
    Value h = mm.getA();
    Operation *norm = h.getDefiningOp();
    bool rowwise = norm && (isa<RMSNormOp>(norm) ||
                            (isa<LayerNormOp>(norm) &&
                             cast<LayerNormOp>(norm).getAxisAttr().getInt() == -1));
    Value x = rowwise ? norm->getOperand(0) : h;
    auto slice = b.create<SliceOp>(
        loc, withUnitSequence(tensorTypeOf(x)), x, b.getDenseI64ArrayAttr({-1}),
        b.getDenseI64ArrayAttr({std::numeric_limits<int64_t>::max()}),
        b.getDenseI64ArrayAttr({1}), DenseI64ArrayAttr());
    Value last = slice;
    if (rowwise) {
      Operation *clone = b.clone(*norm);
      clone->setOperand(0, slice);
      clone->getResult(0).setType(withUnitSequence(tensorTypeOf(h)));
      last = clone->getResult(0);
    }
    auto type = withUnitSequence(mm.getType());
    auto logits = b.create<MatMulOp>(loc, type, last, mm.getB());
    result.set(logits);

    // The function type and the result's dim names.
    unsigned index = result.getOperandNumber();
    SmallVector<Type> results(fn.getFunctionType().getResults());
    results[index] = type;
    fn.setFunctionType(
        FunctionType::get(&getContext(), fn.getFunctionType().getInputs(), results));
    if (auto dims = fn.getResultAttrOfType<ArrayAttr>(index, "llmc.dims")) {
      SmallVector<Attribute> names(dims.begin(), dims.end());
      if (names.size() == 3) {
        names[1] = b.getI64IntegerAttr(1);
        fn.setResultAttr(index, "llmc.dims", b.getArrayAttr(names));
      }
    }
    if (mm->use_empty())
      mm->erase();
    if (rowwise && norm->use_empty())
      norm->erase();
  }
};

} // namespace
