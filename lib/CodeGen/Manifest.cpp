//===- Manifest.cpp - Bundle manifest <-> JSON ----------------------------===//

#include "llmc/CodeGen/Manifest.h"
#include "llmc/Support/EnumNames.h"

#include "llmc/Bundle/BundleFormat.h"

#include <set>

using namespace llvm;

namespace llmc::codegen {

static constexpr EnumName<ActivationMode> kActivationModeNames[] = {
    {ActivationMode::Int8, "int8"},
    {ActivationMode::F32, "fp32"},
    {ActivationMode::Static, "static"},
    {ActivationMode::BF16, "bf16"}};

StringRef activationModeName(ActivationMode m) {
  return enumName(kActivationModeNames, m);
}

std::optional<ActivationMode> parseActivationMode(StringRef name) {
  return parseEnumName(kActivationModeNames, name);
}

std::string QuantRecipe::str() const {
  std::string s = weights.str();
  if (activations == ActivationMode::BF16)
    return s + (format().type == kernels::WeightType::BF16
                    ? ", bf16 activations"
                    : ", bf16 activations at bf16 weights (fp32 elsewhere)");
  if (!weights.isQuantized())
    return s;
  switch (activations) {
  case ActivationMode::BF16:
  case ActivationMode::Int8: return s + ", int8 activations";
  case ActivationMode::F32: return s + ", fp32 activations";
  case ActivationMode::Static:
    return s + ", static int8 activations (" + actRange + ")";
  }
  return s;
}

Error QuantRecipe::validate() const {
  if (Error e = weights.validate())
    return e;
  if (activations == ActivationMode::Static) {
    StringRef r = actRange;
    double p;
    if (r != "minmax" && !(r.consume_front("p") && !r.getAsDouble(p) && p > 0 && p <= 100))
      return createStringError(inconvertibleErrorCode(),
                               "activation range must be minmax or pN with 0 < N "
                               "<= 100 (got '%s')",
                               actRange.c_str());
    if (weights.quarot)
      return createStringError(inconvertibleErrorCode(),
                               "static activations with 'quarot' are not "
                               "supported: its online input rotations change "
                               "the range");
  }
  return Error::success();
}

json::Value Manifest::toJSON() const {
  const ModelConfig &c = plan ? plan->config : config;
  json::Array features;
  for (const std::string &f : target.features)
    features.push_back(f);
  json::Array kernelsJ;
  uint64_t bytes = weightBytes;
  // Matmul weights and their stored bits (codes, scales, zero points).
  double matmulWeights = 0, matmulBits = 0;
  bool formatsKnown = true;
  if (plan) {
    bytes = 0;
    // A packed table may be stored in another slot's bytes (a tied lm_head):
    // those count once.
    std::set<std::pair<int64_t, int64_t>> stored;
    for (const WeightSlot &w : plan->weights) {
      if (stored.insert({w.offset, w.bytes}).second)
        bytes += w.bytes;
      if (w.kind != SlotKind::Packed)
        continue;
      if (auto f = kernels::parseWeightFormat(w.format)) {
        const double count = double(w.shape[0]) * double(w.shape[1]);
        matmulWeights += count;
        matmulBits += count * f->storedBitsPerWeight(unsigned(w.shape[1])) +
                      f->storedBitsPerMatrix();
        // A matmul's bias (bias correction's, or a pre-quantized matmul's
        // own) is stored with it: N fp32 values, 32 / K bits per weight.
        if (w.bias >= 0 && size_t(w.bias) < plan->weights.size())
          matmulBits += 8.0 * double(plan->weights[size_t(w.bias)].bytes);
      } else {
        consumeError(f.takeError());
        formatsKnown = false; // no figure rather than one over part of them
      }
      json::Object k{{"weight", w.name},
                     {"n", w.shape[0]},
                     {"k", w.shape[1]},
                     {"format", w.format},
                     {"lanes", int64_t(w.lanes)},
                     {"tier", tier}};
      // The input transform the runtime applies before this kernel.
      json::Array input;
      if (w.inputScale >= 0)
        input.push_back("awq_scale");
      if (w.rotated)
        input.push_back("hadamard(seed " + std::to_string(w.rotationSeed) + ")");
      if (!input.empty())
        k["input_transform"] = std::move(input);
      if (w.activations) // a recipe rule's own mode (else the recipe's)
        k["activations"] = activationModeName(*w.activations);
      kernelsJ.push_back(std::move(k));
    }
  }
  json::Object root{
      {"format", "llmc-bundle"},
      {"format_version", int64_t(bundle::kFormatVersion)},
      {"model",
       json::Object{{"architecture", "llama"},
                    {"vocab", c.vocab},
                    {"dim", c.dim},
                    {"layers", c.layers},
                    {"heads", c.heads},
                    {"kv_heads", c.kvHeads},
                    {"head_dim", c.headDim},
                    {"hidden", c.hidden},
                    {"max_context", c.maxContext},
                    {"kv_cache", kvTypeName(c.kvType)},
                    {"bos", c.bos},
                    {"eos", c.eos},
                    {"source", source}}},
      {"target", json::Object{{"cpu", target.cpu},
                              {"features", std::move(features)},
                              {"vector_bits", int64_t(target.vectorBits)},
                              {"l1d", int64_t(target.caches.l1d)},
                              {"l2", int64_t(target.caches.l2)},
                              {"l3", int64_t(target.caches.l3)},
                              {"cores", int64_t(target.cores)},
                              {"kernel_tier", tier}}},
      {"recipe",
       json::Object{{"quant", quant::specTypeName(recipe.format().type)},
                    {"group_size", int64_t(recipe.format().groupSize)},
                    {"symmetric", recipe.format().symmetric},
                    {"scale_type", kernels::scaleTypeName(recipe.format().scaleType)},
                    {"mse_clip", recipe.weights.mseClip},
                    {"activations", activationModeName(recipe.activations)},
                    {"activation_range", recipe.actRange},
                    {"weight_format", format},
                    {"description", recipe.str()},
                    {"method", quant::quantMethodName(recipe.weights.method)},
                    {"act_order", recipe.weights.actOrder},
                    {"refit_scales", recipe.weights.refitScales},
                    {"bias_correction", recipe.weights.biasCorrection},
                    {"quarot", recipe.weights.quarot}}},
      {"tokenizer", json::Object{{"kind", tokenizerKind}}},
      {"program", json::Object{{"kind", "plan"},
                               {"section", kPlanSection},
                               {"opt_level", int64_t(optLevel)}}},
      {"weight_bytes", int64_t(bytes)},
      {"kernels", std::move(kernelsJ)}};
  if (formatsKnown && matmulWeights > 0)
    root["matmul_bits_per_weight"] = matmulBits / matmulWeights;
  if (tuning.kind() != json::Value::Null)
    root["tuning"] = tuning;
  if (residualRotation.kind() != json::Value::Null)
    root["residual_rotation"] = residualRotation;
  return root;
}

// The manifest's "recipe" object: the type through parseQuantSpec (its
// spellings and defaults), the other fields set on the result, then the whole
// checked as --quant's are.
static Expected<QuantRecipe> parseRecipe(const json::Object &o) {
  auto fail = [](const Twine &m) {
    return createStringError(inconvertibleErrorCode(), "recipe: %s",
                             m.str().c_str());
  };
  QuantRecipe r;
  auto spec = quant::parseQuantSpec(o.getString("quant").value_or("fp32"));
  if (!spec)
    return spec.takeError();
  r.weights = *spec;
  quant::QuantSpec &w = r.weights;
  if (w.isQuantized()) {
    w.format.groupSize = unsigned(o.getInteger("group_size").value_or(0));
    w.format.symmetric = o.getBoolean("symmetric").value_or(true);
    StringRef st = o.getString("scale_type").value_or("f16");
    std::optional<kernels::ScaleType> t = kernels::parseScaleTypeName(st);
    if (!t)
      return fail("unknown scale type '" + st + "'");
    w.format.scaleType = *t;
  }
  w.mseClip = o.getBoolean("mse_clip").value_or(false);
  StringRef method = o.getString("method").value_or("rtn");
  std::optional<quant::QuantMethod> m = quant::parseQuantMethodName(method);
  if (!m)
    return fail("unknown method '" + method + "'");
  w.method = *m;
  w.actOrder = o.getBoolean("act_order").value_or(false);
  w.refitScales = o.getBoolean("refit_scales").value_or(false);
  w.biasCorrection = o.getBoolean("bias_correction").value_or(false);
  w.quarot = o.getBoolean("quarot").value_or(false);
  StringRef acts = o.getString("activations").value_or("int8");
  std::optional<ActivationMode> mode = parseActivationMode(acts);
  if (!mode)
    return fail("unknown activations '" + acts + "'");
  r.activations = *mode;
  r.actRange = o.getString("activation_range").value_or("minmax").str();
  if (Error e = r.validate())
    return fail(toString(std::move(e)));
  return r;
}

Expected<Manifest> Manifest::parse(StringRef text) {
  auto fail = [](const Twine &m) {
    return createStringError(inconvertibleErrorCode(), "bad manifest: %s",
                             m.str().c_str());
  };
  auto v = json::parse(text);
  if (!v)
    return fail(toString(v.takeError()));
  const json::Object *root = v->getAsObject();
  if (!root)
    return fail("not a JSON object");
  const json::Object *model = root->getObject("model");
  const json::Object *target = root->getObject("target");
  const json::Object *recipe = root->getObject("recipe");
  if (!model || !target || !recipe)
    return fail("missing model, target or recipe");
  Manifest m;
  ModelConfig &c = m.config;
  c.vocab = model->getInteger("vocab").value_or(0);
  c.dim = model->getInteger("dim").value_or(0);
  c.layers = model->getInteger("layers").value_or(0);
  c.heads = model->getInteger("heads").value_or(0);
  c.kvHeads = model->getInteger("kv_heads").value_or(0);
  c.headDim = model->getInteger("head_dim").value_or(0);
  c.hidden = model->getInteger("hidden").value_or(0);
  c.maxContext = model->getInteger("max_context").value_or(0);
  c.bos = int32_t(model->getInteger("bos").value_or(1));
  c.eos = int32_t(model->getInteger("eos").value_or(2));
  m.source = model->getString("source").value_or("").str();
  std::vector<std::string> features;
  if (const json::Array *fs = target->getArray("features"))
    for (const json::Value &f : *fs)
      if (auto s = f.getAsString())
        features.push_back(s->str());
  CacheSizes caches{uint64_t(target->getInteger("l1d").value_or(0)),
                    uint64_t(target->getInteger("l2").value_or(0)),
                    uint64_t(target->getInteger("l3").value_or(0))};
  auto t = makeTarget(target->getString("cpu").value_or("").str(), features,
                      caches, unsigned(target->getInteger("cores").value_or(1)));
  if (!t)
    return fail(toString(t.takeError()));
  m.target = *t;
  m.tier = target->getString("kernel_tier").value_or("").str();
  if (Error e = parseRecipe(*recipe).moveInto(m.recipe))
    return fail(toString(std::move(e)));
  m.format = recipe->getString("weight_format").value_or("").str();
  if (const json::Object *tok = root->getObject("tokenizer"))
    m.tokenizerKind = tok->getString("kind").value_or("").str();
  m.weightBytes = uint64_t(root->getInteger("weight_bytes").value_or(0));
  if (const json::Object *program = root->getObject("program")) {
    int64_t level = program->getInteger("opt_level").value_or(3);
    if (level < 0 || level > 3)
      return fail("program.opt_level " + Twine(level) + " is not one of 0..3");
    m.optLevel = unsigned(level);
  }
  if (const json::Value *t = root->get("tuning"))
    m.tuning = *t;
  if (const json::Value *r = root->get("residual_rotation"))
    m.residualRotation = *r;
  return m;
}

} // namespace llmc::codegen
