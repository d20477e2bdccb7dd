//===- OpHelpers.cpp - Helpers shared by the op importers -----------------===//

#include "OpHelpers.h"

#include "llmc/LLMCOps.h"

#include "llvm/ADT/STLExtras.h"

using namespace llmc::onnx_import;

DimExpr llmc::onnx_import::freshDim(NodeContext &nc) {
  return DimExpr::symbol(nc.symbols().fresh("d"));
}

llvm::Expected<llvm::SmallVector<DimExpr, 4>>
llmc::onnx_import::shapeInputDims(NodeContext &nc, const TensorInfo &shape) {
  if (shape.rank() != 1)
    return nc.error("its shape input must be 1-D");
  llvm::SmallVector<DimExpr, 4> dims;
  if (shape.content) {
    dims.assign(shape.content->begin(), shape.content->end());
    return dims;
  }
  auto n = shape.staticDim(0);
  if (!n)
    return nc.error("the rank of its output is not known at import time");
  for (int64_t i = 0; i < *n; ++i)
    dims.push_back(freshDim(nc));
  return dims;
}

llvm::Expected<int64_t> llmc::onnx_import::normalizeAxis(NodeContext &nc,
                                                         int64_t axis,
                                                         int64_t rank,
                                                         llvm::StringRef what) {
  if (axis < -rank || axis >= rank)
    return nc.error(what + " " + llvm::Twine(axis) + " is out of range for rank " +
                    llvm::Twine(rank));
  return axis < 0 ? axis + rank : axis;
}

llvm::Expected<mlir::Value> llmc::onnx_import::emitRunTimeDim(NodeContext &nc,
                                                             const DimExpr &d) {
  GraphImporter &imp = nc.importer();
  for (const onnx::ValueInfoProto &in : imp.model().graph().input()) {
    TensorInfo *info = imp.lookup(in.name());
    if (!info || info->source != TensorInfo::Source::Input || !info->value)
      continue;
    auto it = llvm::find(info->dims, d);
    if (it == info->dims.end())
      continue;
    mlir::OpBuilder &b = nc.builder();
    mlir::Type i64 = b.getI64Type();
    auto shapeType = mlir::RankedTensorType::get({info->rank()}, i64);
    auto scalar = mlir::RankedTensorType::get({}, i64);
    mlir::Value shape = b.create<llmc::ShapeOfOp>(nc.loc(), shapeType, info->value);
    mlir::Value index = nc.constantOf(
        scalar, mlir::DenseElementsAttr::get(
                    scalar, llvm::APInt(64, uint64_t(it - info->dims.begin()))));
    return b.create<llmc::GatherOp>(nc.loc(), scalar, shape, index, 0).getResult();
  }
  return nc.error("needs the run-time size " + d.str(nc.symbols()) +
                  ", which is not a dim of any graph input");
}

std::string llmc::onnx_import::dimsToString(NodeContext &nc,
                                            llvm::ArrayRef<DimExpr> dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + dims[i].str(nc.symbols());
  return s + "]";
}

llvm::Expected<llvm::SmallVector<DimExpr, 4>>
llmc::onnx_import::broadcastShapes(
    NodeContext &nc, llvm::ArrayRef<llvm::ArrayRef<DimExpr>> shapes) {
  size_t rank = 0;
  for (auto s : shapes)
    rank = std::max(rank, s.size());
  llvm::SmallVector<DimExpr, 4> out(rank, DimExpr::constant(1));
  for (size_t i = 0; i < rank; ++i) {
    std::optional<DimExpr> acc;
    for (auto s : shapes) {
      if (i + s.size() < rank)
        continue; // s has no dim here (implicitly 1)
      const DimExpr &d = s[i + s.size() - rank];
      if (!acc || acc->getConstant() == 1) {
        acc = d;
        continue;
      }
      if (d.getConstant() == 1 || d == *acc)
        continue;
      auto ca = acc->getConstant(), cd = d.getConstant();
      if (ca && cd) {
        std::string msg = "cannot broadcast the shapes";
        for (auto sh : shapes)
          msg += " " + dimsToString(nc, sh);
        return nc.error(msg);
      }
      if (cd)
        acc = d; // the symbolic one is 1 or equal to the constant
      else if (!ca)
        acc = freshDim(nc); // two different symbolic dims
    }
    if (acc)
      out[i] = *acc;
  }
  return out;
}

std::optional<llvm::SmallVector<int64_t>>
llmc::onnx_import::staticShape(const TensorInfo &info) {
  llvm::SmallVector<int64_t> s;
  for (const DimExpr &d : info.dims) {
    auto c = d.getConstant();
    if (!c || *c < 0)
      return std::nullopt;
    s.push_back(*c);
  }
  return s;
}

int64_t llmc::onnx_import::broadcastSourceIndex(int64_t outIndex,
                                                llvm::ArrayRef<int64_t> outShape,
                                                llvm::ArrayRef<int64_t> inShape) {
  int64_t src = 0, stride = 1;
  int64_t rem = outIndex;
  size_t offset = outShape.size() - inShape.size();
  for (size_t i = outShape.size(); i-- > 0;) {
    int64_t coord = rem % outShape[i];
    rem /= outShape[i];
    if (i < offset)
      continue;
    int64_t inDim = inShape[i - offset];
    src += (inDim == 1 ? 0 : coord) * stride;
    stride *= inDim;
  }
  return src;
}

void llmc::onnx_import::foldElementwise(
    NodeContext &nc, llvm::ArrayRef<unsigned> inputs,
    const std::function<std::optional<DimExpr>(llvm::ArrayRef<DimExpr>)> &fn) {
  TensorInfo &out = nc.output(0);
  auto outShape = staticShape(out);
  auto n = out.staticNumElements();
  if (!outShape || !n || *n > kMaxContentElements ||
      !llvm::isa<mlir::IntegerType>(out.elemType))
    return;
  llvm::SmallVector<llvm::SmallVector<int64_t>> inShapes;
  for (unsigned i : inputs) {
    if (!nc.hasInput(i))
      return;
    TensorInfo &in = nc.input(i);
    auto s = staticShape(in);
    if (!in.content || !s || in.content->size() != size_t(*in.staticNumElements()))
      return;
    inShapes.push_back(*s);
  }
  llvm::SmallVector<DimExpr, 4> result;
  llvm::SmallVector<DimExpr, 4> args(inputs.size());
  for (int64_t k = 0; k < *n; ++k) {
    for (size_t j = 0; j < inputs.size(); ++j)
      args[j] = (*nc.input(inputs[j]).content)[broadcastSourceIndex(
          k, *outShape, inShapes[j])];
    std::optional<DimExpr> r = fn(args);
    result.push_back(r ? *r : freshDim(nc));
  }
  setContentValue(out, result);
}


mlir::RankedTensorType llmc::onnx_import::typeFromDims(mlir::Type elem,
                                                      llvm::ArrayRef<DimExpr> dims) {
  TensorInfo tmp;
  tmp.elemType = elem;
  tmp.dims.assign(dims.begin(), dims.end());
  return tensorTypeOf(tmp);
}

llvm::Expected<mlir::Value> llmc::onnx_import::emitReshape(
    NodeContext &nc, mlir::Value x, llvm::ArrayRef<DimExpr> inDims,
    llvm::ArrayRef<DimExpr> outDims, mlir::RankedTensorType outType) {
  mlir::OpBuilder &b = nc.builder();
  auto elem = outType.getElementType();
  if (inDims == outDims && x.getType() == outType)
    return x;
  // Restoring the dims a flatten merged: its source (GraphImporter::Flattened).
  auto &flattened = nc.importer().flattened;
  if (auto f = flattened.find(x);
      f != flattened.end() && llvm::ArrayRef<DimExpr>(f->second.dims) == outDims &&
      f->second.source.getType() == outType)
    return f->second.source;

  // One llmc.reshape: static dims as is, dims equal to the input's at the
  // same index as 0, at most one other as -1.
  llvm::SmallVector<int64_t> shape;
  int unknowns = 0;
  bool direct = true;
  for (size_t i = 0; i < outDims.size(); ++i) {
    auto c = outDims[i].getConstant();
    if (c && *c > 0) {
      shape.push_back(*c);
    } else if (i < inDims.size() && inDims[i] == outDims[i]) {
      shape.push_back(0);
    } else if (c) { // a zero-size dim not copied from the input
      direct = false;
    } else {
      shape.push_back(-1);
      ++unknowns;
    }
  }
  if (direct && unknowns <= 1) {
    mlir::Value r = b.create<llmc::ReshapeOp>(nc.loc(), outType, x, shape);
    if (inDims.size() > 2 && outDims.size() == 2 && inDims.back() == outDims.back())
      flattened[r] = {x, llvm::SmallVector<DimExpr, 4>(inDims)};
    return r;
  }

  // Adding leading 1s is a broadcast: llmc.expand needs no shape operand.
  if (outDims.size() > inDims.size() &&
      outDims.take_back(inDims.size()) == inDims &&
      llvm::all_of(outDims.drop_back(inDims.size()),
                   [](const DimExpr &d) { return d.getConstant() == 1; }))
    return b.create<llmc::ExpandOp>(nc.loc(), outType, x, mlir::Value())
        .getResult();

  // Inserting/removing size-1 dims: transpose the input's 1s to the back,
  // reshape the trailing 1s, transpose the output's 1s into place.
  auto isOne = [](const DimExpr &d) { return d.getConstant() == 1; };
  llvm::SmallVector<DimExpr> inCore, outCore;
  for (const DimExpr &d : inDims)
    if (!isOne(d))
      inCore.push_back(d);
  for (const DimExpr &d : outDims)
    if (!isOne(d))
      outCore.push_back(d);
  if (inCore != outCore)
    return nc.error("cannot reshape " + dimsToString(nc, inDims) + " to " +
                    dimsToString(nc, outDims) +
                    ": with more than one run-time dim that moves, llmc.reshape "
                    "cannot express it");
  mlir::Value cur = x;
  llvm::SmallVector<DimExpr> curDims(inDims.begin(), inDims.end());
  // 1. input's 1s to the back.
  llvm::SmallVector<int64_t> perm;
  for (size_t i = 0; i < inDims.size(); ++i)
    if (!isOne(inDims[i]))
      perm.push_back(int64_t(i));
  for (size_t i = 0; i < inDims.size(); ++i)
    if (isOne(inDims[i]))
      perm.push_back(int64_t(i));
  if (!llvm::equal(perm, llvm::seq<int64_t>(0, int64_t(perm.size())))) {
    llvm::SmallVector<DimExpr> d;
    for (int64_t p : perm)
      d.push_back(curDims[p]);
    curDims = d;
    cur = b.create<llmc::TransposeOp>(nc.loc(), typeFromDims(elem, curDims), cur,
                                      perm);
  }
  // 2. reshape the trailing 1s.
  size_t outOnes = outDims.size() - outCore.size();
  llvm::SmallVector<int64_t> rshape(inCore.size(), 0);
  rshape.append(outOnes, 1);
  llvm::SmallVector<DimExpr> midDims(inCore.begin(), inCore.end());
  midDims.append(outOnes, DimExpr::constant(1));
  if (midDims != curDims)
    cur = b.create<llmc::ReshapeOp>(nc.loc(), typeFromDims(elem, midDims), cur,
                                    rshape);
  // 3. 1s into place.
  llvm::SmallVector<int64_t> perm2;
  size_t core = 0, ones = inCore.size();
  for (const DimExpr &d : outDims)
    perm2.push_back(isOne(d) ? int64_t(ones++) : int64_t(core++));
  if (!llvm::equal(perm2, llvm::seq<int64_t>(0, int64_t(perm2.size()))))
    cur = b.create<llmc::TransposeOp>(nc.loc(), outType, cur, perm2);
  return cur;
}

llvm::Expected<mlir::Value> llmc::onnx_import::emitOnRows(
    NodeContext &nc, mlir::Value x, bool rowwise,
    llvm::function_ref<llvm::Expected<mlir::Value>(mlir::Value, mlir::RankedTensorType)>
        build) {
  auto &flattened = nc.importer().flattened;
  auto f = rowwise ? flattened.find(x) : flattened.end();
  if (f == flattened.end())
    return build(x, nc.outputType(0));
  llvm::SmallVector<DimExpr, 4> dims(f->second.dims.begin(), f->second.dims.end() - 1);
  dims.push_back(nc.output(0).dims.back());
  auto y = build(f->second.source, typeFromDims(nc.output(0).elemType, dims));
  if (!y)
    return y.takeError();
  return emitReshape(nc, *y, dims, nc.output(0).dims, nc.outputType(0));
}

std::optional<double>
llmc::onnx_import::scalarAsDouble(mlir::DenseElementsAttr attr) {
  if (!attr || attr.getNumElements() != 1)
    return std::nullopt;
  mlir::Type t = attr.getElementType();
  if (llvm::isa<mlir::FloatType>(t))
    return (*attr.getValues<llvm::APFloat>().begin()).convertToDouble();
  if (auto it = llvm::dyn_cast<mlir::IntegerType>(t)) {
    llvm::APInt v = *attr.getValues<llvm::APInt>().begin();
    return it.isUnsigned() || it.getWidth() == 1 ? double(v.getZExtValue())
                                                 : double(v.getSExtValue());
  }
  return std::nullopt;
}

mlir::DenseElementsAttr llmc::onnx_import::splatOf(mlir::RankedTensorType type,
                                                   double v) {
  mlir::Type t = type.getElementType();
  if (auto ft = llvm::dyn_cast<mlir::FloatType>(t)) {
    llvm::APFloat f(v);
    bool lost;
    f.convert(ft.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven, &lost);
    return mlir::DenseElementsAttr::get(type, f);
  }
  auto it = llvm::cast<mlir::IntegerType>(t);
  return mlir::DenseElementsAttr::get(
      type, llvm::APInt(it.getWidth(), uint64_t(int64_t(v)),
                        /*isSigned=*/it.getWidth() > 1));
}
