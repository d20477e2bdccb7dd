//===- Calibrate.cpp - Matmul input statistics from a calibration run -----===//
#include "llmc/Runtime/Calibrate.h"

#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace llmc::runtime {

Expected<CalibrationData>
collectMatmulInputStats(const Model &model, ArrayRef<int32_t> tokens,
                        const CalibrationOptions &options) {
  const codegen::ProgramPlan &plan = model.plan();
  const int64_t L = std::min(options.sequenceLength, model.config().maxContext);
  if (L < 2)
    return createStringError(inconvertibleErrorCode(),
                             "calibration sequences need at least 2 tokens");
  const int64_t usable = std::min<int64_t>(options.maxTokens, int64_t(tokens.size()));
  const int64_t sequences = usable / L;
  if (sequences < 1)
    return createStringError(inconvertibleErrorCode(),
                             "the calibration text has %zu tokens, fewer than "
                             "one sequence of %lld",
                             tokens.size(), (long long)L);

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
  const int32_t bos = plan.config.bos;
  for (int64_t q = 0; q < sequences; ++q) {
    std::vector<int32_t> seq(tokens.begin() + q * L, tokens.begin() + (q + 1) * L);
    seq[0] = bos;
    (*session)->reset();
    // Every position's logits: the lm_head sees all rows, like the others.
    if (Error e = (*session)->forwardAll(seq, [](int64_t, ArrayRef<float>) {}))
      return std::move(e);
    if (options.progress)
      options.progress(formatv("calibration {0}/{1}: {2} tokens", q + 1,
                               sequences, (q + 1) * L)
                           .str());
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

} // namespace llmc::runtime
