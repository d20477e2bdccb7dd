//===- FusionEquivalenceTest.cpp - Fusion preserves the model's outputs ----===//
//
// Each exported model is imported, copied, and the copy run through
// `llmc-fuse-transformer`. The reference executor then runs both on the
// inputs of the PyTorch reference saved by the export script (prefill,
// decode steps through the KV cache, chunked prefill, a left-padded batch):
// the fused logits must equal the unfused ones (<= 1e-5 relative) and both
// must match PyTorch. The fused module must contain the fused ops and none
// of the primitives they replace.
//
// Models: the random GQA Llama fixtures in both RoPE conventions
// (test/fixtures/onnx) and stories260K, exported on the fly from the shared
// llama2.c checkpoint (skipped when it or Python is not available).
//
//===----------------------------------------------------------------------===//

#include "ReferenceExecutor.h"

#ifdef LLMC_HAVE_ONNX_IMPORTER
#include "llmc/Frontend/ONNXImporter.h"
#endif
#include "llmc/InitAll.h"
#include "llmc/LLMCOps.h"
#include "llmc/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

using namespace llmc::ref;

namespace {

/// max |a - b| / max |b|.
double relativeError(llvm::ArrayRef<double> a, llvm::ArrayRef<double> b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  if (std::getenv("LLMC_TEST_VERBOSE"))
    fprintf(stderr, "relerr %g (max %g)\n", num / std::max(den, 1e-30), den);
  return a.size() == b.size() ? num / std::max(den, 1e-30) : INFINITY;
}

#ifdef LLMC_HAVE_ONNX_IMPORTER
/// Row `pos` of batch `b` of logits [B, S, V].
std::vector<double> row(const RefTensor &logits, int64_t b, int64_t pos) {
  int64_t s = logits.shape[1], v = logits.shape[2];
  auto begin = logits.data.begin() + (b * s + pos) * v;
  return std::vector<double>(begin, begin + v);
}

struct ModelInfo {
  std::string onnx, ref;
  int64_t nLayers = 0, nKvHeads = 0, headDim = 0, vocab = 0;
};

/// Reads <stem>.config.json next to the model.
std::optional<ModelInfo> loadInfo(const std::string &dir, const std::string &stem) {
  ModelInfo info;
  info.onnx = dir + "/" + stem + ".onnx";
  info.ref = dir + "/" + stem + ".ref.json";
  auto buf = llvm::MemoryBuffer::getFile(dir + "/" + stem + ".config.json");
  if (!buf || !llvm::sys::fs::exists(info.onnx) || !llvm::sys::fs::exists(info.ref))
    return std::nullopt;
  auto json = llvm::json::parse((*buf)->getBuffer());
  if (!json) {
    llvm::consumeError(json.takeError());
    return std::nullopt;
  }
  const llvm::json::Object *o = json->getAsObject();
  info.nLayers = o->getInteger("n_layers").value_or(0);
  info.nKvHeads = o->getInteger("n_kv_heads").value_or(0);
  info.headDim = o->getInteger("head_dim").value_or(0);
  info.vocab = o->getInteger("vocab_size").value_or(0);
  return info;
}

std::vector<double> numbers(const llvm::json::Value *v) {
  std::vector<double> out;
  if (const llvm::json::Array *a = v ? v->getAsArray() : nullptr)
    for (const llvm::json::Value &e : *a)
      out.push_back(e.getAsNumber().value_or(NAN));
  return out;
}

class FusionEquivalence : public ::testing::TestWithParam<std::string> {
protected:
  static void SetUpTestSuite() {
    // stories260K: exported once per run (a few seconds).
    std::string shared = LLMC_SHARED_DIR;
    std::string ckpt = shared + "/models/stories260K/stories260K.bin";
    llvm::SmallString<128> dir;
    if (!llvm::sys::fs::exists(ckpt) ||
        llvm::sys::fs::createUniqueDirectory("llmc-fusion-test", dir))
      return;
    storiesDir() = dir.str().str();
    std::string cmd = std::string(LLMC_PYTHON) + " " + LLMC_EXPORT_SCRIPT +
                      " --llama2c " + ckpt + " --name stories260K -o " +
                      storiesDir() +
                      " -q --reference --ref-prompt-len 16 --ref-new-tokens 4"
                      " > " + storiesDir() + "/export.log 2>&1";
    if (std::system(cmd.c_str()) != 0)
      storiesDir().clear();
  }
  static void TearDownTestSuite() {
    if (!storiesDir().empty())
      llvm::sys::fs::remove_directories(storiesDir());
  }
  static std::string &storiesDir() {
    static std::string dir;
    return dir;
  }

  FusionEquivalence() {
    mlir::DialectRegistry registry;
    llmc::registerAllDialects(registry);
    ctx_.appendDialectRegistry(registry);
    ctx_.loadAllAvailableDialects();
  }

  /// Imports the model and fuses a copy. False (with a failure) on error.
  bool prepare(const ModelInfo &info, bool lastPosition = false) {
    auto module = llmc::importONNX(ctx_, info.onnx);
    if (!module) {
      ADD_FAILURE() << llvm::toString(module.takeError());
      return false;
    }
    original_ = std::move(*module);
    fused_ = mlir::OwningOpRef<mlir::ModuleOp>(original_->clone());
    mlir::PassManager pm(&ctx_);
    llmc::FuseTransformerOptions options;
    options.lastPositionLogits = lastPosition;
    llmc::buildFuseTransformerPipeline(pm, options);
    if (mlir::failed(pm.run(*fused_))) {
      ADD_FAILURE() << "the fusion pipeline failed";
      return false;
    }
    return true;
  }

  mlir::func::FuncOp entry(mlir::ModuleOp m) {
    return m.lookupSymbol<mlir::func::FuncOp>("main");
  }

  std::vector<RefTensor> run(mlir::ModuleOp m, llvm::ArrayRef<RefTensor> inputs) {
    ReferenceExecutor exec;
    auto out = exec.run(entry(m), inputs);
    if (!out) {
      ADD_FAILURE() << llvm::toString(out.takeError());
      return {};
    }
    return std::move(*out);
  }

  /// input_ids [B, S], attention_mask [B, P+S], position_ids [B, S] and the
  /// caches (empty when `past` is empty).
  std::vector<RefTensor> inputs(const ModelInfo &info,
                                const std::vector<std::vector<double>> &ids,
                                const std::vector<std::vector<double>> &mask,
                                const std::vector<std::vector<double>> &pos,
                                llvm::ArrayRef<RefTensor> past = {}) {
    int64_t b = ids.size(), s = ids[0].size(), t = mask[0].size();
    auto flat = [](const std::vector<std::vector<double>> &rows) {
      std::vector<double> out;
      for (const auto &r : rows)
        out.insert(out.end(), r.begin(), r.end());
      return out;
    };
    std::vector<RefTensor> in = {RefTensor({b, s}, ElementKind::Int, flat(ids)),
                                 RefTensor({b, t}, ElementKind::Int, flat(mask)),
                                 RefTensor({b, s}, ElementKind::Int, flat(pos))};
    for (int64_t i = 0; i < 2 * info.nLayers; ++i)
      in.push_back(past.empty() ? RefTensor({b, info.nKvHeads, 0, info.headDim},
                                            ElementKind::F32)
                                : past[i]);
    return in;
  }

  mlir::MLIRContext ctx_;
  mlir::OwningOpRef<mlir::ModuleOp> original_, fused_;
};

std::optional<ModelInfo> infoFor(const std::string &name, const std::string &storiesDir) {
  if (name == "stories260K")
    return storiesDir.empty() ? std::nullopt : loadInfo(storiesDir, name);
  return loadInfo(LLMC_FIXTURES_DIR, name);
}

TEST_P(FusionEquivalence, OnlyFusedOpsRemain) {
  auto info = infoFor(GetParam(), storiesDir());
  if (!info)
    GTEST_SKIP() << GetParam() << " is not available";
  ASSERT_TRUE(prepare(*info));
  llvm::StringMap<int> counts;
  entry(*fused_).walk([&](mlir::Operation *op) { ++counts[op->getName().getStringRef()]; });
  EXPECT_EQ(counts["llmc.attention"], info->nLayers);
  EXPECT_EQ(counts["llmc.rope"], 2 * info->nLayers);
  EXPECT_EQ(counts["llmc.rope_cos_sin"], 1);
  EXPECT_EQ(counts["llmc.swiglu"], info->nLayers);
  EXPECT_EQ(counts["llmc.rms_norm"], 2 * info->nLayers + 1);
  // q/k/v and gate/up merged; wo, down, lm_head.
  EXPECT_EQ(counts["llmc.merged_matmul"], 2 * info->nLayers);
  EXPECT_EQ(counts["llmc.matmul"], 2 * info->nLayers + 1);
  for (const char *prim :
       {"llmc.pow", "llmc.reduce_mean", "llmc.sqrt", "llmc.rsqrt", "llmc.div",
        "llmc.reciprocal", "llmc.sigmoid", "llmc.silu", "llmc.softmax",
        "llmc.neg", "llmc.slice", "llmc.sin", "llmc.cos", "llmc.expand",
        "llmc.where", "llmc.range", "llmc.less_equal", "llmc.and", "llmc.not",
        "llmc.equal", "llmc.shape_of", "llmc.sub", "llmc.mul", "llmc.reshape",
        "llmc.split", "llmc.concat", "llmc.cast"})
    EXPECT_EQ(counts[prim], 0) << prim;
  // The only transpose left is the tied lm_head's weight transpose.
  EXPECT_LE(counts["llmc.transpose"], 1);
}

TEST_P(FusionEquivalence, PrefillAndDecodeMatchUnfusedAndPyTorch) {
  auto info = infoFor(GetParam(), storiesDir());
  if (!info)
    GTEST_SKIP() << GetParam() << " is not available";
  ASSERT_TRUE(prepare(*info));
  auto buf = llvm::MemoryBuffer::getFile(info->ref);
  ASSERT_TRUE(static_cast<bool>(buf));
  auto json = llvm::json::parse((*buf)->getBuffer());
  ASSERT_TRUE(static_cast<bool>(json)) << llvm::toString(json.takeError());
  const llvm::json::Object &ref = *json->getAsObject();

  // Prefill of the prompt.
  std::vector<double> prompt = numbers(ref.get("prompt_ids"));
  int64_t s = prompt.size();
  std::vector<double> positions(s), ones(s, 1.0);
  for (int64_t i = 0; i < s; ++i)
    positions[i] = i;
  auto in = inputs(*info, {prompt}, {ones}, {positions});
  auto before = run(*original_, in);
  auto after = run(*fused_, in);
  ASSERT_EQ(before.size(), after.size());
  ASSERT_EQ(after.size(), size_t(1 + 2 * info->nLayers));
  for (size_t i = 0; i < after.size(); ++i) {
    ASSERT_EQ(after[i].shape, before[i].shape) << "result " << i;
    EXPECT_LE(relativeError(after[i].data, before[i].data), 1e-5) << "result " << i;
  }
  const llvm::json::Object *prefill = ref.getObject("prefill_logits");
  const llvm::json::Array *values = prefill->getArray("values");
  std::vector<double> refPos = numbers(prefill->get("positions"));
  for (size_t i = 0; i < refPos.size(); ++i)
    EXPECT_LE(relativeError(row(after[0], 0, refPos[i]), numbers(&(*values)[i])), 1e-4)
        << "prefill position " << refPos[i];

  // Greedy decode steps through the KV cache (step 0 is the prefill).
  const llvm::json::Object *greedy = ref.getObject("greedy");
  std::vector<double> generated = numbers(greedy->get("generated_ids"));
  const llvm::json::Array *stepLogits = greedy->getArray("step_logits");
  EXPECT_LE(relativeError(row(after[0], 0, s - 1), numbers(&(*stepLogits)[0])), 1e-4);
  std::vector<RefTensor> pastBefore(before.begin() + 1, before.end());
  std::vector<RefTensor> pastAfter(after.begin() + 1, after.end());
  for (size_t step = 1; step < std::min<size_t>(stepLogits->size(), 4); ++step) {
    int64_t p = s + step - 1;
    std::vector<double> mask(p + 1, 1.0);
    auto b = run(*original_, inputs(*info, {{generated[step - 1]}}, {mask},
                                    {{double(p)}}, pastBefore));
    auto a = run(*fused_, inputs(*info, {{generated[step - 1]}}, {mask},
                                 {{double(p)}}, pastAfter));
    ASSERT_EQ(a.size(), b.size());
    ASSERT_FALSE(a.empty());
    EXPECT_LE(relativeError(a[0].data, b[0].data), 1e-5) << "step " << step;
    EXPECT_LE(relativeError(row(a[0], 0, 0), numbers(&(*stepLogits)[step])), 1e-4)
        << "step " << step;
    pastBefore.assign(b.begin() + 1, b.end());
    pastAfter.assign(a.begin() + 1, a.end());
  }
}

TEST_P(FusionEquivalence, PaddedBatchMatchesPyTorch) {
  auto info = infoFor(GetParam(), storiesDir());
  if (!info)
    GTEST_SKIP() << GetParam() << " is not available";
  ASSERT_TRUE(prepare(*info));
  auto buf = llvm::MemoryBuffer::getFile(info->ref);
  ASSERT_TRUE(static_cast<bool>(buf));
  auto json = llvm::json::parse((*buf)->getBuffer());
  ASSERT_TRUE(static_cast<bool>(json));
  const llvm::json::Object *padded = json->getAsObject()->getObject("padded_batch");
  if (!padded)
    GTEST_SKIP() << "no padded-batch reference";
  auto rows = [&](llvm::StringRef key) {
    std::vector<std::vector<double>> out;
    for (const llvm::json::Value &r : *padded->getArray(key))
      out.push_back(numbers(&r));
    return out;
  };
  auto in = inputs(*info, rows("input_ids"), rows("attention_mask"), rows("position_ids"));
  auto before = run(*original_, in);
  auto after = run(*fused_, in);
  ASSERT_FALSE(after.empty());
  ASSERT_FALSE(before.empty());
  std::vector<double> positions = numbers(padded->get("positions"));
  const llvm::json::Array *last = padded->getArray("last_logits");
  for (int64_t b = 0; b < int64_t(last->size()); ++b) {
    int64_t pos = positions.size() == 1 ? positions[0] : positions[b];
    std::vector<double> fused = row(after[0], b, pos);
    EXPECT_LE(relativeError(fused, row(before[0], b, pos)), 1e-5) << "batch " << b;
    EXPECT_LE(relativeError(fused, numbers(&(*last)[b])), 1e-4) << "batch " << b;
  }
}

TEST_P(FusionEquivalence, LastPositionLogitsAreTheLastRow) {
  auto info = infoFor(GetParam(), storiesDir());
  if (!info)
    GTEST_SKIP() << GetParam() << " is not available";
  ASSERT_TRUE(prepare(*info, /*lastPosition=*/true));
  std::vector<double> ids = {1, 5, 9, 13, 17}, ones(5, 1.0), pos = {0, 1, 2, 3, 4};
  auto in = inputs(*info, {ids}, {ones}, {pos});
  auto before = run(*original_, in);
  auto after = run(*fused_, in);
  ASSERT_FALSE(after.empty());
  ASSERT_FALSE(before.empty());
  ASSERT_EQ(after[0].shape, (std::vector<int64_t>{1, 1, info->vocab}));
  EXPECT_LE(relativeError(after[0].data, row(before[0], 0, 4)), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Models, FusionEquivalence,
                         ::testing::Values("llama_interleaved_fp32",
                                           "llama_half_fp32", "stories260K"),
                         [](const auto &info) { return info.param; });

#endif // LLMC_HAVE_ONNX_IMPORTER

/// Static-shaped primitive forms (no importer involved): each function is run
/// on random inputs before and after the pipeline.
TEST(FusionEquivalenceSmall, PrimitiveFormsFuseAndAgree) {
  const char *src = R"mlir(
    func.func @rope_pair_interleaved(%x: tensor<1x2x3x8xf32>, %c: tensor<1x3x4xf32>, %s: tensor<1x3x4xf32>) -> tensor<1x2x3x8xf32> {
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
    func.func @layer_norm_gelu(%x: tensor<2x5x16xf32>, %w: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<2x5x16xf32> {
      %two = llmc.constant dense<2.0> : tensor<f32>
      %eps = llmc.constant dense<1.0e-05> : tensor<f32>
      %mu = llmc.reduce_mean %x {axes = array<i64: -1>} : (tensor<2x5x16xf32>) -> tensor<2x5x1xf32>
      %d = llmc.sub %x, %mu : (tensor<2x5x16xf32>, tensor<2x5x1xf32>) -> tensor<2x5x16xf32>
      %sq = llmc.pow %d, %two : (tensor<2x5x16xf32>, tensor<f32>) -> tensor<2x5x16xf32>
      %var = llmc.reduce_mean %sq {axes = array<i64: -1>} : (tensor<2x5x16xf32>) -> tensor<2x5x1xf32>
      %a = llmc.add %var, %eps : (tensor<2x5x1xf32>, tensor<f32>) -> tensor<2x5x1xf32>
      %s = llmc.sqrt %a : tensor<2x5x1xf32> -> tensor<2x5x1xf32>
      %n = llmc.div %d, %s : (tensor<2x5x16xf32>, tensor<2x5x1xf32>) -> tensor<2x5x16xf32>
      %nw = llmc.mul %n, %w : (tensor<2x5x16xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
      %h = llmc.add %nw, %b : (tensor<2x5x16xf32>, tensor<16xf32>) -> tensor<2x5x16xf32>
      %three = llmc.constant dense<3.0> : tensor<f32>
      %k = llmc.constant dense<4.471500e-02> : tensor<f32>
      %c = llmc.constant dense<0.797884583> : tensor<f32>
      %one = llmc.constant dense<1.0> : tensor<f32>
      %half = llmc.constant dense<0.5> : tensor<f32>
      %h3 = llmc.pow %h, %three : (tensor<2x5x16xf32>, tensor<f32>) -> tensor<2x5x16xf32>
      %kh3 = llmc.mul %k, %h3 : (tensor<f32>, tensor<2x5x16xf32>) -> tensor<2x5x16xf32>
      %in = llmc.add %h, %kh3 : (tensor<2x5x16xf32>, tensor<2x5x16xf32>) -> tensor<2x5x16xf32>
      %ci = llmc.mul %c, %in : (tensor<f32>, tensor<2x5x16xf32>) -> tensor<2x5x16xf32>
      %t = llmc.tanh %ci : tensor<2x5x16xf32> -> tensor<2x5x16xf32>
      %tp = llmc.add %t, %one : (tensor<2x5x16xf32>, tensor<f32>) -> tensor<2x5x16xf32>
      %hh = llmc.mul %h, %half : (tensor<2x5x16xf32>, tensor<f32>) -> tensor<2x5x16xf32>
      %y = llmc.mul %hh, %tp : (tensor<2x5x16xf32>, tensor<2x5x16xf32>) -> tensor<2x5x16xf32>
      return %y : tensor<2x5x16xf32>
    }
    func.func @masked_fill_causal_attention(%q: tensor<1x4x3x8xf32>, %k: tensor<1x2x3x8xf32>, %v: tensor<1x2x3x8xf32>) -> tensor<1x4x3x8xf32> {
      %c0 = llmc.constant dense<0> : tensor<i64>
      %c1 = llmc.constant dense<1> : tensor<i64>
      %c3 = llmc.constant dense<3> : tensor<i64>
      %r = llmc.range %c0, %c3, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<3xi64>
      %qi = llmc.reshape %r {shape = array<i64: 3, 1>} : (tensor<3xi64>) -> tensor<3x1xi64>
      %ki = llmc.reshape %r {shape = array<i64: 1, 3>} : (tensor<3xi64>) -> tensor<1x3xi64>
      %future = llmc.greater %ki, %qi : (tensor<1x3xi64>, tensor<3x1xi64>) -> tensor<3x3xi1>
      %k5 = llmc.reshape %k {shape = array<i64: 1, 2, 1, 3, 8>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x1x3x8xf32>
      %ke = llmc.expand %k5 : (tensor<1x2x1x3x8xf32>) -> tensor<1x2x2x3x8xf32>
      %kr = llmc.reshape %ke {shape = array<i64: 1, 4, 3, 8>} : (tensor<1x2x2x3x8xf32>) -> tensor<1x4x3x8xf32>
      %v5 = llmc.reshape %v {shape = array<i64: 1, 2, 1, 3, 8>} : (tensor<1x2x3x8xf32>) -> tensor<1x2x1x3x8xf32>
      %ve = llmc.expand %v5 : (tensor<1x2x1x3x8xf32>) -> tensor<1x2x2x3x8xf32>
      %vr = llmc.reshape %ve {shape = array<i64: 1, 4, 3, 8>} : (tensor<1x2x2x3x8xf32>) -> tensor<1x4x3x8xf32>
      %kt = llmc.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x3x8xf32>) -> tensor<1x4x8x3xf32>
      %s = llmc.matmul %q, %kt : (tensor<1x4x3x8xf32>, tensor<1x4x8x3xf32>) -> tensor<1x4x3x3xf32>
      %c = llmc.constant dense<0.353553385> : tensor<f32>
      %ss = llmc.mul %s, %c : (tensor<1x4x3x3xf32>, tensor<f32>) -> tensor<1x4x3x3xf32>
      %ninf = llmc.constant dense<0xFF800000> : tensor<f32>
      %m = llmc.where %future, %ninf, %ss : (tensor<3x3xi1>, tensor<f32>, tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
      %p = llmc.softmax %m : tensor<1x4x3x3xf32> -> tensor<1x4x3x3xf32>
      %o = llmc.matmul %p, %vr : (tensor<1x4x3x3xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x3x8xf32>
      return %o : tensor<1x4x3x8xf32>
    })mlir";
  mlir::MLIRContext ctx;
  mlir::DialectRegistry registry;
  llmc::registerAllDialects(registry);
  ctx.appendDialectRegistry(registry);
  ctx.loadAllAvailableDialects();
  auto original = mlir::parseSourceString<mlir::ModuleOp>(src, &ctx);
  ASSERT_TRUE(original);
  mlir::OwningOpRef<mlir::ModuleOp> fused(original->clone());
  mlir::PassManager pm(&ctx);
  llmc::buildFuseTransformerPipeline(pm, llmc::FuseTransformerOptions());
  ASSERT_TRUE(mlir::succeeded(pm.run(*fused)));
  const std::pair<const char *, const char *> expected[] = {
      {"rope_pair_interleaved", "llmc.rope"},
      {"layer_norm_gelu", "llmc.gelu"},
      {"masked_fill_causal_attention", "llmc.attention"}};
  uint32_t seed = 1;
  for (const auto &entry : expected) {
    const char *name = entry.first, *fusedOp = entry.second;
    auto before = original->lookupSymbol<mlir::func::FuncOp>(name);
    auto after = fused->lookupSymbol<mlir::func::FuncOp>(name);
    ASSERT_TRUE(before && after) << name;
    bool found = false;
    after.walk([&](mlir::Operation *op) { found |= op->getName().getStringRef() == fusedOp; });
    EXPECT_TRUE(found) << name << " has no " << fusedOp;
    std::vector<RefTensor> args;
    for (mlir::Type t : before.getArgumentTypes()) {
      auto shape = mlir::cast<mlir::RankedTensorType>(t).getShape();
      RefTensor r(std::vector<int64_t>(shape.begin(), shape.end()), ElementKind::F32);
      std::mt19937 rng(seed++);
      std::normal_distribution<double> dist(0.0, 1.0);
      for (double &v : r.data)
        v = float(dist(rng));
      args.push_back(std::move(r));
    }
    ReferenceExecutor exec;
    auto b = exec.run(before, args);
    auto a = exec.run(after, args);
    ASSERT_TRUE(static_cast<bool>(b)) << llvm::toString(b.takeError());
    ASSERT_TRUE(static_cast<bool>(a)) << llvm::toString(a.takeError());
    EXPECT_LE(relativeError((*a)[0].data, (*b)[0].data), 1e-5) << name;
  }
}

} // namespace
