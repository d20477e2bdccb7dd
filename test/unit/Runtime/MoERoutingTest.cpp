//===- MoERoutingTest.cpp - MoE routing and activations against references -===//
//
// routeTokens and expertActivation (lib/Runtime/MoE.h) against naive
// double-precision references written here from ONNX Runtime's MoE
// semantics (contrib_ops/cpu/moe):
//
//   routing: p = softmax(logits row); the k experts of largest p, of equal p
//     the higher index first; weight p_e, or p_e / (sum of the k p) with
//     normalize. Experts must match exactly, weights within 1e-6 relative.
//     The float softmax's error: the logits lie in [-4, 4], so x - max is
//     rounded by at most 2^-22 (~2.4e-7, a relative error of exp's result),
//     exp, the sum and the division add a few 2^-24: under 5e-7 in all.
//     Rows with exact ties (equal logits give bit-equal probabilities in any
//     precision) check the order among equals; rows with a 1e30 logit (the
//     others' probabilities underflow to exactly 0 in float and in double)
//     and with logits near 1000 (exp of them overflows without the maximum
//     subtracted) check the softmax's stability.
//
//   activations: h = f (identity), max(0, f), 0.5 f (1 + tanh(sqrt(2/pi)
//     (f + 0.044715 f^3))) (gelu_tanh), f sigmoid(f) (silu), and SwiGLU
//     g sigmoid(alpha g) (l + beta) with g = min(g, limit), l = clamp(l,
//     -limit, limit) (limit 0: no clamp), gate/linear the columns (2i, 2i + 1)
//     interleaved or (i, I + i) chunked. Tolerance: 1e-6 relative to
//     max(|ref|, s), s the magnitude the saturating factor multiplies (|f| for
//     gelu and silu, |g (l + beta)| for SwiGLU; 0 for identity and relu, which
//     are exact). Where that factor is tiny (f, g very negative) float cannot
//     do better: 1 + tanh(u) cancels, and alpha g's rounding moves
//     sigmoid(alpha g) by |alpha g| 2^-24 relative.
//
//===----------------------------------------------------------------------===//
#include "MoE.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <ostream>
#include <random>
#include <string>
#include <vector>

using namespace llmc;
using namespace llmc::runtime;
using codegen::ExpertActivation;

namespace {

struct RefRoute {
  int32_t expert;
  double weight;
};

/// The reference routing of one row of E logits.
std::vector<RefRoute> referenceRoute(const float *row, int64_t E, int64_t k, bool normalize) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t e = 0; e < E; ++e)
    mx = std::max(mx, double(row[e]));
  std::vector<double> p(static_cast<size_t>(E));
  double sum = 0;
  for (int64_t e = 0; e < E; ++e)
    sum += p[size_t(e)] = std::exp(double(row[e]) - mx);
  for (double &v : p)
    v /= sum;
  std::vector<int32_t> order(static_cast<size_t>(E));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    if (p[size_t(a)] != p[size_t(b)])
      return p[size_t(a)] > p[size_t(b)];
    return a > b; // of equal probabilities, the higher index first
  });
  double top = 0;
  for (int64_t j = 0; j < k; ++j)
    top += p[size_t(order[size_t(j)])];
  std::vector<RefRoute> r;
  for (int64_t j = 0; j < k; ++j) {
    const double w = p[size_t(order[size_t(j)])];
    r.push_back({order[size_t(j)], normalize ? w / top : w});
  }
  return r;
}

/// Logits for n tokens of E experts, rows `ld` floats apart (the padding
/// NaN: reading it would turn the row's probabilities into NaN). Rows 0..7
/// are special, the rest uniform in [-4, 4].
std::vector<float> makeLogits(int64_t n, int64_t E, int64_t ld, std::mt19937 &rng) {
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  std::vector<float> l(size_t(n * ld), std::numeric_limits<float>::quiet_NaN());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t e = 0; e < E; ++e)
      l[size_t(t * ld + e)] = u(rng);
  auto row = [&](int64_t t) { return l.data() + t * ld; };
  // 0: every expert equal (the order is by index, highest first).
  std::fill(row(0), row(0) + E, 0.75f);
  // 1: a tie for the maximum, between the first and the last expert, plus
  // a tie lower down.
  row(1)[0] = row(1)[E - 1] = 3.5f;
  row(1)[1] = row(1)[E - 2] = -1.25f;
  // 2: three-way tie in the middle of the ranking: [2, 1, 2, 1, 2, ...].
  for (int64_t e = 0; e < E; ++e)
    row(2)[e] = (e % 2 == 0) ? 2.0f : 1.0f;
  // 3: a huge logit: its probability 1, the others' exactly 0 (ties).
  row(3)[E / 2] = 1e30f;
  // 4: two huge logits (0.5 each, the higher index first).
  row(4)[0] = row(4)[E - 1] = 1e30f;
  // 5: all near 1000 (exp overflows unless the maximum is subtracted).
  for (int64_t e = 0; e < E; ++e)
    row(5)[e] = 1000.0f + 0.25f * float((e * 5) % E);
  // 6: the float maximum and a very negative logit.
  row(6)[1] = std::numeric_limits<float>::max();
  row(6)[2] = -std::numeric_limits<float>::max();
  // 7: a tie straddling every k: expert 0 and the last highest.
  std::fill(row(7), row(7) + E, -2.0f);
  row(7)[0] = row(7)[E - 1] = 1.0f;
  return l;
}

struct RouteCase {
  int64_t E, k;
  bool normalize;
};

class RouteTokensTest : public testing::TestWithParam<RouteCase> {};

TEST_P(RouteTokensTest, MatchesReference) {
  const auto [E, k, normalize] = GetParam();
  const int64_t n = 64, ld = E + 3;
  std::mt19937 rng(unsigned(E * 100 + k * 10 + normalize));
  std::vector<float> logits = makeLogits(n, E, ld, rng);
  // One route past the end, a guard that must stay untouched.
  std::vector<Route> routes(size_t(n * k + 1), Route{-7, -7.0f});
  routeTokens(logits.data(), n, ld, E, k, normalize, routes.data());
  EXPECT_EQ(routes.back().expert, -7);
  EXPECT_EQ(routes.back().weight, -7.0f);
  double worst = 0;
  for (int64_t t = 0; t < n; ++t) {
    std::vector<RefRoute> ref = referenceRoute(logits.data() + t * ld, E, k, normalize);
    for (int64_t j = 0; j < k; ++j) {
      const Route &got = routes[size_t(t * k + j)];
      const RefRoute &want = ref[size_t(j)];
      EXPECT_EQ(got.expert, want.expert) << "token " << t << ", choice " << j;
      if (want.weight != 0)
        worst = std::max(worst, std::abs(double(got.weight) - want.weight) / want.weight);
      EXPECT_LE(std::abs(double(got.weight) - want.weight), 1e-6 * std::abs(want.weight))
          << "token " << t << ", choice " << j << ": " << got.weight << " vs " << want.weight;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", worst);
  RecordProperty("worst_relative_error", buf);
}

std::vector<RouteCase> routeCases() {
  std::vector<RouteCase> cases;
  for (int64_t E : {3, 8})
    for (int64_t k : {int64_t(1), int64_t(2), E})
      for (bool normalize : {false, true})
        cases.push_back({E, k, normalize});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(
    Routing, RouteTokensTest, testing::ValuesIn(routeCases()),
    [](const testing::TestParamInfo<RouteCase> &i) {
      return "E" + std::to_string(i.param.E) + "_k" + std::to_string(i.param.k) +
             (i.param.normalize ? "_normalized" : "_raw");
    });

// The specific orders among ties, spelled out (E = 4, k = E).
TEST(RouteTokens, TiesGoToTheHigherIndex) {
  const float logits[] = {1.0f, 2.0f, 2.0f, 1.0f};
  Route r[4];
  routeTokens(logits, 1, 4, 4, 4, false, r);
  EXPECT_EQ(r[0].expert, 2);
  EXPECT_EQ(r[1].expert, 1);
  EXPECT_EQ(r[2].expert, 3);
  EXPECT_EQ(r[3].expert, 0);
  EXPECT_EQ(r[0].weight, r[1].weight);
  EXPECT_EQ(r[2].weight, r[3].weight);
}

TEST(RouteTokens, HugeLogitTakesAll) {
  const float logits[] = {-3.0f, 1e30f, 5.0f};
  Route r[2];
  routeTokens(logits, 1, 3, 3, 2, true, r);
  EXPECT_EQ(r[0].expert, 1);
  EXPECT_EQ(r[0].weight, 1.0f);
  EXPECT_EQ(r[1].expert, 2); // 0 and 2 both have probability 0
  EXPECT_EQ(r[1].weight, 0.0f);
}

// --- expertActivation ---------------------------------------------------------

struct ActCase {
  ExpertActivation act;
  bool interleaved = true;
  float alpha = 1.0f, beta = 0.0f, limit = 0.0f;
  std::string name;
};

void PrintTo(const ActCase &c, std::ostream *os) { *os << c.name; }
void PrintTo(const RouteCase &c, std::ostream *os) {
  *os << "E " << c.E << ", k " << c.k << (c.normalize ? ", normalized" : "");
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

class ExpertActivationTest : public testing::TestWithParam<ActCase> {};

TEST_P(ExpertActivationTest, MatchesReference) {
  const ActCase &c = GetParam();
  const bool swiglu = c.act == ExpertActivation::SwiGLU;
  const int64_t I = 37, F1 = swiglu ? 2 * I : I;
  codegen::Step s;
  s.kind = codegen::StepKind::MoE;
  s.inner = I;
  s.expertAct = c.act;
  s.interleaved = c.interleaved;
  s.alpha = c.alpha;
  s.beta = c.beta;
  s.limit = c.limit;
  std::mt19937 rng(unsigned(c.act) * 7 + c.interleaved);
  std::uniform_real_distribution<float> u(-10.0f, 10.0f);
  // Rows of fc1 output: random, plus edge values (0, the clamp limits, just
  // past them, tiny ones, the far tails).
  const float edges[] = {0.0f,   -0.0f, 7.0f,  -7.0f, 7.5f,  -7.5f, 6.99f, -6.99f,
                         1e-3f,  -1e-3f, 1.0f, -1.0f, 20.0f, -20.0f, 3.0f, -3.0f};
  const int64_t rows = 8;
  std::vector<float> f(size_t(rows * F1));
  for (float &v : f)
    v = u(rng);
  for (size_t i = 0; i < std::size(edges); ++i) {
    f[i * 3 % f.size()] = edges[i];                  // gates / first half
    f[(i * 5 + 1) % f.size()] = edges[std::size(edges) - 1 - i]; // linears
  }
  // An h row's guard past I floats must stay untouched.
  std::vector<float> h(size_t(I + 1));
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float *fr = f.data() + r * F1;
    std::fill(h.begin(), h.end(), -123.0f);
    expertActivation(s, fr, h.data());
    EXPECT_EQ(h[size_t(I)], -123.0f) << "wrote past I";
    for (int64_t i = 0; i < I; ++i) {
      double ref = 0, scale = 0;
      const double x = fr[i];
      switch (c.act) {
      case ExpertActivation::Identity:
        ref = x;
        break;
      case ExpertActivation::Relu:
        ref = std::max(0.0, x);
        break;
      case ExpertActivation::GeluTanh:
        ref = 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
        scale = std::abs(x);
        break;
      case ExpertActivation::Silu:
        ref = x * sigmoid(x);
        scale = std::abs(x);
        break;
      case ExpertActivation::SwiGLU: {
        double g = c.interleaved ? fr[2 * i] : fr[i];
        double l = c.interleaved ? fr[2 * i + 1] : fr[I + i];
        if (c.limit > 0) {
          g = std::min(g, double(c.limit));
          l = std::min(std::max(l, -double(c.limit)), double(c.limit));
        }
        ref = g * sigmoid(double(c.alpha) * g) * (l + double(c.beta));
        scale = std::abs(g * (l + double(c.beta)));
        break;
      }
      }
      const double err = std::abs(double(h[size_t(i)]) - ref),
                   tol = 1e-6 * std::max(std::abs(ref), scale);
      worst = std::max(worst, err / std::max(std::max(std::abs(ref), scale), 1e-300));
      EXPECT_LE(err, tol) << c.name << ", row " << r << ", i " << i << ": got "
                          << h[size_t(i)] << ", want " << ref;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", worst);
  RecordProperty("worst_relative_error", buf);
}

std::vector<ActCase> actCases() {
  std::vector<ActCase> cases = {
      {ExpertActivation::Identity, true, 1, 0, 0, "identity"},
      {ExpertActivation::Relu, true, 1, 0, 0, "relu"},
      {ExpertActivation::GeluTanh, true, 1, 0, 0, "gelu_tanh"},
      {ExpertActivation::Silu, true, 1, 0, 0, "silu"},
  };
  for (bool interleaved : {true, false}) {
    const std::string layout = interleaved ? "interleaved" : "chunked";
    // gpt-oss: alpha 1.702, beta 1, limit 7; the same without a clamp; and
    // SwiGLU proper (alpha 1, beta 0).
    cases.push_back({ExpertActivation::SwiGLU, interleaved, 1.702f, 1.0f, 7.0f,
                     "swiglu_" + layout + "_limit7"});
    cases.push_back({ExpertActivation::SwiGLU, interleaved, 1.702f, 1.0f, 0.0f,
                     "swiglu_" + layout + "_noclamp"});
    cases.push_back({ExpertActivation::SwiGLU, interleaved, 1.0f, 0.0f, 0.0f,
                     "swiglu_" + layout + "_plain"});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Activations, ExpertActivationTest, testing::ValuesIn(actCases()),
                         [](const testing::TestParamInfo<ActCase> &i) { return i.param.name; });

// The clamp, spelled out: the gate only from above, the linear both ways.
TEST(ExpertActivation, SwiGLUClamp) {
  codegen::Step s;
  s.inner = 3;
  s.expertAct = ExpertActivation::SwiGLU;
  s.interleaved = true;
  s.alpha = 1.702f;
  s.beta = 1.0f;
  s.limit = 7.0f;
  // (g, l): g above the limit, g far below -limit (not clamped), l below -limit.
  const float f[] = {9.0f, 0.5f, -9.0f, 0.5f, 1.0f, -8.0f};
  float h[3];
  expertActivation(s, f, h);
  auto ref = [](double g, double l) { return g * sigmoid(1.702 * g) * (l + 1.0); };
  EXPECT_NEAR(h[0], ref(7.0, 0.5), 1e-6 * std::abs(ref(7.0, 0.5)));
  // sigmoid(-15.3): alpha g's rounding alone is 15.3 * 2^-24 relative.
  EXPECT_NEAR(h[1], ref(-9.0, 0.5), 1e-5 * std::abs(ref(-9.0, 0.5)));
  EXPECT_NEAR(h[2], ref(1.0, -7.0), 1e-6 * std::abs(ref(1.0, -7.0)));
}

} // namespace
