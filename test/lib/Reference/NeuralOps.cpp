//===- NeuralOps.cpp - Reference matmul, softmax, norms, rope, attention ---===//
//
// Each op is written straight from the formula in its ODS description, with
// double accumulation, so that it can judge both the fusion passes (which
// replace primitive-op subgraphs by these ops) and the JIT kernels.
//
//===----------------------------------------------------------------------===//

#include "ReferenceOps.h"

#include "llmc/LLMCOps.h"

#include <algorithm>
#include <cmath>
#include <optional>

using namespace llmc;
using namespace llmc::ref;
using llvm::Error;

namespace {

using Operands = llvm::ArrayRef<const RefTensor *>;

Error matmul(mlir::Operation *op, const RefTensor &a0, const RefTensor &b0,
             std::vector<RefTensor> &out, unsigned resultIndex = 0) {
  RefTensor a = a0, b = b0;
  bool promoteA = a.rank() == 1, promoteB = b.rank() == 1;
  if (promoteA)
    a.shape.insert(a.shape.begin(), 1);
  if (promoteB)
    b.shape.push_back(1);
  int64_t M = a.shape[a.rank() - 2], K = a.shape[a.rank() - 1];
  int64_t N = b.shape[b.rank() - 1];
  if (b.shape[b.rank() - 2] != K)
    return opError(op, "contraction dims differ: " + a.shapeString() + " x " +
                           b.shapeString());
  std::vector<int64_t> aBatch(a.shape.begin(), a.shape.end() - 2);
  std::vector<int64_t> bBatch(b.shape.begin(), b.shape.end() - 2);
  auto batch = broadcastShapes(aBatch, bBatch);
  if (!batch)
    return opError(op, llvm::toString(batch.takeError()));
  std::vector<int64_t> shape = *batch;
  if (!promoteA)
    shape.push_back(M);
  if (!promoteB)
    shape.push_back(N);
  auto r = makeResult(op, resultIndex, shape);
  if (!r)
    return r.takeError();
  std::vector<std::vector<int64_t>> strides = {broadcastStrides(aBatch, *batch),
                                               broadcastStrides(bBatch, *batch)};
  forEachBroadcast(*batch, strides, [&](int64_t bi, const std::vector<int64_t> &o) {
    const double *pa = a.data.data() + o[0] * M * K;
    const double *pb = b.data.data() + o[1] * K * N;
    double *pc = r->data.data() + bi * M * N;
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += pa[m * K + k] * pb[k * N + n];
        pc[m * N + n] = acc;
      }
  });
  out.push_back(std::move(*r));
  return Error::success();
}

// Softmax over the last dim of rows of length n, in place, max-subtracted.
void softmaxRow(double *x, int64_t n) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i)
    mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    sum += x[i] = (mx == -INFINITY ? 0.0 : std::exp(x[i] - mx));
  for (int64_t i = 0; i < n; ++i)
    x[i] = sum > 0 ? x[i] / sum : 0.0;
}

Error softmax(SoftmaxOp op, const RefTensor &x, std::vector<RefTensor> &out) {
  int64_t axis = op.getAxisAttr().getInt();
  if (axis < 0)
    axis += x.rank();
  auto r = makeResult(op, 0, x.shape);
  if (!r)
    return r.takeError();
  int64_t n = x.shape[axis], inner = 1;
  for (int64_t d = axis + 1; d < x.rank(); ++d)
    inner *= x.shape[d];
  int64_t outer = x.numel() / std::max<int64_t>(n * inner, 1);
  std::vector<double> row(n);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      for (int64_t j = 0; j < n; ++j)
        row[j] = x.data[(o * n + j) * inner + i];
      softmaxRow(row.data(), n);
      for (int64_t j = 0; j < n; ++j)
        r->data[(o * n + j) * inner + i] = row[j];
    }
  out.push_back(std::move(*r));
  return Error::success();
}

Error rmsNorm(RMSNormOp op, const RefTensor &x, const RefTensor &w,
              std::vector<RefTensor> &out) {
  auto r = makeResult(op, 0, x.shape);
  if (!r)
    return r.takeError();
  const int64_t d = x.shape.back(), rows = x.numel() / std::max<int64_t>(d, 1);
  const double eps = op.getEpsilon().convertToDouble();
  for (int64_t i = 0; i < rows; ++i) {
    const double *px = x.data.data() + i * d;
    double ss = 0;
    for (int64_t j = 0; j < d; ++j)
      ss += px[j] * px[j];
    double inv = 1.0 / std::sqrt(ss / double(d) + eps);
    for (int64_t j = 0; j < d; ++j)
      r->data[i * d + j] = px[j] * inv * w.data[j];
  }
  out.push_back(std::move(*r));
  return Error::success();
}

Error layerNorm(LayerNormOp op, Operands in, std::vector<RefTensor> &out) {
  const RefTensor &x = *in[0], &w = *in[1];
  const RefTensor *b = in.size() > 2 ? in[2] : nullptr;
  auto r = makeResult(op, 0, x.shape);
  if (!r)
    return r.takeError();
  int64_t axis = op.getAxisAttr().getInt();
  if (axis < 0)
    axis += x.rank();
  int64_t d = 1;
  for (int64_t k = axis; k < x.rank(); ++k)
    d *= x.shape[k];
  const int64_t rows = x.numel() / std::max<int64_t>(d, 1);
  const double eps = op.getEpsilon().convertToDouble();
  for (int64_t i = 0; i < rows; ++i) {
    const double *px = x.data.data() + i * d;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < d; ++j)
      mean += px[j];
    mean /= double(d);
    for (int64_t j = 0; j < d; ++j)
      var += (px[j] - mean) * (px[j] - mean);
    double inv = 1.0 / std::sqrt(var / double(d) + eps);
    for (int64_t j = 0; j < d; ++j)
      r->data[i * d + j] = (px[j] - mean) * inv * w.data[j] + (b ? b->data[j] : 0.0);
  }
  out.push_back(std::move(*r));
  return Error::success();
}

// [B, S, H * D] (token-major) <-> [B, H, S, D] (heads-first).
RefTensor headsFirst(const RefTensor &x, int64_t heads) {
  const int64_t B = x.shape[0], S = x.shape[1], D = x.shape[2] / heads;
  RefTensor r({B, heads, S, D}, x.kind);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t d = 0; d < D; ++d)
          r.data[((b * heads + h) * S + s) * D + d] =
              x.data[((b * S + s) * heads + h) * D + d];
  return r;
}

RefTensor tokenMajor(const RefTensor &x) {
  const int64_t B = x.shape[0], H = x.shape[1], S = x.shape[2], D = x.shape[3];
  RefTensor r({B, S, H * D}, x.kind);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t d = 0; d < D; ++d)
          r.data[((b * S + s) * H + h) * D + d] =
              x.data[((b * H + h) * S + s) * D + d];
  return r;
}

// x [B, H, S, D]; cos/sin [B or 1, S, R/2].
// With num_heads, x is token-major [B, S, H * D]: computed heads-first.
Error rope(RopeOp op, const RefTensor &x0, const RefTensor &cs, const RefTensor &sn,
           std::vector<RefTensor> &out) {
  auto numHeads = op.getNumHeads();
  RefTensor x = numHeads ? headsFirst(x0, int64_t(*numHeads)) : x0;
  auto r = makeResult(op, 0, x0.shape);
  if (!r)
    return r.takeError();
  r->shape = x.shape;
  r->data = x.data;
  const int64_t B = x.shape[0], H = x.shape[1], S = x.shape[2], D = x.shape[3];
  const int64_t half = cs.shape.back(), csB = cs.shape[0];
  const bool interleaved = op.getConvention() == RopeConvention::interleaved;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s) {
        double *row = r->data.data() + ((b * H + h) * S + s) * D;
        const double *c = cs.data.data() + ((csB == 1 ? 0 : b) * S + s) * half;
        const double *sv = sn.data.data() + ((csB == 1 ? 0 : b) * S + s) * half;
        for (int64_t i = 0; i < half; ++i) {
          int64_t ia = interleaved ? 2 * i : i;
          int64_t ib = interleaved ? 2 * i + 1 : i + half;
          double a = row[ia], bb = row[ib];
          row[ia] = a * c[i] - bb * sv[i];
          row[ib] = bb * c[i] + a * sv[i];
        }
      }
  if (numHeads) {
    RefTensor t = tokenMajor(*r);
    r->shape = t.shape;
    r->data = std::move(t.data);
  }
  out.push_back(std::move(*r));
  return Error::success();
}

// Mirrors the float32 computation exporters emit:
//   inv_freq = 1 / theta^(2i/dim) (or the op's inv_freq); angle = p * inv_freq;
//   cos(angle) * factor, sin(angle) * factor
// each step rounded to f32, so fused and unfused graphs agree closely.
// `useLong` (LongRoPE's choice, when the op has one) picks the long set.
Error ropeCosSin(RopeCosSinOp op, const RefTensor &pos, const RefTensor *useLong,
                 std::vector<RefTensor> &out) {
  const int64_t B = pos.shape[0], S = pos.shape[1], dim = op.getDimAttr().getInt(), half = dim / 2;
  const float theta = float(op.getTheta().convertToDouble());
  const bool isLong = useLong && useLong->data.at(0) != 0;
  const float factor = float((isLong ? op.getLongAttentionFactor() : op.getAttentionFactor())
                                 .convertToDouble());
  std::optional<llvm::ArrayRef<float>> freqs = op.getInvFreq();
  if (isLong)
    freqs = op.getLongInvFreq();
  auto c = makeResult(op, 0, {B, S, half});
  auto s = makeResult(op, 1, {B, S, half});
  if (!c)
    return c.takeError();
  if (!s)
    return s.takeError();
  for (int64_t i = 0; i < half; ++i) {
    float exponent = float(2 * i) / float(dim);
    float invFreq = freqs ? (*freqs)[i] : 1.0f / std::pow(theta, exponent);
    for (int64_t k = 0; k < B * S; ++k) {
      float angle = float(pos.data[k]) * invFreq;
      c->data[k * half + i] = std::cos(angle) * factor;
      s->data[k * half + i] = std::sin(angle) * factor;
    }
  }
  out.push_back(std::move(*c));
  out.push_back(std::move(*s));
  return Error::success();
}

RefTensor concatSeq(const RefTensor *past, const RefTensor &x) {
  if (!past)
    return x;
  const int64_t B = x.shape[0], H = x.shape[1], P = past->shape[2], S = x.shape[2],
                D = x.shape[3];
  RefTensor r({B, H, P + S, D}, x.kind);
  for (int64_t bh = 0; bh < B * H; ++bh) {
    std::copy_n(past->data.begin() + bh * P * D, P * D, r.data.begin() + bh * (P + S) * D);
    std::copy_n(x.data.begin() + bh * S * D, S * D,
                r.data.begin() + bh * (P + S) * D + P * D);
  }
  return r;
}

// Token-major q/k/v/out ([B, S, H * D]) are computed heads-first; a [B, T]
// key padding mask is [B, 1, 1, T]; integer masks are boolean (nonzero =
// attend).
Error attention(AttentionOp op, std::vector<RefTensor> &out,
                const RefTensor &q0, const RefTensor &k0, const RefTensor &v0,
                const RefTensor *pastK, const RefTensor *pastV, const RefTensor *mask0) {
  const bool tm = q0.rank() == 3;
  const int64_t numHeads = op.getNumHeads(), numKv = op.getNumKvHeads();
  RefTensor q = tm ? headsFirst(q0, numHeads) : q0;
  RefTensor k = tm ? headsFirst(k0, numKv) : k0;
  RefTensor v = tm ? headsFirst(v0, numKv) : v0;
  RefTensor maskCopy;
  const RefTensor *mask = mask0;
  if (mask0 && mask0->rank() == 2) {
    maskCopy = *mask0;
    maskCopy.shape = {mask0->shape[0], 1, 1, mask0->shape[1]};
    mask = &maskCopy;
  }
  RefTensor keys = concatSeq(pastK, k), values = concatSeq(pastV, v);
  const int64_t B = q.shape[0], Hq = q.shape[1], S = q.shape[2], D = q.shape[3];
  const int64_t Hkv = keys.shape[1], T = keys.shape[2], Dv = values.shape[3];
  const int64_t P = T - S, group = Hq / Hkv;
  const double scale = op.getScale().convertToDouble();
  const double softcap = op.getSoftcap().convertToDouble();
  auto o = makeResult(op, 0, tm ? std::vector<int64_t>{B, S, Hq * Dv}
                                 : std::vector<int64_t>{B, Hq, S, Dv});
  if (!o)
    return o.takeError();
  o->shape = {B, Hq, S, Dv};
  auto maskStrides = mask ? broadcastStrides(mask->shape, {B, Hq, S, T})
                          : std::vector<int64_t>();
  const bool boolMask =
      mask && (mask->kind == ElementKind::Bool || mask->kind == ElementKind::Int);
  std::vector<double> scores(T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t kvh = h / group;
      for (int64_t i = 0; i < S; ++i) {
        const double *qi = q.data.data() + ((b * Hq + h) * S + i) * D;
        for (int64_t j = 0; j < T; ++j) {
          const double *kj = keys.data.data() + ((b * Hkv + kvh) * T + j) * D;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += qi[d] * kj[d];
          double sc = scale * dot;
          if (softcap > 0)
            sc = softcap * std::tanh(sc / softcap);
          if (mask) {
            double m = mask->data[b * maskStrides[0] + h * maskStrides[1] +
                                  i * maskStrides[2] + j * maskStrides[3]];
            sc = boolMask ? (m != 0 ? sc : -INFINITY) : sc + m;
          }
          if (op.getCausal() && j > P + i)
            sc = -INFINITY;
          scores[j] = sc;
        }
        softmaxRow(scores.data(), T);
        double *oi = o->data.data() + ((b * Hq + h) * S + i) * Dv;
        for (int64_t j = 0; j < T; ++j) {
          const double *vj = values.data.data() + ((b * Hkv + kvh) * T + j) * Dv;
          for (int64_t d = 0; d < Dv; ++d)
            oi[d] += scores[j] * vj[d];
        }
      }
    }
  if (tm) {
    RefTensor t = tokenMajor(*o);
    o->shape = t.shape;
    o->data = std::move(t.data);
  }
  out.push_back(std::move(*o));
  for (RefTensor *cache : {&keys, &values}) {
    auto r = makeResult(op, out.size(), cache->shape);
    if (!r)
      return r.takeError();
    r->data = std::move(cache->data);
    out.push_back(std::move(*r));
  }
  return Error::success();
}

/// GELU of v: its tanh approximation or the exact erf form.
double geluOf(double v, bool tanhForm) {
  return tanhForm ? 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)))
                  : 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
}

Error swiglu(SwiGLUOp op, Operands in, std::vector<RefTensor> &out) {
  const RefTensor &g = *in[0];
  const bool merged = in.size() == 1;
  const int64_t width = merged ? g.shape.back() / 2 : g.shape.back();
  std::vector<int64_t> shape = g.shape;
  shape.back() = width;
  auto r = makeResult(op, 0, shape);
  if (!r)
    return r.takeError();
  const int64_t rows = r->numel() / std::max<int64_t>(width, 1);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < width; ++j) {
      double gate = merged ? g.data[i * 2 * width + j] : g.data[i * width + j];
      double up = merged ? g.data[i * 2 * width + width + j] : in[1]->data[i * width + j];
      auto g = op.getGelu();
      const double act = g ? geluOf(gate, *g == GeluApproximation::tanh)
                           : gate / (1.0 + std::exp(-gate));
      r->data[i * width + j] = act * up;
    }
  out.push_back(std::move(*r));
  return Error::success();
}

// Mixture of experts (ONNX Runtime's com.microsoft MoE). Operands: x, router,
// then the fc1, fc2, fc1_bias, fc2_bias, fc3 and fc3_bias groups (the biases
// and fc3 may be empty; with fc3, Mixtral's gated experts, an elementwise
// activation's h = act(x @ fc1 + b1) * (x @ fc3 + b3)).
// The router's softmax is computed in float exactly as ONNX Runtime's CPU
// kernel does (max-subtracted exp, float sum, divide), so that the top-k
// choice, where near ties matter, is the same; everything after it is double.
Error moe(MoEOp op, Operands in, std::vector<RefTensor> &out) {
  auto group = [&](unsigned i) {
    auto [start, length] = op.getODSOperandIndexAndLength(i);
    return in.slice(start, length);
  };
  const RefTensor &x = *in[0], &router = *in[1];
  Operands fc1 = group(2), fc2 = group(3), b1 = group(4), b2 = group(5), fc3 = group(6),
           b3 = group(7);
  const int64_t E = int64_t(fc1.size()), k = int64_t(op.getK());
  const bool gated = !fc3.empty();
  if (x.rank() < 1 || router.rank() < 1 || E == 0 || int64_t(fc2.size()) != E ||
      k < 1 || k > E || (gated && int64_t(fc3.size()) != E) ||
      (!b3.empty() && b3.size() != fc3.size()))
    return opError(op, "malformed operands");
  const int64_t H = x.shape.back(), T = x.numel() / std::max<int64_t>(H, 1);
  if (router.shape.back() != E || router.numel() / E != T)
    return opError(op, "router " + router.shapeString() + " does not give " +
                           std::to_string(E) + " logits for each row of x " +
                           x.shapeString());
  const bool swiglu = op.getActivation() == MoEActivation::swiglu;
  if (gated && swiglu)
    return opError(op, "fc3 with the swiglu activation");
  const int64_t F1 = fc1[0]->shape.size() == 2 ? fc1[0]->shape[1] : -1;
  const int64_t I = swiglu ? F1 / 2 : F1;
  for (int64_t e = 0; e < E; ++e) {
    auto shapeIs = [](const RefTensor &t, std::vector<int64_t> s) { return t.shape == s; };
    if (!shapeIs(*fc1[e], {H, F1}) || !shapeIs(*fc2[e], {I, H}) ||
        (swiglu && F1 != 2 * I) || (!b1.empty() && !shapeIs(*b1[e], {F1})) ||
        (!b2.empty() && !shapeIs(*b2[e], {H})) || (gated && !shapeIs(*fc3[e], {H, I})) ||
        (!b3.empty() && !shapeIs(*b3[e], {I})))
      return opError(op, "expert " + std::to_string(e) +
                             " has weights or biases of the wrong shape");
  }
  auto r = makeResult(op, 0, x.shape);
  if (!r)
    return r.takeError();
  const bool interleaved = op.getInterleaved();
  const double alpha = op.getAlpha().convertToDouble(),
               beta = op.getBeta().convertToDouble();
  const std::optional<double> limit =
      op.getLimit() ? std::optional<double>(op.getLimit()->convertToDouble()) : std::nullopt;
  const MoEActivation act = op.getActivation();
  std::vector<float> p(E);
  std::vector<int64_t> order(E);
  std::vector<double> f(F1), h(I), u(gated ? I : 0);
  for (int64_t t = 0; t < T; ++t) {
    const double *logits = router.data.data() + t * E;
    float mx = float(logits[0]);
    for (int64_t e = 1; e < E; ++e)
      mx = std::max(mx, float(logits[e]));
    float sum = 0.0f;
    for (int64_t e = 0; e < E; ++e)
      sum += p[e] = std::exp(float(logits[e]) - mx);
    for (int64_t e = 0; e < E; ++e)
      p[e] /= sum;
    // The k largest p, of equal p the higher index first.
    for (int64_t e = 0; e < E; ++e)
      order[e] = e;
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](int64_t a, int64_t b) {
                        return p[a] > p[b] || (p[a] == p[b] && a > b);
                      });
    double chosen = 0;
    for (int64_t j = 0; j < k; ++j)
      chosen += p[order[j]];
    const double *xt = x.data.data() + t * H;
    double *yt = r->data.data() + t * H;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = order[j];
      const double w = op.getNormalize() ? p[e] / chosen : double(p[e]);
      // ONNX Runtime routes a token to no expert whose weight is 0.
      if (w == 0)
        continue;
      const RefTensor &w1 = *fc1[e], &w2 = *fc2[e];
      for (int64_t n = 0; n < F1; ++n) {
        double acc = b1.empty() ? 0.0 : b1[e]->data[n];
        for (int64_t c = 0; c < H; ++c)
          acc += xt[c] * w1.data[c * F1 + n];
        f[n] = acc;
      }
      if (gated) {
        const RefTensor &w3 = *fc3[e];
        for (int64_t i = 0; i < I; ++i) {
          double acc = b3.empty() ? 0.0 : b3[e]->data[i];
          for (int64_t c = 0; c < H; ++c)
            acc += xt[c] * w3.data[c * I + i];
          u[i] = acc;
        }
      }
      for (int64_t i = 0; i < I; ++i) {
        const double v = f[i];
        switch (act) {
        case MoEActivation::identity:
          h[i] = v;
          break;
        case MoEActivation::relu:
          h[i] = std::max(v, 0.0);
          break;
        case MoEActivation::gelu_tanh:
          h[i] = geluOf(v, /*tanhForm=*/true);
          break;
        case MoEActivation::silu:
          h[i] = v / (1.0 + std::exp(-v));
          break;
        case MoEActivation::swiglu: {
          double g = f[interleaved ? 2 * i : i];
          double l = f[interleaved ? 2 * i + 1 : I + i];
          if (limit) {
            g = std::min(g, *limit);
            l = std::clamp(l, -*limit, *limit);
          }
          h[i] = g / (1.0 + std::exp(-alpha * g)) * (l + beta);
          break;
        }
        }
        if (gated)
          h[i] *= u[i];
      }
      for (int64_t c = 0; c < H; ++c) {
        double acc = b2.empty() ? 0.0 : b2[e]->data[c];
        for (int64_t i = 0; i < I; ++i)
          acc += h[i] * w2.data[i * H + c];
        yt[c] += w * acc;
      }
    }
  }
  out.push_back(std::move(*r));
  return Error::success();
}

/// result = f(x) elementwise, x's shape (gelu, softcap).
template <typename F>
Error mapElements(mlir::Operation *op, const RefTensor &x, std::vector<RefTensor> &out, F f) {
  auto r = makeResult(op, 0, x.shape);
  if (!r)
    return r.takeError();
  for (int64_t i = 0; i < x.numel(); ++i)
    r->data[i] = f(x.data[i]);
  out.push_back(std::move(*r));
  return Error::success();
}

} // namespace

Error llmc::ref::evalNeuralOp(mlir::Operation *op, Operands in,
                              std::vector<RefTensor> &out, bool &handled) {
  handled = true;
  if (llvm::isa<MatMulOp>(op))
    return matmul(op, *in[0], *in[1], out);
  if (llvm::isa<MergedMatMulOp>(op)) {
    // Result i = x @ w_i; makeResult indexes results by out.size().
    for (size_t i = 1; i < in.size(); ++i) {
      std::vector<RefTensor> one;
      if (Error e = matmul(op, *in[0], *in[i], one, unsigned(i - 1)))
        return e;
      out.push_back(std::move(one.front()));
    }
    return Error::success();
  }
  if (auto s = llvm::dyn_cast<SoftmaxOp>(op))
    return softmax(s, *in[0], out);
  if (auto n = llvm::dyn_cast<RMSNormOp>(op))
    return rmsNorm(n, *in[0], *in[1], out);
  if (auto n = llvm::dyn_cast<LayerNormOp>(op))
    return layerNorm(n, in, out);
  if (auto r = llvm::dyn_cast<RopeOp>(op))
    return rope(r, *in[0], *in[1], *in[2], out);
  if (auto r = llvm::dyn_cast<RopeCosSinOp>(op))
    return ropeCosSin(r, *in[0], in.size() > 1 ? in[1] : nullptr, out);
  if (auto a = llvm::dyn_cast<AttentionOp>(op)) {
    auto get = [&](mlir::Value v) -> const RefTensor * {
      if (!v)
        return nullptr;
      for (unsigned i = 0; i < op->getNumOperands(); ++i)
        if (op->getOperand(i) == v)
          return in[i];
      return nullptr;
    };
    return attention(a, out, *get(a.getQ()), *get(a.getK()), *get(a.getV()),
                     get(a.getPastKey()), get(a.getPastValue()), get(a.getMask()));
  }
  if (auto s = llvm::dyn_cast<SwiGLUOp>(op))
    return swiglu(s, in, out);
  if (auto m = llvm::dyn_cast<MoEOp>(op))
    return moe(m, in, out);
  if (auto g = llvm::dyn_cast<GeluOp>(op)) {
    const bool tanhForm = g.getApproximate() == GeluApproximation::tanh;
    return mapElements(op, *in[0], out, [&](double x) { return geluOf(x, tanhForm); });
  }
  if (auto c = llvm::dyn_cast<SoftcapOp>(op)) {
    const double cap = c.getCap().convertToDouble();
    return mapElements(op, *in[0], out, [&](double x) { return cap * std::tanh(x / cap); });
  }
  handled = false;
  return Error::success();
}
