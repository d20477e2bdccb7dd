//===- ScaleRefitTest.cpp - Least-squares group scales for fixed codes ----===//
#include "Synthetic.h"
#include "llmc/Quant/GPTQ.h"
#include "llmc/Quant/ScaleRefit.h"
#include <gtest/gtest.h>

using namespace llmc::quant;
using namespace llmc::quant::test;
using namespace llmc::kernels;

namespace {

double rowLoss(const SyntheticLayer &L, const QuantizedWeights &q, int64_t n) {
  std::vector<double> dw(L.K);
  for (int64_t k = 0; k < L.K; ++k)
    dw[k] = double(q.weight(n, k)) - double(L.W[n * L.K + k]);
  return quadraticForm(L.H.data(), L.K, dw.data(), L.K);
}

/// g_g = A_g^T H (w - q): the gradient of the row loss in s_g, up to -2.
std::vector<double> scaleGradient(const SyntheticLayer &L,
                                  const QuantizedWeights &q, int64_t n) {
  const int64_t K = L.K;
  std::vector<double> r(K), Hr(K, 0.0), grad(q.numGroups, 0.0);
  for (int64_t k = 0; k < K; ++k)
    r[k] = double(L.W[n * K + k]) - double(q.weight(n, k));
  for (int64_t i = 0; i < K; ++i)
    for (int64_t k = 0; k < K; ++k)
      Hr[i] += L.H[i * K + k] * r[k];
  for (int64_t k = 0; k < K; ++k) {
    const int64_t g = k / q.group;
    grad[g] += (double(q.codes[n * K + k]) - double(q.zeros[n * q.numGroups + g])) *
               Hr[k];
  }
  return grad;
}

} // namespace

// One group per row: the optimum is the scalar s = a^T H w / a^T H a.
TEST(ScaleRefit, PerChannelClosedForm) {
  SyntheticLayer L(16, 96, 400, 5);
  WeightFormat f = WeightFormat::quantized(WeightType::Int4, 0, true, ScaleType::F32);
  auto q = quantizeWeights(L.W.data(), L.N, L.K, f);
  ASSERT_TRUE(bool(q));
  QuantizedWeights r = *q;
  for (float &s : r.scales)
    s *= 1.3f; // a poor scale for the same codes
  refitGroupScales(L.W.data(), L.H.data(), r);
  for (int64_t n = 0; n < L.N; ++n) {
    double aHw = 0, aHa = 0;
    for (int64_t i = 0; i < L.K; ++i)
      for (int64_t k = 0; k < L.K; ++k) {
        double ai = double(q->codes[n * L.K + i]) - double(q->zeros[n]);
        double ak = double(q->codes[n * L.K + k]) - double(q->zeros[n]);
        aHw += ai * L.H[i * L.K + k] * double(L.W[n * L.K + k]);
        aHa += ai * L.H[i * L.K + k] * ak;
      }
    EXPECT_NEAR(r.scales[n], aHw / aHa, 1e-5 * std::fabs(aHw / aHa)) << "row " << n;
    // The optimum for these codes is no worse than the scale they came from.
    EXPECT_LE(rowLoss(L, r, n), rowLoss(L, *q, n) * (1 + 1e-9)) << "row " << n;
  }
}

// Many groups per row, f32 scales (no dtype rounding): the loss is stationary
// in every scale; with f16 scales every row's loss goes down or stays.
TEST(ScaleRefit, StationaryAndNeverWorse) {
  SyntheticLayer L(24, 160, 600, 9); // K = 160: a partial last group at g64
  for (WeightType t : {WeightType::Int4, WeightType::Int3, WeightType::Int2})
    for (unsigned g : {32u, 64u})
      for (bool sym : {true, false}) {
        WeightFormat f32 = WeightFormat::quantized(t, g, sym, ScaleType::F32);
        auto q = quantizeWeights(L.W.data(), L.N, L.K, f32);
        ASSERT_TRUE(bool(q));
        QuantizedWeights r = *q;
        const double after = refitGroupScales(L.W.data(), L.H.data(), r);
        EXPECT_NEAR(after, proxyLoss(L.W.data(), r, L.H.data()), 1e-9 * after);
        EXPECT_LT(after, proxyLoss(L.W.data(), *q, L.H.data()));
        for (int64_t n = 0; n < L.N; ++n) {
          std::vector<double> grad = scaleGradient(L, r, n), ref = scaleGradient(L, *q, n);
          double scale = 0;
          for (double v : ref)
            scale = std::max(scale, std::fabs(v));
          for (int64_t gi = 0; gi < r.numGroups; ++gi)
            EXPECT_LE(std::fabs(grad[gi]), 1e-4 * scale)
                << f32.str() << " row " << n << " group " << gi;
        }
        WeightFormat f16 = WeightFormat::quantized(t, g, sym, ScaleType::F16);
        auto h = quantizeWeights(L.W.data(), L.N, L.K, f16);
        ASSERT_TRUE(bool(h));
        QuantizedWeights hr = *h;
        refitGroupScales(L.W.data(), L.H.data(), hr);
        for (int64_t n = 0; n < L.N; ++n)
          EXPECT_LE(rowLoss(L, hr, n), rowLoss(L, *h, n)) << f16.str() << " row " << n;
        for (float s : hr.scales)
          EXPECT_EQ(s, roundToScaleType(s, ScaleType::F16));
      }
}

// GPTQ with refitting rounds keeps the best proxy loss it sees: never worse
// than plain GPTQ, and better where min/max scales are far from optimal.
TEST(ScaleRefit, GPTQRoundsNeverWorse) {
  SyntheticLayer L(48, 192, 800, 13, /*weightOutlierRate=*/0.01);
  for (WeightType t : {WeightType::Int4, WeightType::Int2})
    for (bool sym : {true, false})
      for (bool actOrder : {false, true}) {
        WeightFormat f = WeightFormat::quantized(t, 32, sym, ScaleType::F16);
        GPTQOptions o;
        o.actOrder = actOrder;
        auto plain = gptqQuantize(L.W.data(), L.N, L.K, L.H, f, o);
        o.refitRounds = 2;
        auto refit = gptqQuantize(L.W.data(), L.N, L.K, L.H, f, o);
        ASSERT_TRUE(plain && refit);
        double a = proxyLoss(L.W.data(), plain->weights, L.H.data());
        double b = proxyLoss(L.W.data(), refit->weights, L.H.data());
        EXPECT_LE(b, a) << f.str() << (actOrder ? " actorder" : "");
        if (t == WeightType::Int2)
          EXPECT_LT(b, 0.95 * a) << f.str() << (actOrder ? " actorder" : "");
        std::printf("%s%s: plain %.4e refit %.4e (%.3f)\n", f.str().c_str(),
                    actOrder ? " actorder" : "", a, b, b / a);
      }
}
