//===- Hadamard.cpp - FWHT, Paley matrices, randomized Hadamard transform -===//
#include "llmc/Quant/Hadamard.h"
#include <cmath>
#include <random>
#include <type_traits>

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
// The float transform runs online before every rotated matmul, so it gets
// vector code for the host (the library itself is built for generic x86-64):
// function clones for AVX-512 and AVX2, chosen at load time. Stages with
// butterflies 16 or more apart are independent contiguous vectors; the first
// four stages work inside 16-element blocks.
// The first four stages act inside 16-element blocks, whose butterflies do not
// vectorize: there each block is multiplied by Had_16 instead, as 16
// broadcast multiply-adds of +-1 rows (one 16-wide vector each).
namespace {
struct Had16 {
  float row[16][16] = {};
  constexpr Had16() {
    for (int j = 0; j < 16; ++j)
      for (int k = 0; k < 16; ++k)
        row[j][k] = __builtin_popcount(unsigned(j & k)) % 2 ? -1.0f : 1.0f;
  }
};
} // namespace
static constexpr Had16 kHad16;

__attribute__((target_clones("avx512f", "avx2", "default"))) static void
fwhtF32(float *__restrict x, int64_t n) {
  int64_t len = 1;
  if (n >= 16) {
    for (int64_t b = 0; b < n; b += 16) {
      float *v = x + b;
      float acc[16] = {};
      for (int j = 0; j < 16; ++j) {
        const float c = v[j];
        for (int k = 0; k < 16; ++k)
          acc[k] += c * kHad16.row[j][k];
      }
      for (int k = 0; k < 16; ++k)
        v[k] = acc[k];
    }
    len = 16;
  }
  for (; len < n; len <<= 1)
    for (int64_t i = 0; i < n; i += len << 1) {
      float *__restrict lo = x + i;
      float *__restrict hi = x + i + len;
#pragma clang loop vectorize(assume_safety)
      for (int64_t j = 0; j < len; ++j) {
        float a = lo[j], c = hi[j];
        lo[j] = a + c;
        hi[j] = a - c;
      }
    }
}

// dst[0..n) += c * src[0..n)
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
axpyF32(float *__restrict dst, const float *__restrict src, float c, int64_t n) {
  for (int64_t j = 0; j < n; ++j)
    dst[j] += c * src[j];
}

// Rows i .. i+R of out = (M (x) I_p) x, 16 columns at a time: R x 16
// accumulators stay in registers while the h input rows stream past.
template <int R>
__attribute__((always_inline)) static inline void
mixRowsF32(float *__restrict out, const float *__restrict x,
           const float *__restrict M, int64_t h, int64_t p, bool transpose,
           int64_t i) {
  for (int64_t j0 = 0; j0 < p; j0 += 16) {
    float acc[R][16] = {};
    for (int64_t i2 = 0; i2 < h; ++i2) {
      const float *src = x + i2 * p + j0;
      for (int r = 0; r < R; ++r) {
        const float c = transpose ? M[i2 * h + i + r] : M[(i + r) * h + i2];
        for (int j = 0; j < 16; ++j)
          acc[r][j] += c * src[j];
      }
    }
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < 16; ++j)
        out[(i + r) * p + j0 + j] = acc[r][j];
  }
}

// out = (M (x) I_p) x for x viewed as h rows of p (a multiple of 16) floats:
// out_i = sum_i2 M_i,i2 x_i2 (M^T when `transpose`). Register-blocked, where
// an axpy per (i, i2) would load and store out_i h times. Each output element
// still sums over i2 in order, as the axpy loop does.
__attribute__((target_clones("avx512f", "avx2", "default"))) static void
mixF32(float *__restrict out, const float *__restrict x, const float *__restrict M,
       int64_t h, int64_t p, bool transpose) {
  int64_t i = 0;
  for (; i + 4 <= h; i += 4)
    mixRowsF32<4>(out, x, M, h, p, transpose, i);
  for (; i < h; ++i)
    mixRowsF32<1>(out, x, M, h, p, transpose, i);
}

void fwht(float *x, int64_t n) { fwhtF32(x, n); }
void fwht(double *x, int64_t n) { fwhtImpl(x, n); }

static constexpr int64_t kMaxPaley = 256;

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
  return fromSigns(std::move(signs), seed);
}

// A random orthogonal n x n matrix: rows of uniform [-1, 1) entries made
// orthonormal by modified Gram-Schmidt, run twice for orthogonality to
// rounding ("twice is enough"). The entries come from raw mt19937_64 output,
// so the matrix is the same on every platform for a seed.
static std::vector<double> randomOrthogonal(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
  std::vector<double> Q(n * n);
  for (double &q : Q)
    q = double(rng() >> 11) * 0x1p-52 - 1.0;
  for (int64_t i = 0; i < n; ++i) {
    double *r = &Q[i * n];
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t j = 0; j < i; ++j) {
        const double *p = &Q[j * n];
        double d = 0;
        for (int64_t k = 0; k < n; ++k)
          d += r[k] * p[k];
        for (int64_t k = 0; k < n; ++k)
          r[k] -= d * p[k];
      }
    double nrm = 0;
    for (int64_t k = 0; k < n; ++k)
      nrm += r[k] * r[k];
    nrm = 1.0 / std::sqrt(nrm);
    for (int64_t k = 0; k < n; ++k)
      r[k] *= nrm;
  }
  return Q;
}

Expected<RandomizedHadamard>
RandomizedHadamard::fromSigns(std::vector<int8_t> signs, uint64_t factorSeed) {
  RandomizedHadamard U;
  U.K = int64_t(signs.size());
  if (U.K <= 0)
    return createStringError(inconvertibleErrorCode(),
                             "Hadamard transform of size 0");
  for (int8_t s : signs)
    if (s != 1 && s != -1)
      return createStringError(inconvertibleErrorCode(),
                               "Hadamard signs must be +1 or -1");
  // Smallest h (1, or a Paley order) with K / h a power of two. Orders above
  // 4 are multiples of 4, so only K's odd part times 4, 8, ... can work.
  std::vector<int8_t> had;
  for (int64_t h = 1; h <= U.K; ++h) {
    if (U.K % h != 0 || !isPow2(U.K / h))
      continue;
    if (h == 1) {
      U.h = 1;
      break;
    }
    // A Paley factor costs h adds per element: above kMaxPaley the random
    // orthogonal factor of K's odd part is cheaper (11008 = 43 * 256 would
    // otherwise take Paley 5504).
    if (h > kMaxPaley)
      break;
    had = paleyHadamard(h);
    if (!had.empty()) {
      U.h = h;
      break;
    }
  }
  if (U.h == 1 && !isPow2(U.K)) {
    // No Hadamard factor: a random orthogonal one for K's odd part.
    U.paley = false;
    U.h = U.K;
    while (U.h % 2 == 0)
      U.h /= 2;
    U.mix = randomOrthogonal(U.h, factorSeed);
  } else if (U.h > 1) {
    const double inv = 1.0 / std::sqrt(double(U.h));
    U.mix.resize(had.size());
    for (size_t i = 0; i < had.size(); ++i)
      U.mix[i] = had[i] * inv;
  }
  U.mixF.assign(U.mix.begin(), U.mix.end());
  U.pow2 = U.K / U.h;
  U.sign = std::move(signs);
  return std::move(U);
}

// (M (x) I) on x viewed as h rows of length 2^m: row i <- sum_i' M_ii' row i',
// M the orthonormal small factor (or its transpose).
template <typename T>
void RandomizedHadamard::mixBlocks(T *x, bool transpose) const {
  if (h == 1)
    return;
  thread_local std::vector<T> out;
  if constexpr (std::is_same_v<T, float>) {
    if (pow2 % 16 == 0) {
      out.resize(K);
      mixF32(out.data(), x, mixF.data(), h, pow2, transpose);
      std::copy(out.begin(), out.end(), x);
      return;
    }
  }
  out.assign(K, T(0));
  for (int64_t i = 0; i < h; ++i)
    for (int64_t i2 = 0; i2 < h; ++i2) {
      const int64_t at = transpose ? i2 * h + i : i * h + i2;
      const T *src = x + i2 * pow2;
      T *dst = out.data() + i * pow2;
      if constexpr (std::is_same_v<T, float>) {
        axpyF32(dst, src, mixF[at], pow2);
      } else {
        const T c = T(mix[at]);
        for (int64_t j = 0; j < pow2; ++j)
          dst[j] += c * src[j];
      }
    }
  std::copy(out.begin(), out.end(), x);
}

// U x = (M_h (x) Had_2^m / sqrt(2^m)) D x. The two Kronecker factors commute
// ((A (x) I)(I (x) B) = A (x) B), so FWHT each row then mix rows.
template <typename T> void RandomizedHadamard::forward(T *x) const {
  for (int64_t k = 0; k < K; ++k)
    x[k] *= T(sign[k]);
  for (int64_t i = 0; i < h; ++i)
    fwht(x + i * pow2, pow2);
  mixBlocks(x, /*transpose=*/false);
  const T norm = T(1.0 / std::sqrt(double(pow2)));
  for (int64_t k = 0; k < K; ++k)
    x[k] *= norm;
}

// U^T x = D (M_h^T (x) Had_2^m / sqrt(2^m)) x (Sylvester matrices are
// symmetric).
template <typename T> void RandomizedHadamard::inverse(T *x) const {
  for (int64_t i = 0; i < h; ++i)
    fwht(x + i * pow2, pow2);
  mixBlocks(x, /*transpose=*/true);
  const T norm = T(1.0 / std::sqrt(double(pow2)));
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
