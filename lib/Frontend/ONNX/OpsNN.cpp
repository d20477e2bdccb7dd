//===- OpsNN.cpp - Linear algebra, normalization and reduction ops --------===//
//
// MatMul Gemm Softmax ReduceMean ReduceSum ReduceMax LayerNormalization.
//
//===----------------------------------------------------------------------===//

#include "OpHelpers.h"
#include "OpRegistry.h"

#include "llmc/LLMCOps.h"

#include "llvm/ADT/STLExtras.h"

using namespace llmc::onnx_import;
using llvm::ArrayRef;
using llvm::Error;
using llvm::SmallVector;

namespace {

mlir::RankedTensorType typeWithDims(mlir::Type elem, ArrayRef<DimExpr> dims) {
  TensorInfo tmp;
  tmp.elemType = elem;
  tmp.dims.assign(dims.begin(), dims.end());
  return tensorTypeOf(tmp);
}

/// K dims of a matrix product must agree.
Error checkContraction(NodeContext &nc, const DimExpr &ka, const DimExpr &kb) {
  auto a = ka.getConstant(), b = kb.getConstant();
  if (a && b && *a != *b)
    return nc.error("inner dims differ (" + llvm::Twine(*a) + " vs " +
                    llvm::Twine(*b) + ")");
  return Error::success();
}

// --- MatMul ------------------------------------------------------------------------

Error inferMatMul(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.hasInput(1))
    return nc.error("expects two inputs");
  TensorInfo &a = nc.input(0), &b = nc.input(1);
  if (a.elemType != b.elemType)
    return nc.error("inputs have different element types");
  if (a.rank() == 0 || b.rank() == 0)
    return nc.error("inputs must have rank >= 1");
  SmallVector<DimExpr, 4> ad(a.dims.begin(), a.dims.end()),
      bd(b.dims.begin(), b.dims.end());
  if (a.rank() == 1)
    ad.insert(ad.begin(), DimExpr::constant(1));
  if (b.rank() == 1)
    bd.push_back(DimExpr::constant(1));
  if (Error err = checkContraction(nc, ad.back(), bd[bd.size() - 2]))
    return err;
  auto batch = broadcastShapes(nc, {ArrayRef<DimExpr>(ad).drop_back(2),
                                    ArrayRef<DimExpr>(bd).drop_back(2)});
  if (!batch)
    return batch.takeError();
  SmallVector<DimExpr, 4> dims = *batch;
  if (a.rank() > 1)
    dims.push_back(ad[ad.size() - 2]);
  if (b.rank() > 1)
    dims.push_back(bd.back());
  nc.setOutput(0, a.elemType, dims);
  return Error::success();
}

Error emitMatMul(NodeContext &nc) {
  auto a = nc.operand(0);
  if (!a)
    return a.takeError();
  auto b = nc.operand(1);
  if (!b)
    return b.takeError();
  // Rows of a flatten by a 2-D B: the product of the unflattened rows.
  auto y = emitOnRows(nc, *a, nc.input(0).rank() == 2 && nc.input(1).rank() == 2,
                      [&](mlir::Value rows, mlir::RankedTensorType type) -> llvm::Expected<mlir::Value> {
                        return nc.builder()
                            .create<llmc::MatMulOp>(nc.loc(), type, rows, *b)
                            .getResult();
                      });
  if (!y)
    return y.takeError();
  nc.setResult(0, *y);
  return Error::success();
}

// --- Gemm ---------------------------------------------------------------------------

Error inferGemm(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.hasInput(1))
    return nc.error("expects inputs A and B");
  TensorInfo &a = nc.input(0), &b = nc.input(1);
  if (a.rank() != 2 || b.rank() != 2)
    return nc.error("A and B must be 2-D");
  if (a.elemType != b.elemType || !llvm::isa<mlir::FloatType>(a.elemType))
    return nc.error("A and B must have the same floating-point type");
  bool ta = nc.intAttrOr("transA", 0), tb = nc.intAttrOr("transB", 0);
  const DimExpr &m = a.dims[ta ? 1 : 0], &ka = a.dims[ta ? 0 : 1];
  const DimExpr &kb = b.dims[tb ? 1 : 0], &n = b.dims[tb ? 0 : 1];
  if (Error err = checkContraction(nc, ka, kb))
    return err;
  SmallVector<DimExpr, 4> dims = {m, n};
  if (nc.hasInput(2)) {
    TensorInfo &c = nc.input(2);
    if (c.elemType != a.elemType)
      return nc.error("C has a different element type");
    auto bc = broadcastShapes(nc, {dims, c.dims});
    if (!bc)
      return bc.takeError();
    if (bc->size() != 2)
      return nc.error("C does not broadcast to [M, N]");
  }
  nc.setOutput(0, a.elemType, dims);
  return Error::success();
}

Error emitGemm(NodeContext &nc) {
  mlir::OpBuilder &b = nc.builder();
  mlir::Location loc = nc.loc();
  mlir::Type elem = nc.output(0).elemType;
  auto transposed = [&](unsigned i) -> llvm::Expected<mlir::Value> {
    auto v = nc.operand(i);
    if (!v)
      return v.takeError();
    const auto &d = nc.input(i).dims;
    return b.create<llmc::TransposeOp>(loc, typeWithDims(elem, {d[1], d[0]}), *v,
                                       ArrayRef<int64_t>{1, 0})
        .getResult();
  };
  auto a = nc.intAttrOr("transA", 0) ? transposed(0) : nc.operand(0);
  if (!a)
    return a.takeError();
  auto bm = nc.intAttrOr("transB", 0) ? transposed(1) : nc.operand(1);
  if (!bm)
    return bm.takeError();
  // A of a flatten ([batch, seq, K] viewed as [batch * seq, K]) and a bias
  // shared by all rows (or none): the product of the unflattened rows.
  const bool rowBias =
      !nc.hasInput(2) || nc.input(2).rank() == 1 ||
      (nc.input(2).rank() == 2 && nc.input(2).dims[0].getConstant() == 1);
  auto y = emitOnRows(
      nc, *a, !nc.intAttrOr("transA", 0) && rowBias,
      [&](mlir::Value rows, mlir::RankedTensorType type) -> llvm::Expected<mlir::Value> {
        mlir::Value y = b.create<llmc::MatMulOp>(loc, type, rows, *bm);
        auto scalar = mlir::RankedTensorType::get({}, elem);
        float alpha = nc.floatAttrOr("alpha", 1.0f), beta = nc.floatAttrOr("beta", 1.0f);
        if (alpha != 1.0f)
          y = b.create<llmc::MulOp>(loc, type, y,
                                    nc.constantOf(scalar, splatOf(scalar, alpha)));
        if (nc.hasInput(2) && beta != 0.0f) {
          auto c = nc.operand(2);
          if (!c)
            return c.takeError();
          mlir::Value cv = *c;
          if (beta != 1.0f)
            cv = b.create<llmc::MulOp>(loc, cv.getType(), cv,
                                       nc.constantOf(scalar, splatOf(scalar, beta)));
          y = b.create<llmc::AddOp>(loc, type, y, cv);
        }
        return y;
      });
  if (!y)
    return y.takeError();
  nc.setResult(0, *y);
  return Error::success();
}

// --- Softmax --------------------------------------------------------------------------

Error inferSoftmax(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  TensorInfo &x = nc.input(0);
  if (!llvm::isa<mlir::FloatType>(x.elemType))
    return nc.error("expects a floating-point input");
  auto axis = normalizeAxis(nc, nc.intAttrOr("axis", -1), x.rank());
  if (!axis)
    return axis.takeError();
  nc.setOutput(0, x.elemType, x.dims);
  return Error::success();
}

Error emitSoftmax(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  int64_t axis = nc.intAttrOr("axis", -1);
  if (axis < 0)
    axis += nc.input(0).rank();
  nc.setResult(0, nc.builder().create<llmc::SoftmaxOp>(nc.loc(), nc.outputType(0),
                                                       *x, axis));
  return Error::success();
}

// --- Reductions -----------------------------------------------------------------------

/// Normalized axes, or std::nullopt for "no reduction" (noop_with_empty_axes).
llvm::Expected<std::optional<SmallVector<int64_t>>> reduceAxes(NodeContext &nc) {
  TensorInfo &x = nc.input(0);
  // ReduceSum takes axes as an input from opset 13, the others from 18.
  bool axesInput = nc.opType() == "ReduceSum" || nc.opset() >= 18;
  SmallVector<int64_t> axes;
  if (axesInput) {
    if (nc.hasInput(1)) {
      auto v = nc.constIntsInput(1, "axes");
      if (!v)
        return v.takeError();
      axes = *v;
    }
  } else {
    auto attr = nc.attrInts("axes");
    if (!attr)
      return attr.takeError();
    if (*attr)
      axes = **attr;
  }
  if (axes.empty()) {
    if (axesInput && nc.intAttrOr("noop_with_empty_axes", 0))
      return std::nullopt;
    for (int64_t i = 0; i < x.rank(); ++i)
      axes.push_back(i);
  }
  for (int64_t &a : axes) {
    auto n = normalizeAxis(nc, a, x.rank());
    if (!n)
      return n.takeError();
    a = *n;
  }
  llvm::sort(axes);
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return std::optional(axes);
}

Error inferReduce(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  TensorInfo &x = nc.input(0);
  auto axes = reduceAxes(nc);
  if (!axes)
    return axes.takeError();
  if (!*axes) {
    nc.setOutput(0, x.elemType, x.dims);
    return Error::success();
  }
  bool keep = nc.intAttrOr("keepdims", 1);
  SmallVector<DimExpr, 4> dims;
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (!llvm::is_contained(**axes, i))
      dims.push_back(x.dims[i]);
    else if (keep)
      dims.push_back(DimExpr::constant(1));
  }
  nc.setOutput(0, x.elemType, dims);
  return Error::success();
}

template <typename OpT> Error emitReduce(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  auto axes = reduceAxes(nc);
  if (!axes)
    return axes.takeError();
  if (!*axes) {
    nc.setResult(0, *x);
    return Error::success();
  }
  mlir::OpBuilder &b = nc.builder();
  nc.setResult(0, b.create<OpT>(nc.loc(), nc.outputType(0), *x,
                                b.getDenseI64ArrayAttr(**axes),
                                b.getBoolAttr(nc.intAttrOr("keepdims", 1) != 0)));
  return Error::success();
}

// --- LayerNormalization -------------------------------------------------------------

Error inferLayerNorm(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.hasInput(1))
    return nc.error("expects X and Scale inputs");
  TensorInfo &x = nc.input(0);
  if (!llvm::isa<mlir::FloatType>(x.elemType))
    return nc.error("expects a floating-point input");
  auto axis = normalizeAxis(nc, nc.intAttrOr("axis", -1), x.rank());
  if (!axis)
    return axis.takeError();
  for (unsigned i = 1; i < nc.numOutputs(); ++i)
    if (nc.isOutputUsed(i))
      return nc.error("its Mean / InvStdDev outputs are used; only Y is "
                      "supported");
  nc.setOutput(0, x.elemType, x.dims);
  SmallVector<DimExpr, 4> statDims(x.dims.begin(), x.dims.end());
  for (int64_t i = *axis; i < x.rank(); ++i)
    statDims[i] = DimExpr::constant(1);
  for (unsigned i = 1; i < nc.numOutputs(); ++i)
    if (nc.hasOutput(i))
      nc.setOutput(i, mlir::Float32Type::get(nc.getContext()), statDims);
  return Error::success();
}

Error emitLayerNorm(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  auto scale = nc.operand(1);
  if (!scale)
    return scale.takeError();
  mlir::Value bias;
  if (nc.hasInput(2)) {
    auto bv = nc.operand(2);
    if (!bv)
      return bv.takeError();
    bias = *bv;
  }
  int64_t axis = nc.intAttrOr("axis", -1);
  if (axis < 0)
    axis += nc.input(0).rank();
  mlir::OpBuilder &b = nc.builder();
  nc.setResult(0, b.create<llmc::LayerNormOp>(
                      nc.loc(), nc.outputType(0), *x, *scale, bias,
                      b.getF32FloatAttr(nc.floatAttrOr("epsilon", 1e-5f)),
                      b.getI64IntegerAttr(axis)));
  return Error::success();
}

// --- ONNX Runtime's fused RMSNorm (com.microsoft) -----------------------------------
//
// SimplifiedLayerNormalization(X, scale) and
// SkipSimplifiedLayerNormalization(input, skip, gamma[, bias]) appear in models
// run through onnxruntime's transformer optimizer. Both normalize the last dim.

Error inferSimplifiedLayerNorm(NodeContext &nc) {
  bool skip = nc.opType() == "SkipSimplifiedLayerNormalization";
  unsigned scaleIdx = skip ? 2 : 1;
  if (!nc.hasInput(0) || !nc.hasInput(scaleIdx) || (skip && !nc.hasInput(1)))
    return nc.error("is missing inputs");
  TensorInfo &x = nc.input(0);
  if (!llvm::isa<mlir::FloatType>(x.elemType))
    return nc.error("expects a floating-point input");
  if (!skip) {
    auto axis = normalizeAxis(nc, nc.intAttrOr("axis", -1), x.rank());
    if (!axis)
      return axis.takeError();
    if (*axis != x.rank() - 1)
      return nc.error("only normalization over the last dim is supported");
  }
  if (nc.input(scaleIdx).rank() != 1)
    return nc.error("its scale must be 1-D");
  // Outputs: Y, then statistics (and for the Skip form, the residual sum as
  // output 3). Statistics must be unused.
  for (unsigned i = 1; i < nc.numOutputs(); ++i)
    if (nc.isOutputUsed(i) && !(skip && i == 3))
      return nc.error("its mean / inverse std outputs are used; only the "
                      "normalized output (and the skip sum) are supported");
  nc.setOutput(0, x.elemType, x.dims);
  SmallVector<DimExpr, 4> statDims(x.dims.begin(), x.dims.end());
  if (!statDims.empty())
    statDims.back() = DimExpr::constant(1);
  for (unsigned i = 1; i < nc.numOutputs(); ++i)
    if (nc.hasOutput(i))
      nc.setOutput(i, skip && i == 3 ? x.elemType
                                     : mlir::Float32Type::get(nc.getContext()),
                   skip && i == 3 ? ArrayRef<DimExpr>(x.dims) : statDims);
  return Error::success();
}

Error emitSimplifiedLayerNorm(NodeContext &nc) {
  bool skip = nc.opType() == "SkipSimplifiedLayerNormalization";
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  mlir::Value in = *x;
  mlir::OpBuilder &b = nc.builder();
  mlir::RankedTensorType type = nc.outputType(0);
  if (skip) {
    auto s = nc.operand(1);
    if (!s)
      return s.takeError();
    in = b.create<llmc::AddOp>(nc.loc(), type, in, *s);
    if (nc.hasInput(3)) {
      auto bias = nc.operand(3);
      if (!bias)
        return bias.takeError();
      in = b.create<llmc::AddOp>(nc.loc(), type, in, *bias);
    }
    nc.setResult(3, in);
  }
  auto scale = nc.operand(skip ? 2 : 1);
  if (!scale)
    return scale.takeError();
  nc.setResult(0, b.create<llmc::RMSNormOp>(
                      nc.loc(), type, in, *scale,
                      b.getF32FloatAttr(nc.floatAttrOr("epsilon", 1e-5f))));
  return Error::success();
}

} // namespace

void llmc::onnx_import::registerNNOps(OpRegistry &r) {
  constexpr int64_t lo = kMinOpset, hi = kMaxOpset;
  r.add({"", "MatMul", lo, hi, inferMatMul, emitMatMul});
  r.add({"", "Gemm", lo, hi, inferGemm, emitGemm});
  r.add({"", "Softmax", lo, hi, inferSoftmax, emitSoftmax});
  r.add({"", "ReduceMean", lo, hi, inferReduce, emitReduce<llmc::ReduceMeanOp>});
  r.add({"", "ReduceSum", lo, hi, inferReduce, emitReduce<llmc::ReduceSumOp>});
  r.add({"", "ReduceMax", lo, hi, inferReduce, emitReduce<llmc::ReduceMaxOp>});
  r.add({"", "LayerNormalization", 17, hi, inferLayerNorm, emitLayerNorm});
  // onnxruntime contrib ops (any com.microsoft opset version); ORT registers
  // SimplifiedLayerNormalization in the default domain.
  r.add({"", "SimplifiedLayerNormalization", lo, hi, inferSimplifiedLayerNorm,
         emitSimplifiedLayerNorm});
  r.add({"com.microsoft", "SimplifiedLayerNormalization", 1, INT64_MAX,
         inferSimplifiedLayerNorm, emitSimplifiedLayerNorm});
  r.add({"com.microsoft", "SkipSimplifiedLayerNormalization", 1, INT64_MAX,
         inferSimplifiedLayerNorm, emitSimplifiedLayerNorm});
}
