//===- ComparisonTest.cpp - All quantizers on one non-isotropic layer -----===//
//
// Prints the relative layer-output error tr(dW H dW^T) / tr(W H W^T) of every
// algorithm on one synthetic layer (correlated inputs, outlier input channels,
// 1% outlier weights) and checks the orderings the algorithms promise. The
// table is quoted in docs/QUANTIZATION.md.
//
//===----------------------------------------------------------------------===//
#include "Synthetic.h"
#include "llmc/Quant/AWQ.h"
#include "llmc/Quant/Hadamard.h"
#include "llmc/Quant/MSEClip.h"
#include <gtest/gtest.h>
#include <cstdio>

using namespace llmc::quant;
using namespace llmc::quant::test;
using namespace llmc::kernels;

TEST(QuantAlgorithms, ProxyLossTable) {
  SyntheticLayer L(64, 256, 1024, 101, /*weightOutlierRate=*/0.01);
  CalibrationStats stats(L.K);
  stats.addBatch(L.X.data(), L.M);
  const int64_t K = L.K;
  double signal = 0;
  for (int64_t n = 0; n < L.N; ++n)
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j)
        signal += double(L.W[n * K + i]) * L.H[i * K + j] * L.W[n * K + j];
  std::vector<double> diag(K);
  for (int64_t k = 0; k < K; ++k)
    diag[k] = L.H[k * K + k];

  std::printf("relative output error tr(dW H dW^T) / tr(W H W^T), N=%lld "
              "K=%lld M=%lld\n",
              (long long)L.N, (long long)K, (long long)L.M);
  std::printf("%-18s %9s %9s %9s %9s %9s %9s %9s\n", "format", "RTN", "RTN+mse",
              "AWQ", "GPTQ", "GPTQ+act", "Had+RTN", "Had+LDLQ");
  for (WeightType t : {WeightType::Int8, WeightType::Int4, WeightType::Int3,
                       WeightType::Int2})
    for (unsigned g : {0u, 32u, 128u})
      for (bool sym : {true, false}) {
        if ((t == WeightType::Int8) != (g == 0) || (t == WeightType::Int8 && !sym))
          continue;
        WeightFormat f = WeightFormat::quantized(t, g, sym, ScaleType::F16);
        auto loss = [&](const QuantizedWeights &q) {
          return proxyLoss(L.W.data(), q, L.H.data()) / signal;
        };
        double rtn = loss(*quantizeWeights(L.W.data(), L.N, K, f));
        ClipSearch cs{20};
        cs.colWeights = diag.data();
        double mse = loss(*quantizeWeightsMSE(L.W.data(), L.N, K, f, cs));
        auto awq = awqQuantize(L.W.data(), L.N, K, stats, f);
        ASSERT_TRUE(bool(awq));
        double aw = proxyLoss(L.W.data(), awq->weights, L.H.data(),
                              awq->scales.data()) / signal;
        auto g1 = gptqQuantize(L.W.data(), L.N, K, L.H, f);
        GPTQOptions act;
        act.actOrder = true;
        auto g2 = gptqQuantize(L.W.data(), L.N, K, L.H, f, act);
        ASSERT_TRUE(g1 && g2);
        auto U = RandomizedHadamard::create(K, 0x5eed);
        ASSERT_TRUE(bool(U));
        std::vector<float> Wr = U->rotateWeights(L.W.data(), L.N);
        std::vector<double> Hr = U->rotateHessian(L.H);
        double hrtn = proxyLoss(Wr.data(),
                                *quantizeWeights(Wr.data(), L.N, K, f),
                                Hr.data()) / signal;
        auto inc = quantizeIncoherent(L.W.data(), L.N, K, L.H, f, {}, 0x5eed);
        ASSERT_TRUE(bool(inc));
        double ldlq = proxyLoss(Wr.data(), inc->weights, Hr.data()) / signal;
        std::printf("%-18s %9.2e %9.2e %9.2e %9.2e %9.2e %9.2e %9.2e\n",
                    f.str().c_str(), rtn, mse, aw, loss(g1->weights),
                    loss(g2->weights), hrtn, ldlq);
        EXPECT_LE(mse, rtn) << f.str();
        EXPECT_LE(aw, rtn * (1 + 1e-12)) << f.str();
        EXPECT_LT(loss(g1->weights), rtn) << f.str();
        EXPECT_LT(loss(g2->weights), rtn) << f.str();
        EXPECT_LT(ldlq, rtn) << f.str();
      }
}
