//===- AutoTune.cpp - Per-layer quantization recipes that meet an accuracy goal -===//
#include "llmc/Tune/AutoTune.h"
#include "llmc/Tune/SequentialCalibration.h"

#include "llmc/CodeGen/SlotQuantizer.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/Quant/GroupQuantizer.h"
#include "llmc/Quant/Hadamard.h"
#include "llmc/Quant/LinearAlgebra.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Format.h"

#include <algorithm>
#include <cmath>

using namespace llvm;

namespace llmc::tune {

double bitsPerWeight(const codegen::QuantRecipe &r, int64_t K) {
  // Bias correction stores N fp32 values with an N x K matrix: 32 / K bits
  // per weight, as the manifest's matmul_bits_per_weight counts them.
  const double bias = r.weights.biasCorrection && K > 0 ? 32.0 / double(K) : 0.0;
  return r.format().storedBitsPerWeight(unsigned(K)) + bias;
}

std::string percentChange(double value, double reference) {
  const double d = 100.0 * (value / reference - 1);
  return formatv("{0}{1:f2}%", d >= 0 ? "+" : "", d).str();
}

std::vector<codegen::QuantRecipe> defaultLadder() {
  // Incoherence processing + LDLQ with act-order and the clipping search: the
  // most accurate rounding of lib/Quant on real models (docs/QUANTIZATION.md).
  // Symmetric 2- and 4-bit rungs use the non-uniform levels (nl2, nl4): more
  // accurate than int2/int4 symmetric at the same bits; and e4m4 scales,
  // which buy groups half as long at the bits of f16 scales (nl2 g16 and
  // nl4 g16 in 2.5 and 4.5 bits, nl4 g32 in 4.25).
  auto q = [](StringRef spec) {
    codegen::QuantRecipe r;
    r.weights = cantFail(quant::parseQuantSpec(spec));
    return r;
  };
  return {q("nl2:g16:e4m4:quip:mse:actorder"),
          q("int2:g32:asym:quip:mse:actorder"),
          q("int3:g32:asym:quip:mse:actorder"),
          q("nl4:g32:e4m4:quip:mse:actorder"),
          q("nl4:g16:e4m4:quip:mse:actorder"),
          q("int4:g32:asym:quip:mse:actorder"),
          q("int8:g32:sym:quip:mse:actorder"), q("fp16")};
}

namespace {

/// e = tr(dW H dW^T) of one quantized slot against W[N][K], dW in the
/// original basis: AWQ's Q(W diag s) diag(1/s) (quant::proxyLoss with the
/// column scales), QuIP's rows U^T q'_n.
Expected<double> outputError(const std::vector<float> &W,
                             const codegen::SlotQuantization &q,
                             const std::vector<double> &H) {
  kernels::QuantizedWeights wq = kernels::unpackWeights(q.packed);
  if (!q.rotationSeed)
    return quant::proxyLoss(W.data(), wq, H.data(),
                            q.awqScales.empty() ? nullptr : q.awqScales.data());
  const int64_t N = wq.N, K = wq.K;
  auto U = quant::RandomizedHadamard::create(K, *q.rotationSeed);
  if (!U)
    return U.takeError();
  return quant::sumQuadraticForms(H.data(), K, N, [&](int64_t n, double *row) {
    for (int64_t k = 0; k < K; ++k)
      row[k] = wq.weight(n, k);
    U->applyInverse(row);
    for (int64_t k = 0; k < K; ++k)
      row[k] -= double(W[n * K + k]);
  });
}

/// tr(W H W^T) for W[N][K].
double outputEnergy(const std::vector<float> &W, int64_t N, int64_t K,
                    const std::vector<double> &H) {
  return quant::sumQuadraticForms(H.data(), K, N, [&](int64_t n, double *row) {
    std::copy(W.begin() + n * K, W.begin() + (n + 1) * K, row);
  });
}

} // namespace

Expected<TuneResult> autoTune(mlir::ModuleOp module,
                              const codegen::CompileOptions &base,
                              const runtime::Model &reference,
                              ArrayRef<int32_t> evalTokens,
                              const TuneOptions &options) {
  const std::vector<codegen::QuantRecipe> ladder =
      options.ladder.empty() ? defaultLadder() : options.ladder;
  if (!base.calibration)
    return createStringError(inconvertibleErrorCode(),
                             "auto-tuning needs calibration statistics");
  // Sensitivity probes are scored on the tuning chunks after the ones that
  // judge the candidates: measured on the same chunks, the allocation would
  // exploit their noise (a slot that happens to cost nothing there) and the
  // candidate check would then confirm it. Checked before any work is done.
  ArrayRef<int32_t> candidateTokens = evalTokens, probeTokens;
  if (options.measureSensitivity) {
    const size_t chunkTokens = size_t(options.eval.ctx);
    const size_t used = options.eval.maxChunks > 0
                            ? size_t(options.eval.maxChunks) * chunkTokens
                            : evalTokens.size() / 2;
    if (evalTokens.size() < used + 2 * chunkTokens)
      return createStringError(
          inconvertibleErrorCode(),
          "measured sensitivities need tuning text beyond the %zu tokens the "
          "candidates are scored on (%zu available): use fewer --tune-chunks "
          "or more calibration text",
          used, evalTokens.size());
    candidateTokens = evalTokens.take_front(used);
    probeTokens = evalTokens.drop_front(used).take_front(used);
  }
  auto say = [&](const Twine &t) {
    if (options.progress)
      options.progress(t.str());
  };
  const codegen::ProgramPlan &plan = reference.plan();
  TuneResult result;
  auto ref = runtime::evaluatePerplexity(reference, candidateTokens, options.eval);
  if (!ref)
    return ref.takeError();
  result.referencePerplexity = ref->perplexity;
  say(formatv("tune: fp32 perplexity {0:f4} on {1} tuning chunks", ref->perplexity,
              ref->chunks));

  // 1. Relative output error of every slot at every rung.
  struct Slot {
    std::string name;
    int64_t N, K;
    std::vector<double> err; // per rung
  };
  std::vector<Slot> slots;
  const IsaTier tier = reference.kernelTier();
  for (size_t i = 0; i < plan.weights.size(); ++i) {
    const codegen::WeightSlot &w = plan.weights[i];
    if (w.kind != codegen::SlotKind::Packed)
      continue;
    auto st = base.calibration->find(w.name);
    if (st == base.calibration->end())
      return createStringError(inconvertibleErrorCode(),
                               "no calibration statistics for '%s'",
                               w.name.c_str());
    Slot s{w.name, w.shape[0], w.shape[1], {}};
    std::vector<float> W =
        quant::dequantize(kernels::unpackWeights(reference.packed(int32_t(i))));
    std::vector<double> H = st->second.hessian();
    const double energy = outputEnergy(W, s.N, s.K, H);
    for (const codegen::QuantRecipe &r : ladder) {
      auto q = codegen::quantizeSlot(W.data(), s.N, s.K, r, &st->second, tier,
                                     0x5eed0000 + i);
      if (!q)
        return q.takeError();
      auto e = outputError(W, *q, H);
      if (!e)
        return e.takeError();
      s.err.push_back(energy > 0 ? *e / energy : 0.0);
    }
    say(formatv("tune: {0}: relative error {1:e1} (cheapest) .. {2:e1}", s.name,
                s.err.front(), s.err.back()));
    slots.push_back(std::move(s));
  }

  // 2. Candidate assignments, least accurate first, then a bisection over
  // them, each candidate compiled and evaluated.
  std::vector<double> taus;
  for (const Slot &s : slots)
    taus.insert(taus.end(), s.err.begin(), s.err.end());
  std::sort(taus.begin(), taus.end(), std::greater<double>());
  taus.erase(std::unique(taus.begin(), taus.end()), taus.end());
  auto assign = [&](double tau) {
    std::vector<size_t> rung(slots.size(), ladder.size() - 1);
    for (size_t s = 0; s < slots.size(); ++s)
      for (size_t l = 0; l < ladder.size(); ++l)
        if (slots[s].err[l] <= tau) {
          rung[s] = l;
          break;
        }
    return rung;
  };
  auto bpw = [&](const std::vector<size_t> &rung) {
    double bits = 0, params = 0;
    for (size_t s = 0; s < slots.size(); ++s) {
      double p = double(slots[s].N * slots[s].K);
      bits += p * bitsPerWeight(ladder[rung[s]], slots[s].K);
      params += p;
    }
    return bits / params;
  };
  // A candidate's perplexity and the upper confidence bound of its increase
  // over the reference on the tuning chunks (Evaluate.h).
  struct Score {
    double perplexity, upper;
  };
  std::map<std::vector<size_t>, Score> evaluated;
  // Sequential calibration: the statistics and rounded slots of the last
  // candidate calibrated, kept for the final compile if it is chosen.
  struct SequentialState {
    std::vector<size_t> rung;
    StringMap<quant::CalibrationStats> stats;
    codegen::SlotCache cache;
  };
  std::optional<SequentialState> last, chosen;
  auto recipesOf = [&](const std::vector<size_t> &rung) {
    std::map<std::string, codegen::QuantRecipe> bySlot;
    for (size_t s = 0; s < slots.size(); ++s)
      bySlot[slots[s].name] = ladder[rung[s]];
    return bySlot;
  };
  // The compile options of an assignment (`bySlot` must outlive them).
  auto optionsFor = [&](const std::map<std::string, codegen::QuantRecipe> &bySlot) {
    codegen::CompileOptions co = base;
    co.progress = nullptr;
    co.recipeFor = [&bySlot, &base](StringRef name) -> Expected<codegen::QuantRecipe> {
      auto it = bySlot.find(name.str());
      return it == bySlot.end() ? base.recipe : it->second;
    };
    return co;
  };
  auto calibrate = [&](const std::vector<size_t> &rung,
                       const codegen::CompileOptions &co) -> Expected<SequentialState> {
    SequentialState st{rung, *base.calibration, {}};
    if (Error e = calibrateSequentially(module, co, reference,
                                        options.calibrationTokens,
                                        options.calibration, st.stats, st.cache))
      return std::move(e);
    return std::move(st);
  };
  double probeReference = result.referencePerplexity;
  if (options.measureSensitivity) {
    auto pr = runtime::evaluatePerplexity(reference, probeTokens, options.eval);
    if (!pr)
      return pr.takeError();
    probeReference = pr->perplexity;
  }
  // Compiles the assignment (with sequential calibration unless `probe`) and
  // evaluates it on the candidates' or the probes' tokens.
  auto compileAndEvaluate = [&](const std::vector<size_t> &rung,
                                bool probe) -> Expected<runtime::EvalResult> {
    SmallString<128> tmp;
    if (std::error_code ec = sys::fs::createTemporaryFile("llmc-tune", "llmc", tmp))
      return createStringError(ec, "cannot create a temporary file");
    FileRemover remove(tmp);
    const std::map<std::string, codegen::QuantRecipe> bySlot = recipesOf(rung);
    codegen::CompileOptions co = optionsFor(bySlot);
    if (options.sequential && !probe) {
      say(formatv("tune: candidate {0}: sequential calibration ({1:f2} "
                  "bits/weight)",
                  result.evaluations + 1, bpw(rung)));
      auto st = calibrate(rung, co);
      if (!st)
        return st.takeError();
      last = std::move(*st);
      co.calibration = &last->stats;
      co.slotCache = &last->cache;
    }
    if (Error e = codegen::compileToBundle(module, co, tmp))
      return std::move(e);
    auto m = runtime::Model::load(tmp);
    if (!m)
      return m.takeError();
    return runtime::evaluatePerplexity(**m, probe ? probeTokens : candidateTokens,
                                       options.eval);
  };
  auto evaluate = [&](const std::vector<size_t> &rung) -> Expected<Score> {
    if (auto it = evaluated.find(rung); it != evaluated.end())
      return it->second;
    auto r = compileAndEvaluate(rung, /*probe=*/false);
    if (!r)
      return r.takeError();
    auto inc = runtime::perplexityIncrease(r->chunkNll, ref->chunkNll,
                                           options.confidence);
    if (!inc)
      return inc.takeError();
    ++result.evaluations;
    Score score{r->perplexity, inc->upper};
    evaluated[rung] = score;
    say(formatv("tune: candidate {0}: {1:f2} bits/weight, perplexity {2:f4} "
                "({3}; at most {4:f2}% at {5}% confidence)",
                result.evaluations, bpw(rung), r->perplexity,
                percentChange(r->perplexity, result.referencePerplexity),
                100 * inc->upper, format("%g", 100 * options.confidence)));
    return score;
  };

  std::vector<std::vector<size_t>> candidates;
  auto addCandidate = [&](std::vector<size_t> rung) {
    if (candidates.empty() || candidates.back() != rung)
      candidates.push_back(std::move(rung));
  };
  if (!options.measureSensitivity) {
    for (double tau : taus)
      addCandidate(assign(tau));
  } else {
    // Measured sensitivity: d[s][l] = relative perplexity increase with slot
    // s alone at rung l (every other slot at the top rung, taken as
    // lossless). Assuming the increases add up, the cheapest assignment
    // with predicted increase D solves a multiple-choice knapsack; its
    // Lagrangian relaxation picks, for each slot independently,
    //     argmin_l  bits(s, l) / params + lambda * d[s][l],
    // and sweeping lambda from 0 (cheapest) up (most accurate) traces the
    // lower convex hull of (bits, D): the candidates.
    const size_t top = ladder.size() - 1;
    std::vector<std::vector<double>> d(slots.size(),
                                       std::vector<double>(ladder.size(), 0.0));
    double params = 0;
    for (const Slot &s : slots)
      params += double(s.N * s.K);
    for (size_t s = 0; s < slots.size(); ++s) {
      std::string line;
      for (size_t l = 0; l < top; ++l) {
        std::vector<size_t> rung(slots.size(), top);
        rung[s] = l;
        auto p = compileAndEvaluate(rung, /*probe=*/true);
        if (!p)
          return p.takeError();
        // Below zero is measurement luck: no format is better than fp16.
        d[s][l] = std::max(0.0, p->perplexity / probeReference - 1);
        line += formatv(" {0:f2}%", 100 * d[s][l]).str();
      }
      result.sensitivityEvaluations += unsigned(top);
      say(formatv("tune: sensitivity of {0}:{1}", slots[s].name, line));
    }
    auto allocate = [&](double lambda) {
      std::vector<size_t> rung(slots.size(), top);
      for (size_t s = 0; s < slots.size(); ++s) {
        const double share = double(slots[s].N * slots[s].K) / params;
        double bestCost = INFINITY;
        for (size_t l = 0; l < ladder.size(); ++l) {
          double cost = share * bitsPerWeight(ladder[l], slots[s].K) +
                        lambda * d[s][l];
          if (cost < bestCost) {
            bestCost = cost;
            rung[s] = l;
          }
        }
      }
      return rung;
    };
    // lambda in bits/weight per unit of relative perplexity: 1e-3 .. 1e9.
    for (int i = 0; i <= 480; ++i)
      addCandidate(allocate(std::pow(10.0, -3.0 + i / 40.0)));
    addCandidate(std::vector<size_t>(slots.size(), top));
  }
  // A size budget keeps the candidates within it; the most accurate of them
  // is then the answer when none meets the goal.
  if (options.maxBitsPerWeight > 0) {
    const double cheapest = bpw(candidates.front());
    candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                    [&](const std::vector<size_t> &r) {
                                      return bpw(r) > options.maxBitsPerWeight;
                                    }),
                     candidates.end());
    if (candidates.empty())
      return createStringError(inconvertibleErrorCode(),
                               "no recipe of the ladder fits in %.2f bits/weight "
                               "(the cheapest takes %.2f)",
                               options.maxBitsPerWeight, cheapest);
  }
  // A candidate meets the goal when the upper confidence bound of its
  // increase does: the tuning chunks are a small sample, and the point
  // estimate alone passes candidates whose increase on more text exceeds it.
  auto meets = [&](const Score &s) { return s.upper <= options.goal; };
  // The most accurate assignment first: if it misses, nothing will meet it.
  size_t lo = 0, hi = candidates.size() - 1;
  auto best = candidates[hi];
  auto first = evaluate(best);
  if (!first)
    return first.takeError();
  Score bestScore = *first;
  result.met = meets(*first);
  auto keepState = [&](const std::vector<size_t> &rung) {
    if (last && last->rung == rung)
      chosen = std::move(last);
    last.reset();
  };
  keepState(best);
  // Invariant: candidates[hi] meets the goal; find the least accurate one
  // that does.
  while (result.met && lo < hi && result.evaluations < std::max(1u, options.budget)) {
    size_t mid = lo + (hi - lo) / 2;
    const std::vector<size_t> &rung = candidates[mid];
    auto p = evaluate(rung);
    if (!p)
      return p.takeError();
    if (meets(*p)) {
      hi = mid;
      if (bpw(rung) <= bpw(best)) {
        best = rung;
        bestScore = *p;
        keepState(best);
      }
    } else {
      lo = mid + 1;
    }
  }
  for (size_t s = 0; s < slots.size(); ++s)
    result.slots[slots[s].name] = ladder[best[s]];
  result.perplexity = bestScore.perplexity;
  result.increaseUpperBound = bestScore.upper;
  result.bitsPerWeight = bpw(best);
  if (options.sequential) {
    if (!chosen || chosen->rung != best) { // evaluated earlier, state dropped
      const auto bySlot = recipesOf(best);
      auto st = calibrate(best, optionsFor(bySlot));
      if (!st)
        return st.takeError();
      chosen = std::move(*st);
    }
    result.sequentialStats = std::move(chosen->stats);
    result.slotCache = std::move(chosen->cache);
  }
  return result;
}

} // namespace llmc::tune
