//===- HadamardTest.cpp - FWHT, Paley factors, incoherence + LDLQ ---------===//
#include "Synthetic.h"
#include "llmc/Quant/Hadamard.h"
#include <gtest/gtest.h>

using namespace llmc::quant;
using namespace llmc::quant::test;
using namespace llmc::kernels;

namespace {
// U as an explicit matrix, column c = U e_c.
std::vector<double> explicitU(const RandomizedHadamard &U) {
  const int64_t K = U.size();
  std::vector<double> M(K * K), e(K);
  for (int64_t c = 0; c < K; ++c) {
    std::fill(e.begin(), e.end(), 0.0);
    e[c] = 1;
    U.apply(e.data());
    for (int64_t r = 0; r < K; ++r)
      M[r * K + c] = e[r];
  }
  return M;
}

// Loss of rotated-basis weights measured in the original basis: row n of the
// effective weight is U^T q'_n.
double originalBasisLoss(const SyntheticLayer &L, const IncoherentResult &r) {
  std::vector<float> Wq = dequantize(r.weights);
  std::vector<double> dw(L.K);
  double total = 0;
  for (int64_t n = 0; n < L.N; ++n) {
    for (int64_t k = 0; k < L.K; ++k)
      dw[k] = Wq[n * L.K + k];
    r.transform.applyInverse(dw.data());
    for (int64_t k = 0; k < L.K; ++k)
      dw[k] -= L.W[n * L.K + k];
    total += quadraticForm(L.H.data(), L.K, dw.data(), L.K);
  }
  return total;
}
} // namespace

TEST(Hadamard, FwhtMatchesSylvesterMatrix) {
  for (int64_t n : {1, 2, 4, 8, 16, 64, 256}) {
    auto H = hadamardMatrix(n);
    ASSERT_TRUE(bool(H));
    std::vector<double> x(n), y(n, 0.0);
    for (int64_t i = 0; i < n; ++i)
      x[i] = std::cos(0.3 * double(i)) + 0.01 * double(i);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        y[i] += (*H)[i * n + j] * x[j];
    std::vector<float> xf(x.begin(), x.end());
    fwht(x.data(), n);
    fwht(xf.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(x[i], y[i], 1e-12 * n);
      EXPECT_NEAR(xf[i], y[i], 1e-5 * n);
    }
  }
}

TEST(Hadamard, PaleyMatricesAreHadamard) {
  // 12, 20 (Paley I), 28, 36 (Paley II), 44, 60 and 4: H H^T = n I.
  for (int64_t n : {4, 12, 20, 28, 36, 44, 60}) {
    auto H = hadamardMatrix(n);
    ASSERT_TRUE(bool(H)) << n;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int dot = 0;
        for (int64_t k = 0; k < n; ++k)
          dot += (*H)[i * n + k] * (*H)[j * n + k];
        ASSERT_EQ(dot, i == j ? n : 0) << "order " << n;
      }
  }
  auto six = hadamardMatrix(6);
  ASSERT_FALSE(bool(six));
  llvm::consumeError(six.takeError());
  auto bad = hadamardMatrix(172);
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("172"), std::string::npos);
}

TEST(Hadamard, RandomizedTransformIsOrthogonalAndInvertible) {
  for (int64_t K : {1, 64, 256, 12, 20, 28, 96, 160, 448}) {
    auto U = RandomizedHadamard::create(K, 7);
    ASSERT_TRUE(bool(U)) << K << ": " << llvm::toString(U.takeError());
    EXPECT_EQ(U->size(), K);
    std::vector<double> M = explicitU(*U);
    double worst = 0;
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j) {
        double d = 0;
        for (int64_t r = 0; r < K; ++r)
          d += M[r * K + i] * M[r * K + j];
        worst = std::max(worst, std::fabs(d - (i == j ? 1.0 : 0.0)));
      }
    EXPECT_LT(worst, 1e-6) << "U^T U != I for K=" << K;
    // Inverse exact (double) and to fp32 rounding (float).
    std::vector<double> x(K), x0;
    std::vector<float> xf(K);
    for (int64_t k = 0; k < K; ++k)
      xf[k] = float(x[k] = std::sin(1.7 * double(k)) * (k % 13 == 3 ? 30 : 1));
    x0 = x;
    std::vector<float> xf0 = xf;
    U->apply(x.data());
    U->applyInverse(x.data());
    U->apply(xf.data());
    U->applyInverse(xf.data());
    for (int64_t k = 0; k < K; ++k) {
      EXPECT_NEAR(x[k], x0[k], 1e-12 * 30);
      EXPECT_NEAR(xf[k], xf0[k], 1e-5 * 30);
    }
    // Incoherence: a spike spreads evenly, |U e_k| = 1/sqrt(K) everywhere.
    for (int64_t r = 0; r < K; ++r)
      ASSERT_NEAR(std::fabs(M[r * K + 0]), 1.0 / std::sqrt(double(K)), 1e-12);
  }
  // Larger sizes: norms preserved, inverse exact (no explicit matrix).
  for (int64_t K : {768, 3072, 14336}) {
    auto U = RandomizedHadamard::create(K, 9);
    ASSERT_TRUE(bool(U)) << K;
    std::vector<double> x(K);
    double n0 = 0, n1 = 0;
    for (int64_t k = 0; k < K; ++k) {
      x[k] = std::cos(0.37 * double(k * k % 101));
      n0 += x[k] * x[k];
    }
    std::vector<double> x0 = x;
    U->apply(x.data());
    for (double v : x)
      n1 += v * v;
    EXPECT_NEAR(n1, n0, 1e-10 * n0);
    U->applyInverse(x.data());
    for (int64_t k = 0; k < K; ++k)
      ASSERT_NEAR(x[k], x0[k], 1e-12);
  }
  EXPECT_EQ(RandomizedHadamard::create(768, 1)->smallFactor(), 12);
  EXPECT_EQ(RandomizedHadamard::create(14336, 1)->smallFactor(), 28);
  EXPECT_EQ(RandomizedHadamard::create(448, 1)->smallFactor(), 28);
  EXPECT_EQ(RandomizedHadamard::create(4096, 1)->smallFactor(), 1);
}

// Sizes without a Hadamard factor (stories260K's hidden 172 = 43 * 4, the
// Llama-2-7B 11008 = 43 * 256) use a random orthogonal factor for the odd
// part: U must still be orthogonal, exactly invertible and seed-determined.
TEST(Hadamard, RandomOrthogonalFactorForOtherSizes) {
  for (int64_t K : {172, 43, 11008 / 8, 6}) {
    auto U = RandomizedHadamard::create(K, 11);
    ASSERT_TRUE(bool(U)) << llvm::toString(U.takeError());
    EXPECT_FALSE(U->hadamardFactor());
    int64_t odd = K;
    while (odd % 2 == 0)
      odd /= 2;
    EXPECT_EQ(U->smallFactor(), odd);
    if (K <= 256) {
      std::vector<double> M = explicitU(*U);
      for (int64_t i = 0; i < K; ++i)
        for (int64_t j = 0; j < K; ++j) {
          double d = 0;
          for (int64_t p = 0; p < K; ++p)
            d += M[p * K + i] * M[p * K + j];
          ASSERT_NEAR(d, i == j ? 1.0 : 0.0, 1e-12) << K;
        }
    }
    std::vector<float> x(K), x0;
    for (int64_t k = 0; k < K; ++k)
      x[k] = std::sin(0.7f * float(k)) + (k == 3 ? 9.0f : 0.0f);
    x0 = x;
    U->apply(x.data());
    U->applyInverse(x.data());
    for (int64_t k = 0; k < K; ++k)
      ASSERT_NEAR(x[k], x0[k], 1e-5f) << K;
    auto V = RandomizedHadamard::create(K, 11);
    std::vector<float> a = x0, b = x0;
    U->apply(a.data());
    V->apply(b.data());
    EXPECT_EQ(a, b);
  }
  EXPECT_TRUE(RandomizedHadamard::create(192, 1)->hadamardFactor());
}

// The float transform (run online, with a register-blocked Kronecker mix when
// the power-of-two part is 16 or more) against the double one, both ways:
// Paley factors 28 and 44, random orthogonal 43 (rows not a multiple of 4).
TEST(Hadamard, FloatTransformMatchesDouble) {
  for (int64_t K : {448, 5632, 1376, 11008, 2048}) {
    auto U = RandomizedHadamard::create(K, 11);
    ASSERT_TRUE(bool(U)) << K;
    for (bool inverse : {false, true}) {
      std::vector<double> x(K);
      std::vector<float> xf(K);
      for (int64_t k = 0; k < K; ++k)
        xf[k] = float(x[k] = std::sin(0.3 * double(k)) + (k % 97 == 5 ? 20 : 0));
      if (inverse) {
        U->applyInverse(x.data());
        U->applyInverse(xf.data());
      } else {
        U->apply(x.data());
        U->apply(xf.data());
      }
      double worst = 0;
      for (int64_t k = 0; k < K; ++k)
        worst = std::max(worst, std::fabs(double(xf[k]) - x[k]));
      EXPECT_LT(worst, 2e-5) << "K=" << K << (inverse ? " inverse" : "");
    }
  }
}

TEST(Hadamard, SignsAreDeterministicData) {
  auto a = RandomizedHadamard::create(96, 42), b = RandomizedHadamard::create(96, 42),
       c = RandomizedHadamard::create(96, 43);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->signs(), b->signs());
  EXPECT_NE(a->signs(), c->signs());
  auto d = RandomizedHadamard::fromSigns(a->signs());
  ASSERT_TRUE(bool(d));
  std::vector<float> x(96, 1.0f), y(96, 1.0f);
  a->apply(x.data());
  d->apply(y.data());
  EXPECT_EQ(x, y);
  auto zero = RandomizedHadamard::fromSigns({1, 0});
  ASSERT_FALSE(bool(zero));
  EXPECT_NE(llvm::toString(zero.takeError()).find("+1 or -1"), std::string::npos);
}

TEST(Hadamard, RotationPreservesTheLayerAndRotatesH) {
  SyntheticLayer L(8, 96, 64, 51);
  auto U = RandomizedHadamard::create(L.K, 3);
  ASSERT_TRUE(bool(U));
  std::vector<float> Wr = U->rotateWeights(L.W.data(), L.N);
  // y = W x = W' (U x).
  for (int64_t m = 0; m < 4; ++m) {
    std::vector<float> x(L.X.begin() + m * L.K, L.X.begin() + (m + 1) * L.K);
    std::vector<float> xr = x;
    U->apply(xr.data());
    for (int64_t n = 0; n < L.N; ++n) {
      double y = 0, yr = 0, mag = 0;
      for (int64_t k = 0; k < L.K; ++k) {
        y += double(L.W[n * L.K + k]) * x[k];
        yr += double(Wr[n * L.K + k]) * xr[k];
        mag += std::fabs(double(L.W[n * L.K + k]) * x[k]);
      }
      EXPECT_NEAR(y, yr, 1e-5 * mag);
    }
  }
  // H' = U H U^T against explicit matrices.
  std::vector<double> M = explicitU(*U), Hr = U->rotateHessian(L.H);
  const int64_t K = L.K;
  std::vector<double> T(K * K, 0.0);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t p = 0; p < K; ++p)
      for (int64_t j = 0; j < K; ++j)
        T[i * K + j] += M[i * K + p] * L.H[p * K + j];
  double scale = 0;
  for (double h : L.H)
    scale = std::max(scale, std::fabs(h));
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) {
      double ref = 0;
      for (int64_t p = 0; p < K; ++p)
        ref += T[i * K + p] * M[j * K + p];
      ASSERT_NEAR(Hr[i * K + j], ref, 1e-10 * scale);
    }
}

// The done-when: incoherence + LDLQ beats RTN at 2 bits on
// outlier-heavy weights (loss measured in the original basis).
TEST(Hadamard, IncoherentLDLQBeatsRTNAtTwoBits) {
  SyntheticLayer L(64, 256, 1024, 61, /*weightOutlierRate=*/0.01);
  for (WeightType t : {WeightType::Int4, WeightType::Int3, WeightType::Int2})
    for (unsigned g : {32u, 128u})
      for (bool sym : {true, false}) {
        WeightFormat f = WeightFormat::quantized(t, g, sym, ScaleType::F16);
        auto rtn = quantizeWeights(L.W.data(), L.N, L.K, f);
        double lr = proxyLoss(L.W.data(), *rtn, L.H.data());
        auto gp = gptqQuantize(L.W.data(), L.N, L.K, L.H, f);
        ASSERT_TRUE(bool(gp));
        double lg = proxyLoss(L.W.data(), gp->weights, L.H.data());
        auto inc = quantizeIncoherent(L.W.data(), L.N, L.K, L.H, f);
        ASSERT_TRUE(bool(inc)) << llvm::toString(inc.takeError());
        double li = originalBasisLoss(L, *inc);
        // Same loss through the rotated basis: tr(dW' H' dW'^T).
        std::vector<float> Wr = inc->transform.rotateWeights(L.W.data(), L.N);
        std::vector<double> Hr = inc->transform.rotateHessian(L.H);
        EXPECT_NEAR(proxyLoss(Wr.data(), inc->weights, Hr.data()), li, 1e-6 * li);
        EXPECT_LT(li, lr) << f.str();
        EXPECT_LT(li, lg) << f.str(); // outlier weights: rotation pays
        if (f.bits() == 2)
          EXPECT_LT(li, 0.5 * lr) << f.str();
      }
}

TEST(Hadamard, IncoherentOnKroneckerSize) {
  SyntheticLayer L(32, 192, 600, 71, 0.01); // 192 = 12 * 16
  WeightFormat f = WeightFormat::quantized(WeightType::Int2, 32, false);
  auto rtn = quantizeWeights(L.W.data(), L.N, L.K, f);
  auto inc = quantizeIncoherent(L.W.data(), L.N, L.K, L.H, f);
  ASSERT_TRUE(bool(inc)) << llvm::toString(inc.takeError());
  EXPECT_EQ(inc->transform.smallFactor(), 12);
  EXPECT_LT(originalBasisLoss(L, *inc),
            proxyLoss(L.W.data(), *rtn, L.H.data()));
}
