//===- OpsTensor.cpp - Data movement ONNX operators -------------------------===//
//
// Gather Concat Slice Split Transpose Trilu.
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

// --- Gather ------------------------------------------------------------------------

Error inferGather(NodeContext &nc) {
  if (!nc.hasInput(0) || !nc.hasInput(1))
    return nc.error("expects data and indices inputs");
  TensorInfo &data = nc.input(0), &idx = nc.input(1);
  if (!idx.elemType.isInteger(32) && !idx.elemType.isInteger(64))
    return nc.error("indices must be int32 or int64");
  if (data.rank() == 0)
    return nc.error("data must have rank >= 1");
  auto axisAttr = nc.attrInt("axis", 0);
  if (!axisAttr)
    return axisAttr.takeError();
  auto axis = normalizeAxis(nc, *axisAttr, data.rank());
  if (!axis)
    return axis.takeError();
  SmallVector<DimExpr, 4> dims(data.dims.begin(), data.dims.begin() + *axis);
  dims.append(idx.dims.begin(), idx.dims.end());
  dims.append(data.dims.begin() + *axis + 1, data.dims.end());
  TensorInfo &out = nc.setOutput(0, data.elemType, dims);

  // Fold gathers from known contents (Shape -> Gather).
  auto dataShape = staticShape(data);
  auto indices = idx.constInts();
  auto n = out.staticNumElements();
  if (!data.content || !dataShape || !indices || !n || *n > kMaxContentElements)
    return Error::success();
  int64_t axisDim = (*dataShape)[*axis];
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < *axis; ++i)
    outer *= (*dataShape)[i];
  for (int64_t i = *axis + 1; i < data.rank(); ++i)
    inner *= (*dataShape)[i];
  SmallVector<DimExpr, 4> vals;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : *indices) {
      if (k < -axisDim || k >= axisDim)
        return nc.error("index " + llvm::Twine(k) + " is out of range for a dim of " +
                        llvm::Twine(axisDim));
      if (k < 0)
        k += axisDim;
      for (int64_t i = 0; i < inner; ++i)
        vals.push_back((*data.content)[(o * axisDim + k) * inner + i]);
    }
  setContentValue(out, vals);
  return Error::success();
}

Error emitGather(NodeContext &nc) {
  auto data = nc.operand(0);
  if (!data)
    return data.takeError();
  auto idx = nc.operand(1);
  if (!idx)
    return idx.takeError();
  int64_t axis = nc.intAttrOr("axis", 0);
  if (axis < 0)
    axis += nc.input(0).rank();
  nc.setResult(0, nc.builder().create<llmc::GatherOp>(nc.loc(), nc.outputType(0),
                                                      *data, *idx, axis));
  return Error::success();
}

// --- Concat --------------------------------------------------------------------------

Error inferConcat(NodeContext &nc) {
  if (nc.numInputs() == 0)
    return nc.error("expects at least one input");
  for (unsigned i = 0; i < nc.numInputs(); ++i)
    if (!nc.hasInput(i))
      return nc.error("has an empty input");
  TensorInfo &first = nc.input(0);
  int64_t rank = first.rank();
  if (rank == 0)
    return nc.error("cannot concatenate scalars");
  auto axisAttr = nc.attrInt("axis", 0);
  if (!axisAttr)
    return axisAttr.takeError();
  auto axis = normalizeAxis(nc, *axisAttr, rank);
  if (!axis)
    return axis.takeError();
  SmallVector<DimExpr, 4> dims(first.dims.begin(), first.dims.end());
  for (unsigned i = 1; i < nc.numInputs(); ++i) {
    TensorInfo &in = nc.input(i);
    if (in.rank() != rank || in.elemType != first.elemType)
      return nc.error("inputs differ in rank or element type");
    for (int64_t d = 0; d < rank; ++d) {
      if (d == *axis) {
        auto sum = add(dims[d], in.dims[d]);
        dims[d] = sum ? *sum : freshDim(nc);
        continue;
      }
      auto a = dims[d].getConstant(), b = in.dims[d].getConstant();
      if (a && b && *a != *b)
        return nc.error("inputs differ in dim " + llvm::Twine(d) + " (" +
                        llvm::Twine(*a) + " vs " + llvm::Twine(*b) + ")");
      if (!a && b)
        dims[d] = in.dims[d]; // must be equal at run time
    }
  }
  TensorInfo &out = nc.setOutput(0, first.elemType, dims);

  // Fold concatenations of known contents (shape vectors).
  auto n = out.staticNumElements();
  if (!n || *n > kMaxContentElements || !out.hasStaticShape())
    return Error::success();
  for (unsigned i = 0; i < nc.numInputs(); ++i)
    if (!nc.input(i).content || !nc.input(i).hasStaticShape())
      return Error::success();
  int64_t outer = 1;
  for (int64_t d = 0; d < *axis; ++d)
    outer *= *out.staticDim(d);
  SmallVector<DimExpr, 4> vals;
  for (int64_t o = 0; o < outer; ++o)
    for (unsigned i = 0; i < nc.numInputs(); ++i) {
      TensorInfo &in = nc.input(i);
      int64_t chunk = *in.staticNumElements() / outer;
      for (int64_t k = 0; k < chunk; ++k)
        vals.push_back((*in.content)[o * chunk + k]);
    }
  setContentValue(out, vals);
  return Error::success();
}

Error emitConcat(NodeContext &nc) {
  int64_t axis = nc.intAttrOr("axis", 0);
  if (axis < 0)
    axis += nc.input(0).rank();
  SmallVector<mlir::Value> ops;
  for (unsigned i = 0; i < nc.numInputs(); ++i) {
    if (nc.input(i).staticDim(axis) == 0 && nc.numInputs() > 1)
      continue; // empty along the axis
    auto v = nc.operand(i);
    if (!v)
      return v.takeError();
    ops.push_back(*v);
  }
  if (ops.empty()) {
    auto v = nc.operand(0);
    if (!v)
      return v.takeError();
    ops.push_back(*v);
  }
  if (ops.size() == 1 && ops[0].getType() == nc.outputType(0)) {
    nc.setResult(0, ops[0]);
    return Error::success();
  }
  nc.setResult(0, nc.builder().create<llmc::ConcatOp>(nc.loc(), nc.outputType(0),
                                                      ops, axis));
  return Error::success();
}

// --- Slice ------------------------------------------------------------------------------

struct SliceParams {
  SmallVector<int64_t> starts, ends, axes, steps;
  /// Bounds only known at run time (HF's cos_cached[:seq_len], GPT-2's
  /// bias[:, :, T - S : T]): x[start:end] with step 1, emitted as a gather
  /// of range(start, end). The bounds must be provably non-negative; they
  /// are assumed to lie within the dim (not clamped at run time).
  SmallVector<bool> dynamic;
  SmallVector<DimExpr> dynamicStart, dynamicEnd; // per entry, where dynamic
};

constexpr int64_t kEndOfDim = INT64_MAX;

llvm::Expected<SliceParams> sliceParams(NodeContext &nc) {
  TensorInfo &x = nc.input(0);
  SliceParams p;
  if (!nc.hasInput(1))
    return nc.error("missing input 'starts'");
  TensorInfo &starts = nc.input(1);
  if (!starts.content)
    return nc.error("its starts input ('" + nc.node().input(1) +
                    "') must be known at import time, but it depends on "
                    "run-time values");
  if (!nc.hasInput(2))
    return nc.error("missing input 'ends'");
  TensorInfo &ends = nc.input(2);
  if (!ends.content)
    return nc.error("its ends input must be known at import time");
  const size_t n = starts.content->size();
  if (nc.hasInput(3)) {
    auto axes = nc.constIntsInput(3, "axes");
    if (!axes)
      return axes.takeError();
    p.axes = *axes;
  } else {
    for (size_t i = 0; i < n; ++i)
      p.axes.push_back(int64_t(i));
  }
  if (nc.hasInput(4)) {
    auto steps = nc.constIntsInput(4, "steps");
    if (!steps)
      return steps.takeError();
    p.steps = *steps;
  } else {
    p.steps.assign(n, 1);
  }
  if (ends.content->size() != n || p.axes.size() != n || p.steps.size() != n)
    return nc.error("starts, ends, axes and steps differ in length");
  bool anyDynamic = false;
  for (size_t i = 0; i < n; ++i) {
    auto axis = normalizeAxis(nc, p.axes[i], x.rank());
    if (!axis)
      return axis.takeError();
    p.axes[i] = *axis;
    if (p.steps[i] == 0)
      return nc.error("has a step of 0");
    const DimExpr &b = (*starts.content)[i], &e = (*ends.content)[i];
    p.dynamic.push_back(false);
    p.dynamicStart.push_back(b);
    p.dynamicEnd.push_back(e);
    p.starts.push_back(b.getConstant().value_or(0));
    if (b.getConstant() && e.getConstant()) {
      p.ends.push_back(*e.getConstant());
    } else if (b.getConstant() && e == x.dims[*axis] && p.steps[i] > 0) {
      p.ends.push_back(kEndOfDim); // x[..., start:x.shape[axis]]
    } else if (p.steps[i] == 1 && b.isNonNegative() && e.isNonNegative()) {
      p.ends.push_back(kEndOfDim);
      p.dynamic.back() = anyDynamic = true;
    } else {
      return nc.error("its bounds " + b.str(nc.symbols()) + ":" + e.str(nc.symbols()) +
                      " on axis " + llvm::Twine(*axis) +
                      " depend on run-time values; only x[start:end] with "
                      "non-negative bounds and step 1 is supported then");
    }
  }
  if (llvm::all_of(*starts.content, [](const DimExpr &d) { return d.getConstant(); }))
    nc.consumeAsAttribute(1);
  if (!anyDynamic)
    nc.consumeAsAttribute(2);
  return p;
}

/// The length of x[start:end:step] along a dim of size `dim`.
DimExpr sliceLength(NodeContext &nc, const DimExpr &dim, int64_t start,
                    int64_t end, int64_t step) {
  if (auto d = dim.getConstant()) {
    auto clampTo = [](int64_t v, int64_t lo, int64_t hi) {
      return std::max(lo, std::min(v, hi));
    };
    int64_t s = start < 0 ? start + *d : start;
    int64_t e = end < 0 ? (end == INT64_MIN ? -1 : end + *d) : end;
    if (step > 0) {
      s = clampTo(s, 0, *d);
      e = clampTo(e, 0, *d);
      return DimExpr::constant(e > s ? (e - s + step - 1) / step : 0);
    }
    s = clampTo(s, 0, *d - 1);
    e = clampTo(e, -1, *d - 1);
    return DimExpr::constant(s > e ? (s - e - step - 1) / -step : 0);
  }
  if (step != 1)
    return freshDim(nc);
  // Symbolic dim: assume the bounds lie inside it.
  std::optional<DimExpr> s = start >= 0 ? std::optional(DimExpr::constant(start))
                                        : add(dim, DimExpr::constant(start));
  std::optional<DimExpr> e;
  if (end >= (int64_t(1) << 31))
    e = dim;
  else if (end < 0)
    e = add(dim, DimExpr::constant(end));
  if (!s || !e)
    return freshDim(nc);
  auto len = sub(*e, *s);
  return len ? *len : freshDim(nc);
}

Error inferSlice(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects a data input");
  auto p = sliceParams(nc);
  if (!p)
    return p.takeError();
  TensorInfo &x = nc.input(0);
  SmallVector<DimExpr, 4> dims(x.dims.begin(), x.dims.end());
  for (size_t i = 0; i < p->starts.size(); ++i) {
    if (p->dynamic[i]) {
      // Assumes start <= end <= dim (the bounds are not clamped at run time).
      auto len = sub(p->dynamicEnd[i], p->dynamicStart[i]);
      dims[p->axes[i]] = len ? *len : freshDim(nc);
      continue;
    }
    dims[p->axes[i]] =
        sliceLength(nc, x.dims[p->axes[i]], p->starts[i], p->ends[i], p->steps[i]);
  }
  TensorInfo &out = nc.setOutput(0, x.elemType, dims);
  // Fold 1-D slices of known contents.
  if (x.rank() == 1 && x.content && x.hasStaticShape() && out.hasStaticShape()) {
    int64_t d = *x.staticDim(0);
    int64_t s = p->starts[0] < 0 ? p->starts[0] + d : p->starts[0];
    int64_t step = p->steps[0];
    s = step > 0 ? std::clamp<int64_t>(s, 0, d) : std::clamp<int64_t>(s, 0, d - 1);
    SmallVector<DimExpr, 4> vals;
    int64_t n = *out.staticDim(0);
    for (int64_t k = 0; k < n; ++k)
      vals.push_back((*x.content)[s + k * step]);
    setContentValue(out, vals);
  }
  return Error::success();
}

Error emitSlice(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  auto p = sliceParams(nc);
  if (!p)
    return p.takeError();
  mlir::OpBuilder &b = nc.builder();
  TensorInfo &out = nc.output(0);
  // Static bounds: one llmc.slice.
  SliceParams st;
  TensorInfo cur;
  cur.elemType = out.elemType;
  cur.dims = nc.input(0).dims;
  for (size_t i = 0; i < p->starts.size(); ++i) {
    if (p->dynamic[i])
      continue;
    st.starts.push_back(p->starts[i]);
    st.ends.push_back(p->ends[i]);
    st.axes.push_back(p->axes[i]);
    st.steps.push_back(p->steps[i]);
    cur.dims[p->axes[i]] = out.dims[p->axes[i]];
  }
  mlir::Value v = *x;
  if (!st.starts.empty())
    v = b.create<llmc::SliceOp>(nc.loc(), tensorTypeOf(cur), v,
                                b.getDenseI64ArrayAttr(st.starts),
                                b.getDenseI64ArrayAttr(st.ends),
                                b.getDenseI64ArrayAttr(st.axes),
                                b.getDenseI64ArrayAttr(st.steps));
  // Run-time bounds: gather(x, range(start, end), axis).
  for (size_t i = 0; i < p->starts.size(); ++i) {
    if (!p->dynamic[i])
      continue;
    mlir::Type idxType = nc.input(2).elemType;
    auto scalar = mlir::RankedTensorType::get({}, idxType);
    auto i64Scalar = mlir::RankedTensorType::get({}, b.getI64Type());
    // Entry i of the starts (input 1) or ends (input 2), as a scalar.
    auto bound = [&](unsigned input, const DimExpr &e) -> llvm::Expected<mlir::Value> {
      if (auto c = e.getConstant())
        return nc.constantOf(scalar, splatOf(scalar, double(*c)));
      auto all = nc.operand(input);
      if (!all)
        return all.takeError();
      mlir::Value v = b.create<llmc::GatherOp>(
          nc.loc(), mlir::RankedTensorType::get({}, nc.input(input).elemType), *all,
          nc.constantOf(i64Scalar, splatOf(i64Scalar, double(i))), int64_t(0));
      if (v.getType() != scalar)
        v = b.create<llmc::CastOp>(nc.loc(), scalar, v);
      return v;
    };
    auto start = bound(1, p->dynamicStart[i]);
    if (!start)
      return start.takeError();
    auto end = bound(2, p->dynamicEnd[i]);
    if (!end)
      return end.takeError();
    mlir::Value one = nc.constantOf(scalar, splatOf(scalar, 1.0));
    TensorInfo idx;
    idx.elemType = idxType;
    idx.dims = {out.dims[p->axes[i]]};
    mlir::Value range =
        b.create<llmc::RangeOp>(nc.loc(), tensorTypeOf(idx), *start, *end, one);
    cur.dims[p->axes[i]] = out.dims[p->axes[i]];
    v = b.create<llmc::GatherOp>(nc.loc(), tensorTypeOf(cur), v, range,
                                 p->axes[i]);
  }
  nc.setResult(0, v);
  return Error::success();
}

// --- Split --------------------------------------------------------------------------------

/// The split sizes (empty: equal pieces of a run-time dim).
llvm::Expected<SmallVector<int64_t>> splitSizes(NodeContext &nc, int64_t axis) {
  TensorInfo &x = nc.input(0);
  if (nc.hasInput(1))
    return nc.constIntsInput(1, "split");
  auto attr = nc.attrInts("split");
  if (!attr)
    return attr.takeError();
  if (*attr && !(*attr)->empty())
    return **attr;
  int64_t pieces = nc.numOutputs();
  if (nc.attr("num_outputs")) {
    auto n = nc.attrInt("num_outputs", pieces);
    if (!n)
      return n.takeError();
    pieces = *n;
  }
  if (pieces <= 0)
    return nc.error("has no outputs");
  auto d = x.staticDim(axis);
  if (!d)
    return SmallVector<int64_t>();
  int64_t chunk = (*d + pieces - 1) / pieces;
  SmallVector<int64_t> sizes;
  for (int64_t i = 0, left = *d; i < pieces; ++i, left -= chunk)
    sizes.push_back(std::max<int64_t>(0, std::min(chunk, left)));
  return sizes;
}

Error inferSplit(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  TensorInfo &x = nc.input(0);
  auto axisAttr = nc.attrInt("axis", 0);
  if (!axisAttr)
    return axisAttr.takeError();
  auto axis = normalizeAxis(nc, *axisAttr, x.rank());
  if (!axis)
    return axis.takeError();
  auto sizes = splitSizes(nc, *axis);
  if (!sizes)
    return sizes.takeError();
  if (!sizes->empty() && sizes->size() != nc.numOutputs())
    return nc.error("has " + llvm::Twine(sizes->size()) + " split sizes for " +
                    llvm::Twine(nc.numOutputs()) + " outputs");
  int64_t total = 0;
  for (int64_t s : *sizes)
    total += s;
  if (auto d = x.staticDim(*axis); d && !sizes->empty() && total != *d)
    return nc.error("split sizes add up to " + llvm::Twine(total) +
                    ", the dim is " + llvm::Twine(*d));
  for (unsigned i = 0; i < nc.numOutputs(); ++i) {
    if (!nc.hasOutput(i))
      continue;
    SmallVector<DimExpr, 4> dims(x.dims.begin(), x.dims.end());
    if (!sizes->empty()) {
      dims[*axis] = DimExpr::constant((*sizes)[i]);
    } else {
      auto piece = div(x.dims[*axis], DimExpr::constant(nc.numOutputs()));
      dims[*axis] = piece ? *piece : freshDim(nc);
    }
    nc.setOutput(i, x.elemType, dims);
  }
  return Error::success();
}

Error emitSplit(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  int64_t axis = nc.intAttrOr("axis", 0);
  if (axis < 0)
    axis += nc.input(0).rank();
  auto sizes = splitSizes(nc, axis);
  if (!sizes)
    return sizes.takeError();
  SmallVector<mlir::Type> types;
  TensorInfo &xi = nc.input(0);
  for (unsigned i = 0; i < nc.numOutputs(); ++i) {
    if (nc.hasOutput(i)) {
      types.push_back(nc.outputType(i));
      continue;
    }
    // An unnamed (unused) output still exists in llmc.split.
    TensorInfo tmp;
    tmp.elemType = xi.elemType;
    tmp.dims = xi.dims;
    if (!sizes->empty())
      tmp.dims[axis] = DimExpr::constant((*sizes)[i]);
    else
      tmp.dims[axis] = freshDim(nc);
    types.push_back(tensorTypeOf(tmp));
  }
  mlir::OpBuilder &b = nc.builder();
  auto op = b.create<llmc::SplitOp>(
      nc.loc(), types, *x, b.getI64IntegerAttr(axis),
      sizes->empty() ? mlir::DenseI64ArrayAttr() : b.getDenseI64ArrayAttr(*sizes));
  for (unsigned i = 0; i < nc.numOutputs(); ++i)
    nc.setResult(i, op->getResult(i));
  return Error::success();
}

// --- Transpose --------------------------------------------------------------------------

llvm::Expected<SmallVector<int64_t>> permOf(NodeContext &nc) {
  int64_t rank = nc.input(0).rank();
  auto attr = nc.attrInts("perm");
  if (!attr)
    return attr.takeError();
  SmallVector<int64_t> perm;
  if (*attr && !(*attr)->empty()) {
    perm = **attr;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  }
  if (int64_t(perm.size()) != rank)
    return nc.error("perm has " + llvm::Twine(perm.size()) +
                    " entries for rank " + llvm::Twine(rank));
  SmallVector<bool> seen(rank, false);
  for (int64_t &p : perm) {
    if (p < 0)
      p += rank;
    if (p < 0 || p >= rank || seen[p])
      return nc.error("perm is not a permutation");
    seen[p] = true;
  }
  return perm;
}

Error inferTranspose(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  auto perm = permOf(nc);
  if (!perm)
    return perm.takeError();
  TensorInfo &x = nc.input(0);
  SmallVector<DimExpr, 4> dims;
  for (int64_t p : *perm)
    dims.push_back(x.dims[p]);
  TensorInfo &out = nc.setOutput(0, x.elemType, dims);
  if (x.rank() <= 1 && x.content)
    setContentValue(out, *x.content);
  return Error::success();
}

Error emitTranspose(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  auto perm = permOf(nc);
  if (!perm)
    return perm.takeError();
  if (llvm::equal(*perm, llvm::seq<int64_t>(0, int64_t(perm->size())))) {
    nc.setResult(0, *x);
    return Error::success();
  }
  nc.setResult(0, nc.builder().create<llmc::TransposeOp>(
                      nc.loc(), nc.outputType(0), *x, *perm));
  return Error::success();
}

// --- Tile --------------------------------------------------------------------------

Error inferTile(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("expects an input");
  auto repeats = nc.constIntsInput(1, "repeats");
  if (!repeats)
    return repeats.takeError();
  TensorInfo &x = nc.input(0);
  if (int64_t(repeats->size()) != x.rank())
    return nc.error("needs one repeat count per dim");
  SmallVector<DimExpr, 4> dims;
  for (int64_t i = 0; i < x.rank(); ++i) {
    if ((*repeats)[i] < 1)
      return nc.error("repeat counts must be >= 1");
    auto d = mul(x.dims[i], DimExpr::constant((*repeats)[i]));
    dims.push_back(d ? *d : freshDim(nc));
  }
  nc.setOutput(0, x.elemType, dims);
  return Error::success();
}

/// Tile as one llmc.concat of copies per repeated axis.
Error emitTile(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  SmallVector<int64_t> repeats = *nc.input(1).constInts();
  TensorInfo cur;
  cur.elemType = nc.input(0).elemType;
  cur.dims = nc.input(0).dims;
  mlir::Value v = *x;
  for (size_t axis = 0; axis < repeats.size(); ++axis) {
    if (repeats[axis] == 1)
      continue;
    cur.dims[axis] = nc.output(0).dims[axis];
    SmallVector<mlir::Value> copies(size_t(repeats[axis]), v);
    v = nc.builder().create<llmc::ConcatOp>(nc.loc(), tensorTypeOf(cur), copies,
                                            int64_t(axis));
  }
  nc.setResult(0, v);
  return Error::success();
}

// --- Trilu ------------------------------------------------------------------------------

Error inferTrilu(NodeContext &nc) {
  if (!nc.hasInput(0) || nc.input(0).rank() < 2)
    return nc.error("expects an input of rank >= 2");
  if (nc.hasInput(1)) {
    auto k = nc.constIntsInput(1, "k");
    if (!k)
      return k.takeError();
    if (k->size() != 1)
      return nc.error("k must be a scalar");
  }
  TensorInfo &x = nc.input(0);
  nc.setOutput(0, x.elemType, x.dims);
  return Error::success();
}

Error emitTrilu(NodeContext &nc) {
  auto x = nc.operand(0);
  if (!x)
    return x.takeError();
  int64_t k = 0;
  if (nc.hasInput(1))
    k = (*nc.input(1).constInts())[0];
  bool upper = nc.intAttrOr("upper", 1) != 0;
  mlir::OpBuilder &b = nc.builder();
  nc.setResult(0, b.create<llmc::TriluOp>(nc.loc(), nc.outputType(0), *x,
                                          b.getBoolAttr(upper),
                                          b.getI64IntegerAttr(k)));
  return Error::success();
}

} // namespace

void llmc::onnx_import::registerTensorOps(OpRegistry &r) {
  constexpr int64_t lo = kMinOpset, hi = kMaxOpset;
  r.add({"", "Gather", lo, hi, inferGather, emitGather});
  r.add({"", "Concat", lo, hi, inferConcat, emitConcat});
  r.add({"", "Slice", lo, hi, inferSlice, emitSlice});
  r.add({"", "Split", lo, hi, inferSplit, emitSplit});
  r.add({"", "Transpose", lo, hi, inferTranspose, emitTranspose});
  r.add({"", "Trilu", 14, hi, inferTrilu, emitTrilu});
  r.add({"", "Tile", lo, hi, inferTile, emitTile});
}
