//===- Hadamard.cpp - FWHT, Paley matrices, randomized Hadamard transform -===//
#include "llmc/Quant/Hadamard.h"
#include <cmath>
#include <random>

using namespace llvm;

namespace llmc {
namespace quant {

// Butterflies (a, b) -> (a + b, a - b) at strides 1, 2, 4, ...: the Sylvester
// recursion Had_2n = [[Had_n, Had_n], [Had_n, -Had_n]] applied in place.
template <typename T> static void fwhtImpl(T *x, int64_t n) {
  for (int64_t len = 1; len < n; len <<= 1)
    for (int64_t i = 0; i < n; i += len << 1)
      for (int64_t j = i; j < i + len; ++j) {
        T a = x[j], b = x[j + len];
        x[j] = a + b;
        x[j + len] = a - b;
      }
}
void fwht(float *x, int64_t n) { fwhtImpl(x, n); }
void fwht(double *x, int64_t n) { fwhtImpl(x, n); }

static bool isPow2(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

static bool isPrime(int64_t q) {
  if (q < 2)
    return false;
  for (int64_t d = 2; d * d <= q; ++d)
    if (q % d == 0)
      return false;
  return true;
}

// Quadratic character of a mod prime q: 0, +1 (non-zero square) or -1.
static std::vector<int> quadraticCharacter(int64_t q) {
  std::vector<int> chi(q, -1);
  chi[0] = 0;
  for (int64_t x = 1; x < q; ++x)
    chi[(x * x) % q] = 1;
  return chi;
}

// Paley's core: the (q+1) x (q+1) matrix C = [[0, 1^T], [eps 1, Q]] with the
// Jacobsthal matrix Q_ij = chi(j - i) and eps = -1 for q = 3 (mod 4)
// (C skew, Paley I: Had = I + C) or +1 for q = 1 (mod 4) (C a symmetric
// conference matrix, Paley II: Had = C (x) [[1,-1],[-1,-1]] + I (x) [[1,1],[1,-1]]).
static std::vector<int8_t> paleyCore(int64_t q) {
  std::vector<int> chi = quadraticCharacter(q);
  const int64_t m = q + 1;
  const int eps = q % 4 == 3 ? -1 : 1;
  std::vector<int8_t> C(m * m, 0);
  for (int64_t j = 1; j < m; ++j) {
    C[j] = 1;
    C[j * m] = int8_t(eps);
  }
  for (int64_t i = 0; i < q; ++i)
    for (int64_t j = 0; j < q; ++j)
      C[(i + 1) * m + (j + 1)] = int8_t(chi[((j - i) % q + q) % q]);
  return C;
}

// The Paley construction giving order h, if any: Paley I needs h - 1 prime
// = 3 (mod 4), Paley II needs h/2 - 1 prime = 1 (mod 4).
static std::vector<int8_t> paleyHadamard(int64_t h) {
  if (h >= 4 && isPrime(h - 1) && (h - 1) % 4 == 3) {
    std::vector<int8_t> H = paleyCore(h - 1);
    for (int64_t i = 0; i < h; ++i)
      H[i * h + i] = int8_t(H[i * h + i] + 1);
    return H;
  }
  int64_t q = h / 2 - 1;
  if (h % 2 == 0 && q >= 5 && isPrime(q) && q % 4 == 1) {
    std::vector<int8_t> C = paleyCore(q);
    const int64_t m = q + 1;
    static const int8_t A[2][2] = {{1, -1}, {-1, -1}}, B[2][2] = {{1, 1}, {1, -1}};
    std::vector<int8_t> H(h * h);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j)
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b)
            H[(2 * i + a) * h + (2 * j + b)] =
                int8_t(C[i * m + j] * A[a][b] + (i == j ? B[a][b] : 0));
    return H;
  }
  return {};
}

Expected<std::vector<int8_t>> hadamardMatrix(int64_t n) {
  if (isPow2(n)) {
    std::vector<int8_t> H(n * n);
    for (int64_t i = 0; i < n; ++i) // Sylvester: (-1)^popcount(i & j)
      for (int64_t j = 0; j < n; ++j)
        H[i * n + j] = __builtin_popcountll(uint64_t(i & j)) % 2 ? -1 : 1;
    return std::move(H);
  }
  std::vector<int8_t> H = paleyHadamard(n);
  if (H.empty())
    return createStringError(inconvertibleErrorCode(),
                             "no Hadamard construction for order %lld",
                             (long long)n);
  return std::move(H);
}

Expected<RandomizedHadamard> RandomizedHadamard::create(int64_t K,
                                                        uint64_t seed) {
  if (K <= 0)
    return createStringError(inconvertibleErrorCode(),
                             "Hadamard transform of size %lld", (long long)K);
  std::vector<int8_t> signs(K);
  std::mt19937_64 rng(seed);
  uint64_t bits = 0;
  for (int64_t k = 0; k < K; ++k) {
    if (k % 64 == 0)
      bits = rng();
    signs[k] = (bits >> (k % 64)) & 1 ? -1 : 1;
  }
  return fromSigns(std::move(signs));
}

Expected<RandomizedHadamard>
RandomizedHadamard::fromSigns(std::vector<int8_t> signs) {
  RandomizedHadamard U;
  U.K = int64_t(signs.size());
  for (int8_t s : signs)
    if (s != 1 && s != -1)
      return createStringError(inconvertibleErrorCode(),
                               "Hadamard signs must be +1 or -1");
  // Smallest h (1, or a Paley order) with K / h a power of two. Orders above
  // 4 are multiples of 4, so only K's odd part times 4, 8, ... can work.
  for (int64_t h = 1; h <= U.K; ++h) {
    if (U.K % h != 0 || !isPow2(U.K / h))
      continue;
    if (h == 1) {
      U.h = 1;
      break;
    }
    std::vector<int8_t> H = paleyHadamard(h);
    if (!H.empty()) {
      U.h = h;
      U.had = std::move(H);
      break;
    }
  }
  if (U.h == 1 && !isPow2(U.K))
    return createStringError(
        inconvertibleErrorCode(),
        "Hadamard transform: size %lld is not 2^m times a Paley order "
        "(q+1 for a prime q = 3 mod 4, or 2(q+1) for a prime q = 1 mod 4)",
        (long long)U.K);
  U.pow2 = U.K / U.h;
  U.sign = std::move(signs);
  return std::move(U);
}

// (Had_h (x) I) on x viewed as h rows of length 2^m: row i <- sum_i' H_ii' row i'.
template <typename T>
void RandomizedHadamard::mixBlocks(T *x, bool transpose) const {
  if (h == 1)
    return;
  std::vector<T> out(K, T(0));
  for (int64_t i = 0; i < h; ++i)
    for (int64_t i2 = 0; i2 < h; ++i2) {
      int8_t c = transpose ? had[i2 * h + i] : had[i * h + i2];
      const T *src = x + i2 * pow2;
      T *dst = out.data() + i * pow2;
      if (c > 0)
        for (int64_t j = 0; j < pow2; ++j)
          dst[j] += src[j];
      else
        for (int64_t j = 0; j < pow2; ++j)
          dst[j] -= src[j];
    }
  std::copy(out.begin(), out.end(), x);
}

// U x = (Had_h (x) Had_2^m) D x / sqrt(K). The two Kronecker factors commute
// ((A (x) I)(I (x) B) = A (x) B), so FWHT each row then mix rows.
template <typename T> void RandomizedHadamard::forward(T *x) const {
  for (int64_t k = 0; k < K; ++k)
    x[k] *= T(sign[k]);
  for (int64_t i = 0; i < h; ++i)
    fwhtImpl(x + i * pow2, pow2);
  mixBlocks(x, /*transpose=*/false);
  const T norm = T(1.0 / std::sqrt(double(K)));
  for (int64_t k = 0; k < K; ++k)
    x[k] *= norm;
}

// U^T x = D (Had_h^T (x) Had_2^m) x / sqrt(K) (Sylvester matrices are symmetric).
template <typename T> void RandomizedHadamard::inverse(T *x) const {
  for (int64_t i = 0; i < h; ++i)
    fwhtImpl(x + i * pow2, pow2);
  mixBlocks(x, /*transpose=*/true);
  const T norm = T(1.0 / std::sqrt(double(K)));
  for (int64_t k = 0; k < K; ++k)
    x[k] *= norm * T(sign[k]);
}

void RandomizedHadamard::apply(float *x) const { forward(x); }
void RandomizedHadamard::apply(double *x) const { forward(x); }
void RandomizedHadamard::applyInverse(float *x) const { inverse(x); }
void RandomizedHadamard::applyInverse(double *x) const { inverse(x); }

std::vector<float> RandomizedHadamard::rotateWeights(const float *W,
                                                     int64_t N) const {
  // Row n of W U^T is (U w_n)^T; rotate in double, round once.
  std::vector<float> out(N * K);
  std::vector<double> row(K);
  for (int64_t n = 0; n < N; ++n) {
    std::copy(W + n * K, W + (n + 1) * K, row.begin());
    forward(row.data());
    std::copy(row.begin(), row.end(), out.begin() + n * K);
  }
  return out;
}

std::vector<double> RandomizedHadamard::rotateHessian(ArrayRef<double> H) const {
  // A = H U^T (rotate rows), then U A = (A^T U^T)^T: transpose, rotate rows.
  std::vector<double> A(H.begin(), H.end()), T(K * K);
  for (int64_t r = 0; r < K; ++r)
    forward(&A[r * K]);
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j)
      T[j * K + i] = A[i * K + j];
  for (int64_t r = 0; r < K; ++r)
    forward(&T[r * K]);
  // T = (U A)^T = U H U^T (symmetric); symmetrize away rounding asymmetry.
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < i; ++j) {
      double m = 0.5 * (T[i * K + j] + T[j * K + i]);
      T[i * K + j] = T[j * K + i] = m;
    }
  return T;
}

Expected<IncoherentResult> quantizeIncoherent(const float *W, int64_t N,
                                              int64_t K, ArrayRef<double> H,
                                              WeightFormat fmt,
                                              const GPTQOptions &opts,
                                              uint64_t seed) {
  if (int64_t(H.size()) != K * K)
    return createStringError(inconvertibleErrorCode(),
                             "incoherence: Hessian has %zu entries, expected "
                             "%lld^2",
                             H.size(), (long long)K);
  auto U = RandomizedHadamard::create(K, seed);
  if (!U)
    return U.takeError();
  std::vector<float> Wr = U->rotateWeights(W, N);
  std::vector<double> Hr = U->rotateHessian(H);
  auto g = gptqQuantize(Wr.data(), N, K, Hr, fmt, opts);
  if (!g)
    return g.takeError();
  return IncoherentResult{std::move(g->weights), std::move(*U), g->damp};
}

} // namespace quant
} // namespace llmc
