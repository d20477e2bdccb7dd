//===- llmc-check-ref.cpp - Compare a bundle with its references ------------===//
//
//   llmc-check-ref model.llmc model.ref.json [--tol 1e-4] [--check-tokens=false]
//   llmc-check-ref model.llmc --mlir model.mlir [--tokens N] [--tol 1e-4]
//
// With --mlir the oracle is the scalar reference executor (test/lib/Reference)
// running the llmc IR the bundle was compiled from: the logits of N tokens in
// one call, and the same tokens as a prefill of N/2 followed by decode steps.
//
// examples/export/export_onnx.py --reference writes <name>.ref.json: PyTorch
// logits for a fixed 64-token prompt (every position), a greedy continuation
// with the logits of every step (prefill + single-token decode), and a prompt
// prefilled in two calls. This tool runs the same calls through the runtime and
// prints the largest absolute logit difference of each; it fails when one
// exceeds --tol or a greedy token differs (unless --check-tokens=false). The
// decode steps always feed the reference's tokens.
//
//===----------------------------------------------------------------------===//

#include "ReferenceExecutor.h"

#include "llmc/InitAll.h"
#include "llmc/Runtime/Model.h"
#include "llmc/Runtime/Sampler.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <random>

#include <cmath>

using namespace llvm;
using namespace llmc::runtime;

static cl::OptionCategory checkCategory("llmc-check-ref options");
static cl::opt<std::string> bundlePath(cl::Positional, cl::Required, cl::desc("<model.llmc>"),
                                       cl::cat(checkCategory));
static cl::opt<std::string> refPath(cl::Positional, cl::desc("<ref.json>"),
                                    cl::cat(checkCategory));
static cl::opt<std::string> mlirPath("mlir", cl::init(""),
                                     cl::desc("check against the reference executor on this IR"),
                                     cl::cat(checkCategory));
static cl::opt<int64_t> numTokens("tokens", cl::init(12), cl::desc("greedy tokens to compare"),
                                  cl::cat(checkCategory));
static cl::opt<bool> relative("relative", cl::init(false),
                              cl::desc("--tol is relative to the largest |logit|"),
                              cl::cat(checkCategory));
static cl::opt<double> tol("tol", cl::init(1e-4), cl::desc("max abs logit difference"),
                           cl::cat(checkCategory));
static cl::opt<unsigned> threads("num-threads", cl::init(1), cl::desc("runtime threads"),
                                 cl::cat(checkCategory));
static cl::opt<bool> checkTokens(
    "check-tokens", cl::init(true),
    cl::desc("fail when a greedy token differs from the reference's (off for "
             "references whose own arithmetic differs, e.g. quantized activations)"),
    cl::cat(checkCategory));

static int fail(Error e) {
  WithColor::error(errs(), "llmc-check-ref") << toString(std::move(e)) << "\n";
  return 1;
}

static std::vector<int32_t> ints(const json::Array *a) {
  std::vector<int32_t> v;
  if (a)
    for (const json::Value &x : *a)
      v.push_back(int32_t(x.getAsInteger().value_or(-1)));
  return v;
}

static double maxDiff(ArrayRef<float> got, const json::Array *want) {
  if (!want || want->size() != got.size())
    return INFINITY;
  double m = 0;
  for (size_t i = 0; i < got.size(); ++i)
    m = std::max(m, std::fabs(double(got[i]) - (*want)[i].getAsNumber().value_or(NAN)));
  return m;
}

/// The reference executor on `tokens` from an empty cache: logits [n][V].
static Expected<std::vector<float>> referenceLogits(ArrayRef<int32_t> tokens) {
  mlir::DialectRegistry registry;
  llmc::registerAllDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(mlirPath, &ctx);
  if (!module)
    return createStringError(inconvertibleErrorCode(), "cannot parse %s",
                             mlirPath.c_str());
  auto fn = module->lookupSymbol<mlir::func::FuncOp>("main");
  using namespace llmc::ref;
  const int64_t n = int64_t(tokens.size());
  std::vector<RefTensor> args;
  for (mlir::BlockArgument a : fn.getArguments()) {
    auto t = mlir::cast<mlir::RankedTensorType>(a.getType());
    if (t.getElementType().isInteger(64)) {
      RefTensor r({1, n}, ElementKind::Int);
      // input_ids, attention_mask (all ones), position_ids: by argument order.
      for (int64_t i = 0; i < n; ++i)
        r.data[i] = a.getArgNumber() == 0 ? tokens[i] : a.getArgNumber() == 1 ? 1 : i;
      args.push_back(r);
    } else {
      args.push_back(RefTensor({1, t.getDimSize(1), 0, t.getDimSize(3)}, ElementKind::F32));
    }
  }
  ReferenceExecutor exec(sys::path::parent_path(mlirPath).str());
  auto out = exec.run(fn, args);
  if (!out)
    return out.takeError();
  std::vector<float> logits((*out)[0].data.begin(), (*out)[0].data.end());
  return logits;
}

static int checkAgainstIR(Session &s, int64_t V) {
  std::mt19937 rng(7);
  std::vector<int32_t> tokens(numTokens);
  for (int32_t &t : tokens)
    t = int32_t(rng() % uint32_t(V));
  auto want = referenceLogits(tokens);
  if (!want)
    return fail(want.takeError());
  const int64_t n = int64_t(tokens.size());
  bool ok = true;
  double d = 0, tolerance = tol;
  if (relative) {
    double mx = 0;
    for (float v : *want)
      mx = std::max(mx, std::fabs(double(v)));
    tolerance *= mx;
    outs() << format("max |logit| %.3g, tolerance %.3g\n", mx, tolerance);
  }
  if (Error e = s.forwardAll(tokens, [&](int64_t i0, ArrayRef<float> rows) {
        for (size_t i = 0; i < rows.size(); ++i)
          d = std::max(d, std::fabs(double(rows[i]) - (*want)[i0 * V + i]));
      }))
    return fail(std::move(e));
  outs() << format("%-16s max |diff| %.3g\n", (const char *)"all logits", d);
  ok &= d <= tolerance;
  s.reset();
  d = 0;
  auto l = s.prefill(ArrayRef<int32_t>(tokens).take_front(n / 2));
  for (int64_t i = n / 2; l; ++i) {
    for (int64_t v = 0; v < V; ++v)
      d = std::max(d, std::fabs(double((*l)[v]) - (*want)[(i - 1) * V + v]));
    if (i == n)
      break;
    l = s.decode(tokens[i]);
  }
  if (!l)
    return fail(l.takeError());
  outs() << format("%-16s max |diff| %.3g\n", (const char *)"prefill+decode", d);
  ok &= d <= tolerance;
  outs() << (ok ? "OK\n" : "FAILED\n");
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(checkCategory); // LLVM's backend options still parse
  cl::ParseCommandLineOptions(argc, argv);
  auto buf = MemoryBuffer::getFile(refPath.empty() ? std::string("-") : std::string(refPath));
  if (mlirPath.empty() && !buf)
    return fail(createStringError(buf.getError(), "cannot read %s", refPath.c_str()));
  auto model = Model::load(bundlePath);
  if (!model)
    return fail(model.takeError());
  auto session = Session::create(**model, SessionOptions{threads});
  if (!session)
    return fail(session.takeError());
  Session &s = **session;
  const int64_t V = (*model)->config().vocab;
  if (!mlirPath.empty())
    return checkAgainstIR(s, V);
  auto ref = json::parse((*buf)->getBuffer());
  if (!ref)
    return fail(ref.takeError());
  const json::Object &R = *ref->getAsObject();
  std::vector<int32_t> prompt = ints(R.getArray("prompt_ids"));
  bool ok = true;
  auto report = [&](const char *what, double d) {
    outs() << format("%-16s max |diff| %.3g\n", what, d);
    ok &= d <= tol;
  };

  // 1. Every position of the prompt in one call.
  if (const json::Object *p = R.getObject("prefill_logits")) {
    const json::Array *vals = p->getArray("values");
    if (!vals || vals->empty())
      return fail(createStringError(inconvertibleErrorCode(),
                                    "prefill_logits has no values"));
    // Without "positions", the rows are those of positions 0, 1, ...
    std::vector<int32_t> pos = ints(p->getArray("positions"));
    if (!p->getArray("positions"))
      for (size_t i = 0; i < vals->size(); ++i)
        pos.push_back(int32_t(i));
    if (pos.size() != vals->size() ||
        llvm::any_of(pos, [&](int32_t i) { return i < 0 || size_t(i) >= prompt.size(); }))
      return fail(createStringError(inconvertibleErrorCode(),
                                    "prefill_logits: positions do not match the "
                                    "values or the prompt"));
    std::vector<float> all(prompt.size() * V);
    if (Error e = s.forwardAll(prompt, [&](int64_t i0, ArrayRef<float> rows) {
          std::copy(rows.begin(), rows.end(), all.begin() + i0 * V);
        }))
      return fail(std::move(e));
    double d = 0;
    for (size_t i = 0; i < pos.size(); ++i)
      d = std::max(d, maxDiff(ArrayRef<float>(all).slice(pos[i] * V, V),
                              (*vals)[i].getAsArray()));
    report("prefill", d);
  }
  // 2. Greedy: prefill then single-token decode steps.
  if (const json::Object *g = R.getObject("greedy")) {
    s.reset();
    std::vector<int32_t> gen = ints(g->getArray("generated_ids"));
    const json::Array *steps = g->getArray("step_logits");
    auto logits = s.prefill(prompt);
    double d = 0;
    size_t mismatch = 0;
    for (size_t i = 0; i < gen.size() && logits; ++i) {
      d = std::max(d, maxDiff(*logits, (*steps)[i].getAsArray()));
      if (llmc::argmax(*logits) != gen[i] && !mismatch)
        mismatch = i + 1;
      if (i + 1 < gen.size())
        logits = s.decode(gen[i]);
    }
    if (!logits)
      return fail(logits.takeError());
    report("greedy steps", d);
    if (mismatch) {
      outs() << "greedy token " << mismatch - 1 << " differs\n";
      ok &= !checkTokens;
    }
  }
  // 3. The prompt in two calls.
  if (const json::Object *c = R.getObject("chunked_prefill")) {
    s.reset();
    int64_t split = c->getInteger("split").value_or(1);
    auto l1 = s.prefill(ArrayRef<int32_t>(prompt).take_front(split));
    if (!l1)
      return fail(l1.takeError());
    auto l2 = s.prefill(ArrayRef<int32_t>(prompt).drop_front(split));
    if (!l2)
      return fail(l2.takeError());
    report("chunked prefill", maxDiff(*l2, c->getArray("last_logits")));
  }
  outs() << (ok ? "OK\n" : "FAILED\n");
  return ok ? 0 : 1;
}
