//===- ReferenceExecutorTest.cpp - The reference executor's own checks -----===//
//
// Two kinds of checks: small ops against values worked out by hand, and each
// fused op against the primitive-op subgraph it replaces (the subgraphs real
// exporters emit), evaluated by the same executor on random inputs. The
// latter is exactly the property the fusion passes rely on.
//
//===----------------------------------------------------------------------===//

#include "ReferenceExecutor.h"

#include "llmc/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <random>
#include <string>

using namespace llmc::ref;

namespace {

class ReferenceExecutorTest : public ::testing::Test {
protected:
  ReferenceExecutorTest() {
    mlir::DialectRegistry registry;
    llmc::registerAllDialects(registry);
    ctx_.appendDialectRegistry(registry);
    ctx_.loadAllAvailableDialects();
  }

  std::vector<RefTensor> run(llvm::StringRef source, llvm::StringRef fn,
                             std::vector<RefTensor> args) {
    module_ = mlir::parseSourceString<mlir::ModuleOp>(source, &ctx_);
    EXPECT_TRUE(module_) << "failed to parse";
    if (!module_)
      return {};
    auto func = module_->lookupSymbol<mlir::func::FuncOp>(fn);
    EXPECT_TRUE(func) << fn.str();
    ReferenceExecutor exec;
    auto out = exec.run(func, args);
    EXPECT_TRUE(static_cast<bool>(out)) << llvm::toString(out.takeError());
    return out ? *out : std::vector<RefTensor>();
  }

  static RefTensor random(std::vector<int64_t> shape, uint32_t seed,
                          double scale = 1.0) {
    RefTensor t(std::move(shape), ElementKind::F32);
    std::mt19937 rng(seed);
    std::normal_distribution<double> dist(0.0, scale);
    for (double &v : t.data)
      v = float(dist(rng));
    return t;
  }

  static void expectClose(const RefTensor &a, const RefTensor &b, double tol) {
    ASSERT_EQ(a.shape, b.shape);
    for (size_t i = 0; i < a.data.size(); ++i)
      ASSERT_NEAR(a.data[i], b.data[i], tol * (1 + std::fabs(b.data[i]))) << "at " << i;
  }

  mlir::MLIRContext ctx_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
};

TEST_F(ReferenceExecutorTest, BroadcastGatherSliceReshapeByHand) {
  const char *src = R"mlir(
    func.func @f(%x: tensor<2x3xf32>, %ids: tensor<2xi64>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x2xf32>, tensor<3x2xf32>) {
      %c = llmc.constant dense<[10.0, 20.0, 30.0]> : tensor<3xf32>
      %a = llmc.add %x, %c : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
      %g = llmc.gather %x, %ids {axis = 0 : i64} : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
      %s = llmc.slice %x {starts = array<i64: 1>, ends = array<i64: 9223372036854775807>, axes = array<i64: 1>} : (tensor<2x3xf32>) -> tensor<2x2xf32>
      %t = llmc.transpose %x {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
      return %a, %g, %s, %t : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x2xf32>, tensor<3x2xf32>
    })mlir";
  RefTensor x({2, 3}, ElementKind::F32, {1, 2, 3, 4, 5, 6});
  RefTensor ids({2}, ElementKind::Int, {1, -2});
  auto out = run(src, "f", {x, ids});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].data, (std::vector<double>{11, 22, 33, 14, 25, 36}));
  EXPECT_EQ(out[1].data, (std::vector<double>{4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(out[2].data, (std::vector<double>{2, 3, 5, 6}));
  EXPECT_EQ(out[3].data, (std::vector<double>{1, 4, 2, 5, 3, 6}));
}

TEST_F(ReferenceExecutorTest, ResultsAreRoundedToTheirElementType) {
  const char *src = R"mlir(
    func.func @f(%x: tensor<2xf32>) -> (tensor<2xf16>, tensor<2xi64>) {
      %h = llmc.cast %x : tensor<2xf32> -> tensor<2xf16>
      %i = llmc.cast %x : tensor<2xf32> -> tensor<2xi64>
      return %h, %i : tensor<2xf16>, tensor<2xi64>
    })mlir";
  RefTensor x({2}, ElementKind::F32, {1.0001, -2.7});
  auto out = run(src, "f", {x});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].data[0], 1.0) << "1.0001 is not representable in f16";
  EXPECT_EQ(out[1].data, (std::vector<double>{1, -2})) << "truncation toward 0";
}

TEST_F(ReferenceExecutorTest, RMSNormEqualsItsPrimitiveForm) {
  // The exporter's form: x * 1/sqrt(mean(x^2) + eps) * w.
  const char *src = R"mlir(
    func.func @prim(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>) -> tensor<2x5x16xf32> {
      %two = llmc.constant dense<2.0> : tensor<f32>
      %eps = llmc.constant dense<1.0e-05> : tensor<f32>
      %sq = llmc.pow %x, %two : (tensor<2x5x16xf32>, tensor<f32>) -> tensor<2x5x16xf32>
      %m = llmc.reduce_mean %sq {axes = array<i64: -1>, keepdims = true} : (tensor<2x5x16xf32>) -> tensor<2x5x1xf32>
      %a = llmc.add %m, %eps : (tensor<2x5x1xf32>, tensor<f32>) -> tensor<2x5x1xf32>
      %r = llmc.rsqrt %a : tensor<2x5x1xf32> -> tensor<2x5x1xf32>
      %n = llmc.mul %x, %r : (tensor<2x5x16xf32>, tensor<2x5x1xf32>) -> tensor<2x5x16xf32>
      %y = llmc.mul %n, %w : (tensor<2x5x16xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
      return %y : tensor<2x5x16xf32>
    }
    func.func @fused(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>) -> tensor<2x5x16xf32> {
      %y = llmc.rms_norm %x, %w {epsilon = 1.0e-05 : f32} : (tensor<2x5x16xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
      return %y : tensor<2x5x16xf32>
    })mlir";
  RefTensor x = random({2, 5, 16}, 1), w = random({16}, 2);
  auto prim = run(src, "prim", {x, w});
  auto fused = run(src, "fused", {x, w});
  ASSERT_EQ(prim.size(), 1u);
  ASSERT_EQ(fused.size(), 1u);
  expectClose(fused[0], prim[0], 1e-6);
}

TEST_F(ReferenceExecutorTest, RopeBothConventionsEqualTheirPrimitiveForms) {
  // half: x*cos + rotate_half(x)*sin with cos/sin duplicated to full width.
  // interleaved: pairs (x[2i], x[2i+1]) via reshape to [..., D/2, 2].
  const char *src = R"mlir(
    func.func @half_prim(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
      %c2 = llmc.concat %c, %c {axis = -1 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x8xf32>
      %s2 = llmc.concat %s, %s {axis = -1 : i64} : (tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x3x8xf32>
      %cu = llmc.reshape %c2 {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
      %su = llmc.reshape %s2 {shape = array<i64: 1, 1, 3, 8>} : (tensor<1x3x8xf32>) -> tensor<1x1x3x8xf32>
      %x1 = llmc.slice %x {starts = array<i64: 0>, ends = array<i64: 4>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
      %x2 = llmc.slice %x {starts = array<i64: 4>, ends = array<i64: 8>, axes = array<i64: 3>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4xf32>
      %nx2 = llmc.neg %x2 : tensor<1x2x3x4xf32> -> tensor<1x2x3x4xf32>
      %rot = llmc.concat %nx2, %x1 {axis = -1 : i64} : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> tensor<1x2x3x8xf32>
      %a = llmc.mul %x, %cu : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
      %b = llmc.mul %rot, %su : (tensor<1x2x3x8xf32>, tensor<1x1x3x8xf32>) -> tensor<1x2x3x8xf32>
      %y = llmc.add %a, %b : (tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x3x8xf32>
      return %y : tensor<1x2x3x8xf32>
    }
    func.func @half_fused(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
      %y = llmc.rope half %x, %c, %s : (tensor<1x2x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32>
      return %y : tensor<1x2x3x8xf32>
    }
    func.func @inter_prim(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
      %p = llmc.reshape %x {shape = array<i64: 1, 2, 3, 4, 2>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x3x4x2xf32>
      %a = llmc.slice %p {starts = array<i64: 0>, ends = array<i64: 1>, axes = array<i64: 4>} : (tensor<1x2x3x4x2xf32>) -> tensor<1x2x3x4x1xf32>
      %b = llmc.slice %p {starts = array<i64: 1>, ends = array<i64: 2>, axes = array<i64: 4>} : (tensor<1x2x3x4x2xf32>) -> tensor<1x2x3x4x1xf32>
      %cu = llmc.reshape %c {shape = array<i64: 1, 1, 3, 4, 1>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4x1xf32>
      %su = llmc.reshape %s {shape = array<i64: 1, 1, 3, 4, 1>} : (tensor<1x3x4xf32>) -> tensor<1x1x3x4x1xf32>
      %ac = llmc.mul %a, %cu : (tensor<1x2x3x4x1xf32>, tensor<1x1x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
      %bs = llmc.mul %b, %su : (tensor<1x2x3x4x1xf32>, tensor<1x1x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
      %bc = llmc.mul %b, %cu : (tensor<1x2x3x4x1xf32>, tensor<1x1x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
      %as = llmc.mul %a, %su : (tensor<1x2x3x4x1xf32>, tensor<1x1x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
      %ra = llmc.sub %ac, %bs : (tensor<1x2x3x4x1xf32>, tensor<1x2x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
      %rb = llmc.add %bc, %as : (tensor<1x2x3x4x1xf32>, tensor<1x2x3x4x1xf32>) -> tensor<1x2x3x4x1xf32>
      %r = llmc.concat %ra, %rb {axis = 4 : i64} : (tensor<1x2x3x4x1xf32>, tensor<1x2x3x4x1xf32>) -> tensor<1x2x3x4x2xf32>
      %y = llmc.reshape %r {shape = array<i64: 1, 2, 3, 8>} : (tensor<1x2x3x4x2xf32>) -> tensor<1x2x3x8xf32>
      return %y : tensor<1x2x3x8xf32>
    }
    func.func @inter_fused(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
      %y = llmc.rope interleaved %x, %c, %s : (tensor<1x2x3x8xf32>, tensor<1x3x4xf32>, tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32>
      return %y : tensor<1x2x3x8xf32>
    })mlir";
  RefTensor x = random({1, 2, 3, 8}, 3);
  RefTensor angles = random({1, 3, 4}, 4, 2.0);
  RefTensor c = angles, s = angles;
  for (size_t i = 0; i < angles.data.size(); ++i) {
    c.data[i] = float(std::cos(angles.data[i]));
    s.data[i] = float(std::sin(angles.data[i]));
  }
  for (const char *conv : {"half", "inter"}) {
    auto prim = run(src, std::string(conv) + "_prim", {x, c, s});
    auto fused = run(src, std::string(conv) + "_fused", {x, c, s});
    ASSERT_EQ(prim.size(), 1u) << conv;
    ASSERT_EQ(fused.size(), 1u) << conv;
    expectClose(fused[0], prim[0], 1e-6);
  }
}

TEST_F(ReferenceExecutorTest, LongRopeTablesFollowTheirChoice) {
  // LongRoPE's rope_cos_sin: the short set (inv_freq, factor 1) while
  // %long is false, the long one (long_inv_freq, factor 1.5) when true,
  // against cos/sin of p * f worked out here.
  const char *src = R"mlir(
    func.func @f(%pos: tensor<1x3xi64>, %long: tensor<i1>) -> (tensor<1x3x2xf32>, tensor<1x3x2xf32>) {
      %c, %s = llmc.rope_cos_sin half %pos long(%long) {dim = 4 : i64, theta = 1.0e4 : f64, inv_freq = array<f32: 1.0, 0.01>, long_inv_freq = array<f32: 0.5, 0.001>, long_attention_factor = 1.5 : f64} : (tensor<1x3xi64>, tensor<i1>) -> (tensor<1x3x2xf32>, tensor<1x3x2xf32>)
      return %c, %s : tensor<1x3x2xf32>, tensor<1x3x2xf32>
    })mlir";
  RefTensor pos({1, 3}, ElementKind::Int, {0, 5, 40});
  for (bool isLong : {false, true}) {
    RefTensor flag({}, ElementKind::Bool, {isLong ? 1.0 : 0.0});
    auto out = run(src, "f", {pos, flag});
    ASSERT_EQ(out.size(), 2u);
    const double f[2] = {isLong ? 0.5 : 1.0, isLong ? 0.001 : 0.01};
    const double factor = isLong ? 1.5 : 1.0;
    for (int t = 0; t < 3; ++t)
      for (int i = 0; i < 2; ++i) {
        const double angle = pos.data[size_t(t)] * f[i];
        EXPECT_NEAR(out[0].data[size_t(2 * t + i)], factor * std::cos(angle), 1e-5)
            << isLong << " " << t << " " << i;
        EXPECT_NEAR(out[1].data[size_t(2 * t + i)], factor * std::sin(angle), 1e-5)
            << isLong << " " << t << " " << i;
      }
  }
}

TEST_F(ReferenceExecutorTest, GqaCausalAttentionWithCacheEqualsItsPrimitiveForm) {
  // Hq = 4, Hkv = 2, D = 8, past P = 2, new S = 3. The primitive form:
  // repeat kv heads (expand + reshape), concat the cache, q k^T * scale +
  // causal mask, softmax, @ v.
  const char *src = R"mlir(
    func.func @prim(%q: tensor<1x4x3x8xf32>, %k: tensor<1x2x3x8xf32>, %v: tensor<1x2x3x8xf32>,
                    %pk: tensor<1x2x2x8xf32>, %pv: tensor<1x2x2x8xf32>, %mask: tensor<1x1x3x5xf32>)
        -> (tensor<1x4x3x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) {
      %kk = llmc.concat %pk, %k {axis = 2 : i64} : (tensor<1x2x2x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x5x8xf32>
      %vv = llmc.concat %pv, %v {axis = 2 : i64} : (tensor<1x2x2x8xf32>, tensor<1x2x3x8xf32>) -> tensor<1x2x5x8xf32>
      %k5 = llmc.reshape %kk {shape = array<i64: 1, 2, 1, 5, 8>} : (tensor<1x2x5x8xf32>) -> tensor<1x2x1x5x8xf32>
      %ke = llmc.expand %k5 : (tensor<1x2x1x5x8xf32>) -> tensor<1x2x2x5x8xf32>
      %kr = llmc.reshape %ke {shape = array<i64: 1, 4, 5, 8>} : (tensor<1x2x2x5x8xf32>) -> tensor<1x4x5x8xf32>
      %v5 = llmc.reshape %vv {shape = array<i64: 1, 2, 1, 5, 8>} : (tensor<1x2x5x8xf32>) -> tensor<1x2x1x5x8xf32>
      %ve = llmc.expand %v5 : (tensor<1x2x1x5x8xf32>) -> tensor<1x2x2x5x8xf32>
      %vr = llmc.reshape %ve {shape = array<i64: 1, 4, 5, 8>} : (tensor<1x2x2x5x8xf32>) -> tensor<1x4x5x8xf32>
      %kt = llmc.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x5x8xf32>) -> tensor<1x4x8x5xf32>
      %s = llmc.matmul %q, %kt : (tensor<1x4x3x8xf32>, tensor<1x4x8x5xf32>) -> tensor<1x4x3x5xf32>
      %scale = llmc.constant dense<0.353553385> : tensor<f32>
      %ss = llmc.mul %s, %scale : (tensor<1x4x3x5xf32>, tensor<f32>) -> tensor<1x4x3x5xf32>
      %sm = llmc.add %ss, %mask : (tensor<1x4x3x5xf32>, tensor<1x1x3x5xf32>) -> tensor<1x4x3x5xf32>
      %p = llmc.softmax %sm {axis = -1 : i64} : tensor<1x4x3x5xf32> -> tensor<1x4x3x5xf32>
      %o = llmc.matmul %p, %vr : (tensor<1x4x3x5xf32>, tensor<1x4x5x8xf32>) -> tensor<1x4x3x8xf32>
      return %o, %kk, %vv : tensor<1x4x3x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
    }
    func.func @fused(%q: tensor<1x4x3x8xf32>, %k: tensor<1x2x3x8xf32>, %v: tensor<1x2x3x8xf32>,
                     %pk: tensor<1x2x2x8xf32>, %pv: tensor<1x2x2x8xf32>, %mask: tensor<1x1x3x5xf32>)
        -> (tensor<1x4x3x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) {
      %o, %pk2, %pv2 = llmc.attention %q, %k, %v past(%pk, %pv) {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.353553385 : f32, causal = true} : (tensor<1x4x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>) -> (tensor<1x4x3x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
      return %o, %pk2, %pv2 : tensor<1x4x3x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
    })mlir";
  RefTensor q = random({1, 4, 3, 8}, 5), k = random({1, 2, 3, 8}, 6),
            v = random({1, 2, 3, 8}, 7), pk = random({1, 2, 2, 8}, 8),
            pv = random({1, 2, 2, 8}, 9);
  // Causal with past 2: query i sees keys 0..2+i.
  RefTensor mask({1, 1, 3, 5}, ElementKind::F32);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j)
      mask.data[i * 5 + j] = j > 2 + i ? -3.4028234663852886e38 : 0.0;
  auto prim = run(src, "prim", {q, k, v, pk, pv, mask});
  auto fused = run(src, "fused", {q, k, v, pk, pv, mask});
  ASSERT_EQ(prim.size(), 3u);
  ASSERT_EQ(fused.size(), 3u);
  for (int i = 0; i < 3; ++i)
    expectClose(fused[i], prim[i], 1e-6);
}

TEST_F(ReferenceExecutorTest, SwiGLUMergedAndSplitAgreeWithSilu) {
  const char *src = R"mlir(
    func.func @prim(%g: tensor<3x6xf32>, %u: tensor<3x6xf32>) -> tensor<3x6xf32> {
      %sg = llmc.sigmoid %g : tensor<3x6xf32> -> tensor<3x6xf32>
      %s = llmc.mul %g, %sg : (tensor<3x6xf32>, tensor<3x6xf32>) -> tensor<3x6xf32>
      %y = llmc.mul %s, %u : (tensor<3x6xf32>, tensor<3x6xf32>) -> tensor<3x6xf32>
      return %y : tensor<3x6xf32>
    }
    func.func @merged(%g: tensor<3x6xf32>, %u: tensor<3x6xf32>) -> tensor<3x6xf32> {
      %gu = llmc.concat %g, %u {axis = 1 : i64} : (tensor<3x6xf32>, tensor<3x6xf32>) -> tensor<3x12xf32>
      %y = llmc.swiglu %gu : (tensor<3x12xf32>) -> tensor<3x6xf32>
      return %y : tensor<3x6xf32>
    })mlir";
  RefTensor g = random({3, 6}, 10), u = random({3, 6}, 11);
  auto prim = run(src, "prim", {g, u});
  auto merged = run(src, "merged", {g, u});
  ASSERT_EQ(prim.size(), 1u);
  ASSERT_EQ(merged.size(), 1u);
  expectClose(merged[0], prim[0], 1e-6);
}

// llmc.moe against a naive computation written here from the op's
// description: ONNX Runtime's float router softmax, top-k by sorting
// (p, index) pairs in descending order (equal p: the higher index first),
// then each chosen expert's two projections in plain loops.
struct MoECase {
  std::string activation;    // the moe_activation keyword
  bool interleaved = true;   // swiglu's gate/linear columns
  bool normalize = false;
  double alpha = 1.0, beta = 0.0;
  std::optional<double> limit;
  bool biases = false;
  bool gated = false;        // fc3 (Mixtral's gated experts)
  bool fc3Biases = false;    // fc3_bias, with gated
  int64_t E = 4, k = 2, H = 8, I = 6;
  std::vector<int64_t> xShape, routerShape; // x's leading dims and router's
  bool dynamic = false;                     // x/router/result typed [?, ..., ?, N]
};

std::string tensorTy(const std::vector<int64_t> &lead, int64_t last, bool dynamic) {
  std::string s = "tensor<";
  for (int64_t d : lead)
    s += (dynamic ? std::string("?") : std::to_string(d)) + "x";
  return s + std::to_string(last) + "xf32>";
}

std::string moeSource(const MoECase &c) {
  const bool swiglu = c.activation == "swiglu";
  const int64_t F1 = swiglu ? 2 * c.I : c.I;
  const std::string xt = tensorTy(c.xShape, c.H, c.dynamic),
                    rt = tensorTy(c.routerShape, c.E, c.dynamic);
  std::string args = "%x: " + xt + ", %r: " + rt, operands = "%x, %r experts(",
              types = xt + ", " + rt;
  auto group = [&](const char *name, const std::string &type, bool last) {
    for (int64_t e = 0; e < c.E; ++e) {
      const std::string v = "%" + std::string(name) + std::to_string(e);
      args += ", " + v + ": " + type;
      operands += (e ? ", " : "") + v;
      types += ", " + type;
    }
    operands += last ? ")" : ") ";
  };
  group("w1_", "tensor<" + std::to_string(c.H) + "x" + std::to_string(F1) + "xf32>", false);
  operands += "(";
  group("w2_", "tensor<" + std::to_string(c.I) + "x" + std::to_string(c.H) + "xf32>", true);
  if (c.biases) {
    operands += " fc1_bias(";
    group("b1_", "tensor<" + std::to_string(F1) + "xf32>", true);
    operands += " fc2_bias(";
    group("b2_", "tensor<" + std::to_string(c.H) + "xf32>", true);
  }
  if (c.gated) {
    operands += " fc3(";
    group("w3_", "tensor<" + std::to_string(c.H) + "x" + std::to_string(c.I) + "xf32>", true);
  }
  if (c.fc3Biases) {
    operands += " fc3_bias(";
    group("b3_", "tensor<" + std::to_string(c.I) + "xf32>", true);
  }
  std::string attrs = "activation = #llmc<moe_activation " + c.activation +
                      ">, k = " + std::to_string(c.k) + " : i64";
  attrs += ", normalize = " + std::string(c.normalize ? "true" : "false");
  attrs += ", interleaved = " + std::string(c.interleaved ? "true" : "false");
  attrs += ", alpha = " + std::to_string(c.alpha) + " : f32";
  attrs += ", beta = " + std::to_string(c.beta) + " : f32";
  if (c.limit)
    attrs += ", limit = " + std::to_string(*c.limit) + " : f32";
  return "func.func @f(" + args + ") -> " + xt + " {\n  %y = llmc.moe " + operands +
         " {" + attrs + "} : (" + types + ") -> " + xt + "\n  return %y : " + xt + "\n}";
}

// Operands in the function's order: x, router, fc1..., fc2..., b1..., b2...,
// fc3..., b3... Also counts the swiglu values the limit clamped.
RefTensor naiveMoE(const MoECase &c, const std::vector<RefTensor> &a, int &clamped) {
  const bool swiglu = c.activation == "swiglu";
  const int64_t E = c.E, H = c.H, I = c.I, F1 = swiglu ? 2 * I : I;
  const RefTensor &x = a[0], &router = a[1];
  auto w1 = [&](int64_t e) -> const RefTensor & { return a[size_t(2 + e)]; };
  auto w2 = [&](int64_t e) -> const RefTensor & { return a[size_t(2 + E + e)]; };
  auto b1 = [&](int64_t e, int64_t n) { return c.biases ? a[size_t(2 + 2 * E + e)].data[size_t(n)] : 0.0; };
  auto b2 = [&](int64_t e, int64_t n) { return c.biases ? a[size_t(2 + 3 * E + e)].data[size_t(n)] : 0.0; };
  const int64_t fc3At = 2 + (c.biases ? 4 : 2) * E;
  auto w3 = [&](int64_t e) -> const RefTensor & { return a[size_t(fc3At + e)]; };
  auto b3 = [&](int64_t e, int64_t i) { return c.fc3Biases ? a[size_t(fc3At + E + e)].data[size_t(i)] : 0.0; };
  const int64_t T = x.numel() / H;
  RefTensor y(x.shape, ElementKind::F32);
  for (int64_t t = 0; t < T; ++t) {
    // ONNX Runtime's CPU kernel, step for step.
    std::vector<float> p(static_cast<size_t>(E));
    float mx = float(router.data[size_t(t * E)]);
    for (int64_t e = 1; e < E; ++e)
      mx = std::max(mx, float(router.data[size_t(t * E + e)]));
    float sum = 0;
    for (int64_t e = 0; e < E; ++e) {
      p[size_t(e)] = std::exp(float(router.data[size_t(t * E + e)]) - mx);
      sum += p[size_t(e)];
    }
    std::vector<std::pair<float, int64_t>> sorted;
    for (int64_t e = 0; e < E; ++e)
      sorted.push_back({p[size_t(e)] / sum, e});
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    double topSum = 0;
    for (int64_t j = 0; j < c.k; ++j)
      topSum += sorted[size_t(j)].first;
    for (int64_t j = 0; j < c.k; ++j) {
      const int64_t e = sorted[size_t(j)].second;
      const double w = c.normalize ? sorted[size_t(j)].first / topSum : sorted[size_t(j)].first;
      std::vector<double> f(static_cast<size_t>(F1)), h(static_cast<size_t>(I));
      for (int64_t n = 0; n < F1; ++n) {
        f[size_t(n)] = b1(e, n);
        for (int64_t m = 0; m < H; ++m)
          f[size_t(n)] += x.data[size_t(t * H + m)] * w1(e).data[size_t(m * F1 + n)];
      }
      for (int64_t i = 0; i < I; ++i) {
        const double v = f[size_t(i)];
        if (c.activation == "relu") {
          h[size_t(i)] = v > 0 ? v : 0;
        } else if (c.activation == "silu") {
          h[size_t(i)] = v * (1 / (1 + std::exp(-v)));
        } else if (c.activation == "gelu_tanh") {
          h[size_t(i)] = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        } else if (c.activation == "identity") {
          h[size_t(i)] = v;
        } else {
          double g = c.interleaved ? f[size_t(2 * i)] : f[size_t(i)];
          double l = c.interleaved ? f[size_t(2 * i + 1)] : f[size_t(I + i)];
          if (c.limit) {
            clamped += (g > *c.limit) + (l > *c.limit || l < -*c.limit);
            if (g > *c.limit)
              g = *c.limit;
            if (l > *c.limit)
              l = *c.limit;
            if (l < -*c.limit)
              l = -*c.limit;
          }
          h[size_t(i)] = g * (1 / (1 + std::exp(-c.alpha * g))) * (l + c.beta);
        }
        if (c.gated) {
          double u = b3(e, i);
          for (int64_t m = 0; m < H; ++m)
            u += x.data[size_t(t * H + m)] * w3(e).data[size_t(m * I + i)];
          h[size_t(i)] *= u;
        }
      }
      for (int64_t m = 0; m < H; ++m) {
        double o = b2(e, m);
        for (int64_t i = 0; i < I; ++i)
          o += h[size_t(i)] * w2(e).data[size_t(i * H + m)];
        y.data[size_t(t * H + m)] += w * o;
      }
    }
  }
  y.roundToKind();
  return y;
}

TEST_F(ReferenceExecutorTest, MoEEqualsANaiveComputation) {
  std::vector<MoECase> cases;
  // gpt-oss's swiglu, both column layouts; x [2, 3, H] against a [6, E]
  // router; then a dynamically typed [?, ?, H] x with [?, ?, E] router.
  for (bool interleaved : {true, false})
    for (bool dynamic : {false, true}) {
      MoECase c;
      c.activation = "swiglu";
      c.interleaved = interleaved;
      c.normalize = !dynamic;
      c.alpha = 1.702;
      c.beta = 1.0;
      c.limit = 7.0;
      c.biases = true;
      c.xShape = {2, 3};
      c.routerShape = dynamic ? std::vector<int64_t>{2, 3} : std::vector<int64_t>{6};
      c.dynamic = dynamic;
      cases.push_back(c);
    }
  // Elementwise activations, E = 3, no biases, rank-2 x and router.
  for (const char *act : {"relu", "silu", "gelu_tanh", "identity"}) {
    MoECase c;
    c.activation = act;
    c.E = 3;
    c.normalize = std::string(act) == "silu";
    c.xShape = {5};
    c.routerShape = {5};
    cases.push_back(c);
  }
  // Mixtral's gated experts: silu(x @ fc1 + b1) * (x @ fc3 + b3), E = 3,
  // k = 2; fc3's biases without fc1/fc2's, then fc1/fc2's without fc3's.
  for (bool fc3Biases : {true, false}) {
    MoECase c;
    c.activation = "silu";
    c.gated = true;
    c.fc3Biases = fc3Biases;
    c.biases = !fc3Biases;
    c.E = 3;
    c.k = 2;
    c.normalize = fc3Biases;
    c.xShape = {5};
    c.routerShape = {5};
    cases.push_back(c);
  }
  uint32_t seed = 100;
  for (const MoECase &c : cases) {
    const std::string name = c.activation +
                             (c.activation != "swiglu" ? "" : c.interleaved ? " interleaved" : " chunked") +
                             (c.dynamic ? " dynamic" : "") + (c.gated ? " fc3" : "") +
                             (c.fc3Biases ? " fc3_bias" : "");
    const int64_t F1 = c.activation == "swiglu" ? 2 * c.I : c.I;
    std::vector<int64_t> xs = c.xShape, rs = c.routerShape;
    xs.push_back(c.H);
    rs.push_back(c.E);
    // Values large enough that swiglu's limit of 7 clamps a good share of
    // the gates and linears (fc1 outputs have a standard deviation of ~8).
    std::vector<RefTensor> args = {random(xs, seed++, 2.0), random(rs, seed++, 1.5)};
    for (int64_t e = 0; e < c.E; ++e)
      args.push_back(random({c.H, F1}, seed++, 1.5));
    for (int64_t e = 0; e < c.E; ++e)
      args.push_back(random({c.I, c.H}, seed++, 0.5));
    if (c.biases) {
      for (int64_t e = 0; e < c.E; ++e)
        args.push_back(random({F1}, seed++));
      for (int64_t e = 0; e < c.E; ++e)
        args.push_back(random({c.H}, seed++));
    }
    if (c.gated)
      for (int64_t e = 0; e < c.E; ++e)
        args.push_back(random({c.H, c.I}, seed++, 1.5));
    if (c.fc3Biases)
      for (int64_t e = 0; e < c.E; ++e)
        args.push_back(random({c.I}, seed++));
    // Exact ties: row 0's logits all equal (experts E-1 and E-2 win), row
    // 1's top two equal at experts 0 and 2 (expert 2 first).
    for (int64_t e = 0; e < c.E; ++e) {
      args[1].data[size_t(e)] = 0.5;
      args[1].data[size_t(c.E + e)] = e == 0 || e == 2 ? 1.25 : -1.0;
    }
    int clamped = 0;
    RefTensor expected = naiveMoE(c, args, clamped);
    if (c.limit)
      EXPECT_GT(clamped, 10) << name << ": the limit should matter";
    auto out = run(moeSource(c), "f", args);
    ASSERT_EQ(out.size(), 1u) << name << "\n" << moeSource(c);
    // Both in double but for the float router softmax, rounded to f32 once.
    SCOPED_TRACE(name);
    expectClose(out[0], expected, 1e-6);
  }
}

TEST_F(ReferenceExecutorTest, MoETiesGoToTheHigherExpert) {
  // One expert per token (k = 1), identity experts whose output is their
  // index: equal logits must pick the highest index among them.
  const char *src = R"mlir(
    func.func @f(%x: tensor<3x1xf32>, %r: tensor<3x3xf32>, %w1: tensor<1x1xf32>, %w2: tensor<1x1xf32>,
                 %b0: tensor<1xf32>, %b1: tensor<1xf32>, %b2: tensor<1xf32>) -> tensor<3x1xf32> {
      %y = llmc.moe %x, %r experts(%w1, %w1, %w1) (%w2, %w2, %w2) fc2_bias(%b0, %b1, %b2)
          {activation = #llmc<moe_activation identity>, k = 1 : i64, normalize = true}
          : (tensor<3x1xf32>, tensor<3x3xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>,
             tensor<1x1xf32>, tensor<1x1xf32>, tensor<1x1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>)
          -> tensor<3x1xf32>
      return %y : tensor<3x1xf32>
    })mlir";
  RefTensor x({3, 1}, ElementKind::F32, {0, 0, 0});
  RefTensor r({3, 3}, ElementKind::F32, {2, 2, 2, 3, 1, 3, 5, 5, -1});
  RefTensor w({1, 1}, ElementKind::F32, {1});
  auto out = run(src, "f", {x, r, w, w, RefTensor({1}, ElementKind::F32, {0}),
                            RefTensor({1}, ElementKind::F32, {1}),
                            RefTensor({1}, ElementKind::F32, {2})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, (std::vector<double>{2, 2, 1}));
}

TEST_F(ReferenceExecutorTest, ErrorsNameTheOp) {
  const char *src = R"mlir(
    func.func @f(%x: tensor<2x3xf32>, %ids: tensor<1xi64>) -> tensor<1x3xf32> {
      %g = llmc.gather %x, %ids {axis = 0 : i64} : (tensor<2x3xf32>, tensor<1xi64>) -> tensor<1x3xf32>
      return %g : tensor<1x3xf32>
    })mlir";
  module_ = mlir::parseSourceString<mlir::ModuleOp>(src, &ctx_);
  ASSERT_TRUE(module_);
  ReferenceExecutor exec;
  auto out = exec.run(module_->lookupSymbol<mlir::func::FuncOp>("f"),
                      {RefTensor({2, 3}, ElementKind::F32),
                       RefTensor({1}, ElementKind::Int, {7})});
  ASSERT_FALSE(static_cast<bool>(out));
  std::string msg = llvm::toString(out.takeError());
  EXPECT_NE(msg.find("'llmc.gather'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("index 7 out of range"), std::string::npos) << msg;
}

} // namespace
