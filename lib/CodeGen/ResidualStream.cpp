//===- ResidualStream.cpp - The residual stream of a planned program ------===//
#include "llmc/CodeGen/ResidualStream.h"

#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace llvm;

namespace llmc::codegen {

size_t ResidualStream::numNorms() const {
  return size_t(std::count(norm.begin(), norm.end(), true));
}
size_t ResidualStream::numReaders() const {
  return size_t(std::count_if(readsNorm.begin(), readsNorm.end(),
                              [](int32_t n) { return n >= 0; }));
}
size_t ResidualStream::numWriters() const {
  return size_t(std::count(writes.begin(), writes.end(), true));
}

namespace {

/// Arena floats [lo, hi) a view may touch with the plan's most tokens.
struct Span {
  int64_t lo = 0, hi = 0;
  bool overlaps(const Span &o) const { return lo < o.hi && o.lo < hi; }
};

/// One activation operand a step reads. `producer`: the step that wrote it.
struct Read {
  Span span;
  int64_t offset = 0;
  int64_t width = 0; ///< row length, for row views
  int32_t producer = -1;
};

struct Access {
  std::vector<Read> reads;
  std::vector<Span> writes;
};

Span rowSpan(const RowView &v, int64_t width, int64_t rows) {
  return {v.offset, v.offset + (rows - 1) * v.rowStride + width};
}
Span headSpan(const HeadView &v, int64_t heads, int64_t dim, int64_t rows) {
  return {v.offset, v.offset + (rows - 1) * v.tokenStride +
                        (heads - 1) * v.headStride + dim};
}

Access accessOf(const Step &s, int64_t rows) {
  Access a;
  auto readRow = [&](const RowView &v, int64_t width) {
    a.reads.push_back({rowSpan(v, width, rows), v.offset, width});
  };
  auto readHead = [&](const HeadView &v, int64_t heads, int64_t dim) {
    a.reads.push_back({headSpan(v, heads, dim, rows), v.offset, 0});
  };
  auto table = [&](int64_t at) { return Span{at, at + rows * s.rotHalf}; };
  switch (s.kind) {
  case StepKind::Embed:
  case StepKind::EmbedPositions:
    a.writes.push_back(rowSpan(s.out, s.width, rows));
    break;
  case StepKind::RmsNorm:
  case StepKind::LayerNorm:
  case StepKind::Gelu:
  case StepKind::Softcap:
    readRow(s.in, s.width * s.groups);
    a.writes.push_back(rowSpan(s.out, s.width * s.groups, rows));
    break;
  case StepKind::Matmul:
    readRow(s.in, s.inner);
    a.writes.push_back(rowSpan(s.out, s.width, rows));
    break;
  case StepKind::RopeTables:
    a.writes.push_back(table(s.cos));
    a.writes.push_back(table(s.sin));
    break;
  case StepKind::Rope:
    readHead(s.q, s.heads, s.headDim);
    a.reads.push_back({table(s.cos), s.cos, 0});
    a.reads.push_back({table(s.sin), s.sin, 0});
    a.writes.push_back(headSpan(s.o, s.heads, s.headDim, rows));
    break;
  case StepKind::Attention:
    readHead(s.q, s.heads, s.headDim);
    readHead(s.k, s.kvHeads, s.headDim);
    readHead(s.v, s.kvHeads, s.valueDim);
    a.writes.push_back(headSpan(s.o, s.heads, s.valueDim, rows));
    break;
  case StepKind::SwiGLU:
  case StepKind::Add:
    readRow(s.in, s.width);
    readRow(s.in2, s.width);
    a.writes.push_back(rowSpan(s.out, s.width, rows));
    break;
  case StepKind::MoE:
    readRow(s.in, s.width);
    readRow(s.in2, s.expertCount());
    a.writes.push_back(rowSpan(s.out, s.width, rows));
    break;
  }
  return a;
}

/// The last step before `before` writing memory that overlaps `span`.
int32_t lastWriter(ArrayRef<Access> access, Span span, size_t before) {
  for (size_t j = before; j-- > 0;)
    for (const Span &w : access[j].writes)
      if (w.overlaps(span))
        return int32_t(j);
  return -1;
}

} // namespace

Expected<ResidualStream> analyzeResidualStream(const ProgramPlan &plan,
                                               const std::vector<bool> &prequantized) {
  const std::vector<Step> &steps = plan.steps;
  const size_t n = steps.size();
  auto fail = [](const Twine &why) {
    return createStringError(inconvertibleErrorCode(), why);
  };
  auto where = [&](int32_t i) {
    std::string w = formatv("step {0} ({1}", i, stepKindName(steps[i].kind)).str();
    if (steps[i].weight >= 0)
      w += " of '" + plan.weights[steps[i].weight].name + "'";
    return w + ")";
  };

  // Dataflow: the producer of every operand, and the readers of every step.
  const int64_t rows = std::max<int64_t>(plan.maxTokens, 1);
  std::vector<Access> access(n);
  for (size_t i = 0; i < n; ++i)
    access[i] = accessOf(steps[i], rows);
  std::vector<std::vector<std::pair<int32_t, size_t>>> readers(n);
  for (size_t i = 0; i < n; ++i)
    for (size_t r = 0; r < access[i].reads.size(); ++r) {
      Read &rd = access[i].reads[r];
      rd.producer = lastWriter(access, rd.span, i);
      if (rd.producer >= 0)
        readers[rd.producer].push_back({int32_t(i), r});
    }

  // The stream starts at the one embedding gather.
  int32_t embed = -1;
  for (size_t i = 0; i < n; ++i)
    if (steps[i].kind == StepKind::Embed) {
      if (embed >= 0)
        return fail("the model has more than one embedding gather");
      embed = int32_t(i);
    }
  if (embed < 0)
    return fail("the model has no embedding gather");
  ResidualStream rs;
  rs.dim = steps[embed].width;
  rs.embedding = steps[embed].weight;
  const int64_t d = rs.dim;

  // Follow the stream forward: its values are the embedding and the adds of
  // stream values and writer outputs; norms may read it, nothing else.
  std::vector<bool> stream(n, false), streamNorm(n, false), writer(n, false);
  stream[embed] = true;
  auto wholeValue = [&](const Read &rd) {
    const Step &p = steps[rd.producer];
    return rd.offset == p.out.offset && rd.width == d && p.width == d;
  };
  for (size_t i = size_t(embed) + 1; i < n; ++i) {
    const Step &s = steps[i];
    bool readsStream = false;
    for (const Read &rd : access[i].reads)
      readsStream |= rd.producer >= 0 && stream[rd.producer];
    if (!readsStream)
      continue;
    if (s.kind == StepKind::RmsNorm) {
      if (!wholeValue(access[i].reads[0]))
        return fail(where(int32_t(i)) + " reads part of the residual stream");
      streamNorm[i] = true;
      continue;
    }
    if (s.kind == StepKind::LayerNorm)
      return fail(where(int32_t(i)) + " reads the residual stream: a rotation "
                  "does not commute with LayerNorm's mean subtraction");
    if (s.kind != StepKind::Add)
      return fail(where(int32_t(i)) +
                  " reads the residual stream (only RMSNorms and residual adds "
                  "may)");
    for (const Read &rd : access[i].reads) {
      if (rd.producer < 0)
        return fail(where(int32_t(i)) + " adds a value no step produced");
      const Step &p = steps[rd.producer];
      if (!stream[rd.producer] && p.kind != StepKind::Matmul)
        return fail(where(int32_t(i)) + " adds to the residual stream the "
                    "output of " + where(rd.producer) + ", not of a matmul");
      if (!wholeValue(rd))
        return fail(where(int32_t(i)) + " adds part of a value to the "
                    "residual stream");
      if (!stream[rd.producer])
        writer[rd.producer] = true;
    }
    stream[i] = true;
  }

  // Stream norms feed matmuls only (their weight moves into those).
  std::vector<int32_t> readsNormStep(n, -1);
  for (size_t i = 0; i < n; ++i) {
    if (!streamNorm[i])
      continue;
    if (readers[i].empty())
      return fail(where(int32_t(i)) + " is read by nothing");
    for (auto [c, r] : readers[i]) {
      const Step &cs = steps[c];
      if (cs.kind != StepKind::Matmul || cs.in.offset != steps[i].out.offset ||
          cs.inner != d)
        return fail("the output of " + where(int32_t(i)) + " is read by " +
                    where(c) + ", not only by matmuls");
      readsNormStep[c] = int32_t(i);
    }
  }
  // Writers' outputs go into the stream and nowhere else.
  for (size_t i = 0; i < n; ++i) {
    if (!writer[i])
      continue;
    for (auto [c, r] : readers[i])
      if (!stream[c])
        return fail("the output of " + where(int32_t(i)) +
                    " is added into the residual stream and also read by " +
                    where(c));
  }
  // The logits come out of a reader, in the original basis.
  const int32_t logits =
      lastWriter(access, rowSpan(plan.logits, plan.config.vocab, rows), n);
  if (logits < 0 || readsNormStep[logits] < 0 || writer[logits])
    return fail("the logits are not computed by a matmul reading the final "
                "norm of the residual stream");

  // Every weight rewritten must serve that role alone.
  const size_t slots = plan.weights.size();
  std::vector<int32_t> uses(slots, 0);
  for (const Step &s : steps)
    if (s.weight >= 0 && (s.kind == StepKind::Embed || s.kind == StepKind::RmsNorm ||
                          s.kind == StepKind::Matmul))
      ++uses[s.weight];
  if (uses[rs.embedding] != 1)
    return fail("the embedding table '" + plan.weights[rs.embedding].name +
                "' is read by more than one step");
  rs.norm.assign(slots, false);
  rs.readsNorm.assign(slots, -1);
  rs.writes.assign(slots, false);
  for (size_t i = 0; i < n; ++i) {
    const int32_t w = steps[i].weight;
    if (steps[i].kind == StepKind::RmsNorm && w >= 0) {
      if (streamNorm[i])
        rs.norm[w] = true;
      continue;
    }
    if (steps[i].kind != StepKind::Matmul || (readsNormStep[i] < 0 && !writer[i]))
      continue;
    if (uses[w] != 1)
      return fail("the weight '" + plan.weights[w].name +
                  "' of a residual reader or writer serves " +
                  Twine(uses[w]) + " steps");
    if (size_t(w) < prequantized.size() && prequantized[w])
      return fail("the pre-quantized weight '" + plan.weights[w].name +
                  "' reads or writes the residual stream and cannot be "
                  "rotated");
    // A writer's output rows are rotated (U W); its bias would have to be
    // rotated with them (U b), which the folding does not do.
    if (writer[i] && plan.weights[w].bias >= 0)
      return fail("the residual writer '" + plan.weights[w].name +
                  "' has a bias");
    if (readsNormStep[i] >= 0)
      rs.readsNorm[w] = steps[readsNormStep[i]].weight;
    rs.writes[w] = writer[i];
  }
  // A norm weight set to ones must not also serve a norm off the stream.
  for (size_t i = 0; i < n; ++i)
    if (steps[i].kind == StepKind::RmsNorm && steps[i].weight >= 0 &&
        rs.norm[steps[i].weight] && !streamNorm[i])
      return fail("the norm weight '" + plan.weights[steps[i].weight].name +
                  "' also serves a norm that does not read the residual stream");
  return std::move(rs);
}

} // namespace llmc::codegen
