//===- ReferenceExecutor.cpp - Walk a function and evaluate each op --------===//

#include "ReferenceExecutor.h"
#include "ReferenceOps.h"

#include "llmc/LLMCOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace llmc;
using namespace llmc::ref;

llvm::Expected<RefTensor> llmc::ref::tensorFromBytes(mlir::RankedTensorType type,
                                                     llvm::ArrayRef<int64_t> shape,
                                                     const uint8_t *bytes,
                                                     size_t size) {
  mlir::Type et = type.getElementType();
  auto kind = elementKindOf(et);
  if (!kind)
    return kind.takeError();
  RefTensor t(shape.vec(), *kind);
  const size_t width = et.isInteger(1) ? 1 : et.getIntOrFloatBitWidth() / 8;
  if (size < size_t(t.numel()) * width)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "reference executor: %zu bytes for a tensor "
                                   "of %lld elements of %zu bytes",
                                   size, (long long)t.numel(), width);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint8_t *p = bytes + i * width;
    double v = 0;
    if (et.isF32()) {
      float f;
      std::memcpy(&f, p, 4);
      v = f;
    } else if (et.isF64()) {
      std::memcpy(&v, p, 8);
    } else if (et.isF16()) {
      _Float16 h;
      std::memcpy(&h, p, 2);
      v = float(h);
    } else if (et.isBF16()) {
      uint32_t bits = uint32_t(p[0] | (p[1] << 8)) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      v = f;
    } else if (et.isInteger(1) || et.isInteger(8)) {
      v = et.isInteger(1) ? (p[0] != 0) : double(int8_t(p[0]));
    } else if (et.isInteger(32)) {
      int32_t x;
      std::memcpy(&x, p, 4);
      v = x;
    } else if (et.isInteger(64)) {
      int64_t x;
      std::memcpy(&x, p, 8);
      v = double(x);
    } else {
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "reference executor: cannot read this "
                                     "element type from bytes");
    }
    t.data[i] = v;
  }
  return t;
}

ReferenceExecutor::ReferenceExecutor(std::string weightDir)
    : weightDir_(std::move(weightDir)) {}

llvm::Expected<RefTensor>
ReferenceExecutor::loadWeight(llvm::StringRef file, int64_t offset,
                              mlir::RankedTensorType type) {
  llvm::SmallString<256> path(file);
  if (!llvm::sys::path::is_absolute(path) && !weightDir_.empty()) {
    path = weightDir_;
    llvm::sys::path::append(path, file);
  }
  auto &buf = files_[path];
  if (!buf) {
    auto loaded = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!loaded)
      return llvm::createStringError(loaded.getError(),
                                     "reference executor: cannot open weight "
                                     "file '%s'",
                                     path.c_str());
    buf = std::move(*loaded);
  }
  if (!type.hasStaticShape())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "reference executor: weight of dynamic shape");
  if (offset < 0 || uint64_t(offset) > buf->getBufferSize())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "reference executor: weight offset %lld is "
                                   "outside '%s'",
                                   (long long)offset, path.c_str());
  return tensorFromBytes(
      type, type.getShape(),
      reinterpret_cast<const uint8_t *>(buf->getBufferStart()) + offset,
      buf->getBufferSize() - offset);
}

llvm::Expected<std::vector<RefTensor>>
ReferenceExecutor::run(mlir::func::FuncOp fn, llvm::ArrayRef<RefTensor> args) {
  if (fn.getNumArguments() != args.size())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "reference executor: @%s takes %u arguments, "
                                   "%zu given",
                                   fn.getName().str().c_str(),
                                   fn.getNumArguments(), args.size());
  llvm::DenseMap<mlir::Value, RefTensor> env;
  for (auto [arg, value] : llvm::zip(fn.getArguments(), args)) {
    auto type = llvm::dyn_cast<mlir::RankedTensorType>(arg.getType());
    if (!type || type.getRank() != value.rank())
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "reference executor: argument %u has the "
                                     "wrong rank",
                                     arg.getArgNumber());
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (!type.isDynamicDim(d) && type.getDimSize(d) != value.shape[d])
        return llvm::createStringError(
            llvm::inconvertibleErrorCode(),
            "reference executor: argument %u has shape %s, type wants dim %lld = %lld",
            arg.getArgNumber(), value.shapeString().c_str(), (long long)d,
            (long long)type.getDimSize(d));
    env[arg] = value;
  }

  for (mlir::Operation &op : fn.getBody().front()) {
    if (auto ret = llvm::dyn_cast<mlir::func::ReturnOp>(op)) {
      std::vector<RefTensor> out;
      for (mlir::Value v : ret.getOperands())
        out.push_back(env.lookup(v));
      return out;
    }
    std::vector<RefTensor> results;
    if (auto c = llvm::dyn_cast<ConstantOp>(op)) {
      auto t = tensorFromAttr(&op, c.getValue());
      if (!t)
        return t.takeError();
      results.push_back(std::move(*t));
    } else if (auto w = llvm::dyn_cast<WeightOp>(op)) {
      auto type = llvm::dyn_cast<mlir::RankedTensorType>(w.getType());
      if (!type)
        return opError(&op, "quantized weights are not supported yet");
      auto t = loadWeight(w.getFile(), w.getOffset(), type);
      if (!t)
        return t.takeError();
      results.push_back(std::move(*t));
    } else {
      std::vector<const RefTensor *> operands;
      for (mlir::Value v : op.getOperands()) {
        auto it = env.find(v);
        if (it == env.end())
          return opError(&op, "operand defined outside the function body");
        operands.push_back(&it->second);
      }
      bool handled = false;
      if (llvm::Error e = evalElementwiseOrShapeOp(&op, operands, results, handled))
        return std::move(e);
      if (!handled)
        if (llvm::Error e = evalNeuralOp(&op, operands, results, handled))
          return std::move(e);
      if (!handled)
        return opError(&op, "not supported by the reference executor");
    }
    if (results.size() != op.getNumResults())
      return opError(&op, "produced the wrong number of results");
    for (auto [value, tensor] : llvm::zip(op.getResults(), results)) {
      tensor.roundToKind();
      env[value] = std::move(tensor);
    }
  }
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "reference executor: @%s has no return",
                                 fn.getName().str().c_str());
}
