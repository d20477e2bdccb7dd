//===- GPTQ.cpp - OPTQ/GPTQ column-wise quantization with error feedback --===//
#include "llmc/Quant/GPTQ.h"
#include "llmc/Quant/LinearAlgebra.h"
#include "llmc/Quant/ScaleRefit.h"
#include "llmc/Kernels/ThreadPool.h"
#include <mutex>
#include <string>
#include <numeric>

using namespace llvm;

namespace llmc {
namespace quant {

std::vector<int64_t> actOrderPermutation(ArrayRef<double> H, int64_t K) {
  std::vector<int64_t> perm(K);
  std::iota(perm.begin(), perm.end(), 0);
  // std::sort with an index tie-break: the stable order without
  // std::stable_sort (whose libstdc++ 12 buffer is deprecated under clang 19).
  std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
    double da = H[a * K + a], db = H[b * K + b];
    return da != db ? da > db : a < b;
  });
  return perm;
}

// Damp, invert and factor: U with (H + lambda I)^-1 = U^T U. If rounding makes
// the damped matrix indefinite, retry with ten times the damping.
static Expected<std::vector<double>> dampedInverseFactor(std::vector<double> H,
                                                         int64_t K,
                                                         double percent,
                                                         double &damp) {
  double meanDiag = 0;
  for (int64_t k = 0; k < K; ++k)
    meanDiag += H[k * K + k];
  meanDiag /= double(K);
  if (!(meanDiag > 0))
    meanDiag = 1;
  damp = percent * meanDiag;
  for (int attempt = 0;; ++attempt) {
    std::vector<double> Hd = H;
    for (int64_t k = 0; k < K; ++k)
      Hd[k * K + k] += damp;
    auto U = upperCholeskyOfInverse(std::move(Hd), K);
    if (U || attempt == 4)
      return U;
    consumeError(U.takeError());
    damp = damp > 0 ? damp * 10 : 1e-6 * meanDiag;
  }
}

Expected<GPTQResult> gptqQuantize(const float *W, int64_t N, int64_t K,
                                  ArrayRef<double> H, WeightFormat fmt,
                                  const GPTQOptions &opts) {
  GPTQResult res;
  if (int64_t(H.size()) != K * K)
    return createStringError(inconvertibleErrorCode(),
                             "gptq: Hessian has %zu entries, expected %lld^2",
                             H.size(), (long long)K);
  if (!fmt.isQuantized()) {
    auto q = kernels::quantizeWeights(W, N, K, fmt);
    if (!q)
      return q.takeError();
    res.weights = std::move(*q);
    return std::move(res);
  }
  auto qw = makeQuantizedWeights(W, N, K, fmt);
  if (!qw)
    return qw.takeError();
  const QuantizedWeights qInit = std::move(*qw);
  const int64_t group = qInit.group;
  const bool perChannel = group >= K;
  const bool staticGroupsOpt = opts.staticGroups || opts.actOrder || perChannel;

  // Dead inputs: no calibration signal, so no coupling and unit curvature.
  std::vector<double> Hc(H.begin(), H.end());
  for (int64_t k = 0; k < K; ++k)
    if (!(Hc[k * K + k] > 0)) {
      for (int64_t j = 0; j < K; ++j)
        Hc[k * K + j] = Hc[j * K + k] = 0;
      Hc[k * K + k] = 1;
      ++res.deadColumns;
    }
  std::vector<double> diag(K);
  for (int64_t k = 0; k < K; ++k)
    diag[k] = Hc[k * K + k];

  if (opts.actOrder) {
    res.order = actOrderPermutation(Hc, K);
  } else {
    res.order.resize(K);
    std::iota(res.order.begin(), res.order.end(), 0);
  }
  const std::vector<int64_t> &perm = res.order;

  // Work in the permuted column order: Wp[n][j] = W[n][perm[j]], Hp likewise.
  std::vector<double> Wp(N * K), Hp(K * K);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < K; ++j)
      Wp[n * K + j] = W[n * K + perm[j]];
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j)
      Hp[i * K + j] = Hc[perm[i] * K + perm[j]];
  auto Uor = dampedInverseFactor(std::move(Hp), K, opts.dampPercent, res.damp);
  if (!Uor)
    return createStringError(inconvertibleErrorCode(), "gptq: %s",
                             toString(Uor.takeError()).c_str());
  const std::vector<double> &U = *Uor;

  ClipSearch clip;
  clip.steps = opts.clipSteps;
  clip.minShrink = opts.minShrink;
  clip.colWeights = diag.data(); // original column order

  // One GPTQ pass over a copy of Wp. `fixed` (optional) supplies every
  // group's scale and zero point, which makes the groups static.
  const std::vector<double> Wp0 = std::move(Wp);
  auto pass = [&](const QuantizedWeights *fixed) -> Expected<QuantizedWeights> {
    QuantizedWeights q = qInit;
    std::vector<double> Wp = Wp0;
    const bool staticGroups = staticGroupsOpt || fixed;
    if (fixed) {
      q.scales = fixed->scales;
      q.zeros = fixed->zeros;
    } else if (staticGroups) {
      // Every group's parameters up front, from the original weights.
      std::vector<float> block;
      std::vector<GroupParams> params(N);
      for (int64_t g = 0; g < q.numGroups; ++g) {
        int64_t k0 = g * group, len = std::min(K, k0 + group) - k0;
        block.resize(N * len);
        for (int64_t n = 0; n < N; ++n)
          std::copy(W + n * K + k0, W + n * K + k0 + len, &block[n * len]);
        if (Error e = computeGroupParams(block.data(), N, len, k0, fmt, clip,
                                         params, q.scaleExponent))
          return std::move(e);
        for (int64_t n = 0; n < N; ++n)
          setGroupParams(q, n, g, params[n]);
      }
    }

    // Dynamic groups must not straddle a lazy block, so that a group's
    // columns already carry every update from the columns before it.
    int64_t B = std::max<int64_t>(1, opts.blockSize);
    if (!staticGroups)
      B = std::max(group, B / group * group);

    // Rows are independent in GPTQ (each one's error feeds back into itself
    // only), so every step below splits the rows among the threads. Within
    // a block, each row takes its columns in order with its block segment in
    // L1; the lazy update then runs over column tiles, so that a tile of U's
    // block rows stays in cache while all of a thread's rows pass over it.
    constexpr int64_t kColumnTile = 512;
    std::vector<double> err(N * B);
    std::mutex failureMu;
    std::string failure;
    for (int64_t i1 = 0; i1 < K; i1 += B) {
      const int64_t i2 = std::min(K, i1 + B);
      ThreadPool::global().parallelFor(N, [&](int64_t n0, int64_t n1) {
        std::vector<GroupParams> rowParams(1);
        std::vector<float> rowBlock;
        for (int64_t n = n0; n < n1; ++n) {
          double *Wn = &Wp[n * K];
          for (int64_t j = i1; j < i2; ++j) {
            const int64_t k = perm[j], g = k / group;
            if (!staticGroups && j % group == 0) { // perm is the identity here
              const int64_t len = std::min(K, j + group) - j;
              rowBlock.assign(Wn + j, Wn + j + len);
              if (Error e = computeGroupParams(rowBlock.data(), 1, len, j, fmt,
                                               clip, rowParams,
                                               q.scaleExponent)) {
                std::lock_guard<std::mutex> lock(failureMu);
                failure = toString(std::move(e));
                return;
              }
              setGroupParams(q, n, g, rowParams[0]);
            }
            const double *Uj = &U[j * K];
            GroupParams p = groupParams(q, n, g);
            uint8_t u = encodeWeight(float(Wn[j]), p, fmt);
            q.codes[n * K + k] = u;
            double e = (Wn[j] - double(decodeWeight(u, p, fmt))) * (1.0 / Uj[j]);
            err[n * B + (j - i1)] = e;
            axpy(Wn + j + 1, -e, Uj + j + 1, i2 - j - 1);
          }
        }
        // Lazy batch update of the columns after the block:
        // W[:, i2:] -= Err[:, i1:i2] U[i1:i2, i2:].
        for (int64_t l0 = i2; l0 < K; l0 += kColumnTile) {
          const int64_t l1 = std::min(K, l0 + kColumnTile);
          for (int64_t n = n0; n < n1; ++n) {
            double *Wn = &Wp[n * K];
            for (int64_t j = i1; j < i2; ++j) {
              const double e = err[n * B + (j - i1)];
              if (e == 0)
                continue;
              axpy(Wn + l0, -e, &U[j * K + l0], l1 - l0);
            }
          }
        }
      });
      if (!failure.empty())
        return createStringError(inconvertibleErrorCode(), "gptq: %s",
                                 failure.c_str());
    }
    return std::move(q);
  };

  auto first = pass(nullptr);
  if (!first)
    return first.takeError();
  res.weights = std::move(*first);
  if (opts.refitRounds == 0)
    return std::move(res);
  // Alternate least-squares scales for the codes (ScaleRefit.h) with a GPTQ
  // pass at those scales; keep the lowest proxy loss seen.
  double bestLoss = proxyLoss(W, res.weights, Hc.data());
  QuantizedWeights cur = res.weights;
  for (unsigned r = 0; r < opts.refitRounds; ++r) {
    double refit = refitGroupScales(W, Hc.data(), cur);
    if (refit < bestLoss) {
      bestLoss = refit;
      res.weights = cur;
    }
    auto next = pass(&cur);
    if (!next)
      return next.takeError();
    double l = proxyLoss(W, *next, Hc.data());
    if (l < bestLoss) {
      bestLoss = l;
      res.weights = *next;
    }
    cur = std::move(*next);
  }
  return std::move(res);
}

} // namespace quant
} // namespace llmc
