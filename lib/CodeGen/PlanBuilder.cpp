//===- PlanBuilder.cpp - Fused @main -> ProgramPlan -----------------------===//
//
// One walk over the ops the results depend on. Each tensor value becomes a
// strided view: (arena region, offset, dims) where every dim is static or one
// of the symbols batch (1), S (tokens of this call) or T (past + new). Shape
// plumbing only rewrites views; compute ops allocate a region laid out
// token-major ([S][static dims...]) and append a Step.
//
//===----------------------------------------------------------------------===//

#include "PlanBuilder.h"
#include "OpError.h"
// The fusion patterns' predicates on shape arithmetic (shape_of dims,
// scalar constants), for the position ranges the plan recognizes.
#include "../Transforms/MatchUtils.h"

#include "llmc/LLMCOps.h"
#include "llmc/LLMCTypes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>
#include <numeric>

using namespace mlir;
using namespace llvm;

namespace llmc::codegen {
namespace {

enum class Sym : uint8_t { Static, Batch, Seq, Total };

struct Dim {
  Sym sym = Sym::Static;
  int64_t size = 1; // static size (batch: 1)
  int64_t stride = 0;
};

enum class VKind : uint8_t {
  Activation, // arena region
  Weight,     // compile-time weight expression
  Tokens,     // input_ids
  Positions,  // position_ids
  Past,       // past_key_values.*
  Present,    // KV cache after an attention
  Ignored,    // attention_mask and what is computed from it only
};

struct VInfo {
  VKind kind = VKind::Ignored;
  int32_t region = -1;
  int64_t offset = 0;
  SmallVector<Dim, 4> dims;
  bool ropeCos = false, ropeSin = false; // RopeTables outputs
  int32_t ropeStep = -1;
};

struct Region {
  int64_t perToken = 0;
  int32_t def = -1, lastUse = -1;
  int64_t base = -1;
};

VInfo kindOnly(VKind k) {
  VInfo v;
  v.kind = k;
  return v;
}

class Builder {
public:
  Builder(func::FuncOp fn, const CompileOptions &opts, PlanResult &out)
      : fn_(fn), out_(out) {}

  Error run();

private:
  Error visit(Operation *op);
  Expected<int32_t> weightSlot(Value root, SlotKind kind, Operation *user);
  int32_t newRegion(int64_t perToken) {
    regions_.push_back({perToken, int32_t(plan().steps.size()), -1, -1});
    return int32_t(regions_.size() - 1);
  }
  void use(const VInfo &v) {
    if (v.kind == VKind::Activation && v.region >= 0)
      regions_[v.region].lastUse = int32_t(plan().steps.size());
  }
  /// A token-major view of a fresh region: [batch, S, static dims...] or,
  /// for heads-first tensors [B, H, S, D], physically [S][H][D].
  VInfo allocate(ArrayRef<Dim> logical);
  Expected<RowView> rowView(Operation *op, const VInfo &v, int64_t &width,
                            StringRef what);
  Expected<HeadView> headView(Operation *op, const VInfo &v, int64_t &heads,
                              int64_t &headDim, StringRef what);
  /// The heads of a token-major [batch, S, heads * D] value.
  Expected<HeadView> tokenMajorHeadView(Operation *op, const VInfo &v,
                                        int64_t heads, int64_t &headDim,
                                        StringRef what);
  Expected<VInfo> reshape(Operation *op, const VInfo &in, ArrayRef<int64_t> shape);
  ProgramPlan &plan() { return out_.plan; }
  Expected<const VInfo *> get(Operation *op, Value v) {
    auto it = values_.find(v);
    if (it == values_.end())
      return opError(op, "operand produced by an unsupported computation");
    return &it->second;
  }
  /// values_[v] = info, with `info` taken by value: a VInfo read from
  /// values_ (get) would dangle once inserting `v` rehashes the map.
  void define(Value v, VInfo info) { values_[v] = std::move(info); }
  Error finish();

  func::FuncOp fn_;
  PlanResult &out_;
  llvm::DenseMap<Value, VInfo> values_;
  std::vector<Region> regions_;
  // Per step: the regions its views refer to (in, in2, out, q, k, v, o, cos, sin).
  std::vector<std::array<int32_t, 9>> stepRegions_;
  llvm::DenseMap<Value, int32_t> slotOf_;
  llvm::DenseMap<Value, std::pair<int32_t, bool>> presentOf_; // value -> (layer, isValue)
  /// Matmul outputs (a whole Matmul step's, or one merged_matmul result's
  /// columns) that a bias add may fold into.
  struct MatmulColumns {
    int32_t step;
    int64_t start, width;
  };
  llvm::DenseMap<Value, MatmulColumns> matmulColumns_;
  /// Per Matmul step: the 1-D biases added to its columns, as (start, bias).
  std::map<int32_t, SmallVector<std::pair<int64_t, Value>, 3>> biasesOf_;
  Error foldBias(AddOp add, Value matmulOut, Value bias);
  Error checkMask(Operation *attention, Value mask, AttentionMaskUse &use);
  Error collectShapeInputs(Value root, llvm::DenseMap<Value, RunShape> &shapes,
                           llvm::function_ref<Error(const Twine &)> fail);
  std::optional<RunShape> runShapeOf(Value v);
  bool isPositionRange(RangeOp r);
  Error attachBiases();
  /// Gives packed slot `packed` the dense bias slot `bias` (added by the
  /// runtime after the kernel); an error if it already has another.
  Error setBias(Operation *op, int32_t packed, int32_t bias);
  int32_t layers_ = 0;
  int32_t logitsRegion_ = -1;
  /// Each rope_tables step planned and its cos/sin values.
  std::vector<std::pair<RopeCosSinOp, std::pair<VInfo, VInfo>>> ropeTables_;
};

bool isWeightExpr(Operation *op) {
  if (auto c = dyn_cast<ConstantOp>(op))
    // A small float initializer the importer keeps in the IR: a weight only
    // as a bias (of a quantized matmul, or added to a matmul's output: the
    // add checks that) or a part of one, or as a norm's scale or shift
    // (Qwen3's per-head q/k norms have head_dim of them).
    // A constant without uses is one CodeGen made to be a slot itself (a
    // rope step's frequencies).
    return isa<FloatType>(cast<ShapedType>(c.getType()).getElementType()) &&
           llvm::all_of(c->getUses(), [](OpOperand &u) {
             if (auto qm = dyn_cast<QMatMulOp>(u.getOwner()))
               return qm.getBias() == u.get();
             if (auto n = dyn_cast<RMSNormOp>(u.getOwner()))
               return n.getWeight() == u.get();
             if (auto n = dyn_cast<LayerNormOp>(u.getOwner()))
               return n.getX() != u.get();
             return isa<AddOp, SubOp, MulOp, DivOp, ConcatOp>(u.getOwner());
           });
  // Arithmetic counts only where every operand is a weight expression too
  // (the visit checks; Gemma's (1 + w) norms, a scaled embedding table).
  // A quantized weight read as floats (a GatherBlockQuantized table).
  return isa<WeightOp, DequantizeOp, TransposeOp, ConcatOp, ReshapeOp, CastOp, AddOp,
             SubOp, MulOp, DivOp>(op);
}

/// Whether argument `arg` is the position input (ONNX name `position_ids`,
/// as HF/Optimum exports call it). Gathers by it read learned position
/// embeddings; gathers by any other integer input read token embeddings.
bool isPositionInput(func::FuncOp fn, BlockArgument arg) {
  auto name = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "llmc.onnx_name");
  return name && name.getValue().contains("position");
}

} // namespace

//===----------------------------------------------------------------------===//

VInfo Builder::allocate(ArrayRef<Dim> logical) {
  VInfo v;
  v.kind = VKind::Activation;
  // Physical order: static dims in logical order, innermost last; the token
  // dim outermost. Batch dims get stride 0.
  int64_t stride = 1;
  v.dims.assign(logical.begin(), logical.end());
  for (int i = int(v.dims.size()) - 1; i >= 0; --i) {
    if (v.dims[i].sym == Sym::Static) {
      v.dims[i].stride = stride;
      stride *= v.dims[i].size;
    }
  }
  for (Dim &d : v.dims)
    if (d.sym == Sym::Seq || d.sym == Sym::Total)
      d.stride = stride;
    else if (d.sym == Sym::Batch)
      d.stride = 0;
  v.region = newRegion(stride);
  v.offset = 0;
  return v;
}

Expected<RowView> Builder::rowView(Operation *op, const VInfo &v, int64_t &width,
                                   StringRef what) {
  if (v.kind != VKind::Activation)
    return opError(op, what + " must be an activation");
  // [batch?, S, static...] with the static dims contiguous.
  size_t i = 0;
  while (i < v.dims.size() && v.dims[i].sym == Sym::Batch)
    ++i;
  if (i >= v.dims.size() || v.dims[i].sym != Sym::Seq)
    return opError(op, what + " must be laid out as [batch, sequence, features]");
  RowView r;
  r.offset = v.offset;
  r.rowStride = v.dims[i].stride;
  width = 1;
  int64_t expect = 1;
  for (size_t j = v.dims.size(); j-- > i + 1;) {
    const Dim &d = v.dims[j];
    if (d.sym != Sym::Static)
      return opError(op, what + " has a second dynamic dimension");
    if (d.size != 1 && d.stride != expect)
      return opError(op, what + " is not contiguous in its feature dimensions "
                            "(needs a copy, which CodeGen does not plan yet)");
    expect *= d.size;
    width *= d.size;
  }
  return r;
}

Expected<HeadView> Builder::headView(Operation *op, const VInfo &v, int64_t &heads,
                                     int64_t &headDim, StringRef what) {
  if (v.kind != VKind::Activation)
    return opError(op, what + " must be an activation");
  if (v.dims.size() != 4 || v.dims[0].sym != Sym::Batch ||
      v.dims[1].sym != Sym::Static || v.dims[2].sym != Sym::Seq ||
      v.dims[3].sym != Sym::Static || v.dims[3].stride != 1)
    return opError(op, what + " must be [batch, heads, sequence, head_dim] with a "
                          "contiguous head_dim");
  HeadView h;
  h.offset = v.offset;
  h.headStride = v.dims[1].stride;
  h.tokenStride = v.dims[2].stride;
  heads = v.dims[1].size;
  headDim = v.dims[3].size;
  return h;
}

Expected<HeadView> Builder::tokenMajorHeadView(Operation *op, const VInfo &v,
                                               int64_t heads, int64_t &headDim,
                                               StringRef what) {
  if (v.kind != VKind::Activation)
    return opError(op, what + " must be an activation");
  if (v.dims.size() != 3 || v.dims[0].sym != Sym::Batch ||
      v.dims[1].sym != Sym::Seq || v.dims[2].sym != Sym::Static ||
      v.dims[2].stride != 1 || heads <= 0 || v.dims[2].size % heads != 0)
    return opError(op, what + " must be [batch, sequence, heads * head_dim] with "
                          "contiguous features");
  headDim = v.dims[2].size / heads;
  HeadView h;
  h.offset = v.offset;
  h.headStride = headDim;
  h.tokenStride = v.dims[1].stride;
  return h;
}

Expected<VInfo> Builder::reshape(Operation *op, const VInfo &in,
                                 ArrayRef<int64_t> shape) {
  // Output dims: 0 copies, -1 inferred, n static.
  SmallVector<Dim, 6> outDims;
  int inferAt = -1;
  for (auto [i, s] : llvm::enumerate(shape)) {
    if (s == 0) {
      if (i >= in.dims.size())
        return opError(op, "reshape copies a dimension the input lacks");
      outDims.push_back(in.dims[i]);
    } else if (s == -1) {
      inferAt = int(i);
      outDims.push_back(Dim{Sym::Static, 1, 0});
    } else {
      outDims.push_back(Dim{Sym::Static, s, 0});
    }
  }
  // Symbols and static products.
  auto count = [](ArrayRef<Dim> ds, Sym s) {
    return llvm::count_if(ds, [&](const Dim &d) { return d.sym == s; });
  };
  int64_t inStatic = 1, outStatic = 1;
  for (const Dim &d : in.dims)
    if (d.sym == Sym::Static)
      inStatic *= d.size;
  for (auto [i, d] : llvm::enumerate(outDims))
    if (d.sym == Sym::Static && int(i) != inferAt)
      outStatic *= d.size;
  if (inferAt >= 0) {
    Sym missing = Sym::Static;
    for (Sym s : {Sym::Seq, Sym::Total, Sym::Batch})
      if (count(in.dims, s) > count(outDims, s)) {
        missing = s;
        break;
      }
    if (missing != Sym::Static && inStatic == outStatic) {
      outDims[inferAt] = Dim{missing, 1, 0};
    } else {
      if (outStatic == 0 || inStatic % outStatic)
        return opError(op, "cannot infer the -1 dimension of the reshape");
      outDims[inferAt].size = inStatic / outStatic;
      outStatic *= outDims[inferAt].size;
    }
  }
  if (inStatic != outStatic ||
      count(in.dims, Sym::Seq) != count(outDims, Sym::Seq) ||
      count(in.dims, Sym::Total) != count(outDims, Sym::Total))
    return opError(op, "reshape changes the number of elements");

  // Strides: drop size-1 / batch dims, match groups.
  SmallVector<int, 6> ii, oo;
  for (auto [i, d] : llvm::enumerate(in.dims))
    if (!(d.sym == Sym::Batch || (d.sym == Sym::Static && d.size == 1)))
      ii.push_back(int(i));
  for (auto [i, d] : llvm::enumerate(outDims))
    if (!(d.sym == Sym::Batch || (d.sym == Sym::Static && d.size == 1)))
      oo.push_back(int(i));
  for (Dim &d : outDims)
    d.stride = 0;
  size_t a = 0, b = 0;
  while (a < ii.size() || b < oo.size()) {
    if (a >= ii.size() || b >= oo.size())
      return opError(op, "reshape dims do not match");
    const Dim &da = in.dims[ii[a]];
    Dim &db = outDims[oo[b]];
    if (da.sym != Sym::Static || db.sym != Sym::Static) {
      if (da.sym != db.sym)
        return opError(op, "reshape moves a dynamic dimension");
      db.stride = da.stride;
      ++a, ++b;
      continue;
    }
    // A static group: in dims [a, a2), out dims [b, b2) with equal products.
    size_t a2 = a + 1, b2 = b + 1;
    int64_t pa = da.size, pb = db.size;
    while (pa != pb) {
      if (pa < pb) {
        if (a2 >= ii.size() || in.dims[ii[a2]].sym != Sym::Static)
          return opError(op, "reshape groups do not match");
        pa *= in.dims[ii[a2++]].size;
      } else {
        if (b2 >= oo.size() || outDims[oo[b2]].sym != Sym::Static)
          return opError(op, "reshape groups do not match");
        pb *= outDims[oo[b2++]].size;
      }
    }
    for (size_t k = a; k + 1 < a2; ++k)
      if (in.dims[ii[k]].stride !=
          in.dims[ii[k + 1]].stride * in.dims[ii[k + 1]].size)
        return opError(op, "reshape of a non-contiguous view needs a copy, which "
                       "CodeGen does not plan yet");
    int64_t stride = in.dims[ii[a2 - 1]].stride;
    for (size_t k = b2; k-- > b;) {
      outDims[oo[k]].stride = stride;
      stride *= outDims[oo[k]].size;
    }
    a = a2, b = b2;
  }
  VInfo r = in;
  r.dims.assign(outDims.begin(), outDims.end());
  return r;
}

Expected<int32_t> Builder::weightSlot(Value root, SlotKind kind, Operation *user) {
  auto key = root;
  auto it = slotOf_.find(key);
  // The same weight may be used densely (embedding) and packed (tied lm_head
  // through a transpose): the lookup is by value, and a transpose is a
  // different value, so each use gets the slot of its own kind.
  if (it != slotOf_.end() && plan().weights[it->second].kind == kind)
    return it->second;
  // A pre-quantized ONNX weight (!llmc.qweight, from the importer) is packed
  // as it is: its slot's root is the llmc.weight itself.
  if (auto qt = dyn_cast<QWeightType>(root.getType())) {
    auto w = root.getDefiningOp<WeightOp>();
    if (kind != SlotKind::Packed || !w)
      return opError(user, "an !llmc.qweight must be the llmc.weight operand of an "
                       "llmc.qmatmul");
    WeightSlot s;
    s.kind = SlotKind::Packed;
    s.name = w.getName().str();
    s.shape = {qt.getN(), qt.getK()};
    plan().weights.push_back(s);
    out_.roots.push_back(root);
    slotOf_[key] = int32_t(plan().weights.size() - 1);
    return int32_t(plan().weights.size() - 1);
  }
  auto type = dyn_cast<RankedTensorType>(root.getType());
  if (!type || !type.hasStaticShape())
    return opError(user, "weights must be statically shaped tensors");
  WeightSlot s;
  s.kind = kind;
  // A readable name: the llmc.weight names under the expression.
  SmallVector<Value> work{root};
  std::string name;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *d = v.getDefiningOp();
    if (!d)
      return opError(user, "weight operand is a function argument");
    if (auto w = dyn_cast<WeightOp>(d)) {
      name = name.empty() ? w.getName().str() : name + "+" + w.getName().str();
      continue;
    }
    if (!isWeightExpr(d))
      return opError(user, "weight operand is computed by '" +
                           d->getName().getStringRef() +
                           "', which CodeGen cannot evaluate at compile time");
    for (Value o : llvm::reverse(d->getOperands()))
      work.push_back(o);
  }
  s.name = name;
  if (kind == SlotKind::Packed) {
    if (type.getRank() != 2)
      return opError(user, "matmul weight must be 2-D [K, N]");
    s.shape = {type.getDimSize(1), type.getDimSize(0)}; // {N, K}
  } else {
    s.shape.assign(type.getShape().begin(), type.getShape().end());
  }
  plan().weights.push_back(s);
  out_.roots.push_back(root);
  slotOf_[key] = int32_t(plan().weights.size() - 1);
  return int32_t(plan().weights.size() - 1);
}

Error Builder::visit(Operation *op) {
  auto &steps = plan().steps;
  auto addStep = [&](Step s, std::array<int32_t, 9> regs) {
    steps.push_back(s);
    stepRegions_.push_back(regs);
  };
  auto dimsOf = [](const VInfo &v) { return SmallVector<Dim, 4>(v.dims); };

  if (isWeightExpr(op) && !isa<CastOp>(op) &&
      llvm::all_of(op->getOperands(), [&](Value v) {
        auto it = values_.find(v);
        return it != values_.end() && it->second.kind == VKind::Weight;
      })) {
    values_[op->getResult(0)] = kindOnly(VKind::Weight);
    return Error::success();
  }
  if (auto c = dyn_cast<CastOp>(op)) {
    auto in = get(op, c.getX());
    if (!in)
      return in.takeError();
    if (c.getX().getType() != c.getType())
      return opError(op, "casts between element types are not supported (f32 "
                     "models only for now)");
    define(c.getResult(), **in);
    return Error::success();
  }
  if (auto g = dyn_cast<GatherOp>(op)) {
    auto table = get(op, g.getData());
    auto ids = get(op, g.getIndices());
    if (!table)
      return table.takeError();
    if (!ids)
      return ids.takeError();
    const bool positions = (*ids)->kind == VKind::Positions;
    if ((*table)->kind != VKind::Weight ||
        ((*ids)->kind != VKind::Tokens && !positions) || g.getAxis() != 0 ||
        cast<RankedTensorType>(g.getData().getType()).getRank() != 2)
      return opError(op, "only embedding lookups (a [rows, D] weight table by "
                     "input_ids or position_ids, axis 0) are supported");
    auto slot = weightSlot(g.getData(), SlotKind::Dense, op);
    if (!slot)
      return slot.takeError();
    int64_t D = plan().weights[*slot].shape.back();
    VInfo o = allocate({Dim{Sym::Batch}, Dim{Sym::Seq}, Dim{Sym::Static, D}});
    Step s;
    // Learned absolute positions (GPT-2's wpe): the program's positions are
    // pos, pos + 1, ... as for rotary tables, and the table's rows bound
    // the context (PlanResult::positionRows).
    s.kind = positions ? StepKind::EmbedPositions : StepKind::Embed;
    if (positions) {
      const int64_t rows = plan().weights[*slot].shape[0];
      out_.positionRows = out_.positionRows ? std::min(out_.positionRows, rows) : rows;
    }
    s.weight = *slot;
    s.out = RowView{o.offset, o.dims[1].stride};
    s.width = D;
    addStep(s, {-1, -1, o.region, -1, -1, -1, -1, -1, -1});
    values_[g.getResult()] = o;
    return Error::success();
  }
  // A row-wise step producing a value of x's shape (norms, GELU): `fill`
  // sets the step's own fields once the row width is known.
  auto rowwise = [&](Value xval, Value result, StepKind kind,
                     llvm::function_ref<Error(Step &)> fill) -> Error {
    auto x = get(op, xval);
    if (!x)
      return x.takeError();
    const VInfo xv = **x; // a copy: inserting below may rehash values_
    Step s;
    s.kind = kind;
    auto in = rowView(op, xv, s.width, "x");
    if (!in)
      return in.takeError();
    s.in = *in;
    if (Error e = fill(s))
      return e;
    use(xv);
    VInfo o = allocate(dimsOf(xv));
    int64_t w2;
    s.out = cantFail(rowView(op, o, w2, "out"));
    addStep(s, {xv.region, -1, o.region, -1, -1, -1, -1, -1, -1});
    values_[result] = o;
    return Error::success();
  };
  if (auto n = dyn_cast<RMSNormOp>(op))
    return rowwise(n.getX(), n.getResult(), StepKind::RmsNorm, [&](Step &s) -> Error {
      // The op normalizes the last dim; a row of more (q or k of every head,
      // [batch, S, heads, head_dim]) holds one vector per head.
      const int64_t last = cast<RankedTensorType>(n.getX().getType()).getShape().back();
      if (ShapedType::isDynamic(last) || last <= 0 || s.width % last)
        return opError(op, "the normalized dimension must be static and divide the row");
      s.groups = s.width / last;
      s.width = last;
      auto slot = weightSlot(n.getWeight(), SlotKind::Dense, op);
      if (!slot)
        return slot.takeError();
      s.weight = *slot;
      s.eps = n.getEpsilon().convertToFloat();
      return Error::success();
    });
  if (auto n = dyn_cast<LayerNormOp>(op))
    return rowwise(n.getX(), n.getResult(), StepKind::LayerNorm, [&](Step &s) -> Error {
      const int64_t rank = cast<RankedTensorType>(n.getX().getType()).getRank();
      const int64_t axis = n.getAxisAttr().getInt();
      if (axis != -1 && axis != rank - 1)
        return opError(op, "only layer norms over the last dimension are supported");
      // Scale and shift: dense [width] slots.
      auto denseVector = [&](Value v, StringRef what) -> Expected<int32_t> {
        auto vi = get(op, v);
        if (!vi)
          return vi.takeError();
        auto t = cast<RankedTensorType>(v.getType());
        if ((*vi)->kind != VKind::Weight || !t.hasStaticShape() ||
            t.getNumElements() != s.width)
          return opError(op, formatv("the {0} must be a weight of {1} elements", what,
                                 s.width));
        return weightSlot(v, SlotKind::Dense, op);
      };
      auto slot = denseVector(n.getWeight(), "scale");
      if (!slot)
        return slot.takeError();
      s.weight = *slot;
      if (Value b = n.getBias()) {
        auto bs = denseVector(b, "bias");
        if (!bs)
          return bs.takeError();
        s.bias = *bs;
        if (plan().weights[s.bias].name.empty())
          plan().weights[s.bias].name = plan().weights[s.weight].name + ".bias";
      }
      s.eps = n.getEpsilon().convertToFloat();
      return Error::success();
    });
  if (auto ge = dyn_cast<GeluOp>(op))
    return rowwise(ge.getX(), ge.getResult(), StepKind::Gelu, [&](Step &s) -> Error {
      s.geluTanh = ge.getApproximate() == GeluApproximation::tanh;
      plan().config.hidden = s.width;
      return Error::success();
    });
  if (auto sc = dyn_cast<SoftcapOp>(op))
    return rowwise(sc.getX(), sc.getResult(), StepKind::Softcap, [&](Step &s) -> Error {
      s.softcap = sc.getCap().convertToFloat();
      return Error::success();
    });
  // x[..., K] @ W -> [..., N]: one Matmul step on the packed slot of `wroot`;
  // returns the output's value (`xName` names x in errors).
  auto matmulStep = [&](Value xval, Value wroot,
                        const char *xName) -> Expected<VInfo> {
    auto x = get(op, xval);
    if (!x)
      return x.takeError();
    int64_t K;
    auto in = rowView(op, **x, K, xName);
    if (!in)
      return in.takeError();
    auto slot = weightSlot(wroot, SlotKind::Packed, op);
    if (!slot)
      return slot.takeError();
    const WeightSlot &ws = plan().weights[*slot];
    if (ws.shape[1] != K)
      return opError(op, "weight K does not match the activation");
    use(**x);
    auto dims = dimsOf(**x);
    while (dims.size() > 2 && dims.back().sym == Sym::Static)
      dims.pop_back();
    dims.push_back(Dim{Sym::Static, ws.shape[0]});
    VInfo o = allocate(dims);
    Step s;
    s.kind = StepKind::Matmul;
    s.weight = *slot;
    s.in = *in;
    s.width = ws.shape[0];
    s.inner = K;
    int64_t w2;
    s.out = cantFail(rowView(op, o, w2, "out"));
    addStep(s, {(*x)->region, -1, o.region, -1, -1, -1, -1, -1, -1});
    return o;
  };
  auto matmulResult = [&](Value xval, Value wroot, Value result) -> Error {
    auto o = matmulStep(xval, wroot, "a");
    if (!o)
      return o.takeError();
    values_[result] = *o;
    matmulColumns_[result] = {int32_t(steps.size() - 1), 0,
                              plan().steps.back().width};
    return Error::success();
  };
  if (auto m = dyn_cast<MatMulOp>(op)) {
    auto w = get(op, m.getB());
    if (!w)
      return w.takeError();
    if ((*w)->kind != VKind::Weight)
      return opError(op, "only matmuls by a weight are supported (attention "
                     "products must be fused into llmc.attention)");
    return matmulResult(m.getA(), m.getB(), m.getResult());
  }
  if (auto qm = dyn_cast<QMatMulOp>(op)) {
    // A pre-quantized ONNX matmul: the slot is packed from the ONNX bytes
    // (PrequantizedWeights), whatever --quant says for float weights.
    if (!qm.getW().getDefiningOp<WeightOp>())
      return opError(op, "the quantized weight must be an llmc.weight");
    if (Error e = matmulResult(qm.getX(), qm.getW(), qm.getResult()))
      return e;
    if (Value bias = qm.getBias()) {
      // Added by the runtime after the kernel: a dense [N] slot named by the
      // packed slot (WeightSlot::bias).
      auto b = get(op, bias);
      if (!b)
        return b.takeError();
      auto bt = cast<RankedTensorType>(bias.getType());
      const int32_t packed = plan().steps.back().weight;
      const int64_t N = plan().weights[packed].shape[0];
      if ((*b)->kind != VKind::Weight || bt.getRank() != 1 || bt.getDimSize(0) != N)
        return opError(op, "the bias must be a weight of shape [N]");
      auto slot = weightSlot(bias, SlotKind::Dense, op);
      if (!slot)
        return slot.takeError();
      if (plan().weights[*slot].name.empty()) // a constant, not an llmc.weight
        plan().weights[*slot].name = plan().weights[packed].name + ".bias";
      if (Error e = setBias(op, packed, *slot))
        return e;
    }
    return Error::success();
  }
  if (auto mm = dyn_cast<MergedMatMulOp>(op)) {
    // One matmul by the N-concatenation of the weights; the results are
    // column views of its output. The packed slot's root is an llmc.concat
    // of the weights (built here: the module is CodeGen's to annotate).
    if (Error e = get(op, mm.getX()).takeError())
      return e;
    for (Value w : mm.getWeights()) {
      auto wi = get(op, w);
      if (!wi)
        return wi.takeError();
      if ((*wi)->kind != VKind::Weight)
        return opError(op, "merged_matmul operands after x must be weights");
    }
    Value root = mm.getWeights().front();
    if (mm.getWeights().size() > 1) {
      int64_t total = 0;
      for (Value w : mm.getWeights())
        total += cast<RankedTensorType>(w.getType()).getDimSize(1);
      auto wt = cast<RankedTensorType>(root.getType());
      OpBuilder b(op);
      root = b.create<ConcatOp>(op->getLoc(),
                                RankedTensorType::get({wt.getDimSize(0), total},
                                                      wt.getElementType()),
                                mm.getWeights(), b.getI64IntegerAttr(1));
    }
    auto out = matmulStep(mm.getX(), root, "x");
    if (!out)
      return out.takeError();
    const VInfo o = *out;
    int64_t start = 0;
    for (Value r : mm.getResults()) {
      VInfo piece = o;
      int64_t n = cast<RankedTensorType>(r.getType()).getShape().back();
      piece.dims.back().size = n;
      piece.offset += start * o.dims.back().stride;
      values_[r] = piece;
      matmulColumns_[r] = {int32_t(steps.size() - 1), start, n};
      start += n;
    }
    return Error::success();
  }
  if (auto sp = dyn_cast<SplitOp>(op)) {
    auto x = get(op, sp.getX());
    if (!x)
      return x.takeError();
    const VInfo in = **x; // a copy: inserting below may rehash values_
    int64_t axis = sp.getAxisAttr().getInt();
    if (axis < 0)
      axis += in.dims.size();
    if (axis < 0 || axis >= int64_t(in.dims.size()) ||
        in.dims[axis].sym != Sym::Static)
      return opError(op, "only splits of a static dimension are supported");
    int64_t start = 0;
    for (Value r : sp.getOutputs()) {
      auto t = cast<RankedTensorType>(r.getType());
      VInfo o = in;
      int64_t size = t.getDimSize(axis);
      if (ShapedType::isDynamic(size))
        return opError(op, "split piece of unknown size");
      o.dims[axis].size = size;
      o.offset += start * in.dims[axis].stride;
      start += size;
      values_[r] = o;
    }
    return Error::success();
  }
  if (auto sl = dyn_cast<SliceOp>(op)) {
    auto x = get(op, sl.getX());
    if (!x)
      return x.takeError();
    VInfo o = **x;
    ArrayRef<int64_t> starts = sl.getStarts(), ends = sl.getEnds();
    SmallVector<int64_t> axes, steps2;
    if (auto a = sl.getAxes())
      axes.assign(a->begin(), a->end());
    else
      for (size_t i = 0; i < starts.size(); ++i)
        axes.push_back(int64_t(i));
    if (auto st = sl.getSteps())
      steps2.assign(st->begin(), st->end());
    else
      steps2.assign(starts.size(), 1);
    for (size_t i = 0; i < starts.size(); ++i) {
      int64_t ax = axes[i] < 0 ? axes[i] + int64_t(o.dims.size()) : axes[i];
      Dim &d = o.dims[ax];
      if (d.sym != Sym::Static || steps2[i] <= 0)
        return opError(op, "only forward slices of static dimensions are supported");
      int64_t n = d.size;
      int64_t b = starts[i] < 0 ? starts[i] + n : starts[i];
      int64_t e = ends[i] < 0 ? ends[i] + n : ends[i];
      b = std::clamp<int64_t>(b, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      o.offset += b * d.stride;
      d.size = e > b ? (e - b + steps2[i] - 1) / steps2[i] : 0;
      d.stride *= steps2[i];
    }
    values_[sl.getResult()] = o;
    return Error::success();
  }
  if (isa<RangeOp>(op) && values_.count(op->getResult(0)))
    return Error::success(); // a position range (run)
  if (auto r = dyn_cast<ReshapeOp>(op)) {
    auto x = get(op, r.getX());
    if (!x)
      return x.takeError();
    if ((*x)->kind == VKind::Positions) { // [S] as [1, S]
      define(r.getResult(), **x);
      return Error::success();
    }
    auto o = reshape(op, **x, r.getShape());
    if (!o)
      return o.takeError();
    values_[r.getResult()] = *o;
    return Error::success();
  }
  if (auto t = dyn_cast<TransposeOp>(op)) {
    auto x = get(op, t.getX());
    if (!x)
      return x.takeError();
    VInfo o = **x;
    for (auto [i, p] : llvm::enumerate(t.getPerm()))
      o.dims[i] = (*x)->dims[p];
    values_[t.getResult()] = o;
    return Error::success();
  }
  if (auto rc = dyn_cast<RopeCosSinOp>(op)) {
    auto p = get(op, rc.getPositionIds());
    if (!p)
      return p.takeError();
    if ((*p)->kind != VKind::Positions)
      return opError(op, "position_ids must be the model's position input");
    // Every position input is the same pos, pos + 1, ...: an op with the
    // attributes (and LongRoPE condition) of one already planned computes
    // its tables (GroupQueryAttention layers each build theirs from their own
    // past's length), so it reads that step's.
    for (auto &[earlier, tables] : ropeTables_)
      if (earlier->getAttrDictionary() == op->getAttrDictionary() &&
          earlier.getUseLong() == rc.getUseLong()) {
        values_[rc.getCos()] = tables.first;
        values_[rc.getSin()] = tables.second;
        return Error::success();
      }
    int64_t half = rc.getDimAttr().getInt() / 2;
    VInfo c = allocate({Dim{Sym::Batch}, Dim{Sym::Seq}, Dim{Sym::Static, half}});
    VInfo sn = allocate({Dim{Sym::Batch}, Dim{Sym::Seq}, Dim{Sym::Static, half}});
    Step s;
    s.kind = StepKind::RopeTables;
    s.rotHalf = half;
    s.headDim = rc.getDimAttr().getInt();
    s.theta = rc.getTheta().convertToDouble();
    s.scale = float(rc.getAttentionFactor().convertToDouble());
    // Scaled RoPE: the frequencies become a dense slot the step reads.
    auto freqSlot = [&](ArrayRef<float> freqs, StringRef name) -> Expected<int32_t> {
      OpBuilder b(fn_.getBody().front().getTerminator());
      auto type = RankedTensorType::get({half}, b.getF32Type());
      Value root = b.create<ConstantOp>(op->getLoc(), type, DenseElementsAttr::get(type, freqs));
      auto slot = weightSlot(root, SlotKind::Dense, op);
      if (!slot)
        return slot.takeError();
      plan().weights[*slot].name = name.str();
      return *slot;
    };
    if (auto freqs = rc.getInvFreq()) {
      auto slot = freqSlot(*freqs, "rope.inv_freq");
      if (!slot)
        return slot.takeError();
      s.weight = *slot;
    }
    if (Value useLong = rc.getUseLong()) {
      // LongRoPE: a second set (the op's verifier makes both explicit), used
      // past a total length findLongAfter finds once the context is known.
      auto slot = freqSlot(*rc.getLongInvFreq(), "rope.long_inv_freq");
      if (!slot)
        return slot.takeError();
      s.longWeight = *slot;
      s.longScale = float(rc.getLongAttentionFactor().convertToDouble());
      LongRopeChoice choice;
      choice.op = op;
      choice.useLong = useLong;
      choice.step = int32_t(steps.size());
      if (Error e = collectShapeInputs(useLong, choice.shapes, [&](const Twine &what) {
            return opError(op, "LongRoPE's choice of frequencies is computed from " +
                                   what + "; only shapes and the attention_mask input "
                                          "are supported");
          }))
        return e;
      out_.longRopeChoices.push_back(std::move(choice));
    }
    s.interleaved = rc.getConvention() == RopeConvention::interleaved;
    s.cos = c.offset;
    s.sin = sn.offset;
    c.ropeCos = true;
    sn.ropeSin = true;
    c.ropeStep = sn.ropeStep = int32_t(steps.size());
    addStep(s, {-1, -1, -1, -1, -1, -1, -1, c.region, sn.region});
    values_[rc.getCos()] = c;
    values_[rc.getSin()] = sn;
    ropeTables_.push_back({rc, {c, sn}});
    return Error::success();
  }
  if (auto rp = dyn_cast<RopeOp>(op)) {
    auto x = get(op, rp.getX());
    auto c = get(op, rp.getCos());
    auto sn = get(op, rp.getSin());
    if (!x)
      return x.takeError();
    if (!c)
      return c.takeError();
    if (!sn)
      return sn.takeError();
    if (!(*c)->ropeCos || !(*sn)->ropeSin || (*c)->ropeStep != (*sn)->ropeStep)
      return opError(op, "cos/sin must come from one llmc.rope_cos_sin");
    // Heads-first [B, H, S, D] or token-major [B, S, H * D] (num_heads).
    std::optional<uint64_t> numHeads = rp.getNumHeads();
    int64_t H = numHeads ? int64_t(*numHeads) : 0, D;
    auto in = numHeads ? tokenMajorHeadView(op, **x, H, D, "x")
                       : headView(op, **x, H, D, "x");
    if (!in)
      return in.takeError();
    use(**x);
    use(**c);
    use(**sn);
    VInfo o = allocate(dimsOf(**x));
    Step s;
    s.kind = StepKind::Rope;
    s.q = *in;
    int64_t h2, d2;
    s.o = numHeads ? cantFail(tokenMajorHeadView(op, o, H, d2, "out"))
                   : cantFail(headView(op, o, h2, d2, "out"));
    s.heads = H;
    s.headDim = D;
    s.rotHalf = (*c)->dims.back().size;
    s.interleaved = rp.getConvention() == RopeConvention::interleaved;
    s.cos = (*c)->offset;
    s.sin = (*sn)->offset;
    addStep(s, {-1, -1, -1, (*x)->region, -1, -1, o.region, (*c)->region,
                (*sn)->region});
    values_[rp.getResult()] = o;
    return Error::success();
  }
  if (auto at = dyn_cast<AttentionOp>(op)) {
    auto q = get(op, at.getQ());
    auto k = get(op, at.getK());
    auto v = get(op, at.getV());
    if (!q)
      return q.takeError();
    if (!k)
      return k.takeError();
    if (!v)
      return v.takeError();
    for (Value past : {at.getPastKey(), at.getPastValue()}) {
      if (!past)
        continue;
      auto p = get(op, past);
      if (!p)
        return p.takeError();
      if ((*p)->kind != VKind::Past)
        return opError(op, "past_key/past_value must be inputs of the function "
                       "(the KV cache)");
    }
    // Heads-first [B, H, S, D] or token-major [B, S, H * D] operands; both
    // are views of the same token-major arena layout.
    const bool tokenMajor =
        cast<RankedTensorType>(at.getQ().getType()).getRank() == 3;
    int64_t Hq = int64_t(at.getNumHeads()), Hk = int64_t(at.getNumKvHeads()),
            Hv = Hk, D, Dk, Dv;
    auto view = [&](const VInfo &vi, int64_t &heads, int64_t &hd,
                    StringRef what) {
      return tokenMajor ? tokenMajorHeadView(op, vi, heads, hd, what)
                        : headView(op, vi, heads, hd, what);
    };
    auto qv = view(**q, Hq, D, "q");
    if (!qv)
      return qv.takeError();
    auto kv = view(**k, Hk, Dk, "k");
    if (!kv)
      return kv.takeError();
    auto vv = view(**v, Hv, Dv, "v");
    if (!vv)
      return vv.takeError();
    use(**q);
    use(**k);
    use(**v);
    VInfo o = tokenMajor
                  ? allocate({Dim{Sym::Batch}, Dim{Sym::Seq},
                              Dim{Sym::Static, Hq * Dv}})
                  : allocate({Dim{Sym::Batch}, Dim{Sym::Static, Hq},
                              Dim{Sym::Seq}, Dim{Sym::Static, Dv}});
    Step s;
    s.kind = StepKind::Attention;
    s.q = *qv;
    s.k = *kv;
    s.v = *vv;
    int64_t h2 = Hq, d2;
    s.o = cantFail(view(o, h2, d2, "out"));
    s.heads = Hq;
    s.kvHeads = Hk;
    s.headDim = D;
    s.valueDim = Dv;
    s.scale = at.getScale().convertToFloat();
    s.softcap = at.getSoftcap().convertToFloat();
    // The program computes causal attention, within a sliding window if the
    // mask has one; the mask operand and the op's own flag must say no more
    // (checkMask, then checkCausalAttention once the context length is
    // known, which also finds the window).
    AttentionMaskUse maskUse;
    maskUse.attention = op;
    maskUse.layer = layers_;
    maskUse.mask = at.getMask();
    maskUse.causal = at.getCausal();
    if (maskUse.mask)
      if (Error e = checkMask(op, maskUse.mask, maskUse))
        return e;
    out_.attentionMasks.push_back(std::move(maskUse));
    s.causal = true;
    s.layer = layers_++;
    addStep(s, {-1, -1, -1, (*q)->region, (*k)->region, (*v)->region, o.region,
                -1, -1});
    values_[at.getOut()] = o;
    VInfo pk = kindOnly(VKind::Present), pv = kindOnly(VKind::Present);
    values_[at.getPresentKey()] = pk;
    values_[at.getPresentValue()] = pv;
    presentOf_[at.getPresentKey()] = {s.layer, false};
    presentOf_[at.getPresentValue()] = {s.layer, true};
    ModelConfig &c = plan().config;
    c.heads = Hq;
    c.kvHeads = Hk;
    c.headDim = D;
    c.valueDim = Dv;
    return Error::success();
  }
  if (auto moe = dyn_cast<MoEOp>(op)) {
    // One MoE step: the runtime routes each token and runs its experts'
    // matmuls (packed slots, quantized like any matmul weight) on the rows
    // routed to them.
    auto x = get(op, moe.getX());
    if (!x)
      return x.takeError();
    auto router = get(op, moe.getRouter());
    if (!router)
      return router.takeError();
    int64_t H, E;
    auto xv = rowView(op, **x, H, "x");
    if (!xv)
      return xv.takeError();
    auto rv = rowView(op, **router, E, "router");
    if (!rv)
      return rv.takeError();
    Step s;
    s.kind = StepKind::MoE;
    s.in = *xv;
    s.in2 = *rv;
    s.width = H;
    s.topK = int64_t(moe.getK());
    s.normalize = moe.getNormalize();
    switch (moe.getActivation()) {
    case MoEActivation::identity: s.expertAct = ExpertActivation::Identity; break;
    case MoEActivation::relu: s.expertAct = ExpertActivation::Relu; break;
    case MoEActivation::gelu_tanh: s.expertAct = ExpertActivation::GeluTanh; break;
    case MoEActivation::silu: s.expertAct = ExpertActivation::Silu; break;
    case MoEActivation::swiglu: s.expertAct = ExpertActivation::SwiGLU; break;
    }
    s.interleaved = moe.getInterleaved();
    s.alpha = moe.getAlpha().convertToFloat();
    s.beta = moe.getBeta().convertToFloat();
    s.limit = moe.getLimit() ? moe.getLimit()->convertToFloat() : 0.0f;
    s.inner = cast<RankedTensorType>(moe.getFc2().front().getType()).getDimSize(0);
    // Each expert's matmuls are slots of their own; a bias is its slot's
    // (added by the runtime after the kernel, as a quantized matmul's).
    auto expertSlots = [&](ValueRange weights, ValueRange biases,
                           const char *what) -> Error {
      for (auto [e, w] : llvm::enumerate(weights)) {
        auto wi = get(op, w);
        if (!wi)
          return wi.takeError();
        if ((*wi)->kind != VKind::Weight)
          return opError(op, Twine("the experts' ") + what + " must be weights");
        auto slot = weightSlot(w, SlotKind::Packed, op);
        if (!slot)
          return slot.takeError();
        s.experts.push_back(*slot);
        if (biases.empty())
          continue;
        auto b = weightSlot(biases[e], SlotKind::Dense, op);
        if (!b)
          return b.takeError();
        if (Error err = setBias(op, *slot, *b))
          return err;
      }
      return Error::success();
    };
    if (Error e = expertSlots(moe.getFc1(), moe.getFc1Bias(), "fc1"))
      return e;
    if (Error e = expertSlots(moe.getFc2(), moe.getFc2Bias(), "fc2"))
      return e;
    s.gated = !moe.getFc3().empty();
    if (Error e = expertSlots(moe.getFc3(), moe.getFc3Bias(), "fc3"))
      return e;
    if (plan().config.hidden == 0)
      plan().config.hidden = s.inner;
    // The router's matmul: the Matmul step that wrote the logits' region
    // whole (a bias folds into it).
    for (size_t i = steps.size(); i-- > 0;)
      if (stepRegions_[i][2] == (*router)->region) {
        if (steps[i].kind == StepKind::Matmul && steps[i].width == E)
          out_.routerSlots.push_back(steps[i].weight);
        break;
      }
    use(**x);
    use(**router);
    VInfo o = allocate(dimsOf(**x));
    int64_t w3;
    s.out = cantFail(rowView(op, o, w3, "out"));
    addStep(s, {(*x)->region, (*router)->region, o.region, -1, -1, -1, -1, -1, -1});
    values_[moe.getResult()] = o;
    return Error::success();
  }
  if (auto sw = dyn_cast<SwiGLUOp>(op)) {
    auto g = get(op, sw.getGate());
    if (!g)
      return g.takeError();
    int64_t width;
    auto gv = rowView(op, **g, width, "gate");
    if (!gv)
      return gv.takeError();
    RowView up = *gv;
    int32_t upRegion = (*g)->region;
    if (Value u = sw.getUp()) {
      auto uvi = get(op, u);
      if (!uvi)
        return uvi.takeError();
      int64_t w2;
      auto uv = rowView(op, **uvi, w2, "up");
      if (!uv)
        return uv.takeError();
      up = *uv;
      upRegion = (*uvi)->region;
      use(**uvi);
    } else {
      width /= 2;
      up.offset += width;
    }
    use(**g);
    auto dims = dimsOf(**g);
    while (dims.size() > 2 && dims.back().sym == Sym::Static)
      dims.pop_back();
    dims.push_back(Dim{Sym::Static, width});
    VInfo o = allocate(dims);
    Step s;
    s.kind = StepKind::SwiGLU;
    s.in = *gv;
    s.in2 = up;
    s.width = width;
    if (auto g = sw.getGelu()) {
      s.geglu = true;
      s.geluTanh = *g == GeluApproximation::tanh;
    }
    plan().config.hidden = width;
    int64_t w3;
    s.out = cantFail(rowView(op, o, w3, "out"));
    addStep(s, {(*g)->region, upRegion, o.region, -1, -1, -1, -1, -1, -1});
    values_[sw.getResult()] = o;
    return Error::success();
  }
  if (auto ad = dyn_cast<AddOp>(op)) {
    auto a = get(op, ad.getLhs());
    auto b = get(op, ad.getRhs());
    if (!a)
      return a.takeError();
    if (!b)
      return b.takeError();
    // A matmul's bias (nn.Linear(bias=True) exports as MatMul + Add).
    if ((*a)->kind == VKind::Weight && matmulColumns_.count(ad.getRhs()))
      return foldBias(ad, ad.getRhs(), ad.getLhs());
    if ((*b)->kind == VKind::Weight && matmulColumns_.count(ad.getLhs()))
      return foldBias(ad, ad.getLhs(), ad.getRhs());
    int64_t wa, wb;
    auto av = rowView(op, **a, wa, "lhs");
    if (!av)
      return av.takeError();
    auto bv = rowView(op, **b, wb, "rhs");
    if (!bv)
      return bv.takeError();
    // Equal shapes, up to a batch dim of 1 against a dynamic one (batch is
    // 1: learned positions [1, S, D] added to token embeddings [B, S, D]).
    auto ta = cast<RankedTensorType>(ad.getLhs().getType()),
         tb = cast<RankedTensorType>(ad.getRhs().getType());
    bool same = wa == wb && ta.getRank() == tb.getRank() &&
                ta.getElementType() == tb.getElementType();
    for (int64_t i = 0; same && i < ta.getRank(); ++i)
      same = ta.getDimSize(i) == tb.getDimSize(i) ||
             (i == 0 && (ta.getDimSize(0) == 1 || tb.getDimSize(0) == 1));
    if (!same)
      return opError(op, "only adds of equally shaped activations (residuals) are "
                     "supported");
    use(**a);
    use(**b);
    VInfo o = allocate(dimsOf(**a));
    Step s;
    s.kind = StepKind::Add;
    s.in = *av;
    s.in2 = *bv;
    s.width = wa;
    int64_t w3;
    s.out = cantFail(rowView(op, o, w3, "out"));
    addStep(s, {(*a)->region, (*b)->region, o.region, -1, -1, -1, -1, -1, -1});
    values_[ad.getResult()] = o;
    return Error::success();
  }
  if (auto ret = dyn_cast<func::ReturnOp>(op)) {
    if (ret.getNumOperands() == 0)
      return opError(op, "@main returns nothing");
    auto l = get(op, ret.getOperand(0));
    if (!l)
      return l.takeError();
    int64_t V;
    auto lv = rowView(op, **l, V, "logits");
    if (!lv)
      return lv.takeError();
    use(**l);
    plan().logits = *lv;
    plan().config.vocab = V;
    logitsRegion_ = (*l)->region;
    for (Value v : ret.getOperands().drop_front()) {
      if (!presentOf_.count(v))
        return opError(op, "results after the logits must be present_key/value of "
                       "attentions");
    }
    return Error::success();
  }
  // Constants and shape arithmetic often have no location of their own:
  // name what they feed, where the user can look for it.
  std::string feeds;
  if (!op->use_empty()) {
    Operation *u = *op->getUsers().begin();
    llvm::raw_string_ostream os(feeds);
    os << " (it feeds '" << u->getName().getStringRef() << "' at ";
    u->getLoc().print(os);
    os << ")";
  }
  return opError(op, "operation not supported by CodeGen" + feeds);
}

Error Builder::run() {
  // Roles of the arguments from their uses.
  for (BlockArgument arg : fn_.getArguments()) {
    VInfo v = kindOnly(VKind::Ignored);
    for (Operation *u : arg.getUsers()) {
      if (auto g = dyn_cast<GatherOp>(u); g && g.getIndices() == arg)
        v.kind = isPositionInput(fn_, arg) ? VKind::Positions : VKind::Tokens;
      else if (isa<RopeCosSinOp>(u))
        v.kind = VKind::Positions;
      else if (auto a = dyn_cast<AttentionOp>(u);
               a && (a.getPastKey() == arg || a.getPastValue() == arg))
        v.kind = VKind::Past;
    }
    values_[arg] = v;
  }
  // One token input: a second integer input indexing a table is a position
  // input only by its name, and a misread one would be silently wrong.
  if (llvm::count_if(fn_.getArguments(), [&](BlockArgument a) {
        return values_[a].kind == VKind::Tokens;
      }) > 1)
    return createStringError(
        inconvertibleErrorCode(),
        "more than one input indexes an embedding table; only input_ids and "
        "position_ids may (the position input must be named position_ids)");
  // Positions computed from the cache's length (HF's GPT-2 without a
  // position_ids input): the program knows them; their cone is not planned.
  fn_.walk([&](RangeOp r) {
    if (isPositionRange(r))
      values_[r.getResult()] = kindOnly(VKind::Positions);
  });
  // What the results need (attention masks, LongRoPE's choices and position
  // ranges are not followed).
  SmallVector<Operation *> work;
  Operation *ret = fn_.getBody().front().getTerminator();
  work.push_back(ret);
  llvm::DenseSet<Operation *> live;
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (!live.insert(op).second)
      continue;
    for (OpOperand &o : op->getOpOperands()) {
      if (auto a = dyn_cast<AttentionOp>(op);
          a && a.getMask() && o.get() == a.getMask())
        continue;
      if (auto rc = dyn_cast<RopeCosSinOp>(op); rc && o.get() == rc.getUseLong())
        continue;
      if (isa<RangeOp>(op) && values_.count(op->getResult(0)))
        break;
      if (Operation *d = o.get().getDefiningOp())
        work.push_back(d);
    }
  }
  for (Operation &op : fn_.getBody().front()) {
    if (!live.count(&op))
      continue;
    if (Error e = visit(&op))
      return e;
  }
  if (Error e = attachBiases())
    return e;
  return finish();
}

// range(P, P + S, 1) with P the length of a past_key/past_value input
// (its dim 2) and S the token count (dim 1 of the token input): the
// positions of this call's tokens, as the runtime numbers them.
bool Builder::isPositionRange(RangeOp r) {
  using match::peelScalarPlumbing;
  auto delta = match::getScalarInt(peelScalarPlumbing(r.getDelta()));
  if (!delta || *delta != 1)
    return false;
  // Dim `dim` of an argument of role `kind`.
  auto isArgDim = [&](Value v, int64_t dim, VKind kind) {
    auto d = match::matchShapeDim(peelScalarPlumbing(v));
    auto arg = d ? dyn_cast<BlockArgument>(d->value) : BlockArgument();
    return arg && d->dim == dim && values_.lookup(arg).kind == kind;
  };
  auto isPast = [&](Value v) { return isArgDim(v, 2, VKind::Past); };
  auto isTokenCount = [&](Value v) { return isArgDim(v, 1, VKind::Tokens); };
  auto limit = peelScalarPlumbing(r.getLimit()).getDefiningOp<AddOp>();
  if (!isPast(r.getStart()) || !limit)
    return false;
  return (isPast(limit.getLhs()) && isTokenCount(limit.getRhs())) ||
         (isTokenCount(limit.getLhs()) && isPast(limit.getRhs()));
}

// The program computes causal attention over the KV cache for one sequence
// and does not evaluate mask operands. What a mask means is checked once
// the context length is known (checkCausalAttention); here, a mask must be
// the same for every head and computed from the attention_mask input and
// shapes alone, so that it can be evaluated: masks that read weights,
// activations or other inputs (learned or per-head biases) are refused with
// what they read. The use records the run-time shapes the mask reads.
Error Builder::checkMask(Operation *attention, Value mask, AttentionMaskUse &use) {
  auto mt = cast<RankedTensorType>(mask.getType());
  if (mt.getRank() == 4 && mt.getDimSize(1) != 1)
    return opError(attention, "attention masks that differ between heads are not "
                          "supported (the program computes causal attention "
                          "with key padding)");
  return collectShapeInputs(mask, use.shapes, [&](const Twine &what) {
    return opError(attention, "the attention mask is computed from " + what +
                              "; only causal and key-padding masks (from the "
                              "attention_mask input and shapes) are supported");
  });
}

// What an expression of shapes and the attention_mask input reads (for
// MaskEvaluator): the run-time shapes of the arguments and shape_of
// operands; anything else it reads (a weight, an activation, another input)
// is `fail`ed with what it is.
Error Builder::collectShapeInputs(Value root, llvm::DenseMap<Value, RunShape> &shapes,
                                  llvm::function_ref<Error(const Twine &)> fail) {
  SmallVector<Value> work{root};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      auto at = dyn_cast<RankedTensorType>(arg.getType());
      // attention_mask: [batch, total] of integers or booleans.
      if (!at || at.getRank() != 2 || !isa<IntegerType>(at.getElementType()) ||
          values_.lookup(arg).kind != VKind::Ignored)
        return fail("an input other than attention_mask");
      shapes[arg] = {RunDim{RunSize::Batch}, RunDim{RunSize::Total}};
      continue;
    }
    Operation *d = v.getDefiningOp();
    if (auto s = dyn_cast<ShapeOfOp>(d)) {
      // Shapes of anything: sequence lengths.
      if (auto shape = runShapeOf(s.getX()))
        shapes[s.getX()] = *shape;
      else
        work.push_back(s.getX()); // evaluated itself
      continue;
    }
    if (isa<WeightOp>(d))
      return fail("a weight");
    auto known = values_.find(v);
    if (known != values_.end() && known->second.kind != VKind::Ignored &&
        known->second.kind != VKind::Weight)
      return fail("activations");
    for (Value o : d->getOperands())
      work.push_back(o);
  }
  return Error::success();
}

// The run-time shape of `v` when its dims are known from its role: an
// activation's view, the token and position inputs [batch, S], the KV cache
// [batch, heads, P or P + S, head_dim], attention_mask [batch, P + S].
std::optional<RunShape> Builder::runShapeOf(Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  RunShape shape;
  if (type.hasStaticShape()) {
    for (int64_t d : type.getShape())
      shape.push_back({RunSize::Static, d});
    return shape;
  }
  auto known = values_.find(v);
  if (known == values_.end())
    return std::nullopt;
  const VInfo &info = known->second;
  switch (info.kind) {
  case VKind::Activation:
    if (info.dims.size() != size_t(type.getRank()))
      return std::nullopt;
    for (const Dim &d : info.dims)
      shape.push_back(d.sym == Sym::Batch   ? RunDim{RunSize::Batch}
                      : d.sym == Sym::Seq   ? RunDim{RunSize::Tokens}
                      : d.sym == Sym::Total ? RunDim{RunSize::Total}
                                            : RunDim{RunSize::Static, d.size});
    return shape;
  case VKind::Tokens:
  case VKind::Positions:
    if (type.getRank() == 2)
      return RunShape{RunDim{RunSize::Batch}, RunDim{RunSize::Tokens}};
    if (type.getRank() == 1)
      return RunShape{RunDim{RunSize::Tokens}};
    return std::nullopt;
  case VKind::Past:
  case VKind::Present:
    if (type.getRank() != 4)
      return std::nullopt;
    for (int64_t i = 0; i < 4; ++i) {
      if (!ShapedType::isDynamic(type.getDimSize(i)))
        shape.push_back({RunSize::Static, type.getDimSize(i)});
      else if (i == 0)
        shape.push_back({RunSize::Batch});
      else if (i == 2)
        shape.push_back({info.kind == VKind::Past ? RunSize::Past : RunSize::Total});
      else
        return std::nullopt;
    }
    return shape;
  case VKind::Ignored:
    if (isa<BlockArgument>(v) && type.getRank() == 2)
      return RunShape{RunDim{RunSize::Batch}, RunDim{RunSize::Total}};
    return std::nullopt;
  case VKind::Weight:
    return std::nullopt;
  }
  return std::nullopt;
}

// bias + x @ W, with `bias` a compile-time [n] weight expression and
// `matmulOut` the n output columns of a Matmul step that nothing else reads:
// the add is the matmul's, its result the matmul output itself. The kernels
// have no bias operand; the runtime adds the packed slot's dense bias slot
// (WeightSlot::bias) to the kernel's output rows, as for pre-quantized
// matmuls.
Error Builder::foldBias(AddOp add, Value matmulOut, Value bias) {
  const MatmulColumns cols = matmulColumns_.lookup(matmulOut);
  auto bt = cast<RankedTensorType>(bias.getType());
  auto ot = cast<RankedTensorType>(matmulOut.getType());
  if (!bt.hasStaticShape() || bt.getNumElements() != cols.width ||
      bt.getShape().back() != cols.width ||
      bt.getElementType() != ot.getElementType() ||
      add.getType() != matmulOut.getType())
    return opError(add, formatv("a weight added to a matmul's output must be its "
                            "bias, of shape [{0}] (got {1})",
                            cols.width, bt));
  if (!matmulOut.hasOneUse())
    return opError(add, "the matmul's output is also read without its bias");
  biasesOf_[cols.step].push_back({cols.start, bias});
  values_[add.getResult()] = values_.lookup(matmulOut);
  return Error::success();
}

// Gives every Matmul step with folded biases its [N] bias slot: the bias
// itself, or, for a merged matmul, the concatenation of its results' biases
// with zeros for the results that have none (built here, as merged_matmul's
// weight concat is: the module is CodeGen's to annotate).
Error Builder::attachBiases() {
  for (auto &[stepIndex, parts] : biasesOf_) {
    const Step &s = plan().steps[stepIndex];
    const int32_t packed = s.weight;
    const int64_t N = s.width;
    llvm::sort(parts, [](const auto &x, const auto &y) { return x.first < y.first; });
    Value root;
    Operation *anchor = fn_.getBody().front().getTerminator();
    if (parts.size() == 1 && parts[0].first == 0 &&
        cast<RankedTensorType>(parts[0].second.getType()).getNumElements() == N) {
      root = parts[0].second;
    } else {
      OpBuilder b(anchor);
      Type elem = cast<RankedTensorType>(parts[0].second.getType()).getElementType();
      auto zeros = [&](int64_t n) -> Value {
        auto t = RankedTensorType::get({n}, elem);
        return b.create<ConstantOp>(anchor->getLoc(), t,
                                    DenseElementsAttr::get(t, b.getZeroAttr(elem)));
      };
      SmallVector<Value> pieces;
      int64_t at = 0;
      for (auto [start, bias] : parts) {
        auto bt = cast<RankedTensorType>(bias.getType());
        if (start > at)
          pieces.push_back(zeros(start - at));
        if (bt.getRank() != 1)
          bias = b.create<ReshapeOp>(anchor->getLoc(),
                                     RankedTensorType::get({bt.getNumElements()}, elem),
                                     bias, b.getDenseI64ArrayAttr({bt.getNumElements()}));
        pieces.push_back(bias);
        at = start + bt.getNumElements();
      }
      if (at < N)
        pieces.push_back(zeros(N - at));
      root = b.create<ConcatOp>(anchor->getLoc(), RankedTensorType::get({N}, elem),
                                pieces, b.getI64IntegerAttr(0));
    }
    auto slot = weightSlot(root, SlotKind::Dense, anchor);
    if (!slot)
      return slot.takeError();
    // Named by its matmul unless it is one named weight.
    if (plan().weights[*slot].name.empty() || isa_and_nonnull<ConcatOp>(root.getDefiningOp()))
      plan().weights[*slot].name = plan().weights[packed].name + ".bias";
    if (Error e = setBias(anchor, packed, *slot))
      return e;
  }
  return Error::success();
}

Error Builder::setBias(Operation *op, int32_t packed, int32_t bias) {
  int32_t &have = plan().weights[packed].bias;
  if (have >= 0 && have != bias)
    return opError(op, "the matmul weight '" + plan().weights[packed].name +
                           "' is used with two different biases");
  have = bias;
  return Error::success();
}

Error Builder::finish() {
  ProgramPlan &p = plan();
  auto &steps = p.steps;
  const int64_t T = p.maxTokens;
  // Steps that only feed the logits run on the last token when the caller
  // wants only the last logits: walk back from the logits' producer.
  {
    std::vector<std::vector<int32_t>> readers(regions_.size());
    for (size_t i = 0; i < steps.size(); ++i)
      for (int j : {0, 1, 3, 4, 5, 7, 8})
        if (stepRegions_[i][j] >= 0)
          readers[stepRegions_[i][j]].push_back(int32_t(i));
    std::vector<bool> lastOnly(steps.size(), false);
    for (size_t i = steps.size(); i-- > 0;) {
      const Step &s = steps[i];
      bool rowwise = s.kind == StepKind::RmsNorm || s.kind == StepKind::LayerNorm ||
                     s.kind == StepKind::Matmul || s.kind == StepKind::SwiGLU ||
                     s.kind == StepKind::Gelu || s.kind == StepKind::Softcap ||
                     s.kind == StepKind::Add;
      if (!rowwise)
        break;
      int32_t outR = stepRegions_[i][2];
      bool feedsLogits = outR == logitsRegion_;
      bool ok = feedsLogits || !readers[outR].empty();
      for (int32_t r : readers[outR])
        ok &= lastOnly[r];
      if (!ok)
        break;
      lastOnly[i] = true;
      steps[i].lastOnly = true;
    }
  }
  // Linear-scan arena allocation (floats, 16-float aligned).
  std::map<int64_t, int64_t> freeList; // offset -> size
  int64_t top = 0;
  std::vector<int32_t> order(regions_.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::vector<int32_t>> dying(steps.size() + 1);
  for (size_t r = 0; r < regions_.size(); ++r) {
    Region &rg = regions_[r];
    if (int32_t(r) == logitsRegion_)
      rg.lastUse = int32_t(steps.size());
    if (rg.lastUse < rg.def)
      rg.lastUse = rg.def;
    dying[rg.lastUse].push_back(int32_t(r));
  }
  std::vector<std::vector<int32_t>> born(steps.size() + 1);
  for (size_t r = 0; r < regions_.size(); ++r)
    born[regions_[r].def].push_back(int32_t(r));
  for (size_t i = 0; i <= steps.size(); ++i) {
    // Regions defined by step i are allocated before the regions it reads
    // die, so an output never aliases its inputs.
    for (int32_t r : born[i]) {
      int64_t size = (regions_[r].perToken * T + 15) & ~int64_t(15);
      int64_t at = -1;
      for (auto it = freeList.begin(); it != freeList.end(); ++it)
        if (it->second >= size) {
          at = it->first;
          int64_t rest = it->second - size;
          freeList.erase(it);
          if (rest)
            freeList[at + size] = rest;
          break;
        }
      if (at < 0) {
        at = top;
        top += size;
      }
      regions_[r].base = at;
    }
    for (int32_t r : dying[i]) {
      int64_t size = (regions_[r].perToken * T + 15) & ~int64_t(15);
      auto it = freeList.emplace(regions_[r].base, size).first;
      auto next = std::next(it);
      if (next != freeList.end() && it->first + it->second == next->first) {
        it->second += next->second;
        freeList.erase(next);
      }
      if (it != freeList.begin()) {
        auto prev = std::prev(it);
        if (prev->first + prev->second == it->first) {
          prev->second += it->second;
          freeList.erase(it);
        }
      }
    }
  }
  p.arenaFloats = top;
  auto base = [&](int32_t r) { return r >= 0 ? regions_[r].base : 0; };
  for (size_t i = 0; i < steps.size(); ++i) {
    Step &s = steps[i];
    auto &rg = stepRegions_[i];
    s.in.offset += base(rg[0]);
    s.in2.offset += base(rg[1]);
    s.out.offset += base(rg[2]);
    s.q.offset += base(rg[3]);
    s.k.offset += base(rg[4]);
    s.v.offset += base(rg[5]);
    s.o.offset += base(rg[6]);
    s.cos += base(rg[7]);
    s.sin += base(rg[8]);
  }
  p.logits.offset += base(logitsRegion_);
  p.config.layers = layers_;
  for (const WeightSlot &w : p.weights)
    if (w.kind == SlotKind::Dense && w.shape.size() == 2)
      p.config.dim = w.shape[1];
  return Error::success();
}

Expected<PlanResult> buildPlan(ModuleOp module, const CompileOptions &options) {
  func::FuncOp fn = module.lookupSymbol<func::FuncOp>("main");
  if (!fn)
    return createStringError(inconvertibleErrorCode(),
                             "the module has no func @main");
  if (!llvm::hasSingleElement(fn.getBody()))
    return createStringError(inconvertibleErrorCode(),
                             "@main must have a single block");
  PlanResult r;
  r.plan.maxTokens = std::max<int64_t>(1, options.maxTokensPerCall);
  Builder b(fn, options, r);
  if (Error e = b.run())
    return std::move(e);
  return std::move(r);
}

} // namespace llmc::codegen
