//===- CodeGenRuntimeTest.cpp - Plan, bundle, program, runtime, C API ------===//
//
// A one-layer Llama in fused llmc IR (as llmc-fuse-transformer emits it) with
// deterministic weights in a temporary file: the plan's shape, its JSON round
// trip, the bundle's generated program against the runtime's plan driver and
// the reference executor, concurrent sessions, and the C API's error codes.
//
//===----------------------------------------------------------------------===//

#include "ReferenceExecutor.h"
#include "TinyLlama.h"

#include "llmc/Bundle/Bundle.h"
#include "llmc/CodeGen/Compile.h"
#include "llmc/CodeGen/Manifest.h"
#include "llmc/CodeGen/SlotQuantizer.h"
#include "llmc/Kernels/Quantize.h"
#include "llmc/InitAll.h"
#include "llmc/Runtime/Calibrate.h"
#include "llmc/Runtime/Model.h"
#include "llmc/Target/Target.h"
#include "llmc/Target/TargetAttr.h"
#include "llmc/llmc.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cmath>
#include <fstream>
#include <thread>

using namespace llmc;

namespace {
runtime::SessionOptions oneThread() {
  runtime::SessionOptions o;
  o.threads = 1;
  return o;
}

constexpr int V = 40, KV = 2, HD = 8, F = 40;

class CodeGenRuntimeTest : public ::testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> dir;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("llmc-codegen-test", dir));
    dir_ = std::string(dir);
    source_ = test::makeTinyLlama(dir_ + "/w.bin");
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    ctx_.appendDialectRegistry(registry);
    ctx_.loadAllAvailableDialects();
    module_ = mlir::parseSourceString<mlir::ModuleOp>(source_, &ctx_);
    ASSERT_TRUE(module_) << source_;
    auto host = detectHost();
    ASSERT_TRUE(static_cast<bool>(host));
    (*module_)->setAttr(kTargetAttrName, toTargetAttr(&ctx_, *host));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir_); }

  std::string bundle(const std::string &name, codegen::CompileOptions opts = {}) {
    std::string path = dir_ + "/" + name;
    if (!opts.maxContext)
      opts.maxContext = 32;
    llvm::Error e = codegen::compileToBundle(*module_, opts, path);
    EXPECT_FALSE(static_cast<bool>(e)) << llvm::toString(std::move(e));
    return path;
  }

  /// Reference executor: logits [n][V] of `tokens` from an empty cache.
  std::vector<double> reference(const std::vector<int32_t> &tokens) {
    using namespace ref;
    const int64_t n = int64_t(tokens.size());
    RefTensor ids({1, n}, ElementKind::Int), mask({1, n}, ElementKind::Int),
        pos({1, n}, ElementKind::Int);
    for (int64_t i = 0; i < n; ++i) {
      ids.data[i] = tokens[i];
      mask.data[i] = 1;
      pos.data[i] = double(i);
    }
    RefTensor past({1, KV, 0, HD}, ElementKind::F32);
    ReferenceExecutor exec;
    auto out = exec.run(module_->lookupSymbol<mlir::func::FuncOp>("main"),
                        {ids, mask, pos, past, past});
    EXPECT_TRUE(static_cast<bool>(out)) << llvm::toString(out.takeError());
    return out ? (*out)[0].data : std::vector<double>();
  }

  std::string dir_, source_;
  mlir::MLIRContext ctx_;
  mlir::OwningOpRef<mlir::ModuleOp> module_;
};

/// The bundle at `path`, run by its generated program or the plan driver
/// (`interpret`), loaded from its file (embedding rows read with pread) or
/// from a buffer (rows read from memory).
llvm::Expected<std::unique_ptr<runtime::Model>>
loadBundle(const std::string &path, bool interpret, bool fromBuffer) {
  runtime::LoadOptions lo;
  lo.interpret = interpret;
  if (!fromBuffer)
    return runtime::Model::load(path, lo);
  auto buf = llvm::MemoryBuffer::getFile(path);
  if (!buf)
    return llvm::errorCodeToError(buf.getError());
  auto b = bundle::Bundle::openBuffer(std::move(*buf));
  if (!b)
    return b.takeError();
  return runtime::Model::fromBundle(std::move(*b), path, lo);
}

const std::vector<int32_t> kTokens = {1, 5, 9, 2, 33, 17, 4, 4, 12, 39, 0, 21};

TEST_F(CodeGenRuntimeTest, PlanShapeAndJsonRoundTrip) {
  codegen::CompileOptions opts;
  auto plan = codegen::planModule(*module_, opts);
  ASSERT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  using codegen::StepKind;
  std::vector<StepKind> kinds;
  for (const auto &s : plan->steps)
    kinds.push_back(s.kind);
  std::vector<StepKind> want = {
      StepKind::Embed,  StepKind::RopeTables, StepKind::RmsNorm, StepKind::Matmul,
      StepKind::Rope,   StepKind::Rope,       StepKind::Attention, StepKind::Matmul,
      StepKind::Add,    StepKind::RmsNorm,    StepKind::Matmul,  StepKind::SwiGLU,
      StepKind::Matmul, StepKind::Add,        StepKind::RmsNorm, StepKind::Matmul};
  EXPECT_EQ(kinds, want);
  // Everything after the attention only feeds the logits.
  for (size_t i = 0; i < plan->steps.size(); ++i)
    EXPECT_EQ(plan->steps[i].lastOnly, i > 6) << i;
  EXPECT_EQ(plan->config.vocab, V);
  EXPECT_EQ(plan->config.layers, 1);
  EXPECT_EQ(plan->config.kvHeads, KV);
  EXPECT_EQ(plan->config.hidden, F);
  // Merged QKV, wo, merged gate/up, w2, tied lm_head + embedding and 3 norms.
  EXPECT_EQ(plan->weights.size(), 9u);
  std::string a, b;
  llvm::raw_string_ostream(a) << plan->toJSON();
  auto back = codegen::ProgramPlan::fromJSON(plan->toJSON());
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  llvm::raw_string_ostream(b) << back->toJSON();
  EXPECT_EQ(a, b);

  // The per-slot input transforms and static activation scale survive the
  // round trip, a 64-bit rotation seed included; bad values are refused.
  codegen::WeightSlot &w = plan->weights[0];
  w.inputScale = 3;
  w.rotated = true;
  w.rotationSeed = 0xfedcba9876543210ull;
  w.actScale = 0.125f;
  w.activations = codegen::ActivationMode::BF16;
  auto again = codegen::ProgramPlan::fromJSON(plan->toJSON());
  ASSERT_TRUE(static_cast<bool>(again)) << llvm::toString(again.takeError());
  EXPECT_EQ(again->weights[0].inputScale, 3);
  EXPECT_TRUE(again->weights[0].rotated);
  EXPECT_EQ(again->weights[0].rotationSeed, 0xfedcba9876543210ull);
  EXPECT_EQ(again->weights[0].actScale, 0.125f);
  EXPECT_EQ(again->weights[0].activations, codegen::ActivationMode::BF16);
  EXPECT_FALSE(again->weights[1].activations.has_value());
  EXPECT_FALSE(again->weights[1].rotated);
  EXPECT_EQ(again->weights[1].inputScale, -1);
  llvm::json::Value bad = plan->toJSON();
  (*(*bad.getAsObject()->getArray("weights"))[0].getAsObject())["rotation_seed"] =
      "12x";
  auto refused = codegen::ProgramPlan::fromJSON(bad);
  ASSERT_FALSE(static_cast<bool>(refused));
  EXPECT_NE(llvm::toString(refused.takeError()).find("rotation_seed"), std::string::npos);
  llvm::json::Value badActs = plan->toJSON();
  (*(*badActs.getAsObject()->getArray("weights"))[0].getAsObject())["activations"] =
      "int4";
  auto refusedActs = codegen::ProgramPlan::fromJSON(badActs);
  ASSERT_FALSE(static_cast<bool>(refusedActs));
  EXPECT_NE(llvm::toString(refusedActs.takeError()).find("unknown activations 'int4'"),
            std::string::npos);
}

TEST_F(CodeGenRuntimeTest, ProgramAndDriverMatchTheReference) {
  std::string path = bundle("f32.llmc");
  std::vector<double> want = reference(kTokens);
  // The generated program and the C++ driver, each with the bundle loaded
  // from its file (embedding rows read with pread) and from a buffer (rows
  // copied from memory).
  for (auto [interpret, fromBuffer] :
       {std::pair{false, false}, {true, false}, {false, true}, {true, true}}) {
    SCOPED_TRACE(llvm::formatv("interpret={0} fromBuffer={1}", interpret, fromBuffer).str());
    auto model = loadBundle(path, interpret, fromBuffer);
    ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
    EXPECT_EQ((*model)->usesProgram(), !interpret);
    auto session = runtime::Session::create(**model, oneThread());
    ASSERT_TRUE(static_cast<bool>(session));
    double maxDiff = 0;
    llvm::Error e = (*session)->forwardAll(kTokens, [&](int64_t i0, llvm::ArrayRef<float> rows) {
      for (size_t i = 0; i < rows.size(); ++i)
        maxDiff = std::max(maxDiff, std::fabs(rows[i] - want[i0 * V + i]));
    });
    ASSERT_FALSE(static_cast<bool>(e)) << llvm::toString(std::move(e));
    EXPECT_LT(maxDiff, 1e-4) << (interpret ? "driver" : "program");
    // Prefill half, then decode one token at a time.
    (*session)->reset();
    size_t half = kTokens.size() / 2;
    auto l = (*session)->prefill(llvm::ArrayRef<int32_t>(kTokens).take_front(half));
    for (size_t i = half;; ++i) {
      ASSERT_TRUE(static_cast<bool>(l)) << llvm::toString(l.takeError());
      for (int v = 0; v < V; ++v)
        EXPECT_NEAR((*l)[v], want[(i - 1) * V + v], 1e-4);
      if (i == kTokens.size())
        break;
      l = (*session)->decode(kTokens[i]);
    }
  }
}

// Model::load checks the embedding step's table slot before anything reads
// through it: a plan (checksums valid) whose embedding names a packed slot or
// no slot at all is refused with a clear error, not gathered out of bounds.
/// Writes `out`: the bundle at `path` with every plan step (or entry of
/// another array of the plan: "weights") for which `edit` returns true
/// edited by it, every checksum recomputed (a plan the
/// loader must check itself, past the container's integrity checks).
/// Returns how many steps were edited.
static int64_t writeWithEditedPlan(const std::string &path, const std::string &out,
                                   llvm::function_ref<bool(llvm::json::Object &)> edit,
                                   llvm::StringRef array = "steps") {
  auto b = bundle::Bundle::open(path);
  EXPECT_TRUE(static_cast<bool>(b)) << llvm::toString(b.takeError());
  if (!b)
    return 0;
  auto planText = (*b)->sectionText(codegen::kPlanSection);
  EXPECT_TRUE(static_cast<bool>(planText));
  auto plan = llvm::json::parse(*planText);
  EXPECT_TRUE(static_cast<bool>(plan)) << llvm::toString(plan.takeError());
  int64_t edited = 0;
  for (llvm::json::Value &entry : *plan->getAsObject()->getArray(array))
    edited += edit(*entry.getAsObject());
  std::string newPlan = llvm::formatv("{0}", llvm::json::Value(std::move(*plan))).str();
  auto w = bundle::BundleWriter::create(out);
  EXPECT_TRUE(static_cast<bool>(w)) << llvm::toString(w.takeError());
  for (const bundle::SectionEntry &e : (*b)->sections()) {
    llvm::StringRef name(e.name);
    llvm::Error added = llvm::Error::success();
    if (name == codegen::kPlanSection) {
      added = (*w)->addSection(name, llvm::StringRef(newPlan), e.alignment, e.flags);
    } else {
      auto bytes = (*b)->section(name);
      EXPECT_TRUE(static_cast<bool>(bytes));
      added = (*w)->addSection(name, *bytes, e.alignment, e.flags);
    }
    EXPECT_FALSE(static_cast<bool>(added)) << llvm::toString(std::move(added));
  }
  llvm::Error finished = (*w)->finish();
  EXPECT_FALSE(static_cast<bool>(finished)) << llvm::toString(std::move(finished));
  return edited;
}

/// The load error of `path`, or "" when it loads.
static std::string loadError(const std::string &path) {
  auto m = runtime::Model::load(path);
  return m ? std::string() : llvm::toString(m.takeError());
}

// The steps' dense slots (the embedding table, a norm's scale, rope
// frequencies), views of the arena, matmul weights, KV cache slots and
// attention windows come from the plan; the loader refuses ones the program
// would read out of bounds or misread.
TEST_F(CodeGenRuntimeTest, LoadRejectsBadPlanFields) {
  std::string path = bundle("plan-ok.llmc");
  auto good = runtime::Model::load(path);
  ASSERT_TRUE(static_cast<bool>(good)) << llvm::toString(good.takeError());
  int64_t packedSlot = -1;
  for (size_t i = 0; i < (*good)->plan().weights.size(); ++i)
    if ((*good)->plan().weights[i].kind == codegen::SlotKind::Packed)
      packedSlot = int64_t(i);
  ASSERT_GE(packedSlot, 0);
  const int64_t slots = int64_t((*good)->plan().weights.size());
  const int64_t arena = (*good)->plan().arenaFloats;
  struct Case {
    const char *op, *field;
    llvm::json::Value value;
    const char *message;
  };
  const Case cases[] = {
      {"embed", "weight", packedSlot, "is not a table of at least 40 rows of"},
      {"embed", "weight", slots + 5, "is not a table of at least 40 rows of"},
      {"embed", "weight", int64_t(-1), "is not a table of at least 40 rows of"},
      {"rms_norm", "weight", packedSlot, "the rms_norm step has a bad weight slot"},
      {"rms_norm", "weight", int64_t(1000), "the rms_norm step has a bad weight slot"},
      {"rope_tables", "weight", packedSlot, "the rope_tables step has a bad weight slot"},
      {"rope_tables", "attention_factor", -1.0, "the rope_tables step has a bad attention factor"},
      {"attention", "window", int64_t(-3), "attention window must not be negative"},
      {"rms_norm", "groups", int64_t(0), "a norm's groups must be >= 1"},
      {"attention", "softcap", -0.5,
       "attention softcap must be 0 (none) or positive and finite"},
      // Accesses outside the session's buffers (ProgramPlan::verify).
      {"add", "out", llvm::json::Array{arena - 1, int64_t(0)},
       "step 8 (add): out reaches past the arena"},
      {"swiglu", "in2", llvm::json::Array{int64_t(-4), int64_t(0)},
       "in2 has a negative offset or stride"},
      {"rope", "x", llvm::json::Array{int64_t(0), INT64_MAX / 2, int64_t(0)},
       "x reaches past the arena"},
      {"attention", "out", llvm::json::Array{int64_t(0), int64_t(0), arena},
       "out reaches past the arena"},
      {"matmul", "weight", int64_t(1000), "weight 1000 is not a packed"},
      {"matmul", "n", int64_t(7), "is not a packed [7, "},
      {"attention", "layer", int64_t(1), "layer 1 is not a KV cache slot (the model has 1)"},
      {"attention", "heads", int64_t(3), "3 heads on 2 KV heads"},
      {"rope_tables", "half", int64_t(0), "the rotated half must be positive"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(std::string(c.op) + "." + c.field);
    std::string bad = dir_ + "/plan-bad.llmc";
    ASSERT_GT(writeWithEditedPlan(path, bad, [&](llvm::json::Object &o) {
                if (o.getString("op") != llvm::StringRef(c.op))
                  return false;
                o[c.field] = c.value;
                return true;
              }),
              0);
    std::string msg = loadError(bad);
    EXPECT_NE(msg.find(c.message), std::string::npos) << msg;
  }
  // LongRoPE's second frequency slot is checked like the first, and needs
  // the first to be a slot too.
  int64_t normSlot = -1;
  for (size_t i = 0; i < (*good)->plan().weights.size(); ++i)
    if ((*good)->plan().weights[i].kind == codegen::SlotKind::Dense &&
        (*good)->plan().weights[i].shape.size() == 1)
      normSlot = int64_t(i);
  ASSERT_GE(normSlot, 0);
  for (bool withShort : {false, true}) {
    std::string badLong = dir_ + "/plan-bad-long.llmc";
    ASSERT_GT(writeWithEditedPlan(path, badLong, [&](llvm::json::Object &o) {
                if (o.getString("op") != llvm::StringRef("rope_tables"))
                  return false;
                if (withShort)
                  o["weight"] = normSlot;
                o["long_weight"] = packedSlot;
                o["long_attention_factor"] = 1.5;
                o["long_after"] = int64_t(4);
                return true;
              }),
              0);
    std::string msg = loadError(badLong);
    EXPECT_NE(msg.find(withShort ? "the rope_tables step has a bad weight slot"
                                 : "a long set of frequencies needs a short one"),
              std::string::npos)
        << msg;
  }
  // A window itself is fine: the edited bundle loads.
  std::string windowed = dir_ + "/plan-window.llmc";
  ASSERT_GT(writeWithEditedPlan(path, windowed, [](llvm::json::Object &o) {
              if (o.getString("op") != llvm::StringRef("attention"))
                return false;
              o["window"] = int64_t(4);
              return true;
            }),
            0);
  EXPECT_EQ(loadError(windowed), "");
}

TEST_F(CodeGenRuntimeTest, ChunkedPrefill) {
  codegen::CompileOptions opts;
  opts.maxTokensPerCall = 5;
  std::string path = bundle("chunked.llmc", opts);
  std::vector<double> want = reference(kTokens);
  auto model = runtime::Model::load(path);
  ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
  auto session = runtime::Session::create(**model, oneThread());
  ASSERT_TRUE(static_cast<bool>(session));
  auto l = (*session)->prefill(kTokens);
  ASSERT_TRUE(static_cast<bool>(l)) << llvm::toString(l.takeError());
  for (int v = 0; v < V; ++v)
    EXPECT_NEAR((*l)[v], want[(kTokens.size() - 1) * V + v], 1e-4);
}

// Paired calibration statistics: each matmul's inputs in one bundle beside
// its inputs in another at the same tokens. Against itself the cross moment
// is X^T X; an int4 bundle's first matmul (fed by the embedding and a norm
// only) still sees the fp32 inputs, the later ones do not.
TEST_F(CodeGenRuntimeTest, PairedCalibrationStats) {
  codegen::CompileOptions q;
  q.recipe.weights = cantFail(quant::parseQuantSpec("int4"));
  auto fp32 = runtime::Model::load(bundle("paired-f32.llmc"));
  auto int4 = runtime::Model::load(bundle("paired-int4.llmc", q));
  ASSERT_TRUE(fp32 && int4);
  runtime::CalibrationOptions co;
  co.sequenceLength = 6;
  co.maxTokens = 12;
  co.threads = 1;
  auto relDiff = [](const quant::CalibrationStats &s) {
    std::vector<double> H = s.sumOuter();
    const std::vector<double> &C = s.crossMoment();
    double diff = 0, scale = 0;
    for (size_t i = 0; i < H.size(); ++i) {
      diff = std::max(diff, std::fabs(C[i] - H[i]));
      scale = std::max(scale, std::fabs(H[i]));
    }
    return diff / scale;
  };
  auto self = runtime::collectPairedMatmulInputStats(**fp32, **fp32, kTokens, co);
  ASSERT_TRUE(static_cast<bool>(self)) << llvm::toString(self.takeError());
  EXPECT_EQ(self->stats.size(), 5u); // qkv, wo, gate/up, w2, lm_head
  for (auto &e : self->stats) {
    EXPECT_TRUE(e.getValue().hasReference()) << e.getKey().str();
    EXPECT_EQ(e.getValue().numPairedRows(), 12) << e.getKey().str();
    EXPECT_LT(relDiff(e.getValue()), 1e-12) << e.getKey().str();
  }
  auto mixed = runtime::collectPairedMatmulInputStats(**fp32, **int4, kTokens, co);
  ASSERT_TRUE(static_cast<bool>(mixed)) << llvm::toString(mixed.takeError());
  const codegen::ProgramPlan &plan = (*int4)->plan();
  std::vector<std::string> order;
  for (const codegen::Step &s : plan.steps)
    if (s.kind == codegen::StepKind::Matmul)
      order.push_back(plan.weights[size_t(s.weight)].name);
  ASSERT_GE(order.size(), 2u);
  EXPECT_LT(relDiff(mixed->stats.find(order.front())->second), 1e-12) << order.front();
  EXPECT_GT(relDiff(mixed->stats.find(order.back())->second), 1e-4) << order.back();
}

// A SlotCache keeps the kept slots' quantization across compiles: the
// second compile packs the stored bytes and writes the same bundle.
TEST_F(CodeGenRuntimeTest, SlotCacheReusesKeptSlots) {
  codegen::CompileOptions q;
  q.recipe.weights = cantFail(quant::parseQuantSpec("int4:mse"));
  codegen::SlotCache cache;
  auto plan = codegen::planModule(*module_, q);
  ASSERT_TRUE(static_cast<bool>(plan));
  std::vector<std::string> packed;
  std::vector<int64_t> firstShape;
  for (const auto &w : plan->weights)
    if (w.kind == codegen::SlotKind::Packed) {
      if (packed.empty())
        firstShape = w.shape;
      packed.push_back(w.name);
    }
  ASSERT_FALSE(packed.empty());
  cache.keep(packed.front());
  q.slotCache = &cache;
  std::string a = bundle("cache-a.llmc", q);
  ASSERT_TRUE(cache.find(packed.front()).has_value());
  for (size_t i = 1; i < packed.size(); ++i)
    EXPECT_FALSE(cache.find(packed[i]).has_value()) << packed[i];
  std::string b = bundle("cache-b.llmc", q);
  auto ba = llvm::MemoryBuffer::getFile(a), bb = llvm::MemoryBuffer::getFile(b);
  ASSERT_TRUE(ba && bb);
  EXPECT_EQ((*ba)->getBuffer(), (*bb)->getBuffer());
  // The stored entry is what gets packed: other bytes, another bundle.
  const int64_t N = firstShape[0], K = firstShape[1];
  std::vector<float> zeros(size_t(N * K), 0.0f);
  auto other = codegen::quantizeSlot(zeros.data(), N, K, q.recipe, nullptr,
                                     cache.find(packed.front())->packed.tier(), 0);
  ASSERT_TRUE(static_cast<bool>(other)) << llvm::toString(other.takeError());
  cache.store(packed.front(), *other);
  auto bc = llvm::MemoryBuffer::getFile(bundle("cache-c.llmc", q));
  ASSERT_TRUE(static_cast<bool>(bc));
  EXPECT_NE((*ba)->getBuffer(), (*bc)->getBuffer());
}

TEST_F(CodeGenRuntimeTest, ConcurrentSessionsAgree) {
  codegen::CompileOptions opts;
  opts.recipe.weights = cantFail(quant::parseQuantSpec("int4"));
  std::string path = bundle("int4.llmc", opts);
  auto model = runtime::Model::load(path);
  ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
  auto run = [&](std::vector<float> &out) {
    auto s = runtime::Session::create(**model, oneThread());
    auto l = (*s)->prefill(kTokens);
    for (int i = 0; i < 10 && l; ++i)
      l = (*s)->decode(int32_t(std::max_element(l->begin(), l->end()) - l->begin()));
    if (l)
      out.assign(l->begin(), l->end());
  };
  std::vector<float> a, b, c, d;
  run(a);
  run(b);
  std::thread t1([&] { run(c); }), t2([&] { run(d); });
  t1.join();
  t2.join();
  ASSERT_EQ(a.size(), size_t(V));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_EQ(a, d);
}

/// The slot of the bundle's Embed step.
static int32_t embedSlot(const runtime::Model &m) {
  for (const codegen::Step &s : m.plan().steps)
    if (s.kind == codegen::StepKind::Embed)
      return s.weight;
  return -1;
}

// --quant-embedding (CompileOptions::embedding): the table stored packed is
// read a row per token, each row bitwise the table rounded to nearest in that
// format (quantizeWeights of the fp32 table, dequantized), from the bundle's
// file (pread of the row's panel) and from a bundle in memory, through the
// generated program and the plan driver alike. The fixture's lm_head is tied
// to the table: in the lm_head's own format the table takes its bytes, in
// another it has its own.
TEST_F(CodeGenRuntimeTest, PackedEmbeddingTables) {
  auto fp32 = runtime::Model::load(bundle("table-f32.llmc"));
  ASSERT_TRUE(static_cast<bool>(fp32)) << llvm::toString(fp32.takeError());
  const int32_t denseSlot = embedSlot(**fp32);
  ASSERT_GE(denseSlot, 0);
  ASSERT_EQ((*fp32)->plan().weights[size_t(denseSlot)].kind, codegen::SlotKind::Dense);
  const int64_t D = (*fp32)->plan().weights[size_t(denseSlot)].shape[1];
  const float *table = (*fp32)->dense(denseSlot);

  for (const char *spec : {"int4", "int8", "int4:g16:asym", "nl4:g16:e4m4", "int3:g32",
                           "fp16", "bf16"}) {
    SCOPED_TRACE(spec);
    codegen::CompileOptions opts;
    opts.recipe.weights = cantFail(quant::parseQuantSpec("int4"));
    opts.embedding = cantFail(quant::parseQuantSpec(spec));
    const std::string path = bundle(std::string("table-") + spec + ".llmc", opts);
    auto want = kernels::quantizeWeights(table, V, D, opts.embedding.format);
    ASSERT_TRUE(static_cast<bool>(want)) << llvm::toString(want.takeError());
    std::vector<std::vector<float>> logits;
    for (auto [interpret, fromBuffer] :
         {std::pair{false, false}, {true, false}, {false, true}}) {
      auto model = loadBundle(path, interpret, fromBuffer);
      ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
      const codegen::ProgramPlan &plan = (*model)->plan();
      const int32_t slot = embedSlot(**model);
      const codegen::WeightSlot &w = plan.weights[size_t(slot)];
      EXPECT_EQ(w.kind, codegen::SlotKind::PackedTable);
      EXPECT_EQ(w.format, opts.embedding.format.str());
      // Shared with the int4 lm_head exactly when the formats agree.
      const bool shares = llvm::any_of(plan.weights, [&](const codegen::WeightSlot &o) {
        return o.kind == codegen::SlotKind::Packed && o.offset == w.offset;
      });
      EXPECT_EQ(shares, opts.embedding.format == opts.recipe.weights.format);
      // The plan verifier takes a packed table for an Embed step only, and
      // only with rows as stored (no matmul input transform).
      codegen::ProgramPlan bad = plan;
      bad.weights[size_t(slot)].rotated = true;
      llvm::Error rotated = bad.verify();
      ASSERT_TRUE(static_cast<bool>(rotated));
      EXPECT_NE(llvm::toString(std::move(rotated)).find("carries a matmul's input transform"),
                std::string::npos);
      bad = plan;
      bad.weights[size_t(slot)].kind = codegen::SlotKind::Packed;
      llvm::Error packedKind = bad.verify();
      ASSERT_TRUE(static_cast<bool>(packedKind));
      EXPECT_NE(llvm::toString(std::move(packedKind)).find("is not a table"), std::string::npos);
      // Every row, in scrambled order, several to a call.
      std::vector<int32_t> ids(V);
      for (int32_t t = 0; t < V; ++t)
        ids[size_t(t)] = (t * 7 + 3) % V;
      std::vector<float> rows(size_t(V * D));
      llvm::Error e = (*model)->gatherRows(slot, ids.data(), V, rows.data(), D);
      ASSERT_FALSE(static_cast<bool>(e)) << llvm::toString(std::move(e));
      for (int32_t t = 0; t < V; ++t)
        for (int64_t k = 0; k < D; ++k)
          ASSERT_EQ(rows[size_t(t * D + k)], want->weight(ids[size_t(t)], k))
              << "token " << ids[size_t(t)] << " k " << k;
      auto session = runtime::Session::create(**model, oneThread());
      ASSERT_TRUE(static_cast<bool>(session));
      auto l = (*session)->prefill(kTokens);
      ASSERT_TRUE(static_cast<bool>(l)) << llvm::toString(l.takeError());
      logits.emplace_back(l->begin(), l->end());
    }
    // (The generated glue and the driver's round differently in the last
    // bits, as for every bundle.)
    for (int v = 0; v < V; ++v)
      EXPECT_NEAR(logits[0][size_t(v)], logits[1][size_t(v)], 1e-5) << "program and plan driver";
    EXPECT_EQ(logits[0], logits[2]) << "from the file and from memory";
  }
}

// A packed table's slot entry is checked like a matmul's: its kind, format,
// lanes and bytes against its layout, and a row scale only on a packed table.
TEST_F(CodeGenRuntimeTest, LoadRejectsBadPackedTables) {
  codegen::CompileOptions opts;
  opts.recipe.weights = cantFail(quant::parseQuantSpec("int4"));
  opts.embedding = cantFail(quant::parseQuantSpec("int8"));
  const std::string path = bundle("table-ok.llmc", opts);
  ASSERT_EQ(loadError(path), "");
  struct Case {
    const char *field;
    llvm::json::Value value;
    const char *message;
  };
  const Case cases[] = {
      {"kind", "packed_tables", "unknown kind 'packed_tables'"},
      {"format", "int9_pc_sym_f32", "int9"},
      {"lanes", int64_t(12), "12 lanes unsupported"},
      {"bytes", int64_t(64), "has 64 bytes, its layout"},
      {"offset", int64_t(1) << 40, "lies outside the weights section"},
      {"row_scale", 0.0, "row_scale must be finite and nonzero"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.field);
    const std::string bad = dir_ + "/table-bad.llmc";
    ASSERT_EQ(writeWithEditedPlan(path, bad, [&](llvm::json::Object &o) {
                if (o.getString("kind") != llvm::StringRef("packed_table"))
                  return false;
                o[c.field] = c.value;
                return true;
              }, "weights"),
              1);
    const std::string msg = loadError(bad);
    EXPECT_NE(msg.find(c.message), std::string::npos) << msg;
  }
  // A dense slot carries no row scale.
  const std::string bad = dir_ + "/dense-scaled.llmc";
  ASSERT_GT(writeWithEditedPlan(path, bad, [](llvm::json::Object &o) {
              if (o.getString("kind") != llvm::StringRef("dense"))
                return false;
              o["row_scale"] = 2.0;
              return true;
            }, "weights"),
            0);
  EXPECT_NE(loadError(bad).find("belongs to a packed table"), std::string::npos);
}

// Gemma scales its embeddings by a constant (the canonicalizer makes the
// table W * c): a table tied to an lm_head in its format still takes the
// lm_head's bytes, each row multiplied by c at lookup.
TEST_F(CodeGenRuntimeTest, ScaledTableSharesTheLmHeadsBytes) {
  auto fp32 = runtime::Model::load(bundle("unscaled-f32.llmc"));
  ASSERT_TRUE(static_cast<bool>(fp32)) << llvm::toString(fp32.takeError());
  const int32_t denseSlot = embedSlot(**fp32);
  const int64_t D = (*fp32)->plan().weights[size_t(denseSlot)].shape[1];
  std::vector<float> table((*fp32)->dense(denseSlot), (*fp32)->dense(denseSlot) + V * D);

  // gather(emb, ids) * 2.5 in place of the plain lookup.
  std::string src = source_;
  const size_t at = src.find("%x0 = llmc.gather %emb, %ids");
  ASSERT_NE(at, std::string::npos);
  const size_t eol = src.find('\n', at);
  const std::string line = src.substr(at, eol - at);
  const std::string type = line.substr(line.rfind("-> ") + 3);
  src.replace(at, eol - at,
              "%x0g" + line.substr(3) + "\n    %c = llmc.constant dense<2.5> : tensor<f32>" +
                  "\n    %x0 = llmc.mul %x0g, %c : (" + type + ", tensor<f32>) -> " + type);
  module_ = mlir::parseSourceString<mlir::ModuleOp>(src, &ctx_);
  ASSERT_TRUE(module_) << src;
  (*module_)->setAttr(kTargetAttrName, toTargetAttr(&ctx_, cantFail(detectHost())));

  codegen::CompileOptions opts;
  opts.recipe.weights = cantFail(quant::parseQuantSpec("int4"));
  opts.embedding = opts.recipe.weights;
  auto model = runtime::Model::load(bundle("scaled-int4.llmc", opts));
  ASSERT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
  const codegen::ProgramPlan &plan = (*model)->plan();
  const int32_t slot = embedSlot(**model);
  const codegen::WeightSlot &w = plan.weights[size_t(slot)];
  ASSERT_EQ(w.kind, codegen::SlotKind::PackedTable);
  EXPECT_EQ(w.rowScale, 2.5f);
  EXPECT_TRUE(llvm::any_of(plan.weights, [&](const codegen::WeightSlot &o) {
    return o.kind == codegen::SlotKind::Packed && o.offset == w.offset;
  }));
  auto want = kernels::quantizeWeights(table.data(), V, D, opts.embedding.format);
  ASSERT_TRUE(static_cast<bool>(want)) << llvm::toString(want.takeError());
  std::vector<int32_t> ids(V);
  for (int32_t t = 0; t < V; ++t)
    ids[size_t(t)] = t;
  std::vector<float> rows(size_t(V * D));
  llvm::Error e = (*model)->gatherRows(slot, ids.data(), V, rows.data(), D);
  ASSERT_FALSE(static_cast<bool>(e)) << llvm::toString(std::move(e));
  for (int32_t t = 0; t < V; ++t)
    for (int64_t k = 0; k < D; ++k)
      ASSERT_EQ(rows[size_t(t * D + k)], want->weight(t, k) * 2.5f) << t << " " << k;
  // The scale survives the plan's JSON; only a packed table may carry one.
  auto back = codegen::ProgramPlan::fromJSON(plan.toJSON());
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->weights[size_t(slot)].rowScale, 2.5f);
  llvm::json::Value j = plan.toJSON();
  (*j.getAsObject()->getArray("weights"))[0].getAsObject()->insert({"row_scale", 3.0});
  if (plan.weights[0].kind != codegen::SlotKind::PackedTable) {
    auto bad = codegen::ProgramPlan::fromJSON(j);
    ASSERT_FALSE(static_cast<bool>(bad));
    EXPECT_NE(llvm::toString(bad.takeError()).find("row_scale"), std::string::npos);
  }
}

// A table the residual stream rotation (quarot) rotates is rounded in the
// rotated basis: a tied lm_head, whose rows are folded with the final norm
// and rotated otherwise, is not shared, and the model computes what the
// quarot bundle with a dense table does up to the table's rounding.
TEST_F(CodeGenRuntimeTest, PackedEmbeddingTableUnderQuaRot) {
  auto logitsOf = [&](const std::string &name, const char *embedding) {
    codegen::CompileOptions opts;
    opts.recipe.weights = cantFail(quant::parseQuantSpec("int8:quarot"));
    opts.embedding = cantFail(quant::parseQuantSpec(embedding));
    auto model = runtime::Model::load(bundle(name, opts));
    EXPECT_TRUE(static_cast<bool>(model)) << llvm::toString(model.takeError());
    if (!model)
      return std::vector<float>();
    const codegen::ProgramPlan &plan = (*model)->plan();
    const codegen::WeightSlot &w = plan.weights[size_t(embedSlot(**model))];
    for (const codegen::WeightSlot &o : plan.weights)
      if (o.kind == codegen::SlotKind::Packed)
        EXPECT_NE(o.offset, w.offset) << o.name;
    auto session = runtime::Session::create(**model, oneThread());
    auto l = (*session)->prefill(kTokens);
    EXPECT_TRUE(static_cast<bool>(l)) << llvm::toString(l.takeError());
    return l ? std::vector<float>(l->begin(), l->end()) : std::vector<float>();
  };
  std::vector<float> dense = logitsOf("quarot-dense.llmc", "fp32");
  std::vector<float> packed = logitsOf("quarot-int8.llmc", "int8");
  ASSERT_EQ(dense.size(), size_t(V));
  ASSERT_EQ(packed.size(), size_t(V));
  double maxDiff = 0, maxAbs = 0;
  for (int v = 0; v < V; ++v) {
    maxDiff = std::max(maxDiff, double(std::fabs(dense[v] - packed[v])));
    maxAbs = std::max(maxAbs, double(std::fabs(dense[v])));
  }
  EXPECT_GT(maxDiff, 0.0) << "the table is rounded";
  EXPECT_LT(maxDiff, 0.02 * maxAbs);
}

// --quant-embedding is a storage format: what needs calibration or rotates
// inputs is refused before anything is compiled.
TEST(EmbeddingSpec, RoundToNearestOnly) {
  for (const char *ok : {"fp32", "fp16", "bf16", "int8", "int4:g32:asym:mse", "nl2"})
    EXPECT_FALSE(static_cast<bool>(
        codegen::validateEmbeddingSpec(cantFail(quant::parseQuantSpec(ok)))))
        << ok;
  for (const char *bad : {"int4:gptq", "int4:awq", "int4:quip", "int4:bias", "int4:quarot",
                          "int4:gptq:actorder", "int4:gptq:refit"}) {
    llvm::Error e = codegen::validateEmbeddingSpec(cantFail(quant::parseQuantSpec(bad)));
    ASSERT_TRUE(static_cast<bool>(e)) << bad;
    EXPECT_NE(llvm::toString(std::move(e)).find("rounded to nearest"), std::string::npos)
        << bad;
  }
}

TEST_F(CodeGenRuntimeTest, CApiErrors) {
  std::string path = bundle("capi.llmc");
  llmc_model *m = nullptr;
  EXPECT_EQ(llmc_model_open((dir_ + "/missing.llmc").c_str(), &m), LLMC_ERR_IO);
  EXPECT_NE(std::string(llmc_last_error()).find("missing.llmc"), std::string::npos);
  {
    std::ofstream junk(dir_ + "/junk.llmc");
    junk << "definitely not a bundle, but long enough to have a header.........";
  }
  EXPECT_EQ(llmc_model_open((dir_ + "/junk.llmc").c_str(), &m), LLMC_ERR_FORMAT);
  ASSERT_EQ(llmc_model_open(path.c_str(), &m), LLMC_OK) << llmc_last_error();
  EXPECT_EQ(llmc_model_vocab_size(m), V);
  EXPECT_EQ(llmc_model_context_length(m), 32);
  int32_t ids[4];
  int64_t n;
  EXPECT_EQ(llmc_tokenize(m, "hi", 1, ids, 4, &n), LLMC_ERR_NO_TOKENIZER);
  llmc_session *s = nullptr;
  ASSERT_EQ(llmc_session_create(m, 1, &s), LLMC_OK);
  const float *logits = nullptr;
  int32_t bad = V + 3;
  EXPECT_EQ(llmc_prefill(s, &bad, 1, &logits), LLMC_ERR_ARGUMENT);
  std::vector<int32_t> many(40, 3);
  EXPECT_EQ(llmc_prefill(s, many.data(), int64_t(many.size()), &logits), LLMC_ERR_CONTEXT);
  EXPECT_NE(std::string(llmc_last_error()).find("context length of 32"), std::string::npos);
  EXPECT_EQ(llmc_session_position(s), 0);
  ASSERT_EQ(llmc_prefill(s, kTokens.data(), int64_t(kTokens.size()), &logits), LLMC_OK);
  EXPECT_EQ(llmc_session_position(s), int64_t(kTokens.size()));
  llmc_sampler *sampler = nullptr;
  EXPECT_EQ(llmc_sampler_create(-1.0f, 0, 1.0f, 0, &sampler), LLMC_ERR_ARGUMENT);
  ASSERT_EQ(llmc_sampler_create(0.0f, 0, 1.0f, 0, &sampler), LLMC_OK);
  EXPECT_EQ(llmc_sample(sampler, logits, V), llmc_argmax(logits, V));
  llmc_sampler_free(sampler);
  llmc_session_free(s);
  llmc_model_free(m);
}

} // namespace

// A manifest's recipe is validated when the bundle loads, as --quant is:
// options that only calibrated rounding has are refused with round to
// nearest, and unknown names are errors, not defaults.
TEST(ManifestRecipe, ValidatedOnLoad) {
  auto parse = [](const std::string &recipe) {
    return codegen::Manifest::parse(R"({"model": {"dim": 8}, "target": {"cpu": "x86-64"},
                                        "recipe": )" + recipe + "}");
  };
  auto error = [&](const std::string &recipe) {
    auto m = parse(recipe);
    return m ? std::string("(accepted)") : llvm::toString(m.takeError());
  };
  EXPECT_NE(error(R"({"quant": "int4", "group_size": 32, "method": "rtn", "refit_scales": true})")
                .find("'refit' needs 'gptq' or 'quip'"),
            std::string::npos);
  EXPECT_NE(error(R"({"quant": "int4", "group_size": 32, "act_order": true})")
                .find("'actorder' needs 'gptq' or 'quip'"),
            std::string::npos);
  EXPECT_NE(error(R"({"quant": "int4", "group_size": 32, "method": "sgd"})")
                .find("unknown method 'sgd'"),
            std::string::npos);
  EXPECT_NE(error(R"({"quant": "int4", "group_size": 32, "activations": "int4"})")
                .find("unknown activations 'int4'"),
            std::string::npos);
  EXPECT_NE(error(R"({"quant": "int4", "group_size": 32, "scale_type": "f8"})")
                .find("unknown scale type 'f8'"),
            std::string::npos);
  EXPECT_NE(error(R"({"quant": "int5"})").find("unknown weight type 'int5'"), std::string::npos);
  EXPECT_NE(error(R"({"quant": "int4", "group_size": 20})").find("group"), std::string::npos);
  // Every field read back as written.
  for (const char *m : {"gptq", "quip"}) {
    auto ok = parse(std::string(R"({"quant": "nl4", "group_size": 64, "symmetric": true,
        "scale_type": "bf16", "mse_clip": true, "method": ")") + m +
                    R"(", "act_order": true, "refit_scales": true,
        "activations": "static", "activation_range": "p99.9"})");
    ASSERT_TRUE(static_cast<bool>(ok)) << llvm::toString(ok.takeError());
    EXPECT_EQ(ok->recipe.weights.str(), std::string("nl4:g64:sym:bf16:mse:") + m + ":actorder:refit");
    EXPECT_EQ(ok->recipe.activations, codegen::ActivationMode::Static);
    EXPECT_EQ(ok->recipe.actRange, "p99.9");
  }
}

// Writing a manifest and reading it back gives the same recipe.
TEST(ManifestRecipe, RoundTrips) {
  for (const char *spec : {"fp32", "bf16:quarot", "int8:pc:sym:f32", "int4:g32:asym:f16:mse",
                           "int3:g128:asym:f16:gptq:actorder", "nl2:g32:sym:f16:quip:refit", "int4:g32:sym:f16:gptq:bias",
                           "int4:g16:sym:f16:gptq:quarot"}) {
    codegen::Manifest m;
    m.recipe.weights = cantFail(quant::parseQuantSpec(spec));
    m.recipe.activations = codegen::ActivationMode::F32;
    std::string text;
    llvm::raw_string_ostream os(text);
    os << m.toJSON();
    auto back = codegen::Manifest::parse(text);
    ASSERT_TRUE(static_cast<bool>(back)) << spec << ": " << llvm::toString(back.takeError());
    EXPECT_EQ(back->recipe.weights, m.recipe.weights) << spec;
    EXPECT_EQ(back->recipe.activations, codegen::ActivationMode::F32) << spec;
  }
}

// The manifest records the -O level of the program; bundles written before it
// existed read as -O3, and a level outside 0..3 is a corrupt manifest.
TEST(ManifestOptLevel, ReadBackDefaultAndRange) {
  auto text = [](const char *program) {
    return std::string(R"({"model": {"dim": 8}, "target": {"cpu": "x86-64"},
                           "recipe": {"quant": "fp32"})") +
           program + "}";
  };
  auto none = codegen::Manifest::parse(text(""));
  ASSERT_TRUE(static_cast<bool>(none)) << llvm::toString(none.takeError());
  EXPECT_EQ(none->optLevel, 3u);
  auto zero = codegen::Manifest::parse(text(R"(, "program": {"opt_level": 0})"));
  ASSERT_TRUE(static_cast<bool>(zero)) << llvm::toString(zero.takeError());
  EXPECT_EQ(zero->optLevel, 0u);
  auto bad = codegen::Manifest::parse(text(R"(, "program": {"opt_level": 7})"));
  ASSERT_FALSE(static_cast<bool>(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("program.opt_level 7 is not one of 0..3"),
            std::string::npos);
}

// KV cache types as the plan spells them: each name parses back to its type,
// anything else is refused (a plan naming an unknown cache type does not load
// as fp32); bytes per element follow the type.
TEST(KvType, NamesRoundTripAndSizes) {
  using codegen::KvType;
  for (KvType t : {KvType::F32, KvType::F16, KvType::I8})
    EXPECT_EQ(codegen::parseKvTypeName(codegen::kvTypeName(t)), t);
  EXPECT_FALSE(codegen::parseKvTypeName("int8").has_value());
  EXPECT_FALSE(codegen::parseKvTypeName("").has_value());
  EXPECT_EQ(codegen::kvElementBytes(KvType::F32), 4u);
  EXPECT_EQ(codegen::kvElementBytes(KvType::F16), 2u);
  EXPECT_EQ(codegen::kvElementBytes(KvType::I8), 1u);
}

// A plan's MoE step: the verifier refuses expert slots of the wrong kind or
// shape, k out of range, fc3 with SwiGLU and views past the arena; the JSON
// reader refuses unknown activations and negative limits.
TEST(PlanMoE, VerifierAndReaderRefuseBadSteps) {
  using codegen::SlotKind;
  using codegen::StepKind;
  codegen::ProgramPlan p;
  p.config.vocab = 4;
  p.config.dim = 4;
  p.config.maxContext = 8;
  p.maxTokens = 2;
  p.arenaFloats = 64;
  p.logits = {32, 4};
  auto packed = [&](int64_t n, int64_t k) {
    codegen::WeightSlot w;
    w.kind = SlotKind::Packed;
    w.shape = {n, k};
    p.weights.push_back(w);
    return int32_t(p.weights.size() - 1);
  };
  // Two SiLU experts, H = 4, I = 2: fc1 [2, 4], fc2 [4, 2].
  codegen::Step s;
  s.kind = StepKind::MoE;
  s.experts = {packed(2, 4), packed(2, 4), packed(4, 2), packed(4, 2)};
  s.in = {0, 4};
  s.in2 = {8, 2};
  s.out = {16, 4};
  s.width = 4;
  s.inner = 2;
  s.topK = 1;
  s.expertAct = codegen::ExpertActivation::Silu;
  p.steps.push_back(s);
  ASSERT_FALSE(static_cast<bool>(p.verify()));

  auto verifyError = [](const codegen::ProgramPlan &bad) {
    llvm::Error e = bad.verify();
    return e ? llvm::toString(std::move(e)) : std::string("(verified)");
  };
  codegen::ProgramPlan bad = p;
  bad.steps[0].topK = 3;
  EXPECT_NE(verifyError(bad).find("4 expert slots for top 3"), std::string::npos);
  bad = p;
  bad.steps[0].experts[1] = bad.steps[0].experts[2]; // a [4, 2] slot as fc1
  EXPECT_NE(verifyError(bad).find("expert 1's fc1 (weight 2) is not a packed [2, 4] slot"),
            std::string::npos);
  bad = p;
  bad.weights[3].kind = SlotKind::Dense;
  EXPECT_NE(verifyError(bad).find("expert 1's fc2 (weight 3) is not a packed [4, 2] slot"),
            std::string::npos);
  bad = p;
  bad.steps[0].gated = true;
  bad.steps[0].experts.insert(bad.steps[0].experts.end(), {0, 1});
  bad.steps[0].expertAct = codegen::ExpertActivation::SwiGLU;
  EXPECT_NE(verifyError(bad).find("gated experts take an elementwise activation"),
            std::string::npos);
  bad = p;
  bad.steps[0].in2 = {63, 2};
  EXPECT_NE(verifyError(bad).find("router reaches past the arena"), std::string::npos);

  // The JSON round trip, then fields the reader refuses.
  auto j = p.toJSON();
  auto back = codegen::ProgramPlan::fromJSON(j);
  ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->steps[0].experts, p.steps[0].experts);
  EXPECT_EQ(back->steps[0].expertAct, codegen::ExpertActivation::Silu);
  auto readError = [&](llvm::StringRef field, llvm::json::Value v) {
    llvm::json::Value edited = j;
    (*(*edited.getAsObject()->getArray("steps"))[0].getAsObject())[field] = std::move(v);
    auto r = codegen::ProgramPlan::fromJSON(edited);
    return r ? std::string("(read)") : llvm::toString(r.takeError());
  };
  EXPECT_NE(readError("activation", "tanh").find("unknown moe activation 'tanh'"),
            std::string::npos);
  EXPECT_NE(readError("limit", -1.0).find("its limit finite and not negative"),
            std::string::npos);
  EXPECT_NE(readError("experts", llvm::json::Array{int64_t(-1)}).find("must be slot indices"),
            std::string::npos);
}
