//===- Sampler.h - Choose the next token from logits -------------*- C++ -*-===//
//
// Greedy when temperature is 0; otherwise softmax(logits / T), restricted to
// the top-k tokens (k > 0) and then to the smallest set whose probability
// mass reaches top_p (nucleus sampling, 0 < p < 1), renormalised, and sampled
// with a seeded generator so runs are reproducible.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_RUNTIME_SAMPLER_H
#define LLMC_RUNTIME_SAMPLER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <random>
#include <vector>

namespace llmc {

struct SamplingParams {
  float temperature = 0.0f; ///< 0 = greedy
  int32_t topK = 0;         ///< 0 = no limit
  float topP = 1.0f;        ///< 1 = no limit
  uint64_t seed = 0;

  /// Rejects negative temperature, negative top_k, top_p outside (0, 1].
  llvm::Error validate() const;
};

class Sampler {
public:
  explicit Sampler(SamplingParams params);

  /// The next token. Ties in greedy mode go to the lowest id.
  int32_t sample(llvm::ArrayRef<float> logits);

  /// The probabilities sample() draws from (0 outside the kept set), exposed
  /// for tests.
  std::vector<float> distribution(llvm::ArrayRef<float> logits) const;

private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

/// Index of the largest logit (lowest index on ties).
int32_t argmax(llvm::ArrayRef<float> logits);

} // namespace llmc

#endif // LLMC_RUNTIME_SAMPLER_H
