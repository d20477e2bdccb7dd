//===- Plan.cpp - ProgramPlan <-> JSON ------------------------------------===//

#include "llmc/CodeGen/Plan.h"
#include "llmc/Support/EnumNames.h"

#include <cmath>

using namespace llvm;

namespace llmc::codegen {

static constexpr StringLiteral kStepNames[] = {
    "embed", "rms_norm", "matmul", "rope_tables",
    "rope",  "attention", "swiglu", "add", "layer_norm", "gelu",
    "embed_positions", "softcap", "moe"};

static_assert(std::size(kStepNames) == unsigned(StepKind::MoE) + 1,
              "one name per StepKind, in order");

StringRef stepKindName(StepKind k) { return kStepNames[unsigned(k)]; }

static constexpr StringLiteral kExpertActivationNames[] = {"identity", "relu", "gelu_tanh",
                                                           "silu", "swiglu"};
static_assert(std::size(kExpertActivationNames) == unsigned(ExpertActivation::SwiGLU) + 1,
              "a name per expert activation, in order");

StringRef expertActivationName(ExpertActivation a) {
  return kExpertActivationNames[unsigned(a)];
}

static constexpr StringLiteral kSlotKindNames[] = {"dense", "packed",
                                                   "packed_table"};
static_assert(std::size(kSlotKindNames) == unsigned(SlotKind::PackedTable) + 1,
              "a name per slot kind");

StringRef slotKindName(SlotKind k) { return kSlotKindNames[unsigned(k)]; }

static json::Value rowJ(const RowView &r) {
  return json::Array{r.offset, r.rowStride};
}
static json::Value headJ(const HeadView &h) {
  return json::Array{h.offset, h.tokenStride, h.headStride};
}

json::Value ProgramPlan::toJSON() const {
  json::Array ws;
  for (const WeightSlot &w : weights) {
    json::Array shape;
    for (int64_t d : w.shape)
      shape.push_back(d);
    json::Object o{{"name", w.name},
                   {"kind", slotKindName(w.kind)},
                   {"offset", w.offset},
                   {"bytes", w.bytes},
                   {"shape", std::move(shape)},
                   {"format", w.format},
                   {"lanes", int64_t(w.lanes)}};
    if (w.inputScale >= 0)
      o["input_scale"] = int64_t(w.inputScale);
    if (w.bias >= 0)
      o["bias"] = int64_t(w.bias);
    if (w.actScale > 0)
      o["act_scale"] = double(w.actScale);
    if (w.rowScale != 1.0f)
      o["row_scale"] = double(w.rowScale);
    if (w.activations)
      o["activations"] = activationModeName(*w.activations);
    if (w.rotated) // as a string: JSON numbers do not hold 64-bit seeds
      o["rotation_seed"] = std::to_string(w.rotationSeed);
    ws.push_back(std::move(o));
  }
  json::Array ss;
  for (const Step &s : steps) {
    json::Object o{{"op", stepKindName(s.kind)}};
    switch (s.kind) {
    case StepKind::Embed:
    case StepKind::EmbedPositions:
      o["weight"] = s.weight;
      o["out"] = rowJ(s.out);
      o["width"] = s.width;
      break;
    case StepKind::RmsNorm:
    case StepKind::LayerNorm:
      o["weight"] = s.weight;
      if (s.bias >= 0)
        o["bias"] = s.bias;
      o["in"] = rowJ(s.in);
      o["out"] = rowJ(s.out);
      o["width"] = s.width;
      o["eps"] = double(s.eps);
      if (s.groups != 1)
        o["groups"] = s.groups;
      break;
    case StepKind::Gelu:
      o["in"] = rowJ(s.in);
      o["out"] = rowJ(s.out);
      o["width"] = s.width;
      o["approximate"] = s.geluTanh ? "tanh" : "none";
      break;
    case StepKind::Softcap:
      o["in"] = rowJ(s.in);
      o["out"] = rowJ(s.out);
      o["width"] = s.width;
      o["cap"] = double(s.softcap);
      break;
    case StepKind::MoE: {
      json::Array experts;
      for (int32_t e : s.experts)
        experts.push_back(e);
      o["experts"] = std::move(experts);
      if (s.gated)
        o["gated"] = true;
      o["in"] = rowJ(s.in);
      o["router"] = rowJ(s.in2);
      o["out"] = rowJ(s.out);
      o["width"] = s.width;
      o["inner"] = s.inner;
      o["top_k"] = s.topK;
      o["normalize"] = s.normalize;
      o["activation"] = expertActivationName(s.expertAct);
      if (s.expertAct == ExpertActivation::SwiGLU) {
        o["interleaved"] = s.interleaved;
        o["alpha"] = double(s.alpha);
        o["beta"] = double(s.beta);
        if (s.limit > 0)
          o["limit"] = double(s.limit);
      }
      break;
    }
    case StepKind::Matmul:
      o["weight"] = s.weight;
      o["in"] = rowJ(s.in);
      o["out"] = rowJ(s.out);
      o["n"] = s.width;
      o["k"] = s.inner;
      break;
    case StepKind::RopeTables:
      o["half"] = s.rotHalf;
      o["dim"] = s.headDim;
      o["theta"] = s.theta;
      if (s.weight >= 0)
        o["weight"] = s.weight;
      if (s.scale != 1.0f)
        o["attention_factor"] = double(s.scale);
      if (s.longWeight >= 0) {
        o["long_weight"] = s.longWeight;
        o["long_attention_factor"] = double(s.longScale);
        o["long_after"] = s.longAfter;
      }
      o["cos"] = s.cos;
      o["sin"] = s.sin;
      break;
    case StepKind::Rope:
      o["x"] = headJ(s.q);
      o["out"] = headJ(s.o);
      o["heads"] = s.heads;
      o["head_dim"] = s.headDim;
      o["half"] = s.rotHalf;
      o["interleaved"] = s.interleaved;
      o["cos"] = s.cos;
      o["sin"] = s.sin;
      break;
    case StepKind::Attention:
      o["q"] = headJ(s.q);
      o["k"] = headJ(s.k);
      o["v"] = headJ(s.v);
      o["out"] = headJ(s.o);
      o["heads"] = s.heads;
      o["kv_heads"] = s.kvHeads;
      o["head_dim"] = s.headDim;
      o["value_dim"] = s.valueDim;
      o["scale"] = double(s.scale);
      o["layer"] = s.layer;
      if (s.window > 0)
        o["window"] = s.window;
      if (s.softcap > 0)
        o["softcap"] = double(s.softcap);
      break;
    case StepKind::SwiGLU:
    case StepKind::Add:
      o["in"] = rowJ(s.in);
      o["in2"] = rowJ(s.in2);
      o["out"] = rowJ(s.out);
      o["width"] = s.width;
      if (s.kind == StepKind::SwiGLU && s.geglu)
        o["activation"] = s.geluTanh ? "gelu_tanh" : "gelu";
      break;
    }
    if (s.lastOnly)
      o["last_only"] = true;
    ss.push_back(std::move(o));
  }
  const ModelConfig &c = config;
  return json::Object{
      {"config", json::Object{{"vocab", c.vocab},
                              {"dim", c.dim},
                              {"layers", c.layers},
                              {"heads", c.heads},
                              {"kv_heads", c.kvHeads},
                              {"head_dim", c.headDim},
                              {"value_dim", c.valueDim},
                              {"hidden", c.hidden},
                              {"max_context", c.maxContext},
                              {"kv_dtype", kvTypeName(c.kvType)},
                              {"bos", c.bos},
                              {"eos", c.eos},
                              {"stop", json::Array(c.stop)}}},
      {"arena_floats", arenaFloats},
      {"max_tokens", maxTokens},
      {"logits", rowJ(logits)},
      {"weights", std::move(ws)},
      {"steps", std::move(ss)}};
}

namespace {
struct Reader {
  std::string error;
  int64_t i64(const json::Object &o, StringRef k) {
    if (auto v = o.getInteger(k))
      return *v;
    if (error.empty())
      error = ("missing integer '" + k + "'").str();
    return 0;
  }
  double f64(const json::Object &o, StringRef k) {
    if (auto v = o.getNumber(k))
      return *v;
    if (error.empty())
      error = ("missing number '" + k + "'").str();
    return 0;
  }
  int64_t at(const json::Array *a, size_t i) {
    if (a && i < a->size())
      if (auto v = (*a)[i].getAsInteger())
        return *v;
    if (error.empty())
      error = "malformed view";
    return 0;
  }
  RowView row(const json::Object &o, StringRef k) {
    const json::Array *a = o.getArray(k);
    return RowView{at(a, 0), at(a, 1)};
  }
  HeadView head(const json::Object &o, StringRef k) {
    const json::Array *a = o.getArray(k);
    return HeadView{at(a, 0), at(a, 1), at(a, 2)};
  }
};
} // namespace

static constexpr EnumName<KvType> kKvTypeNames[] = {
    {KvType::F32, "f32"}, {KvType::F16, "f16"}, {KvType::I8, "i8"}};

StringRef kvTypeName(KvType t) { return enumName(kKvTypeNames, t); }

std::optional<KvType> parseKvTypeName(StringRef name) {
  return parseEnumName(kKvTypeNames, name);
}

Expected<ProgramPlan> ProgramPlan::fromJSON(const json::Value &v) {
  auto fail = [](const Twine &m) {
    return createStringError(inconvertibleErrorCode(), "bad program plan: %s",
                             m.str().c_str());
  };
  const json::Object *root = v.getAsObject();
  if (!root)
    return fail("not an object");
  Reader r;
  ProgramPlan p;
  const json::Object *c = root->getObject("config");
  const json::Array *ws = root->getArray("weights");
  const json::Array *ss = root->getArray("steps");
  if (!c || !ws || !ss)
    return fail("missing config, weights or steps");
  p.config.vocab = r.i64(*c, "vocab");
  p.config.dim = r.i64(*c, "dim");
  p.config.layers = r.i64(*c, "layers");
  p.config.heads = r.i64(*c, "heads");
  p.config.kvHeads = r.i64(*c, "kv_heads");
  p.config.headDim = r.i64(*c, "head_dim");
  p.config.valueDim = r.i64(*c, "value_dim");
  p.config.hidden = r.i64(*c, "hidden");
  p.config.maxContext = r.i64(*c, "max_context");
  {
    StringRef kv = c->getString("kv_dtype").value_or("f32");
    std::optional<KvType> t = parseKvTypeName(kv);
    if (!t)
      return fail("unknown kv_dtype '" + kv + "'");
    p.config.kvType = *t;
  }
  p.config.bos = int32_t(r.i64(*c, "bos"));
  p.config.eos = int32_t(r.i64(*c, "eos"));
  if (const json::Array *stop = c->getArray("stop"))
    for (const json::Value &v : *stop) {
      std::optional<int64_t> id = v.getAsInteger();
      if (!id || *id < 0 || *id > INT32_MAX)
        return fail("config.stop holds something other than token ids");
      p.config.stop.push_back(int32_t(*id));
    }
  p.arenaFloats = r.i64(*root, "arena_floats");
  p.maxTokens = r.i64(*root, "max_tokens");
  p.logits = r.row(*root, "logits");
  for (const json::Value &wv : *ws) {
    const json::Object *o = wv.getAsObject();
    if (!o)
      return fail("weight entry is not an object");
    WeightSlot w;
    w.name = o->getString("name").value_or("").str();
    StringRef kind = o->getString("kind").value_or("");
    const auto *k = llvm::find(kSlotKindNames, kind);
    if (k == std::end(kSlotKindNames))
      return fail("weight '" + w.name + "': unknown kind '" + kind + "'");
    w.kind = SlotKind(k - std::begin(kSlotKindNames));
    w.offset = r.i64(*o, "offset");
    w.bytes = r.i64(*o, "bytes");
    if (const json::Array *sh = o->getArray("shape"))
      for (size_t i = 0; i < sh->size(); ++i)
        w.shape.push_back(r.at(sh, i));
    w.format = o->getString("format").value_or("").str();
    w.lanes = unsigned(r.i64(*o, "lanes"));
    w.inputScale = int32_t(o->getInteger("input_scale").value_or(-1));
    w.bias = int32_t(o->getInteger("bias").value_or(-1));
    w.actScale = float(o->getNumber("act_scale").value_or(0.0));
    if (!(w.actScale >= 0) || !std::isfinite(w.actScale))
      return fail("act_scale must be a finite non-negative number");
    w.rowScale = float(o->getNumber("row_scale").value_or(1.0));
    if (!std::isfinite(w.rowScale) || w.rowScale == 0 ||
        (w.rowScale != 1.0f && w.kind != SlotKind::PackedTable))
      return fail("weight '" + w.name + "': row_scale must be finite and nonzero, and "
                  "belongs to a packed table");
    if (auto acts = o->getString("activations")) {
      w.activations = parseActivationMode(*acts);
      if (!w.activations)
        return fail("weight '" + w.name + "': unknown activations '" + *acts + "'");
    }
    if (auto seed = o->getString("rotation_seed")) {
      w.rotated = true;
      if (seed->getAsInteger(10, w.rotationSeed))
        return fail("rotation_seed is not a number");
    }
    p.weights.push_back(std::move(w));
  }
  for (const json::Value &sv : *ss) {
    const json::Object *o = sv.getAsObject();
    if (!o)
      return fail("step is not an object");
    StringRef op = o->getString("op").value_or("");
    const auto *it = llvm::find(kStepNames, op);
    if (it == std::end(kStepNames))
      return fail("unknown step '" + op + "'");
    Step s;
    s.kind = StepKind(it - std::begin(kStepNames));
    s.lastOnly = o->getBoolean("last_only").value_or(false);
    switch (s.kind) {
    case StepKind::Embed:
    case StepKind::EmbedPositions:
      s.weight = int32_t(r.i64(*o, "weight"));
      s.out = r.row(*o, "out");
      s.width = r.i64(*o, "width");
      break;
    case StepKind::RmsNorm:
    case StepKind::LayerNorm:
      s.weight = int32_t(r.i64(*o, "weight"));
      s.bias = int32_t(o->getInteger("bias").value_or(-1));
      s.in = r.row(*o, "in");
      s.out = r.row(*o, "out");
      s.width = r.i64(*o, "width");
      s.eps = float(r.f64(*o, "eps"));
      s.groups = o->getInteger("groups").value_or(1);
      if (s.groups < 1 || (s.kind != StepKind::RmsNorm && s.groups != 1))
        return fail("a norm's groups must be >= 1 (and 1 for layer_norm)");
      break;
    case StepKind::Matmul:
      s.weight = int32_t(r.i64(*o, "weight"));
      s.in = r.row(*o, "in");
      s.out = r.row(*o, "out");
      s.width = r.i64(*o, "n");
      s.inner = r.i64(*o, "k");
      break;
    case StepKind::RopeTables:
      s.rotHalf = r.i64(*o, "half");
      s.headDim = r.i64(*o, "dim");
      s.theta = r.f64(*o, "theta");
      s.weight = int32_t(o->getInteger("weight").value_or(-1));
      s.scale = float(o->getNumber("attention_factor").value_or(1.0));
      if (auto lw = o->getInteger("long_weight")) {
        s.longWeight = int32_t(*lw);
        s.longScale = float(r.f64(*o, "long_attention_factor"));
        s.longAfter = r.i64(*o, "long_after");
        if (*lw < 0 || *lw > INT32_MAX || s.longAfter < 0)
          return fail("rope_tables' long_weight and long_after must not be negative");
      }
      s.cos = r.i64(*o, "cos");
      s.sin = r.i64(*o, "sin");
      break;
    case StepKind::Rope:
      s.q = r.head(*o, "x");
      s.o = r.head(*o, "out");
      s.heads = r.i64(*o, "heads");
      s.headDim = r.i64(*o, "head_dim");
      s.rotHalf = r.i64(*o, "half");
      s.interleaved = o->getBoolean("interleaved").value_or(false);
      s.cos = r.i64(*o, "cos");
      s.sin = r.i64(*o, "sin");
      break;
    case StepKind::Attention:
      s.q = r.head(*o, "q");
      s.k = r.head(*o, "k");
      s.v = r.head(*o, "v");
      s.o = r.head(*o, "out");
      s.heads = r.i64(*o, "heads");
      s.kvHeads = r.i64(*o, "kv_heads");
      s.headDim = r.i64(*o, "head_dim");
      s.valueDim = r.i64(*o, "value_dim");
      s.scale = float(r.f64(*o, "scale"));
      s.layer = int32_t(r.i64(*o, "layer"));
      s.window = o->getInteger("window").value_or(0);
      if (s.window < 0)
        return fail("attention window must not be negative");
      s.softcap = float(o->getNumber("softcap").value_or(0.0));
      if (!(s.softcap >= 0.0f) || std::isinf(s.softcap))
        return fail("attention softcap must be 0 (none) or positive and finite");
      break;
    case StepKind::SwiGLU:
    case StepKind::Add:
      s.in = r.row(*o, "in");
      s.in2 = r.row(*o, "in2");
      s.out = r.row(*o, "out");
      s.width = r.i64(*o, "width");
      if (s.kind == StepKind::SwiGLU) {
        StringRef act = o->getString("activation").value_or("silu");
        if (act != "silu" && act != "gelu" && act != "gelu_tanh")
          return fail("unknown swiglu activation '" + act + "'");
        s.geglu = act != "silu";
        s.geluTanh = act == "gelu_tanh";
      }
      break;
    case StepKind::Gelu: {
      s.in = r.row(*o, "in");
      s.out = r.row(*o, "out");
      s.width = r.i64(*o, "width");
      StringRef approx = o->getString("approximate").value_or("none");
      if (approx != "none" && approx != "tanh")
        return fail("unknown gelu approximation '" + approx + "'");
      s.geluTanh = approx == "tanh";
      break;
    }
    case StepKind::Softcap:
      s.in = r.row(*o, "in");
      s.out = r.row(*o, "out");
      s.width = r.i64(*o, "width");
      s.softcap = float(r.f64(*o, "cap"));
      if (!(s.softcap > 0.0f) || std::isinf(s.softcap))
        return fail("softcap step's cap must be positive and finite");
      break;
    case StepKind::MoE: {
      const json::Array *experts = o->getArray("experts");
      if (!experts)
        return fail("moe step without experts");
      for (size_t i = 0; i < experts->size(); ++i) {
        int64_t e = r.at(experts, i);
        if (e < 0 || e > INT32_MAX)
          return fail("moe step's experts must be slot indices");
        s.experts.push_back(int32_t(e));
      }
      s.gated = o->getBoolean("gated").value_or(false);
      s.in = r.row(*o, "in");
      s.in2 = r.row(*o, "router");
      s.out = r.row(*o, "out");
      s.width = r.i64(*o, "width");
      s.inner = r.i64(*o, "inner");
      s.topK = r.i64(*o, "top_k");
      s.normalize = o->getBoolean("normalize").value_or(false);
      StringRef act = o->getString("activation").value_or("");
      const auto *a = llvm::find(kExpertActivationNames, act);
      if (a == std::end(kExpertActivationNames))
        return fail("unknown moe activation '" + act + "'");
      s.expertAct = ExpertActivation(a - std::begin(kExpertActivationNames));
      s.interleaved = o->getBoolean("interleaved").value_or(false);
      s.alpha = float(o->getNumber("alpha").value_or(1.0));
      s.beta = float(o->getNumber("beta").value_or(0.0));
      s.limit = float(o->getNumber("limit").value_or(0.0));
      if (!std::isfinite(s.alpha) || !std::isfinite(s.beta) || !std::isfinite(s.limit) ||
          s.limit < 0)
        return fail("moe step's alpha and beta must be finite, its limit finite and "
                    "not negative");
      break;
    }
    }
    p.steps.push_back(s);
  }
  if (!r.error.empty())
    return fail(r.error);
  return std::move(p);
}

} // namespace llmc::codegen
