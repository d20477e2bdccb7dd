//===- FuseAttention.cpp - scaled dot-product attention fusion -------------===//
//
// Root: the matmul `probs @ V`. Walking up:
//   probs  = [cast] softmax(last axis) of [cast] X
//   X      = scores (+ mask terms)*, or where(c, scores, -big) / where(c, -big,
//            scores) (masked_fill), with casts around any term
//   scores = [scale] matmul([scale] q, [scale] K^T), or soft-capped (Gemma-2):
//            c * tanh([scale] matmul(...) [/ c]), any scale inside the tanh
//   K^T    = transpose(repeat(Kc)) or repeat(transpose(Kc)), perm [0,1,3,2]
//   V      = repeat(Vc)
//   repeat = reshape(expand(unsqueeze(x, 2)), merge dims 1,2)   (GQA; optional)
//   Kc/Vc  = concat(past, new, axis 2) (KV cache; optional, both or neither)
// Mask terms: `where(c, 0, -big)` is the boolean mask c (true = attend) and
// `where(c, -big, 0)` its negation; a boolean conjunct `key <= query + past`
// built from ranges (or `key > query + past` for the masked form), or rows
// [past, past + S) and columns [0, T) of a constant lower-triangular buffer
// (GPT-2's `bias[:, :, T - S : T, :T]`), is the causal mask and becomes
// `causal = true`; what remains is the op's mask
// operand, boolean or additive. Masking with a boolean instead of
// `finfo.min` only changes rows where every key is masked (padding
// queries): their output is 0 instead of a uniform average.
//
//===----------------------------------------------------------------------===//

#include "MatchUtils.h"

#include "llmc/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace llmc {
#define GEN_PASS_DEF_FUSEATTENTION
#include "llmc/Transforms/Passes.h.inc"
} // namespace llmc

using namespace mlir;
using namespace llmc;
using namespace llmc::match;

namespace {

/// Additive mask values at most this are "minus infinity".
constexpr double kMaskedThreshold = -1e9;

static bool isMaskedValue(Value v) {
  auto c = getScalarFloat(v);
  return c && *c <= kMaskedThreshold;
}
static bool isZero(Value v) {
  auto c = getScalarFloat(v);
  return c && *c == 0.0;
}

//===----------------------------------------------------------------------===//
// K/V: GQA repeat and cache concat
//===----------------------------------------------------------------------===//

/// reshape(expand(unsqueeze(x, 2)) -> [B, H, n, T, D], merge dims 1 and 2).
static Value matchRepeatKV(Value v, int64_t &repeats) {
  Value e = matchMergeDims(v, 1);
  auto expand = e ? e.getDefiningOp<ExpandOp>() : ExpandOp();
  if (!expand)
    return {};
  auto in = tensorTypeOf(expand.getX()), out = tensorTypeOf(e);
  if (in.getRank() != 5 || out.getRank() != 5 || in.getDimSize(2) != 1 ||
      !isStaticDim(out.getDimSize(2)) || out.getDimSize(2) < 1)
    return {};
  for (int64_t d : {0, 1, 3, 4}) {
    int64_t a = in.getDimSize(d), b = out.getDimSize(d);
    if ((a == 1 && b != 1) || !dimsCompatible(a, b))
      return {};
  }
  Value x = matchUnsqueeze(expand.getX(), 2);
  if (!x)
    return {};
  repeats = out.getDimSize(2);
  return x;
}

struct KVMatch {
  Value input;       // the new tokens [B, Hkv, S, D]
  Value past;        // [B, Hkv, P, D] or null
  ConcatOp concat;   // concat(past, input) or null
  int64_t repeats = 1;
};

/// `v` after the repeat: a cache concat or the new tokens themselves.
static KVMatch matchCache(Value v) {
  KVMatch m;
  auto c = v.getDefiningOp<ConcatOp>();
  if (c && c.getInputs().size() == 2 && rankOf(v) == 4 &&
      normalizeAxis(c.getAxis(), 4) == 2) {
    m.past = c.getInputs()[0];
    m.input = c.getInputs()[1];
    m.concat = c;
  } else {
    m.input = v;
  }
  return m;
}

/// The keys as the scores read them (k^T), accumulating scales.
static std::optional<KVMatch> matchKeys(Value kt, double &scale) {
  int64_t repeats = 1;
  Value k = peelScalarScale(kt, scale);
  if (Value base = matchRepeatKV(k, repeats)) // repeat after the transpose
    k = peelScalarScale(base, scale);
  auto t = k.getDefiningOp<TransposeOp>();
  if (!t || t.getPerm() != ArrayRef<int64_t>{0, 1, 3, 2})
    return std::nullopt;
  k = peelScalarScale(t.getX(), scale);
  if (repeats == 1)
    if (Value base = matchRepeatKV(k, repeats)) // repeat before the transpose
      k = peelScalarScale(base, scale);
  KVMatch m = matchCache(k);
  if (!m.concat) // without a cache, a scale on k itself is the op's
    m.input = peelScalarScale(m.input, scale);
  m.repeats = repeats;
  return m;
}

static KVMatch matchValues(Value v) {
  int64_t repeats = 1;
  if (Value base = matchRepeatKV(v, repeats))
    v = base;
  KVMatch m = matchCache(v);
  m.repeats = repeats;
  return m;
}

//===----------------------------------------------------------------------===//
// Masks
//===----------------------------------------------------------------------===//

struct MaskTerm {
  Value value;
  bool isBool = false;
  bool negate = false; // boolean terms: true when the value marks masked keys
};

/// `range(start, limit, 1)` with a scalar start; returns start (or null).
static RangeOp matchUnitRange(Value v) {
  auto r = v.getDefiningOp<RangeOp>();
  auto delta = r ? getScalarInt(r.getDelta()) : std::nullopt;
  return (delta && *delta == 1) ? r : RangeOp();
}

/// Whether `off` is the past length of the attention (dim 2 of `past`), or 0
/// without a cache.
static bool isPastLength(Value off, Value past) {
  if (!off)
    return !past;
  if (auto c = getScalarInt(off))
    return *c == 0 && !past;
  auto dim = matchShapeDim(off);
  return dim && past && sameDim(dim->value, dim->dim, past, 2);
}

/// Key positions: range(0, T) along the last axis.
static bool isKeyIndex(Value v) {
  Value r = matchPlaceVector(v, -1);
  RangeOp range = r ? matchUnitRange(r) : RangeOp();
  auto start = range ? getScalarInt(range.getStart()) : std::nullopt;
  return start && *start == 0;
}

/// Query positions along axis -2: range(0, S) + P, in any order of the add
/// and the reshape, or range(P, P + S).
static bool isQueryIndex(Value v, Value past) {
  auto isScalarShaped = [](Value b) {
    auto t = tensorTypeOf(b);
    return t && llvm::isa<IntegerType>(t.getElementType()) &&
           llvm::all_of(t.getShape(), [](int64_t d) { return d == 1; });
  };
  Value off, r;
  // reshape(range) + P
  matchBinary<AddOp>(v, [&](Value a, Value b) {
    if (!isScalarShaped(b) || !matchPlaceVector(a, -2))
      return false;
    r = matchPlaceVector(a, -2);
    off = b;
    return true;
  });
  if (!r) {
    r = matchPlaceVector(v, -2);
    if (!r)
      return false;
    // reshape(range + P)
    matchBinary<AddOp>(r, [&](Value a, Value b) {
      if (!isScalarShaped(b) || !matchUnitRange(a))
        return false;
      off = b;
      r = a;
      return true;
    });
  }
  RangeOp range = matchUnitRange(r);
  if (!range)
    return false;
  auto start = getScalarInt(range.getStart());
  if (start && *start == 0)
    return isPastLength(off, past);
  // range(P, P + S) with no other offset.
  return !off && isPastLength(range.getStart(), past);
}

/// `T - S` with T the length of concat(past, k) along the sequence and S
/// the length of k: the past length, as GPT-2's `key_length - query_length`
/// computes it.
static bool isPastByDifference(Value off, Value past) {
  auto sub = peelScalarPlumbing(off).getDefiningOp<SubOp>();
  if (!sub || !past)
    return false;
  auto total = matchShapeDim(sub.getLhs());
  auto added = matchShapeDim(sub.getRhs());
  if (!total || !added)
    return false;
  auto cat = total->value.getDefiningOp<ConcatOp>();
  if (!cat || cat.getInputs().size() != 2 || cat.getInputs()[0] != past ||
      normalizeAxis(cat.getAxis(), rankOf(cat.getResult())) != 2 || total->dim != 2)
    return false;
  return sameDim(cat.getInputs()[1], 2, added->value, added->dim);
}

/// Whether `v` is a constant [1, ..., 1, n, m] boolean with v[r][k] = k <= r
/// (a `torch.tril(torch.ones(n, n))` buffer, or its first m columns).
static bool isLowerTriangularOnes(Value v) {
  auto c = v.getDefiningOp<ConstantOp>();
  auto t = tensorTypeOf(v);
  if (!c || !t || !t.hasStaticShape() || t.getRank() < 2 ||
      !t.getElementType().isInteger(1))
    return false;
  auto d = dyn_cast<DenseElementsAttr>(c.getValue());
  if (!d)
    return false;
  const int64_t n = t.getDimSize(t.getRank() - 2), m = t.getDimSize(t.getRank() - 1);
  if (t.getNumElements() != n * m)
    return false;
  int64_t i = 0;
  for (bool b : d.getValues<bool>()) {
    if (b != (i % m <= i / m))
      return false;
    ++i;
  }
  return true;
}

/// GPT-2's causal buffer (transformers 4.2x-4.3x):
/// `bias[:, :, T - S : T, :T]` of a lower-triangular boolean constant,
/// imported as gathers of ranges along the last two axes. Element (i, j) is
/// bias[P + i][j] = (j <= P + i) when the rows start at the past length P
/// and the columns at 0: the causal condition.
static bool isCausalBufferSlice(Value c, Value past) {
  Value rows, cols, data = c;
  for (int step = 0; step < 2; ++step) {
    auto g = data.getDefiningOp<GatherOp>();
    if (!g)
      return false;
    int64_t rank = rankOf(g.getData());
    int64_t axis = normalizeAxis(g.getAxis(), rank);
    if (axis == rank - 1 && !cols)
      cols = g.getIndices();
    else if (axis == rank - 2 && !rows)
      rows = g.getIndices();
    else
      return false;
    data = g.getData();
  }
  RangeOp r = matchUnitRange(rows), k = matchUnitRange(cols);
  if (!r || !k || !isLowerTriangularOnes(data))
    return false;
  auto kStart = getScalarInt(k.getStart());
  Value rStart = r.getStart();
  return kStart && *kStart == 0 &&
         (isPastLength(rStart, past) || isPastByDifference(rStart, past));
}

/// Whether the boolean `c` (true = attend, or true = masked when `negate`)
/// is exactly the causal condition of this attention.
static bool isCausalTerm(Value c, bool negate, Value past) {
  while (true) {
    if (auto e = c.getDefiningOp<ExpandOp>(); e && !e.getShape()) {
      c = e.getX();
    } else if (auto n = c.getDefiningOp<NotOp>()) {
      c = n.getX();
      negate = !negate;
    } else {
      break;
    }
  }
  auto check = [&](Value key, Value query) {
    return isKeyIndex(key) && isQueryIndex(query, past);
  };
  if (!negate && isCausalBufferSlice(c, past))
    return true;
  if (!negate) {
    if (auto op = c.getDefiningOp<LessEqualOp>())
      return check(op.getLhs(), op.getRhs());
    if (auto op = c.getDefiningOp<GreaterEqualOp>())
      return check(op.getRhs(), op.getLhs());
    return false;
  }
  if (auto op = c.getDefiningOp<GreaterOp>())
    return check(op.getLhs(), op.getRhs());
  if (auto op = c.getDefiningOp<LessOp>())
    return check(op.getRhs(), op.getLhs());
  return false;
}

/// Splits an additive mask into boolean (where) and additive terms.
static void collectAdditiveTerms(Value v, SmallVectorImpl<MaskTerm> &terms) {
  if (auto add = v.getDefiningOp<AddOp>()) {
    collectAdditiveTerms(add.getLhs(), terms);
    collectAdditiveTerms(add.getRhs(), terms);
    return;
  }
  Value p = peelFloatCasts(v);
  if (auto w = p.getDefiningOp<WhereOp>()) {
    if (isZero(w.getTrueValue()) && isMaskedValue(w.getFalseValue())) {
      terms.push_back({w.getCondition(), true, false});
      return;
    }
    if (isMaskedValue(w.getTrueValue()) && isZero(w.getFalseValue())) {
      terms.push_back({w.getCondition(), true, true});
      return;
    }
  }
  terms.push_back({v, false, false});
}

/// Splits the conjuncts of a boolean (attend) term.
static void collectConjuncts(Value v, SmallVectorImpl<MaskTerm> &terms) {
  if (auto a = v.getDefiningOp<AndOp>()) {
    collectConjuncts(a.getLhs(), terms);
    collectConjuncts(a.getRhs(), terms);
    return;
  }
  terms.push_back({v, true, false});
}

//===----------------------------------------------------------------------===//
// The match
//===----------------------------------------------------------------------===//

struct AttentionMatch {
  Value q;
  KVMatch key, value;
  double scale = 1.0;
  double softcap = 0.0; // c of c * tanh(scale * qk / c); 0: none
  int64_t numHeads = 0, numKvHeads = 0;
  bool causal = false;
  SmallVector<MaskTerm> mask; // remaining terms: all boolean or all additive
  RankedTensorType maskType;  // the rank-4 mask operand type (if any)
};

/// The scores chain `[scale] matmul([scale] q, k^T)`, or its soft-capped
/// form `c * tanh(a * matmul(...))`: with c outside, the op's scale is
/// a * c times the matmul's own (c * tanh(scale * qk / c)).
static bool matchScores(Value s, AttentionMatch &m) {
  double scale = 1.0;
  s = peelScalarScale(s, scale);
  if (auto tanh = peelFloatCasts(s).getDefiningOp<TanhOp>()) {
    if (!(scale > 0.0) || !std::isfinite(scale))
      return false;
    m.softcap = scale;
    s = peelScalarScale(tanh.getX(), scale);
  }
  auto mm = s.getDefiningOp<MatMulOp>();
  if (!mm)
    return false;
  Value q = peelScalarScale(mm.getA(), scale);
  auto key = matchKeys(mm.getB(), scale);
  if (!key || rankOf(q) != 4)
    return false;
  m.q = q;
  m.key = *key;
  m.scale = scale;
  return true;
}

/// Broadcast of two static/dynamic shapes (dynamic never broadcasts).
static std::optional<SmallVector<int64_t>> broadcast(ArrayRef<int64_t> a,
                                                     ArrayRef<int64_t> b) {
  SmallVector<int64_t> out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t y = i < b.size() ? b[b.size() - 1 - i] : 1;
    int64_t r;
    if (x == 1)
      r = y;
    else if (y == 1)
      r = x;
    else if (!dimsCompatible(x, y))
      return std::nullopt;
    else
      r = isStaticDim(x) ? x : y;
    out[out.size() - 1 - i] = r;
  }
  return out;
}

static bool matchMask(ArrayRef<Value> addends, AttentionMatch &m,
                      SmallVectorImpl<MaskTerm> &boolTerms) {
  SmallVector<MaskTerm> terms(boolTerms.begin(), boolTerms.end());
  for (Value a : addends)
    collectAdditiveTerms(a, terms);
  // Expand boolean conjunctions, find the causal term.
  SmallVector<MaskTerm> rest;
  Value past = m.key.past;
  for (const MaskTerm &t : terms) {
    if (!t.isBool) {
      rest.push_back(t);
      continue;
    }
    SmallVector<MaskTerm> conj;
    if (t.negate)
      conj.push_back(t);
    else
      collectConjuncts(t.value, conj);
    for (const MaskTerm &c : conj) {
      if (isCausalTerm(c.value, c.negate, past))
        m.causal = true;
      else
        rest.push_back(c);
    }
  }
  if (rest.empty())
    return true;
  bool anyBool = llvm::any_of(rest, [](const MaskTerm &t) { return t.isBool; });
  bool anyAdd = llvm::any_of(rest, [](const MaskTerm &t) { return !t.isBool; });
  if (anyBool && anyAdd)
    return false;
  // The operand's shape: the broadcast of the terms, rank 4.
  SmallVector<int64_t> shape;
  for (const MaskTerm &t : rest) {
    auto tt = tensorTypeOf(t.value);
    if (!tt || tt.getRank() > 4 ||
        (anyAdd && !llvm::isa<FloatType>(tt.getElementType())))
      return false;
    auto b = broadcast(shape, tt.getShape());
    if (!b)
      return false;
    shape = *b;
  }
  while (shape.size() < 4)
    shape.insert(shape.begin(), 1);
  auto qt = tensorTypeOf(m.q);
  int64_t s = qt.getDimSize(2);
  // Query dim: S, or 1 (broadcast over queries) made explicit when S is
  // static.
  if (shape[2] == 1 && isStaticDim(s))
    shape[2] = s;
  if (!dimsCompatible(shape[2], s) ||
      !(shape[0] == 1 || dimsCompatible(shape[0], qt.getDimSize(0))) ||
      !(shape[1] == 1 || dimsCompatible(shape[1], m.numHeads)))
    return false;
  Type et = anyBool ? IntegerType::get(qt.getContext(), 1) : qt.getElementType();
  m.mask = rest;
  m.maskType = RankedTensorType::get(shape, et);
  return true;
}

static FailureOr<AttentionMatch> matchAttention(MatMulOp root) {
  AttentionMatch m;
  // probs = [cast] softmax([cast] X) over the last axis.
  Value probs = peelFloatCasts(root.getA());
  auto softmax = probs.getDefiningOp<SoftmaxOp>();
  if (!softmax || rankOf(probs) != 4 ||
      normalizeAxis(softmax.getAxisAttr().getInt(), 4) != 3)
    return failure();
  Value x = peelFloatCasts(softmax.getX());

  // masked_fill: where(c, scores, -big) / where(c, -big, scores), around
  // the sum or around the scores within it (GPT-2: where(causal, scores,
  // min) + padding): either way c is a boolean mask term.
  SmallVector<MaskTerm> boolTerms;
  auto peelWheres = [](Value v, SmallVectorImpl<MaskTerm> &terms) -> Value {
    while (auto w = v.getDefiningOp<WhereOp>()) {
      if (isMaskedValue(w.getFalseValue())) {
        terms.push_back({w.getCondition(), true, false});
        v = peelFloatCasts(w.getTrueValue());
      } else if (isMaskedValue(w.getTrueValue())) {
        terms.push_back({w.getCondition(), true, true});
        v = peelFloatCasts(w.getFalseValue());
      } else {
        return Value();
      }
    }
    return v;
  };
  x = peelWheres(x, boolTerms);
  if (!x)
    return failure();

  // X = scores + mask terms: flatten the adds, find the scores.
  SmallVector<Value> addends, worklist{x};
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    if (auto add = v.getDefiningOp<AddOp>()) {
      worklist.push_back(add.getRhs());
      worklist.push_back(add.getLhs());
    } else {
      addends.push_back(v);
    }
  }
  int scoresAt = -1;
  for (auto [i, a] : llvm::enumerate(addends)) {
    AttentionMatch trial;
    SmallVector<MaskTerm> wheres;
    Value inner = peelWheres(a, wheres);
    if (inner && matchScores(inner, trial)) {
      if (scoresAt >= 0)
        return failure();
      scoresAt = i;
      m.q = trial.q;
      m.key = trial.key;
      m.scale = trial.scale;
      m.softcap = trial.softcap;
      boolTerms.append(wheres.begin(), wheres.end());
    }
  }
  if (scoresAt < 0)
    return failure();
  addends.erase(addends.begin() + scoresAt);

  m.value = matchValues(root.getB());

  // Shapes and heads.
  auto qt = tensorTypeOf(m.q), kt = tensorTypeOf(m.key.input),
       vt = tensorTypeOf(m.value.input);
  if (!kt || !vt || kt.getRank() != 4 || vt.getRank() != 4)
    return failure();
  Type et = qt.getElementType();
  if (kt.getElementType() != et || vt.getElementType() != et ||
      root.getType().getElementType() != et)
    return failure();
  m.numHeads = qt.getDimSize(1);
  m.numKvHeads = kt.getDimSize(1);
  if (!isStaticDim(m.numHeads) || !isStaticDim(m.numKvHeads) ||
      vt.getDimSize(1) != m.numKvHeads || m.key.repeats != m.value.repeats ||
      m.numKvHeads * m.key.repeats != m.numHeads)
    return failure();
  if (!dimsCompatible(kt.getDimSize(3), qt.getDimSize(3)) ||
      !dimsCompatible(kt.getDimSize(2), qt.getDimSize(2)) ||
      !dimsCompatible(vt.getDimSize(2), qt.getDimSize(2)) ||
      !dimsCompatible(kt.getDimSize(0), qt.getDimSize(0)) ||
      !dimsCompatible(vt.getDimSize(0), qt.getDimSize(0)))
    return failure();
  // Both caches or neither, of the q element type.
  if (static_cast<bool>(m.key.past) != static_cast<bool>(m.value.past))
    return failure();
  if (m.key.past && (tensorTypeOf(m.key.past).getElementType() != et ||
                     tensorTypeOf(m.value.past).getElementType() != et))
    return failure();
  // out = [B, Hq, S, Dv].
  auto rt = root.getType();
  if (rt.getRank() != 4 || !dimsCompatible(rt.getDimSize(3), vt.getDimSize(3)))
    return failure();
  if (!(m.scale > 0.0) || !std::isfinite(m.scale))
    return failure();

  if (!matchMask(addends, m, boolTerms))
    return failure();
  return m;
}

struct FuseAttentionPattern : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;

  static Value buildMask(PatternRewriter &rewriter, Location loc,
                         const AttentionMatch &m) {
    if (m.mask.empty())
      return {};
    Type et = m.maskType.getElementType();
    Value mask;
    for (const MaskTerm &t : m.mask) {
      Value v = t.value;
      auto vt = tensorTypeOf(v);
      if (t.negate)
        v = rewriter.create<NotOp>(loc, vt, v);
      if (vt.getElementType() != et)
        v = rewriter.create<CastOp>(loc, vt.clone(et), v);
      if (!mask) {
        mask = v;
        continue;
      }
      auto shape = *broadcast(tensorTypeOf(mask).getShape(), vt.getShape());
      auto type = RankedTensorType::get(shape, et);
      if (t.isBool)
        mask = rewriter.create<AndOp>(loc, type, mask, v);
      else
        mask = rewriter.create<AddOp>(loc, type, mask, v);
    }
    if (mask.getType() != m.maskType)
      mask = rewriter.create<ExpandOp>(loc, m.maskType, mask, Value());
    return mask;
  }

  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<AttentionMatch> m = matchAttention(op);
    if (failed(m))
      return rewriter.notifyMatchFailure(op, "not an attention");
    Location loc = op.getLoc();
    Value mask = buildMask(rewriter, loc, *m);
    Type presentK = m->key.concat ? m->key.concat.getType() : m->key.input.getType();
    Type presentV =
        m->value.concat ? m->value.concat.getType() : m->value.input.getType();
    auto attn = rewriter.create<AttentionOp>(
        loc, op.getType(), presentK, presentV, m->q, m->key.input,
        m->value.input, m->key.past, m->value.past, mask,
        rewriter.getI64IntegerAttr(m->numHeads),
        rewriter.getI64IntegerAttr(m->numKvHeads),
        rewriter.getF32FloatAttr(static_cast<float>(m->scale)),
        rewriter.getBoolAttr(m->causal),
        rewriter.getF32FloatAttr(static_cast<float>(m->softcap)));
    // The caches' later readers (the function results) read the presents.
    Operation *attnOp = attn.getOperation();
    for (auto [concat, present] :
         {std::pair<ConcatOp, Value>{m->key.concat, attn.getPresentKey()},
          {m->value.concat, attn.getPresentValue()}}) {
      if (!concat)
        continue;
      rewriter.replaceUsesWithIf(concat.getResult(), present, [&](OpOperand &use) {
        Operation *user = use.getOwner();
        while (user && user->getBlock() != attnOp->getBlock())
          user = user->getParentOp();
        return user && attnOp->isBeforeInBlock(user);
      });
    }
    rewriter.replaceOp(op, attn.getOut());
    return success();
  }
};

} // namespace

void llmc::populateFuseAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseAttentionPattern>(patterns.getContext());
}

namespace {
struct FuseAttentionPass : llmc::impl::FuseAttentionBase<FuseAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateFuseAttentionPatterns(patterns);
    (void)applyPatternsAndFoldGreedily(getOperation(), std::move(patterns));
  }
};
} // namespace
