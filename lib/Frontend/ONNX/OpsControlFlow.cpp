//===- OpsControlFlow.cpp - If between constant branches -------------------===//
//
// The one control flow transformer exports contain: ONNX Runtime GenAI's
// LongRoPE models (Phi-3/3.5/4-mini) pick their rotary caches with
//
//   If(total_sequence_length > original_max_position_embeddings)
//     then: Constant cos_cache_large, Constant sin_cache_large
//     else: Constant cos_cache_small, Constant sin_cache_small
//
// An If whose branches only hold Constant nodes is a choice between values:
// it is imported as `llmc.where(cond, then, else)` per output, which the
// rope fusion reads (FuseRope's LongRopeTables). The branches may differ in
// their first dim (the long cache covers the whole context, the short one
// the original): the shorter value is padded with zero rows (an llmc.concat,
// so its own rows stay visible). Reading a padding row is what ONNX
// Runtime would refuse (an index past the chosen cache); llmc reads zeros.
// A constant condition imports the chosen branch alone. Anything else in a
// branch (an op reading outer values, a nested graph) is refused.
//
//===----------------------------------------------------------------------===//

#include "OpHelpers.h"
#include "OpRegistry.h"

#include "llmc/LLMCOps.h"

using namespace llmc::onnx_import;
using llvm::Error;
using llvm::SmallVector;

namespace {

/// One output of a branch: the Constant's tensor and its type.
struct BranchValue {
  const onnx::TensorProto *tensor;
  mlir::RankedTensorType type;
};

/// Each output of `branch`, from its Constant nodes (their types only: infer
/// needs no values, emit reads them once).
llvm::Expected<SmallVector<BranchValue>>
branchValues(NodeContext &nc, const onnx::GraphProto &branch, llvm::StringRef which) {
  llvm::StringMap<const onnx::TensorProto *> values;
  for (const onnx::TensorProto &t : branch.initializer())
    values[t.name()] = &t;
  for (const onnx::NodeProto &n : branch.node()) {
    const onnx::AttributeProto *v = nullptr;
    for (const auto &a : n.attribute())
      if (a.name() == "value" && a.type() == onnx::AttributeProto::TENSOR)
        v = &a;
    if (!(n.domain().empty() || n.domain() == "ai.onnx") || n.op_type() != "Constant" ||
        n.output_size() != 1 || !v)
      return nc.error("its " + which + " branch computes something ('" + n.op_type() +
                      "' node '" + n.name() +
                      "'): llmc imports If only as a choice between constant values "
                      "(Constant nodes)");
    values[n.output(0)] = &v->t();
  }
  SmallVector<BranchValue> out;
  for (const onnx::ValueInfoProto &o : branch.output()) {
    auto it = values.find(o.name());
    if (it == values.end())
      return nc.error("its " + which + " branch's output '" + o.name() +
                      "' is not a constant");
    const onnx::TensorProto &t = *it->second;
    mlir::Type elem = elementTypeOf(nc.getContext(), t.data_type());
    if (!elem)
      return nc.error("its " + which + " branch's output '" + o.name() +
                      "' has unsupported type " + dataTypeName(t.data_type()));
    SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
    out.push_back({&t, mlir::RankedTensorType::get(shape, elem)});
  }
  return out;
}

struct Branches {
  SmallVector<BranchValue> then, otherwise;
};

llvm::Expected<Branches> branches(NodeContext &nc) {
  const onnx::AttributeProto *t = nc.attr("then_branch"), *e = nc.attr("else_branch");
  if (!t || !e || t->type() != onnx::AttributeProto::GRAPH ||
      e->type() != onnx::AttributeProto::GRAPH)
    return nc.error("needs then_branch and else_branch graphs");
  auto tv = branchValues(nc, t->g(), "then");
  if (!tv)
    return tv.takeError();
  auto ev = branchValues(nc, e->g(), "else");
  if (!ev)
    return ev.takeError();
  if (tv->size() != nc.numOutputs() || ev->size() != nc.numOutputs())
    return nc.error("its branches must each give its " + llvm::Twine(nc.numOutputs()) +
                    " outputs");
  return Branches{std::move(*tv), std::move(*ev)};
}

/// Both branches' output `i` have one element type and rank, and differ in
/// their first dim at most.
Error checkPair(NodeContext &nc, unsigned i, mlir::RankedTensorType at,
                mlir::RankedTensorType bt) {
  if (at.getElementType() != bt.getElementType() || at.getRank() != bt.getRank() ||
      at.getRank() == 0 || at.getShape().drop_front() != bt.getShape().drop_front())
    return nc.error("its branches' output " + llvm::Twine(i) +
                    " differ in element type, rank or a dim other than the first");
  return Error::success();
}

/// Whether the condition is known (a folded constant), and its value.
std::optional<bool> knownCondition(NodeContext &nc) {
  if (auto c = nc.input(0).constInts(); c && c->size() == 1)
    return (*c)[0] != 0;
  return std::nullopt;
}

Error inferIf(NodeContext &nc) {
  if (!nc.hasInput(0))
    return nc.error("needs a condition");
  TensorInfo &cond = nc.input(0);
  if (!cond.elemType.isInteger(1) || cond.staticNumElements() != std::optional<int64_t>(1))
    return nc.error("its condition must be a single bool");
  auto br = branches(nc);
  if (!br)
    return br.takeError();
  std::optional<bool> known = knownCondition(nc);
  for (unsigned i = 0; i < nc.numOutputs(); ++i) {
    mlir::RankedTensorType at = br->then[i].type, bt = br->otherwise[i].type;
    if (Error e = checkPair(nc, i, at, bt))
      return e;
    SmallVector<DimExpr, 4> dims;
    for (int64_t d = 0; d < at.getRank(); ++d) {
      int64_t n = known ? (*known ? at : bt).getDimSize(d)
                        : std::max(at.getDimSize(d), bt.getDimSize(d));
      dims.push_back(DimExpr::constant(n));
    }
    nc.setOutput(i, at.getElementType(), dims);
  }
  return Error::success();
}

/// Branch output `v` as an llmc.constant padded with zero rows to `rows`.
llvm::Expected<mlir::Value> paddedConstant(NodeContext &nc, const BranchValue &v,
                                           int64_t rows) {
  auto bytes = nc.importer().model().tensorBytes(*v.tensor);
  if (!bytes)
    return nc.error(llvm::toString(bytes.takeError()));
  mlir::RankedTensorType type = v.type;
  mlir::Value c = nc.constantOf(type, denseFromBytes(type, *bytes));
  if (type.getDimSize(0) == rows)
    return c;
  SmallVector<int64_t> padShape(type.getShape());
  padShape[0] = rows - type.getDimSize(0);
  auto padType = mlir::RankedTensorType::get(padShape, type.getElementType());
  mlir::Attribute zero = nc.builder().getZeroAttr(type.getElementType());
  mlir::Value pad = nc.constantOf(padType, mlir::DenseElementsAttr::get(padType, zero));
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = rows;
  return nc.builder()
      .create<llmc::ConcatOp>(nc.loc(),
                              mlir::RankedTensorType::get(shape, type.getElementType()),
                              mlir::ValueRange{c, pad}, 0)
      .getResult();
}

Error emitIf(NodeContext &nc) {
  auto br = branches(nc);
  if (!br)
    return br.takeError();
  std::optional<bool> known = knownCondition(nc);
  mlir::Value cond;
  if (!known) {
    auto c = nc.operand(0);
    if (!c)
      return c.takeError();
    cond = *c;
  }
  for (unsigned i = 0; i < nc.numOutputs(); ++i) {
    const int64_t rows = nc.outputType(i).getDimSize(0);
    if (known) {
      auto v = paddedConstant(nc, *known ? br->then[i] : br->otherwise[i], rows);
      if (!v)
        return v.takeError();
      nc.setResult(i, *v);
      continue;
    }
    auto a = paddedConstant(nc, br->then[i], rows);
    if (!a)
      return a.takeError();
    auto b = paddedConstant(nc, br->otherwise[i], rows);
    if (!b)
      return b.takeError();
    nc.setResult(i, nc.builder().create<llmc::WhereOp>(nc.loc(), nc.outputType(i), cond,
                                                       *a, *b));
  }
  return Error::success();
}

} // namespace

void llmc::onnx_import::registerControlFlowOps(OpRegistry &r) {
  r.add({"", "If", kMinOpset, kMaxOpset, inferIf, emitIf});
}
