//===- Manifest.cpp - Bundle manifest <-> JSON ----------------------------===//

#include "llmc/CodeGen/Manifest.h"

#include "llmc/Bundle/BundleFormat.h"

using namespace llvm;

namespace llmc::codegen {

std::string QuantRecipe::str() const {
  if (type == "fp32" || type == "fp16" || type == "bf16")
    return quarot ? type + " quarot" : type;
  std::string s = type;
  s += groupSize ? " g" + std::to_string(groupSize) : std::string(" per-channel");
  s += symmetric ? " sym" : " asym";
  s += " " + scaleType + " scales";
  if (mseClip)
    s += " mse-clip";
  if (method != "rtn")
    s += " " + method + (actOrder ? " act-order" : "") +
         (refitScales ? " refit" : "");
  if (quarot)
    s += " quarot";
  s += activations == "fp32"     ? ", fp32 activations"
       : activations == "static" ? ", static int8 activations (" + actRange + ")"
                                 : ", int8 activations";
  return s;
}

Error QuantRecipe::validate() const {
  if (type != "fp32" && type != "fp16" && type != "bf16" && type != "int8" &&
      type != "int4" && type != "int3" && type != "int2" && type != "nl4" &&
      type != "nl2")
    return createStringError(inconvertibleErrorCode(),
                             "unknown --quant '%s' (expected fp32, fp16, bf16, "
                             "int8, int4, int3, int2, nl4 or nl2)",
                             type.c_str());
  if (groupSize != 0 && groupSize != 16 && groupSize % 32 != 0)
    return createStringError(inconvertibleErrorCode(),
                             "--group-size must be 16 or a multiple of 32 "
                             "(got %u)",
                             groupSize);
  if (activations != "int8" && activations != "fp32" && activations != "static")
    return createStringError(inconvertibleErrorCode(),
                             "activations must be int8, fp32 or static (got '%s')",
                             activations.c_str());
  if (activations == "static") {
    StringRef r = actRange;
    double p;
    if (r != "minmax" && !(r.consume_front("p") && !r.getAsDouble(p) && p > 0 && p <= 100))
      return createStringError(inconvertibleErrorCode(),
                               "activation range must be minmax or pN with 0 < N "
                               "<= 100 (got '%s')",
                               actRange.c_str());
  }
  if (method != "rtn" && method != "gptq" && method != "awq" && method != "quip")
    return createStringError(inconvertibleErrorCode(),
                             "unknown quantization method '%s' (expected rtn, "
                             "gptq, awq or quip)",
                             method.c_str());
  if (refitScales && method != "gptq" && method != "quip")
    return createStringError(inconvertibleErrorCode(),
                             "'refit' needs the gptq or quip method (got %s)",
                             method.c_str());
  if (actOrder && method != "gptq" && method != "quip")
    return createStringError(inconvertibleErrorCode(),
                             "act-order applies to gptq and quip only");
  if (quarot && (method == "quip" || method == "awq"))
    return createStringError(inconvertibleErrorCode(),
                             "quarot does not combine with '%s' (use gptq or "
                             "rtn: quarot rotates every matmul input itself)",
                             method.c_str());
  if (quarot && activations == "static")
    return createStringError(inconvertibleErrorCode(),
                             "static activations with 'quarot' are not "
                             "supported: its online input rotations change "
                             "the range");
  if (scaleType != "f16" && scaleType != "f32" && scaleType != "bf16")
    return createStringError(inconvertibleErrorCode(),
                             "unknown scale type '%s'", scaleType.c_str());
  return Error::success();
}

kernels::WeightFormat weightFormatFor(const QuantRecipe &r) {
  using namespace kernels;
  if (r.type == "fp16")
    return WeightFormat::floating(WeightType::F16);
  if (r.type == "bf16")
    return WeightFormat::floating(WeightType::BF16);
  if (r.type == "fp32")
    return WeightFormat::floating(WeightType::F32);
  ScaleType st = r.scaleType == "f32"    ? ScaleType::F32
                 : r.scaleType == "bf16" ? ScaleType::BF16
                                         : ScaleType::F16;
  // Quantized types are named as weightTypeName spells them ("int4", "nl4").
  WeightType t = parseWeightTypeName(r.type).value_or(WeightType::Int4);
  return WeightFormat::quantized(t, r.groupSize, r.symmetric, st);
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
    for (const WeightSlot &w : plan->weights) {
      bytes += w.bytes;
      if (w.kind != SlotKind::Packed)
        continue;
      if (auto f = kernels::parseWeightFormat(w.format)) {
        const double count = double(w.shape[0]) * double(w.shape[1]);
        matmulWeights += count;
        matmulBits += count * f->storedBitsPerWeight(unsigned(w.shape[1]));
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
      {"recipe", json::Object{{"quant", recipe.type},
                              {"group_size", int64_t(recipe.groupSize)},
                              {"symmetric", recipe.symmetric},
                              {"scale_type", recipe.scaleType},
                              {"mse_clip", recipe.mseClip},
                              {"activations", recipe.activations},
                              {"activation_range", recipe.actRange},
                              {"weight_format", format},
                              {"description", recipe.str()},
                              {"method", recipe.method},
                              {"act_order", recipe.actOrder},
                              {"refit_scales", recipe.refitScales},
                              {"quarot", recipe.quarot}}},
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
  m.recipe.type = recipe->getString("quant").value_or("fp32").str();
  m.recipe.groupSize = unsigned(recipe->getInteger("group_size").value_or(0));
  m.recipe.symmetric = recipe->getBoolean("symmetric").value_or(true);
  m.recipe.scaleType = recipe->getString("scale_type").value_or("f16").str();
  m.recipe.mseClip = recipe->getBoolean("mse_clip").value_or(false);
  m.recipe.activations = recipe->getString("activations").value_or("int8").str();
  m.recipe.actRange = recipe->getString("activation_range").value_or("minmax").str();
  m.recipe.method = recipe->getString("method").value_or("rtn").str();
  m.recipe.actOrder = recipe->getBoolean("act_order").value_or(false);
  m.recipe.refitScales = recipe->getBoolean("refit_scales").value_or(false);
  m.recipe.quarot = recipe->getBoolean("quarot").value_or(false);
  if (Error e = m.recipe.validate())
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
