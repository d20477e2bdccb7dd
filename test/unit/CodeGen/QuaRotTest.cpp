//===- QuaRotTest.cpp - Residual-stream rotation folded into the weights --===//
//
// `quarot` on the one-layer Llama of TinyLlama.h: the plan's residual stream
// (which slot reads and which writes it), the folded fp32 bundle against the
// reference executor on the unfolded IR, the online rotations of the matmuls
// off the stream, and the fallback when the dataflow forbids folding.
//
//===----------------------------------------------------------------------===//

#include "ReferenceExecutor.h"
#include "TinyLlama.h"

#include "llmc/CodeGen/Compile.h"
#include "llmc/CodeGen/ResidualStream.h"
#include "llmc/InitAll.h"
#include "llmc/Runtime/Model.h"
#include "llmc/Target/Target.h"
#include "llmc/Target/TargetAttr.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace llmc;

namespace {

const std::vector<int32_t> kTokens = {1, 5, 9, 2, 33, 17, 4, 4, 12, 39, 0, 21};

class QuaRotTest : public ::testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> dir;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("llmc-quarot-test", dir));
    dir_ = std::string(dir);
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    ctx_.appendDialectRegistry(registry);
    ctx_.loadAllAvailableDialects();
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir_); }

  /// Parses the tiny Llama of `shape`, with `from` replaced by `to` in its IR.
  void load(const test::TinyLlamaShape &shape, const std::string &from = "",
            const std::string &to = "") {
    shape_ = shape;
    std::string text = test::makeTinyLlama(dir_ + "/w.bin", shape);
    if (!from.empty()) {
      size_t at = text.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      text.replace(at, from.size(), to);
    }
    module_ = mlir::parseSourceString<mlir::ModuleOp>(text, &ctx_);
    ASSERT_TRUE(module_) << text;
    auto host = detectHost();
    ASSERT_TRUE(static_cast<bool>(host));
    (*module_)->setAttr(kTargetAttrName, toTargetAttr(&ctx_, *host));
  }

  /// Compiles with `recipe`; the progress lines go to `log_`.
  std::unique_ptr<runtime::Model> compile(const std::string &name,
                                          const codegen::QuantRecipe &recipe) {
    codegen::CompileOptions opts;
    opts.recipe = recipe;
    opts.maxContext = 32;
    opts.progress = [this](llvm::StringRef l) { log_ += l.str() + "\n"; };
    std::string path = dir_ + "/" + name;
    if (llvm::Error e = codegen::compileToBundle(*module_, opts, path)) {
      ADD_FAILURE() << llvm::toString(std::move(e));
      return nullptr;
    }
    auto model = runtime::Model::load(path);
    if (!model) {
      ADD_FAILURE() << llvm::toString(model.takeError());
      return nullptr;
    }
    return std::move(*model);
  }

  /// Largest |logit| and largest |difference| of every position's logits
  /// from the reference executor on the unfolded IR.
  std::pair<double, double> compareWithReference(runtime::Model &model) {
    using namespace ref;
    const int64_t n = int64_t(kTokens.size());
    RefTensor ids({1, n}, ElementKind::Int), mask({1, n}, ElementKind::Int),
        pos({1, n}, ElementKind::Int);
    for (int64_t i = 0; i < n; ++i) {
      ids.data[i] = kTokens[i];
      mask.data[i] = 1;
      pos.data[i] = double(i);
    }
    RefTensor past({1, shape_.KV, 0, shape_.HD}, ElementKind::F32);
    ReferenceExecutor exec;
    auto out = exec.run(module_->lookupSymbol<mlir::func::FuncOp>("main"),
                        {ids, mask, pos, past, past});
    EXPECT_TRUE(static_cast<bool>(out)) << llvm::toString(out.takeError());
    if (!out)
      return {0, INFINITY};
    const std::vector<double> &want = (*out)[0].data;
    runtime::SessionOptions so;
    so.threads = 1;
    auto session = runtime::Session::create(model, so);
    EXPECT_TRUE(static_cast<bool>(session));
    if (!session)
      return {0, INFINITY};
    double largest = 0, diff = 0;
    llvm::Error e = (*session)->forwardAll(
        kTokens, [&](int64_t i0, llvm::ArrayRef<float> rows) {
          for (size_t i = 0; i < rows.size(); ++i) {
            largest = std::max(largest, std::fabs(want[i0 * shape_.V + i]));
            diff = std::max(diff, std::fabs(rows[i] - want[i0 * shape_.V + i]));
          }
        });
    EXPECT_FALSE(static_cast<bool>(e)) << llvm::toString(std::move(e));
    return {largest, diff};
  }

  static codegen::QuantRecipe recipe(const std::string &type, bool quarot) {
    codegen::QuantRecipe r;
    r.weights = cantFail(quant::parseQuantSpec(type));
    r.weights.quarot = quarot;
    return r;
  }

  /// The slot whose name is `name`, of `kind`.
  static int32_t slot(const codegen::ProgramPlan &plan, const std::string &name,
                      codegen::SlotKind kind) {
    for (size_t i = 0; i < plan.weights.size(); ++i)
      if (plan.weights[i].name == name && plan.weights[i].kind == kind)
        return int32_t(i);
    ADD_FAILURE() << "no slot " << name;
    return 0;
  }

  std::string dir_, log_;
  test::TinyLlamaShape shape_;
  mlir::MLIRContext ctx_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
};

// Norm weights in [0.5, 1.5): folding them into the readers must matter.
test::TinyLlamaShape spreadNorms(int D) {
  test::TinyLlamaShape s;
  s.D = D;
  s.normSpread = 1.0f;
  return s;
}

TEST_F(QuaRotTest, ResidualStreamRoles) {
  load(spreadNorms(32));
  auto plan = codegen::planModule(*module_, {});
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  auto rs = codegen::analyzeResidualStream(*plan, {});
  ASSERT_TRUE(static_cast<bool>(rs)) << llvm::toString(rs.takeError());
  using codegen::SlotKind;
  EXPECT_EQ(rs->dim, 32);
  EXPECT_EQ(rs->embedding, slot(*plan, "emb", SlotKind::Dense));
  const int32_t an = slot(*plan, "an", SlotKind::Dense),
                fn = slot(*plan, "fn", SlotKind::Dense),
                nw = slot(*plan, "nw", SlotKind::Dense);
  EXPECT_TRUE(rs->norm[an] && rs->norm[fn] && rs->norm[nw]);
  EXPECT_EQ(rs->numNorms(), 3u);
  EXPECT_EQ(rs->readsNorm[slot(*plan, "wq+wk+wv", SlotKind::Packed)], an);
  EXPECT_EQ(rs->readsNorm[slot(*plan, "w1+w3", SlotKind::Packed)], fn);
  EXPECT_EQ(rs->readsNorm[slot(*plan, "emb", SlotKind::Packed)], nw); // lm_head
  EXPECT_EQ(rs->numReaders(), 3u);
  EXPECT_TRUE(rs->writes[slot(*plan, "wo", SlotKind::Packed)]);
  EXPECT_TRUE(rs->writes[slot(*plan, "w2", SlotKind::Packed)]);
  EXPECT_EQ(rs->numWriters(), 2u);
  // A pre-quantized reader cannot be rotated.
  std::vector<bool> prequantized(plan->weights.size(), false);
  prequantized[slot(*plan, "w1+w3", SlotKind::Packed)] = true;
  auto refused = codegen::analyzeResidualStream(*plan, prequantized);
  ASSERT_FALSE(static_cast<bool>(refused));
  EXPECT_NE(llvm::toString(refused.takeError()).find("pre-quantized weight 'w1+w3'"),
            std::string::npos);
}

// The folded fp32 model computes the same logits as the unfolded IR: D = 32
// (U a plain Walsh-Hadamard transform), D = 48 (Paley factor 12) and D = 40
// (random orthogonal factor 5). Tolerance: the fp32 bundle itself is within
// 1e-4 of the reference (CodeGenRuntimeTest); the rotations add a few fp32
// roundings per weight.
TEST_F(QuaRotTest, FoldingPreservesTheLogits) {
  for (int D : {32, 48, 40}) {
    SCOPED_TRACE(D);
    load(spreadNorms(D));
    log_.clear();
    auto model = compile("fold.llmc", recipe("fp32", true));
    ASSERT_TRUE(model);
    EXPECT_NE(log_.find("quarot: residual stream of width " + std::to_string(D) +
                        " rotated offline"),
              std::string::npos)
        << log_;
    const llvm::json::Object *rot =
        model->manifest().residualRotation.getAsObject();
    ASSERT_TRUE(rot);
    EXPECT_EQ(rot->getBoolean("folded"), true);
    // Float weights get no online rotation.
    for (const codegen::WeightSlot &w : model->plan().weights)
      EXPECT_FALSE(w.rotated) << w.name;
    auto [largest, diff] = compareWithReference(*model);
    EXPECT_GT(largest, 0.5);
    EXPECT_LT(diff, 1e-4);
  }
}

// The folding does change the weights: the rotated embedding and the norms
// set to ones alone (no folding into the readers) break the model.
TEST_F(QuaRotTest, FoldedWeightsDifferFromTheOriginals) {
  load(spreadNorms(32));
  auto plain = compile("plain.llmc", recipe("fp32", false));
  auto folded = compile("fold.llmc", recipe("fp32", true));
  ASSERT_TRUE(plain && folded);
  const codegen::ProgramPlan &plan = plain->plan();
  const int32_t emb = slot(plan, "emb", codegen::SlotKind::Dense),
                an = slot(plan, "an", codegen::SlotKind::Dense);
  const float *e0 = plain->dense(emb), *e1 = folded->dense(emb);
  double moved = 0, norm0 = 0, norm1 = 0;
  for (int k = 0; k < shape_.D; ++k) {
    moved = std::max(moved, double(std::fabs(e0[k] - e1[k])));
    norm0 += double(e0[k]) * e0[k];
    norm1 += double(e1[k]) * e1[k];
    EXPECT_EQ(folded->dense(an)[k], 1.0f);
  }
  EXPECT_GT(moved, 1e-2);               // rotated...
  EXPECT_NEAR(norm0, norm1, 1e-5 * norm0); // ...by an orthogonal matrix
}

// Integer formats: readers of the stream need no online rotation, o_proj and
// down_proj rotate their inputs online; the model stays close to fp32.
TEST_F(QuaRotTest, IntegerReadersAreNotRotatedOnline) {
  load(spreadNorms(32));
  auto model = compile("int8.llmc", recipe("int8", true));
  ASSERT_TRUE(model);
  const codegen::ProgramPlan &plan = model->plan();
  using codegen::SlotKind;
  EXPECT_FALSE(plan.weights[slot(plan, "wq+wk+wv", SlotKind::Packed)].rotated);
  EXPECT_FALSE(plan.weights[slot(plan, "w1+w3", SlotKind::Packed)].rotated);
  EXPECT_FALSE(plan.weights[slot(plan, "emb", SlotKind::Packed)].rotated);
  EXPECT_TRUE(plan.weights[slot(plan, "wo", SlotKind::Packed)].rotated);
  EXPECT_TRUE(plan.weights[slot(plan, "w2", SlotKind::Packed)].rotated);
  auto [largest, diff] = compareWithReference(*model);
  EXPECT_LT(diff, 0.05 * largest);
}

// A norm whose output is also added into the stream (post-norm residual):
// gamma cannot move into the readers. quarot falls back, says why, and
// rotates every integer matmul input online instead.
TEST_F(QuaRotTest, FallsBackWhenTheDataflowForbidsFolding) {
  load(spreadNorms(32), "%x1 = llmc.add %x0, %a", "%x1 = llmc.add %h, %a");
  auto plan = codegen::planModule(*module_, {});
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  auto rs = codegen::analyzeResidualStream(*plan, {});
  ASSERT_FALSE(static_cast<bool>(rs));
  std::string why = llvm::toString(rs.takeError());
  EXPECT_EQ(why, "the output of step 2 (rms_norm of 'an') is read by step 8 "
                 "(add), not only by matmuls");

  auto fp32 = compile("fp32.llmc", recipe("fp32", true));
  ASSERT_TRUE(fp32);
  EXPECT_NE(log_.find("quarot: the residual stream cannot be rotated offline: " +
                      why + "; every integer matmul input is rotated online"),
            std::string::npos)
      << log_;
  const llvm::json::Object *rot = fp32->manifest().residualRotation.getAsObject();
  ASSERT_TRUE(rot);
  EXPECT_EQ(rot->getBoolean("folded"), false);
  EXPECT_EQ(rot->getString("reason"), why);
  EXPECT_LT(compareWithReference(*fp32).second, 1e-4);

  auto int8 = compile("int8.llmc", recipe("int8", true));
  ASSERT_TRUE(int8);
  for (const codegen::WeightSlot &w : int8->plan().weights)
    if (w.kind == codegen::SlotKind::Packed)
      EXPECT_TRUE(w.rotated) << w.name;
  auto [largest, diff] = compareWithReference(*int8);
  EXPECT_LT(diff, 0.05 * largest);
}

// Combinations quarot refuses.
TEST_F(QuaRotTest, BadCombinations) {
  codegen::QuantRecipe r = recipe("int4", true);
  r.weights.method = quant::QuantMethod::Incoherent;
  EXPECT_NE(llvm::toString(r.validate()).find("'quarot' already rotates every matmul input"),
            std::string::npos);
  r.weights.method = quant::QuantMethod::AWQ;
  EXPECT_NE(llvm::toString(r.validate()).find("'quarot' does not combine with 'awq'"),
            std::string::npos);
  r.weights.method = quant::QuantMethod::GPTQ;
  r.activations = codegen::ActivationMode::Static;
  EXPECT_NE(llvm::toString(r.validate()).find("static activations with 'quarot'"),
            std::string::npos);
  r.activations = codegen::ActivationMode::Int8;
  llvm::Error ok = r.validate();
  EXPECT_FALSE(static_cast<bool>(ok)) << llvm::toString(std::move(ok));
}

} // namespace
