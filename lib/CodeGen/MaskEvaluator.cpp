//===- MaskEvaluator.cpp - Attention masks at concrete sizes --------------===//

#include "MaskEvaluator.h"

#include "llmc/LLMCOps.h"
#include "llmc/OpEval/ElementwiseShapeOps.h"

#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace llvm;
using llmc::ref::ElementKind;
using llmc::ref::RefTensor;

namespace llmc::codegen {

SmallVector<int64_t, 4> MaskEvaluator::concrete(const RunShape &shape) const {
  SmallVector<int64_t, 4> dims;
  for (const RunDim &d : shape) {
    switch (d.size) {
    case RunSize::Static:
      dims.push_back(d.value);
      break;
    case RunSize::Batch:
      dims.push_back(1);
      break;
    case RunSize::Tokens:
      dims.push_back(sizes_.tokens);
      break;
    case RunSize::Past:
      dims.push_back(sizes_.past);
      break;
    case RunSize::Total:
      dims.push_back(sizes_.past + sizes_.tokens);
      break;
    }
  }
  return dims;
}

Expected<const RefTensor *> MaskEvaluator::evaluate(Value v) {
  auto it = memo_.find(v);
  if (it == memo_.end()) {
    if (Error e = compute(v))
      return std::move(e);
    it = memo_.find(v);
  }
  return it->second.get();
}

Error MaskEvaluator::compute(Value v) {
  auto store = [&](Value at, RefTensor t) {
    memo_[at] = std::make_unique<RefTensor>(std::move(t));
  };
  auto kindOf = [](Value x) {
    return ref::elementKindOf(cast<ShapedType>(x.getType()).getElementType());
  };
  // A function argument listed in `shapes`: the attention_mask of one
  // sequence without padding.
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto known = shapes_.find(arg);
    if (known == shapes_.end())
      return createStringError(inconvertibleErrorCode(),
                               "function argument %u is not an attention_mask",
                               arg.getArgNumber());
    auto kind = kindOf(arg);
    if (!kind)
      return kind.takeError();
    SmallVector<int64_t, 4> dims = concrete(known->second);
    RefTensor ones({dims.begin(), dims.end()}, *kind);
    std::fill(ones.data.begin(), ones.data.end(), 1.0);
    store(arg, std::move(ones));
    return Error::success();
  }
  Operation *op = v.getDefiningOp();
  if (auto c = dyn_cast<ConstantOp>(op)) {
    auto t = ref::tensorFromAttr(op, c.getValue());
    if (!t)
      return t.takeError();
    store(v, std::move(*t));
    return Error::success();
  }
  // The shape of a value the expression does not compute (an activation,
  // the KV cache): from its run-time shape.
  if (auto s = dyn_cast<ShapeOfOp>(op)) {
    auto known = shapes_.find(s.getX());
    auto type = cast<RankedTensorType>(s.getX().getType());
    if (known != shapes_.end() || type.hasStaticShape()) {
      SmallVector<int64_t, 4> dims =
          known != shapes_.end() ? concrete(known->second)
                                 : SmallVector<int64_t, 4>(type.getShape());
      RefTensor shape({int64_t(dims.size())}, ElementKind::Int);
      for (size_t i = 0; i < dims.size(); ++i)
        shape.data[i] = double(dims[i]);
      store(v, std::move(shape));
      return Error::success();
    }
  }
  std::vector<const RefTensor *> operands;
  for (Value o : op->getOperands()) {
    auto t = evaluate(o);
    if (!t)
      return t.takeError();
    operands.push_back(*t);
  }
  std::vector<RefTensor> results;
  bool handled = false;
  if (Error e = ref::evalElementwiseOrShapeOp(op, operands, results, handled))
    return e;
  if (!handled || results.size() != op->getNumResults())
    return ref::opError(op, "not an op CodeGen evaluates in a mask");
  for (auto [value, tensor] : llvm::zip(op->getResults(), results)) {
    tensor.roundToKind();
    store(value, std::move(tensor));
  }
  return Error::success();
}

} // namespace llmc::codegen
