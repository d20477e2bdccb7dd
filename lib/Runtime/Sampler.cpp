//===- Sampler.cpp - Greedy, temperature, top-k and top-p sampling ---------===//

#include "llmc/Runtime/Sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace llmc;

llvm::Error SamplingParams::validate() const {
  auto bad = [](const char *msg) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
  };
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    return bad("temperature must be a finite number >= 0");
  if (topK < 0)
    return bad("top-k must be >= 0 (0 disables it)");
  if (!(topP > 0.0f && topP <= 1.0f))
    return bad("top-p must be in (0, 1]");
  return llvm::Error::success();
}

Sampler::Sampler(SamplingParams params) : params_(params), rng_(params.seed) {}

int32_t llmc::argmax(llvm::ArrayRef<float> logits) {
  return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

std::vector<float> Sampler::distribution(llvm::ArrayRef<float> logits) const {
  const size_t n = logits.size();
  std::vector<float> probs(n, 0.0f);
  if (n == 0)
    return probs;
  if (params_.temperature == 0.0f) {
    probs[argmax(logits)] = 1.0f;
    return probs;
  }
  // Candidates sorted by logit, descending (stable: lower id first on ties).
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  size_t keep = params_.topK > 0 ? std::min<size_t>(params_.topK, n) : n;
  auto byLogit = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + keep, order.end(), byLogit);
  order.resize(keep);

  // Softmax over the kept set, max-subtracted for stability.
  const float invT = 1.0f / params_.temperature;
  const float maxLogit = logits[order[0]];
  double sum = 0;
  std::vector<double> p(keep);
  for (size_t i = 0; i < keep; ++i)
    sum += p[i] = std::exp(double(logits[order[i]] - maxLogit) * invT);

  // Nucleus: the shortest prefix whose mass reaches top_p.
  size_t nucleus = keep;
  if (params_.topP < 1.0f) {
    double mass = 0;
    for (size_t i = 0; i < keep; ++i) {
      mass += p[i] / sum;
      if (mass >= params_.topP) {
        nucleus = i + 1;
        break;
      }
    }
  }
  double kept = std::accumulate(p.begin(), p.begin() + nucleus, 0.0);
  for (size_t i = 0; i < nucleus; ++i)
    probs[order[i]] = float(p[i] / kept);
  return probs;
}

int32_t Sampler::sample(llvm::ArrayRef<float> logits) {
  if (params_.temperature == 0.0f)
    return argmax(logits);
  std::vector<float> probs = distribution(logits);
  double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  double acc = 0;
  int32_t last = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] == 0.0f)
      continue;
    last = int32_t(i);
    acc += probs[i];
    if (r < acc)
      return last;
  }
  return last; // rounding left r just above the total
}
