//===- SlotQuantizerTest.cpp - One weight slot quantized by its recipe ----===//
//
// Bias correction (":bias"): on a layer whose inputs have a large mean, the
// slot's bias b = (W - W_hat) mu removes the mean output error over the
// calibration rows, and the output error W x - (W_hat x + b) summed over them
// is below that of the same rounding without it, for round to nearest, GPTQ
// and incoherence + LDLQ (rotated weights: the bias sees U mu).
//
//===----------------------------------------------------------------------===//
#include "llmc/CodeGen/SlotQuantizer.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/Tune/AutoTune.h"
#include "llmc/Target/Target.h"

#include <gtest/gtest.h>
#include <cmath>
#include <random>

using namespace llmc;

namespace {

struct Layer {
  int64_t N = 48, K = 64, M = 512;
  std::vector<float> W, X;
  quant::CalibrationStats stats{64};
  Layer() : W(size_t(N * K)), X(size_t(M * K)) {
    std::mt19937 rng(5);
    std::normal_distribution<float> g;
    for (float &w : W)
      w = g(rng) / 8.0f;
    // Channel means of a few standard deviations (as after a SiLU product or
    // a norm with large gains), and correlated channels.
    std::vector<float> mean(static_cast<size_t>(K));
    for (float &m : mean)
      m = 2.0f * g(rng);
    for (int64_t m = 0; m < M; ++m) {
      const float shared = g(rng);
      for (int64_t k = 0; k < K; ++k)
        X[m * K + k] = mean[size_t(k)] + 0.7f * g(rng) + 0.5f * shared;
    }
    stats.addBatch(X.data(), M);
  }
};

struct Errors {
  double meanAbs = 0; // max over outputs of |mean error over the rows|
  double sumSq = 0;   // sum over rows and outputs of the squared error
};

// The slot's outputs y = W_hat' x' + b against W x, with W_hat' unpacked from
// the packed weights and x' = U x when the slot rotates its input.
Errors outputErrors(const Layer &l, const codegen::SlotQuantization &q) {
  const kernels::QuantizedWeights unpacked = kernels::unpackWeights(q.packed);
  std::optional<quant::RandomizedHadamard> U;
  if (q.rotationSeed)
    U = cantFail(quant::RandomizedHadamard::create(l.K, *q.rotationSeed));
  std::vector<double> meanErr(size_t(l.N), 0.0);
  Errors e;
  std::vector<float> x(size_t(l.K));
  for (int64_t m = 0; m < l.M; ++m) {
    std::copy(l.X.begin() + m * l.K, l.X.begin() + (m + 1) * l.K, x.begin());
    if (U)
      U->apply(x.data());
    for (int64_t n = 0; n < l.N; ++n) {
      double exact = 0, approx = q.bias.empty() ? 0.0 : q.bias[size_t(n)];
      for (int64_t k = 0; k < l.K; ++k) {
        exact += double(l.W[n * l.K + k]) * l.X[m * l.K + k];
        approx += double(unpacked.weight(n, k)) * x[size_t(k)];
      }
      meanErr[size_t(n)] += (approx - exact) / double(l.M);
      e.sumSq += (approx - exact) * (approx - exact);
    }
  }
  for (double v : meanErr)
    e.meanAbs = std::max(e.meanAbs, std::fabs(v));
  return e;
}

TEST(SlotQuantizer, BiasCorrectionRemovesTheMeanOutputError) {
  Layer l;
  for (const char *base : {"int4:g32:sym", "int4:g32:sym:gptq:actorder", "int3:g32:asym:quip"}) {
    Errors e[2];
    for (int bias = 0; bias < 2; ++bias) {
      codegen::QuantRecipe r;
      r.weights = cantFail(quant::parseQuantSpec(std::string(base) + (bias ? ":bias" : "")));
      auto q = codegen::quantizeSlot(l.W.data(), l.N, l.K, r, &l.stats, IsaTier::Scalar,
                                     /*seed=*/42);
      ASSERT_TRUE(static_cast<bool>(q)) << base << ": " << llvm::toString(q.takeError());
      EXPECT_EQ(q->bias.size(), bias ? size_t(l.N) : 0u) << base;
      e[bias] = outputErrors(l, *q);
    }
    // Mean output error: zero up to float rounding of W_hat x with bias
    // correction (|y| ~ 10 here), far from it without.
    EXPECT_LT(e[1].meanAbs, 1e-4) << base;
    EXPECT_GT(e[0].meanAbs, 100 * e[1].meanAbs) << base;
    EXPECT_LT(e[1].sumSq, e[0].sumSq) << base;
  }
}

// Bias correction needs the inputs' mean; without statistics it is an error
// naming the option, and AWQ (whose search assumes uncentered inputs) refuses it.
TEST(SlotQuantizer, BiasCorrectionNeedsStatistics) {
  Layer l;
  codegen::QuantRecipe r;
  r.weights = cantFail(quant::parseQuantSpec("int4:bias"));
  EXPECT_TRUE(r.needsCalibration());
  auto q = codegen::quantizeSlot(l.W.data(), l.N, l.K, r, nullptr, IsaTier::Scalar, 1);
  ASSERT_FALSE(static_cast<bool>(q));
  EXPECT_NE(llvm::toString(q.takeError()).find("with bias correction needs calibration"),
            std::string::npos);
  auto awq = quant::parseQuantSpec("int4:awq:bias");
  ASSERT_FALSE(static_cast<bool>(awq));
  EXPECT_NE(llvm::toString(awq.takeError()).find("'bias' needs 'rtn', 'gptq' or 'quip'"),
            std::string::npos);
}

} // namespace

namespace {

// The tuner prices a recipe as the manifest counts it: bias correction's N
// fp32 biases are 32 / K bits per weight on top of codes and scales.
TEST(SlotQuantizer, TunerCountsTheBiases) {
  codegen::QuantRecipe r;
  r.weights = cantFail(quant::parseQuantSpec("int4:g32:sym:gptq"));
  EXPECT_DOUBLE_EQ(tune::bitsPerWeight(r, 64), 4.5);
  r.weights.biasCorrection = true;
  EXPECT_DOUBLE_EQ(tune::bitsPerWeight(r, 64), 5.0);
  EXPECT_DOUBLE_EQ(tune::bitsPerWeight(r, 4096), 4.5 + 32.0 / 4096);
}

} // namespace
