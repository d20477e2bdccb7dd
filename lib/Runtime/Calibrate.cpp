//===- Calibrate.cpp - Matmul input statistics from a calibration run -----===//
#include "llmc/Runtime/Calibrate.h"

#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace llmc::runtime {

namespace {
/// The calibration sequences: `sequenceLength` tokens each (at most the
/// context), the first replaced by BOS.
struct Sequences {
  int64_t length = 0, count = 0;
};

Expected<Sequences> cutSequences(const Model &model, ArrayRef<int32_t> tokens,
                                 const CalibrationOptions &options) {
  Sequences s;
  s.length = std::min(options.sequenceLength, model.config().maxContext);
  if (s.length < 2)
    return createStringError(inconvertibleErrorCode(),
                             "calibration sequences need at least 2 tokens");
  const int64_t usable = std::min<int64_t>(options.maxTokens, int64_t(tokens.size()));
  s.count = usable / s.length;
  if (s.count < 1)
    return createStringError(inconvertibleErrorCode(),
                             "the calibration text has %zu tokens, fewer than "
                             "one sequence of %lld",
                             tokens.size(), (long long)s.length);
  return s;
}

/// Runs sequence q from an empty cache, every position's logits computed:
/// the lm_head sees all rows, like the other matmuls.
Error runSequence(Session &session, ArrayRef<int32_t> tokens, const Sequences &s,
                  int64_t q, int32_t bos) {
  std::vector<int32_t> seq(tokens.begin() + q * s.length,
                           tokens.begin() + (q + 1) * s.length);
  seq[0] = bos;
  session.reset();
  return session.forwardAll(seq, [](int64_t, ArrayRef<float>) {});
}

void reportProgress(const CalibrationOptions &options, const Sequences &s, int64_t q) {
  if (options.progress)
    options.progress(formatv("calibration {0}/{1}: {2} tokens", q + 1, s.count,
                             (q + 1) * s.length)
                         .str());
}
} // namespace

Expected<CalibrationData>
collectMatmulInputStats(const Model &model, ArrayRef<int32_t> tokens,
                        const CalibrationOptions &options) {
  const codegen::ProgramPlan &plan = model.plan();
  auto seqs = cutSequences(model, tokens, options);
  if (!seqs)
    return seqs.takeError();

  // Per packed slot (by index): its statistics, or none when not wanted.
  std::vector<std::unique_ptr<quant::CalibrationStats>> stats(plan.weights.size());
  std::vector<std::unique_ptr<quant::ActivationRange>> ranges(plan.weights.size());
  for (size_t i = 0; i < plan.weights.size(); ++i) {
    const codegen::WeightSlot &w = plan.weights[i];
    if (w.kind != codegen::SlotKind::Packed)
      continue;
    if (!options.wanted || options.wanted(int32_t(i)))
      stats[i] = std::make_unique<quant::CalibrationStats>(w.shape[1]);
    if (options.wantedRange && options.wantedRange(int32_t(i)))
      ranges[i] = std::make_unique<quant::ActivationRange>();
  }

  SessionOptions so;
  so.threads = options.threads;
  so.matmulInputs = [&](int32_t slot, const float *x, int64_t m, int64_t ldx) {
    if (quant::CalibrationStats *s = stats[size_t(slot)].get())
      s->addBatch(x, m, ldx);
    if (quant::ActivationRange *r = ranges[size_t(slot)].get())
      r->addBatch(x, m, plan.weights[size_t(slot)].shape[1], ldx);
  };
  auto session = Session::create(model, so);
  if (!session)
    return session.takeError();
  for (int64_t q = 0; q < seqs->count; ++q) {
    if (Error e = runSequence(**session, tokens, *seqs, q, plan.config.bos))
      return std::move(e);
    reportProgress(options, *seqs, q);
  }

  CalibrationData out;
  for (size_t i = 0; i < stats.size(); ++i) {
    if (stats[i])
      out.stats.try_emplace(plan.weights[i].name, std::move(*stats[i]));
    if (ranges[i])
      out.ranges.try_emplace(plan.weights[i].name, std::move(*ranges[i]));
  }
  return std::move(out);
}

Expected<CalibrationData>
collectPairedMatmulInputStats(const Model &reference, const Model &model,
                              ArrayRef<int32_t> tokens,
                              const CalibrationOptions &options) {
  const codegen::ProgramPlan &plan = model.plan();
  const codegen::ProgramPlan &refPlan = reference.plan();
  auto seqs = cutSequences(model, tokens, options);
  if (!seqs)
    return seqs.takeError();

  // Per packed slot of `model`: its statistics and the reference slot.
  llvm::StringMap<int32_t> refSlot;
  for (size_t j = 0; j < refPlan.weights.size(); ++j)
    if (refPlan.weights[j].kind == codegen::SlotKind::Packed)
      refSlot[refPlan.weights[j].name] = int32_t(j);
  std::vector<std::unique_ptr<quant::CalibrationStats>> stats(plan.weights.size());
  std::vector<int32_t> pairedWith(plan.weights.size(), -1);
  for (size_t i = 0; i < plan.weights.size(); ++i) {
    const codegen::WeightSlot &w = plan.weights[i];
    if (w.kind != codegen::SlotKind::Packed ||
        (options.wanted && !options.wanted(int32_t(i))))
      continue;
    auto it = refSlot.find(w.name);
    if (it == refSlot.end() || refPlan.weights[size_t(it->second)].shape != w.shape)
      return createStringError(inconvertibleErrorCode(),
                               "paired calibration: the reference model has no "
                               "matmul '%s' of the same shape",
                               w.name.c_str());
    pairedWith[i] = it->second;
    stats[i] = std::make_unique<quant::CalibrationStats>(w.shape[1]);
  }

  // The reference's inputs of one sequence, per reference slot: rows of K
  // floats in call order, and how many of them the model has consumed.
  std::vector<std::vector<float>> refRows(refPlan.weights.size());
  std::vector<int64_t> consumed(refPlan.weights.size(), 0);
  std::vector<bool> refWanted(refPlan.weights.size(), false);
  for (int32_t j : pairedWith)
    if (j >= 0)
      refWanted[size_t(j)] = true;
  SessionOptions ro;
  ro.threads = options.threads;
  ro.matmulInputs = [&](int32_t slot, const float *x, int64_t m, int64_t ldx) {
    if (!refWanted[size_t(slot)])
      return;
    const int64_t K = refPlan.weights[size_t(slot)].shape[1];
    std::vector<float> &rows = refRows[size_t(slot)];
    for (int64_t r = 0; r < m; ++r)
      rows.insert(rows.end(), x + r * ldx, x + r * ldx + K);
  };
  std::string mismatch;
  SessionOptions so;
  so.threads = options.threads;
  so.matmulInputs = [&](int32_t slot, const float *x, int64_t m, int64_t ldx) {
    quant::CalibrationStats *s = stats[size_t(slot)].get();
    if (!s)
      return;
    const int32_t j = pairedWith[size_t(slot)];
    const int64_t K = plan.weights[size_t(slot)].shape[1];
    const std::vector<float> &rows = refRows[size_t(j)];
    if ((consumed[size_t(j)] + m) * K > int64_t(rows.size())) {
      if (mismatch.empty())
        mismatch = plan.weights[size_t(slot)].name;
      return;
    }
    s->addPairedBatch(x, rows.data() + consumed[size_t(j)] * K, m, ldx, K);
    consumed[size_t(j)] += m;
  };
  auto refSession = Session::create(reference, ro);
  if (!refSession)
    return refSession.takeError();
  auto session = Session::create(model, so);
  if (!session)
    return session.takeError();
  for (int64_t q = 0; q < seqs->count; ++q) {
    for (auto &rows : refRows)
      rows.clear();
    std::fill(consumed.begin(), consumed.end(), 0);
    if (Error e = runSequence(**refSession, tokens, *seqs, q, refPlan.config.bos))
      return std::move(e);
    if (Error e = runSequence(**session, tokens, *seqs, q, plan.config.bos))
      return std::move(e);
    for (size_t i = 0; i < stats.size() && mismatch.empty(); ++i) {
      const int32_t j = pairedWith[i];
      if (j >= 0 && consumed[size_t(j)] * plan.weights[i].shape[1] !=
                        int64_t(refRows[size_t(j)].size()))
        mismatch = plan.weights[i].name;
    }
    if (!mismatch.empty())
      return createStringError(inconvertibleErrorCode(),
                               "paired calibration: matmul '%s' saw other rows "
                               "than in the reference model",
                               mismatch.c_str());
    reportProgress(options, *seqs, q);
  }

  CalibrationData out;
  for (size_t i = 0; i < stats.size(); ++i)
    if (stats[i])
      out.stats.try_emplace(plan.weights[i].name, std::move(*stats[i]));
  return std::move(out);
}

} // namespace llmc::runtime
