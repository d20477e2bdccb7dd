//===- Recipe.cpp - --quant grammar, JSON recipes, tensor-name globs ------===//
#include "llmc/Quant/Recipe.h"
#include "llmc/Support/EnumNames.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;
using llmc::kernels::ScaleType;
using llmc::kernels::WeightFormat;
using llmc::kernels::WeightType;

namespace llmc {
namespace quant {

static constexpr EnumName<QuantMethod> kQuantMethodNames[] = {
    {QuantMethod::RTN, "rtn"},
    {QuantMethod::GPTQ, "gptq"},
    {QuantMethod::AWQ, "awq"},
    {QuantMethod::Incoherent, "quip"}};

StringRef quantMethodName(QuantMethod m) {
  return enumName(kQuantMethodNames, m);
}

std::optional<QuantMethod> parseQuantMethodName(StringRef name) {
  return parseEnumName(kQuantMethodNames, name);
}

StringRef specTypeName(WeightType t) {
  switch (t) {
  case WeightType::F32: return "fp32";
  case WeightType::F16: return "fp16";
  case WeightType::BF16: return "bf16";
  default: return kernels::weightTypeName(t);
  }
}

std::string QuantSpec::str() const {
  std::string s = specTypeName(format.type).str();
  if (!format.isQuantized())
    return quarot ? s + ":quarot" : s;
  s += format.groupSize ? ":g" + std::to_string(format.groupSize)
                        : std::string(":pc");
  s += format.symmetric ? ":sym:" : ":asym:";
  s += kernels::scaleTypeName(format.scaleType).str();
  if (mseClip)
    s += ":mse";
  if (method != QuantMethod::RTN)
    s += ":" + quantMethodName(method).str();
  if (actOrder)
    s += ":actorder";
  if (refitScales)
    s += ":refit";
  if (biasCorrection)
    s += ":bias";
  if (quarot)
    s += ":quarot";
  return s;
}

Error QuantSpec::validate() const {
  auto fail = [](const Twine &msg) {
    return createStringError(inconvertibleErrorCode(), msg);
  };
  if (!format.isQuantized() &&
      (method != QuantMethod::RTN || mseClip || actOrder || refitScales ||
       biasCorrection))
    return fail("float weights take no quantization options but 'quarot'");
  if (actOrder && method != QuantMethod::GPTQ &&
      method != QuantMethod::Incoherent)
    return fail("'actorder' needs 'gptq' or 'quip'");
  if (refitScales && method != QuantMethod::GPTQ &&
      method != QuantMethod::Incoherent)
    return fail("'refit' needs 'gptq' or 'quip'");
  // quarot rotates every quantized matmul input already (the residual
  // stream's readers through the folded rotation, the others online), so
  // quip's per-matmul rotation would be a second one; AWQ's channel scales
  // would have to be folded into norms whose weights quarot sets to 1.
  if (quarot && method == QuantMethod::Incoherent)
    return fail("'quarot' already rotates every matmul input: use "
                "'gptq:quarot' (LDLQ is GPTQ in the rotated basis) instead of "
                "'quip:quarot'");
  if (quarot && method == QuantMethod::AWQ)
    return fail("'quarot' does not combine with 'awq'");
  // AWQ's search and its folded channel scales assume the uncentered inputs.
  if (biasCorrection && method == QuantMethod::AWQ)
    return fail("'bias' needs 'rtn', 'gptq' or 'quip'");
  return format.validate();
}

static Error specError(StringRef text, const Twine &msg) {
  return createStringError(inconvertibleErrorCode(),
                           "quantization spec '" + text + "': " + msg);
}

Expected<QuantSpec> parseQuantSpec(StringRef text) {
  SmallVector<StringRef, 8> toks;
  text.split(toks, ':');
  if (text.trim().empty())
    return specError(text, "empty");
  QuantSpec spec;
  WeightFormat &f = spec.format;
  std::string type = toks[0].trim().lower();
  std::optional<WeightType> named = kernels::parseWeightTypeName(type);
  if (named && WeightFormat::floating(*named).isQuantized()) {
    f.type = *named;
  } else if (type == "fp16" || type == "f16") {
    f.type = WeightType::F16;
  } else if (type == "bf16") {
    f.type = WeightType::BF16;
  } else if (type == "fp32" || type == "f32" || type == "none") {
    f.type = WeightType::F32;
  } else {
    return specError(text, "unknown weight type '" + toks[0] +
                               "' (expected int8, int4, int3, int2, nl4, nl2, "
                               "fp16, bf16 or fp32)");
  }
  bool seenGroup = false, seenSym = false, seenScale = false,
       seenMethod = false;
  for (StringRef raw : ArrayRef<StringRef>(toks).drop_front()) {
    std::string tok = raw.trim().lower();
    StringRef t(tok);
    if (t == "quarot") {
      if (spec.quarot)
        return specError(text, "'" + raw + "' given twice");
      spec.quarot = true;
      continue;
    }
    if (!f.isQuantized())
      return specError(text, "option '" + raw + "' does not apply to " +
                                 toks[0] + " weights");
    auto once = [&](bool &seen, StringRef what) -> Error {
      if (seen)
        return specError(text, "'" + raw + "' conflicts with an earlier " +
                                   what + " option");
      seen = true;
      return Error::success();
    };
    if (t == "pc" || (t.size() > 1 && t[0] == 'g' &&
                      all_of(t.drop_front(), isDigit))) {
      if (Error e = once(seenGroup, "group"))
        return std::move(e);
      unsigned g = 0;
      if (t != "pc" && (t.drop_front().getAsInteger(10, g) || g == 0 ||
                        (g % 32 != 0 && g != 16)))
        return specError(text, "group size in '" + raw +
                                   "' must be 16 or a positive multiple of "
                                   "32 (or use 'pc' for per-channel)");
      f.groupSize = g;
    } else if (t == "sym" || t == "asym") {
      if (Error e = once(seenSym, "sym/asym"))
        return std::move(e);
      f.symmetric = t == "sym";
    } else if (std::optional<ScaleType> st = kernels::parseScaleTypeName(t)) {
      if (Error e = once(seenScale, "scale dtype"))
        return std::move(e);
      f.scaleType = *st;
    } else if (t == "mse") {
      if (spec.mseClip)
        return specError(text, "'" + raw + "' given twice");
      spec.mseClip = true;
    } else if (t == "actorder") {
      if (spec.actOrder)
        return specError(text, "'" + raw + "' given twice");
      spec.actOrder = true;
    } else if (t == "refit") {
      if (spec.refitScales)
        return specError(text, "'" + raw + "' given twice");
      spec.refitScales = true;
    } else if (t == "bias") {
      if (spec.biasCorrection)
        return specError(text, "'" + raw + "' given twice");
      spec.biasCorrection = true;
    } else if (std::optional<QuantMethod> m = parseQuantMethodName(t)) {
      if (Error e = once(seenMethod, "method"))
        return std::move(e);
      spec.method = *m;
    } else {
      return specError(text, "unknown option '" + raw +
                                 "' (expected gN, pc, sym, asym, f32, f16, "
                                 "bf16, e4m4, mse, rtn, gptq, awq, quip, actorder, "
                                 "refit, bias, quarot)");
    }
  }
  if (f.isQuantized()) {
    if (!seenGroup)
      f.groupSize = f.type == WeightType::Int8 ? 0 : 32;
    if (!seenScale)
      f.scaleType = f.groupSize ? ScaleType::F16 : ScaleType::F32;
  }
  if (Error e = spec.validate())
    return specError(text, toString(std::move(e)));
  return spec;
}

static bool hasWildcard(StringRef p) {
  return p.find_first_of("*?[{\\") != StringRef::npos;
}

// GlobPattern expands {a,b} only when given a bound on the expansions; 256
// alternatives are far more than any tensor-name rule needs.
static Expected<GlobPattern> compileGlob(StringRef pattern) {
  return GlobPattern::create(pattern, /*MaxSubPatterns=*/256);
}

bool matchTensorName(StringRef pattern, StringRef name) {
  Expected<GlobPattern> glob = compileGlob(pattern);
  if (!glob) {
    consumeError(glob.takeError());
    return false;
  }
  if (glob->match(name))
    return true;
  if (hasWildcard(pattern) || pattern.empty())
    return false;
  // Literal pattern: whole dot-separated parts of the name.
  for (size_t pos = name.find(pattern); pos != StringRef::npos;
       pos = name.find(pattern, pos + 1)) {
    size_t end = pos + pattern.size();
    if ((pos == 0 || name[pos - 1] == '.') &&
        (end == name.size() || name[end] == '.'))
      return true;
  }
  return false;
}

int QuantRecipe::ruleIndexFor(StringRef tensorName) const {
  for (size_t i = 0; i < rules.size(); ++i)
    if (matchTensorName(rules[i].pattern, tensorName))
      return int(i);
  return -1;
}

const QuantSpec &QuantRecipe::lookup(StringRef tensorName) const {
  int i = ruleIndexFor(tensorName);
  return i < 0 ? defaultSpec : rules[size_t(i)].spec;
}

Error QuantRecipe::addRule(StringRef pattern, const QuantSpec &spec,
                           StringRef activations) {
  auto glob = compileGlob(pattern);
  if (!glob)
    return createStringError(inconvertibleErrorCode(),
                             "bad tensor name pattern '" + pattern +
                                 "': " + toString(glob.takeError()));
  rules.push_back({pattern.str(), spec, activations.str()});
  return Error::success();
}

Expected<QuantRecipe> QuantRecipe::fromQuantString(StringRef specText) {
  auto spec = parseQuantSpec(specText);
  if (!spec)
    return spec.takeError();
  QuantRecipe r;
  r.defaultSpec = *spec;
  return std::move(r);
}

Expected<QuantRecipe> QuantRecipe::parseJSON(StringRef text,
                                             const QuantSpec &fallback,
                                             StringRef source) {
  auto fail = [&](const Twine &msg) {
    return createStringError(inconvertibleErrorCode(), source + ": " + msg);
  };
  auto parsed = json::parse(text);
  if (!parsed)
    return fail("invalid JSON: " + toString(parsed.takeError()));
  const json::Object *top = parsed->getAsObject();
  if (!top)
    return fail("expected a JSON object with \"default\" and \"rules\"");
  for (const auto &kv : *top)
    if (kv.first != "default" && kv.first != "rules" && kv.first != "embedding")
      return fail("unknown key \"" + StringRef(kv.first) +
                  "\" (expected \"default\", \"rules\" and \"embedding\")");
  // A top-level spec: "default" (matmul weights) or "embedding" (the table).
  auto specField = [&](StringRef key, StringRef example,
                       std::optional<QuantSpec> &out) -> Error {
    const json::Value *v = top->get(key);
    if (!v)
      return Error::success();
    auto s = v->getAsString();
    if (!s)
      return fail("\"" + key + "\" must be a string such as \"" + example + "\"");
    auto spec = parseQuantSpec(*s);
    if (!spec)
      return fail("\"" + key + "\": " + toString(spec.takeError()));
    out = *spec;
    return Error::success();
  };
  QuantRecipe r;
  std::optional<QuantSpec> defaultSpec;
  if (Error e = specField("default", "int4:g32", defaultSpec))
    return std::move(e);
  if (Error e = specField("embedding", "int8", r.embedding))
    return std::move(e);
  r.defaultSpec = defaultSpec.value_or(fallback);
  const json::Value *rules = top->get("rules");
  if (!rules)
    return std::move(r);
  const json::Array *arr = rules->getAsArray();
  if (!arr)
    return fail("\"rules\" must be an array of {\"match\": GLOB, \"quant\": "
                "SPEC} (an array because the first matching rule wins)");
  for (size_t i = 0; i < arr->size(); ++i) {
    std::string where = "rule " + std::to_string(i + 1);
    const json::Object *o = (*arr)[i].getAsObject();
    if (!o)
      return fail(where + ": expected {\"match\": GLOB, \"quant\": SPEC}");
    for (const auto &kv : *o)
      if (kv.first != "match" && kv.first != "quant" && kv.first != "activations")
        return fail(where + ": unknown key \"" + StringRef(kv.first) +
                    "\" (expected \"match\", \"quant\" and optionally "
                    "\"activations\")");
    auto match = o->getString("match");
    auto quant = o->getString("quant");
    if (!match || !quant)
      return fail(where + ": needs string fields \"match\" and \"quant\"");
    auto spec = parseQuantSpec(*quant);
    if (!spec)
      return fail(where + " (\"" + *match + "\"): " +
                  toString(spec.takeError()));
    // The value's grammar (--activations') is the code generator's; the
    // compiler checks it.
    std::string acts;
    if (const json::Value *a = o->get("activations")) {
      auto text = a->getAsString();
      if (!text || text->empty())
        return fail(where + " (\"" + *match + "\"): \"activations\" must be "
                    "a string such as \"bf16\"");
      acts = text->str();
    }
    if (spec->quarot)
      return fail(where + " (\"" + *match + "\"): 'quarot' rotates the whole "
                  "model's residual stream: give it in \"default\" or --quant, "
                  "not in a rule");
    if (Error e = r.addRule(*match, *spec, acts))
      return fail(where + ": " + toString(std::move(e)));
  }
  return std::move(r);
}

Expected<QuantRecipe> QuantRecipe::loadFile(StringRef path,
                                            const QuantSpec &fallback) {
  auto buf = MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return createStringError(buf.getError(), "cannot read quantization recipe '" +
                                                 path + "': " +
                                                 buf.getError().message());
  return parseJSON((*buf)->getBuffer(), fallback, path);
}

json::Value QuantRecipe::toJSON() const {
  json::Array arr;
  for (const QuantRule &r : rules) {
    json::Object o{{"match", r.pattern}, {"quant", r.spec.str()}};
    if (!r.activations.empty())
      o["activations"] = r.activations;
    arr.push_back(std::move(o));
  }
  json::Object o{{"default", defaultSpec.str()}, {"rules", std::move(arr)}};
  if (embedding)
    o["embedding"] = embedding->str();
  return std::move(o);
}

} // namespace quant
} // namespace llmc
