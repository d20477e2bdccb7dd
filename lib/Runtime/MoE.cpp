//===- MoE.cpp - The runtime's mixture-of-experts step ----------------------===//

#include "MoE.h"

#include "llmc/Kernels/ThreadPool.h"
#include "llmc/Runtime/Model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace llmc::runtime {

using codegen::ExpertActivation;
using codegen::Step;

void routeTokens(const float *logits, int64_t n, int64_t ld, int64_t E, int64_t k,
                 bool normalize, Route *routes) {
  std::vector<std::pair<float, int32_t>> p(static_cast<size_t>(E));
  for (int64_t t = 0; t < n; ++t) {
    const float *row = logits + t * ld;
    float mx = row[0];
    for (int64_t e = 1; e < E; ++e)
      mx = std::max(mx, row[e]);
    float sum = 0;
    for (int64_t e = 0; e < E; ++e) {
      p[size_t(e)] = {std::exp(row[e] - mx), int32_t(e)};
      sum += p[size_t(e)].first;
    }
    for (auto &pe : p)
      pe.first /= sum;
    // Largest first; of equal probabilities the higher index (ONNX
    // Runtime's order on (p, e) pairs).
    std::partial_sort(p.begin(), p.begin() + k, p.end(),
                      [](const auto &a, const auto &b) { return a > b; });
    float top = 0;
    for (int64_t j = 0; j < k; ++j)
      top += p[size_t(j)].first;
    for (int64_t j = 0; j < k; ++j)
      routes[t * k + j] = {p[size_t(j)].second,
                           normalize ? p[size_t(j)].first / top : p[size_t(j)].first};
  }
}

void expertActivation(const Step &s, const float *f, float *h) {
  const int64_t I = s.inner;
  switch (s.expertAct) {
  case ExpertActivation::Identity:
    std::memcpy(h, f, size_t(I) * sizeof(float));
    return;
  case ExpertActivation::Relu:
    for (int64_t i = 0; i < I; ++i)
      h[i] = std::max(0.0f, f[i]);
    return;
  case ExpertActivation::GeluTanh:
    for (int64_t i = 0; i < I; ++i) {
      const float x = f[i];
      h[i] = 0.5f * x * (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
    }
    return;
  case ExpertActivation::Silu:
    for (int64_t i = 0; i < I; ++i)
      h[i] = f[i] / (1.0f + std::exp(-f[i]));
    return;
  case ExpertActivation::SwiGLU:
    for (int64_t i = 0; i < I; ++i) {
      float g = s.interleaved ? f[2 * i] : f[i];
      float l = s.interleaved ? f[2 * i + 1] : f[I + i];
      if (s.limit > 0) {
        g = std::min(g, s.limit);
        l = std::clamp(l, -s.limit, s.limit);
      }
      h[i] = g / (1.0f + std::exp(-s.alpha * g)) * (l + s.beta);
    }
    return;
  }
}

void Session::kernelMoE(int32_t step, int64_t n) {
  const codegen::ProgramPlan &p = model_.plan();
  const Step &s = p.steps[size_t(step)];
  float *A = arena();
  const int64_t E = s.expertCount(), H = s.width, I = s.inner, k = s.topK;
  const int64_t F1 = s.expertAct == ExpertActivation::SwiGLU ? 2 * I : I;
  MoEBuffers &b = moeBuffers();
  b.routes.resize(size_t(n * k));
  routeTokens(A + s.in2.offset, n, s.in2.rowStride, E, k, s.normalize, b.routes.data());
  // The routes of each expert, in token order (a counting sort). A route
  // of weight 0 (a probability that underflowed) is not run, as in ONNX
  // Runtime: 0 times an expert's inf or NaN would be NaN.
  b.first.assign(size_t(E + 1), 0);
  for (const Route &r : b.routes)
    if (r.weight > 0)
      ++b.first[size_t(r.expert) + 1];
  for (int64_t e = 0; e < E; ++e)
    b.first[size_t(e + 1)] += b.first[size_t(e)];
  b.order.resize(size_t(b.first[size_t(E)]));
  {
    std::vector<int64_t> next(b.first.begin(), b.first.end() - 1);
    for (int64_t i = 0; i < n * k; ++i)
      if (b.routes[size_t(i)].weight > 0)
        b.order[size_t(next[size_t(b.routes[size_t(i)].expert)]++)] = i;
  }
  // Experts accumulate into their own buffer, copied to `out` at the end:
  // the plan may let `out` overlap the step's inputs.
  b.acc.assign(size_t(n * H), 0.0f);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t r0 = b.first[size_t(e)], m = b.first[size_t(e + 1)] - r0;
    if (m == 0)
      continue;
    b.x.resize(size_t(m * H));
    b.f.resize(size_t(m * F1));
    b.h.resize(size_t(m * I));
    b.y.resize(size_t(m * H));
    if (s.gated)
      b.g.resize(size_t(m * I));
    for (int64_t r = 0; r < m; ++r) {
      const int64_t t = b.order[size_t(r0 + r)] / k;
      std::memcpy(b.x.data() + r * H, A + s.in.offset + t * s.in.rowStride,
                  size_t(H) * sizeof(float));
    }
    kernelMatmul(s.experts[size_t(e)], b.x.data(), m, H, b.f.data(), F1);
    if (s.gated) // Mixtral's up projection, which multiplies the activation
      kernelMatmul(s.experts[size_t(2 * E + e)], b.x.data(), m, H, b.g.data(), I);
    // Prefill's rows are independent: the threads share them (an exp per
    // element, about as many as the expert's matmuls have rows times I).
    auto activate = [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float *h = b.h.data() + r * I;
        expertActivation(s, b.f.data() + r * F1, h);
        if (s.gated)
          for (int64_t i = 0; i < I; ++i)
            h[i] *= b.g[size_t(r * I + i)];
      }
    };
    if (m > 1 && m * I >= (int64_t(1) << 14) && pool().size() > 1)
      pool().parallelForShared(m, activate);
    else
      activate(0, m);
    kernelMatmul(s.experts[size_t(E + e)], b.h.data(), m, I, b.y.data(), H);
    for (int64_t r = 0; r < m; ++r) {
      const int64_t route = b.order[size_t(r0 + r)];
      const float w = b.routes[size_t(route)].weight;
      float *acc = b.acc.data() + (route / k) * H;
      const float *y = b.y.data() + r * H;
      for (int64_t j = 0; j < H; ++j)
        acc[j] += w * y[j];
    }
  }
  for (int64_t t = 0; t < n; ++t)
    std::memcpy(A + s.out.offset + t * s.out.rowStride, b.acc.data() + t * H,
                size_t(H) * sizeof(float));
}

} // namespace llmc::runtime
