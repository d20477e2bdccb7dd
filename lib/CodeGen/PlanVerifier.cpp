//===- PlanVerifier.cpp - Every access of a ProgramPlan lies in its buffers ===//
//
// ProgramPlan::fromJSON checks that a plan is well formed; verify() checks
// that running it stays inside the buffers it names, for any call of 1 to
// maxTokens tokens: every arena row and head a step reads or writes, the
// rope tables, the logits, the KV cache slot of an attention, and the weight
// slot each step reads (its kind and size). Row t of a view is at
// offset + t * stride, so the last token's row bounds them all (offsets and
// strides are never negative).
//
// The runtime runs it on every bundle it loads, before a session allocates
// anything, so a damaged or inconsistent plan is an error, not an
// out-of-bounds access of the plan driver. CodeGen runs it on every plan it
// builds (an error there is a compiler bug, reported before a bundle is
// written).
//
//===----------------------------------------------------------------------===//

#include "llmc/CodeGen/Plan.h"

#include "llvm/Support/FormatVariadic.h"

namespace llmc::codegen {

using llvm::Error;

namespace {

class Verifier {
public:
  explicit Verifier(const ProgramPlan &p) : p_(p), c_(p.config) {}

  Error run() {
    if (c_.vocab <= 0 || c_.dim <= 0 || c_.layers < 0 || c_.heads < 0 || c_.kvHeads < 0 ||
        c_.headDim < 0 || c_.valueDim < 0 || c_.maxContext <= 0)
      return fail("the config's sizes must be positive");
    if (p_.maxTokens <= 0 || p_.arenaFloats <= 0)
      return fail("arena_floats and max_tokens must be positive");
    if (Error e = rows(p_.logits, c_.vocab, "the logits"))
      return e;
    for (size_t i = 0; i < p_.steps.size(); ++i) {
      step_ = int64_t(i);
      if (Error e = check(p_.steps[i]))
        return e;
    }
    return Error::success();
  }

private:
  const ProgramPlan &p_;
  const ModelConfig &c_;
  int64_t step_ = -1;

  Error fail(const llvm::Twine &msg) const {
    std::string where =
        step_ < 0 ? std::string()
                  : llvm::formatv("step {0} ({1}): ", step_,
                                  stepKindName(p_.steps[size_t(step_)].kind))
                        .str();
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "bad program plan: %s%s",
                                   where.c_str(), msg.str().c_str());
  }

  /// Elements [offset + t * tokenStride + h * headStride, ... + width) for
  /// t < maxTokens, h < heads lie in the arena. 128-bit sums: the plan's
  /// numbers are untrusted, their products must not wrap.
  Error extent(int64_t offset, int64_t tokenStride, int64_t heads, int64_t headStride,
               int64_t width, const char *what) const {
    if (width <= 0 || heads <= 0)
      return fail(llvm::Twine(what) + " has no elements");
    if (offset < 0 || tokenStride < 0 || headStride < 0)
      return fail(llvm::Twine(what) + " has a negative offset or stride");
    const __int128 end = __int128(offset) + __int128(p_.maxTokens - 1) * tokenStride +
                         __int128(heads - 1) * headStride + width;
    if (end > p_.arenaFloats)
      return fail(llvm::formatv("{0} reaches past the arena ({1} floats)", what,
                                p_.arenaFloats)
                      .str());
    return Error::success();
  }
  Error rows(const RowView &v, int64_t width, const char *what) const {
    return extent(v.offset, v.rowStride, 1, 0, width, what);
  }
  Error heads(const HeadView &v, int64_t n, int64_t width, const char *what) const {
    return extent(v.offset, v.tokenStride, n, v.headStride, width, what);
  }

  const WeightSlot *slot(int32_t i) const {
    return i >= 0 && size_t(i) < p_.weights.size() ? &p_.weights[size_t(i)] : nullptr;
  }

  /// The cos/sin tables a rope_tables step writes and a rope step reads:
  /// rows of rotHalf, the rotated half at most half the head.
  Error ropeTables(const Step &s) const {
    if (s.rotHalf <= 0 || s.headDim < 2 * s.rotHalf)
      return fail("the rotated half must be positive and at most half the head");
    if (Error e = rows(RowView{s.cos, s.rotHalf}, s.rotHalf, "cos"))
      return e;
    return rows(RowView{s.sin, s.rotHalf}, s.rotHalf, "sin");
  }

  Error check(const Step &s) const {
    switch (s.kind) {
    case StepKind::Embed: {
      // The table's rows are read whole (the loader checks a dense table's
      // bytes, and a packed one's layout against its format).
      const WeightSlot *w = slot(s.weight);
      if (!w || (w->kind != SlotKind::Dense && w->kind != SlotKind::PackedTable) ||
          w->shape.size() != 2 || w->shape[1] != s.width || w->shape[0] < c_.vocab)
        return fail(llvm::formatv("weight {0} is not a table of at least {1} rows "
                                  "of {2}",
                                  s.weight, c_.vocab, s.width));
      if (w->kind == SlotKind::PackedTable &&
          (w->rotated || w->inputScale >= 0 || w->bias >= 0))
        return fail(llvm::formatv("the packed table {0} carries a matmul's input "
                                  "transform or bias",
                                  s.weight));
      return rows(s.out, s.width, "out");
    }
    case StepKind::EmbedPositions:
      return rows(s.out, s.width, "out");
    case StepKind::RmsNorm:
    case StepKind::LayerNorm:
      if (s.groups < 1 || s.width <= 0 || s.groups > INT64_MAX / s.width)
        return fail("bad width or groups");
      if (Error e = rows(s.in, s.groups * s.width, "in"))
        return e;
      return rows(s.out, s.groups * s.width, "out");
    case StepKind::Gelu:
    case StepKind::Softcap:
      if (Error e = rows(s.in, s.width, "in"))
        return e;
      return rows(s.out, s.width, "out");
    case StepKind::SwiGLU:
    case StepKind::Add:
      if (Error e = rows(s.in, s.width, "in"))
        return e;
      if (Error e = rows(s.in2, s.width, "in2"))
        return e;
      return rows(s.out, s.width, "out");
    case StepKind::MoE: {
      // The runtime reads in and the router's rows whole before it writes
      // out (experts accumulate in the session's own buffer), so the views
      // may overlap.
      const int64_t lists = s.gated ? 3 : 2, E = s.expertCount();
      if (E < 1 || int64_t(s.experts.size()) % lists || s.topK < 1 || s.topK > E)
        return fail(llvm::formatv("{0} expert slots for top {1}: not fc1, fc2{2} slots of "
                                  "at least k experts",
                                  s.experts.size(), s.topK, s.gated ? " and fc3" : "")
                        .str());
      if (s.width <= 0 || s.inner <= 0 || s.inner > INT64_MAX / 2)
        return fail("bad width or inner size");
      if (s.gated && s.expertAct == ExpertActivation::SwiGLU)
        return fail("gated experts take an elementwise activation, not swiglu");
      const int64_t F1 = s.expertAct == ExpertActivation::SwiGLU ? 2 * s.inner : s.inner;
      for (int64_t e = 0; e < lists * E; ++e) {
        // fc1 [F1, width], fc2 [width, I], fc3 [I, width].
        const int64_t list = e / E;
        const int64_t N = list == 0 ? F1 : list == 1 ? s.width : s.inner;
        const int64_t K = list == 1 ? s.inner : s.width;
        const WeightSlot *w = slot(s.experts[size_t(e)]);
        if (!w || w->kind != SlotKind::Packed || w->shape.size() != 2 ||
            w->shape[0] != N || w->shape[1] != K)
          return fail(llvm::formatv("expert {0}'s fc{1} (weight {2}) is not a packed [{3}, "
                                    "{4}] slot",
                                    e % E, list == 0 ? 1 : list == 1 ? 2 : 3,
                                    s.experts[size_t(e)], N, K)
                          .str());
      }
      if (Error e = rows(s.in, s.width, "in"))
        return e;
      if (Error e = rows(s.in2, E, "router"))
        return e;
      return rows(s.out, s.width, "out");
    }
    case StepKind::Matmul: {
      const WeightSlot *w = slot(s.weight);
      if (!w || w->kind != SlotKind::Packed || w->shape.size() != 2 ||
          w->shape[0] != s.width || w->shape[1] != s.inner)
        return fail(llvm::formatv("weight {0} is not a packed [{1}, {2}] slot", s.weight,
                                  s.width, s.inner)
                        .str());
      if (Error e = rows(s.in, s.inner, "in"))
        return e;
      return rows(s.out, s.width, "out");
    }
    case StepKind::RopeTables:
      if (s.longWeight >= 0 && s.weight < 0)
        return fail("a long set of frequencies needs a short one as a slot too");
      return ropeTables(s);
    case StepKind::Rope:
      if (Error e = ropeTables(s))
        return e;
      if (Error e = heads(s.q, s.heads, s.headDim, "x"))
        return e;
      return heads(s.o, s.heads, s.headDim, "out");
    case StepKind::Attention:
      // The session's KV cache is laid out from the config: one slot per
      // layer of config.kvHeads heads of config.headDim / valueDim.
      if (s.layer < 0 || s.layer >= c_.layers)
        return fail(llvm::formatv("layer {0} is not a KV cache slot (the model has {1})",
                                  s.layer, c_.layers)
                        .str());
      if (s.kvHeads <= 0 || s.heads <= 0 || s.heads % s.kvHeads ||
          s.kvHeads != c_.kvHeads || s.headDim != c_.headDim || s.valueDim != c_.valueDim)
        return fail(llvm::formatv("{0} heads on {1} KV heads of {2}/{3} do not fit the KV "
                                  "cache ({4} KV heads of {5}/{6})",
                                  s.heads, s.kvHeads, s.headDim, s.valueDim, c_.kvHeads,
                                  c_.headDim, c_.valueDim)
                        .str());
      if (Error e = heads(s.q, s.heads, s.headDim, "q"))
        return e;
      if (Error e = heads(s.k, s.kvHeads, s.headDim, "k"))
        return e;
      if (Error e = heads(s.v, s.kvHeads, s.valueDim, "v"))
        return e;
      return heads(s.o, s.heads, s.valueDim, "out");
    }
    return fail("unknown step");
  }
};

} // namespace

Error ProgramPlan::verify() const { return Verifier(*this).run(); }

} // namespace llmc::codegen
