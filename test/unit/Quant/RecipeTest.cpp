//===- RecipeTest.cpp - --quant grammar and JSON recipes ------------------===//
#include "llmc/Quant/Recipe.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"
#include <gtest/gtest.h>

using namespace llmc::quant;
using llmc::kernels::ScaleType;
using llmc::kernels::WeightType;

namespace {
QuantSpec parseOk(llvm::StringRef s) {
  auto r = parseQuantSpec(s);
  EXPECT_TRUE(bool(r)) << s.str() << ": "
                       << (r ? "" : llvm::toString(r.takeError()));
  return r ? *r : QuantSpec();
}
std::string parseErr(llvm::StringRef s) {
  auto r = parseQuantSpec(s);
  if (r)
    return "<parsed as " + r->str() + ">";
  return llvm::toString(r.takeError());
}
} // namespace

TEST(QuantSpec, Defaults) {
  QuantSpec s = parseOk("int4");
  EXPECT_EQ(s.format.type, WeightType::Int4);
  EXPECT_EQ(s.format.groupSize, 32u);
  EXPECT_TRUE(s.format.symmetric);
  EXPECT_EQ(s.format.scaleType, ScaleType::F16);
  EXPECT_EQ(s.method, QuantMethod::RTN);
  EXPECT_FALSE(s.mseClip);
  EXPECT_EQ(s.str(), "int4:g32:sym:f16");
  EXPECT_EQ(parseOk("int8").str(), "int8:pc:sym:f32");
  EXPECT_EQ(parseOk("int8:g128").str(), "int8:g128:sym:f16");
  EXPECT_EQ(parseOk("fp16").format.type, WeightType::F16);
  EXPECT_EQ(parseOk("f16").str(), "fp16");
  EXPECT_EQ(parseOk("bf16").format.type, WeightType::BF16);
  EXPECT_FALSE(parseOk("fp32").isQuantized());
}

TEST(QuantSpec, Options) {
  QuantSpec s = parseOk("int4:g32:asym:f16");
  EXPECT_EQ(s.format.groupSize, 32u);
  EXPECT_FALSE(s.format.symmetric);
  EXPECT_EQ(s.format.scaleType, ScaleType::F16);
  EXPECT_EQ(parseOk("int8:pc").format.groupSize, 0u);
  QuantSpec m = parseOk("int2:g64:mse");
  EXPECT_TRUE(m.mseClip);
  EXPECT_EQ(m.format.type, WeightType::Int2);
  QuantSpec g = parseOk("INT3:g128:asym:bf16:gptq:actorder");
  EXPECT_EQ(g.format.type, WeightType::Int3);
  EXPECT_EQ(g.format.scaleType, ScaleType::BF16);
  EXPECT_EQ(g.method, QuantMethod::GPTQ);
  EXPECT_TRUE(g.actOrder);
  EXPECT_TRUE(g.needsCalibration());
  EXPECT_EQ(parseOk("int4:awq").method, QuantMethod::AWQ);
  EXPECT_EQ(parseOk("int2:quip:actorder").method, QuantMethod::Incoherent);
  EXPECT_EQ(parseOk("int4:f32:rtn").format.scaleType, ScaleType::F32);
  EXPECT_EQ(parseOk("nl4:g16:E4M4:gptq").format.scaleType, ScaleType::E4M4);
  EXPECT_TRUE(parseOk("int2:gptq:refit").refitScales);
  EXPECT_FALSE(parseOk("int2:gptq").refitScales);
}

TEST(QuantSpec, CanonicalStringRoundTrips) {
  for (const char *s :
       {"int8", "int8:g64:asym", "int4:g128:sym:bf16:mse", "int3:asym:gptq",
        "int2:g32:asym:f32:mse:quip:actorder", "int4:awq", "fp16", "bf16",
        "int2:g32:sym:mse:quip:actorder:refit", "int4:gptq:refit:quarot",
        "nl4:g16:e4m4:gptq:mse:actorder",
        "fp32"}) {
    QuantSpec a = parseOk(s);
    QuantSpec b = parseOk(a.str());
    EXPECT_EQ(a, b) << s << " -> " << a.str();
    EXPECT_EQ(a.str(), b.str());
  }
}

TEST(QuantSpec, ErrorsNameTheBadToken) {
  EXPECT_NE(parseErr("int5").find("'int5'"), std::string::npos) << parseErr("int5");
  EXPECT_NE(parseErr("int4:g33").find("'g33'"), std::string::npos);
  EXPECT_NE(parseErr("int2:g48:mse").find("'g48'"), std::string::npos);
  EXPECT_NE(parseErr("int3:g16").find("int3"), std::string::npos) << parseErr("int3:g16");
  EXPECT_NE(parseErr("int4:g0").find("'g0'"), std::string::npos);
  EXPECT_NE(parseErr("int4:foo").find("'foo'"), std::string::npos);
  EXPECT_NE(parseErr("int4:sym:asym").find("'asym'"), std::string::npos);
  EXPECT_NE(parseErr("int4:g32:pc").find("'pc'"), std::string::npos);
  EXPECT_NE(parseErr("int4:f16:bf16").find("'bf16'"), std::string::npos);
  EXPECT_NE(parseErr("int4:gptq:awq").find("'awq'"), std::string::npos);
  EXPECT_NE(parseErr("fp16:g32").find("'g32'"), std::string::npos);
  EXPECT_NE(parseErr("int4:actorder").find("actorder"), std::string::npos);
  EXPECT_NE(parseErr("int4:mse:mse").find("twice"), std::string::npos);
  EXPECT_NE(parseErr("int4:refit").find("'refit' needs 'gptq' or 'quip'"),
            std::string::npos);
  EXPECT_NE(parseErr("int4:awq:refit").find("'refit' needs"), std::string::npos);
  EXPECT_NE(parseErr("int4:gptq:refit:refit").find("twice"), std::string::npos);
  EXPECT_NE(parseErr("").find("empty"), std::string::npos);
  EXPECT_NE(parseErr("int4::sym").find("''"), std::string::npos);
}

TEST(QuantSpec, QuaRot) {
  QuantSpec g = parseOk("int4:asym:gptq:quarot");
  EXPECT_TRUE(g.quarot);
  EXPECT_EQ(g.method, QuantMethod::GPTQ);
  EXPECT_EQ(g.str(), "int4:g32:asym:f16:gptq:quarot");
  EXPECT_EQ(parseOk(g.str()), g);
  EXPECT_NE(g, parseOk("int4:asym:gptq"));
  // Round to nearest of the rotated weights needs no calibration.
  QuantSpec r = parseOk("int2:quarot:mse");
  EXPECT_TRUE(r.quarot);
  EXPECT_FALSE(r.needsCalibration());
  EXPECT_EQ(r.str(), "int2:g32:sym:f16:mse:quarot");
  // The one option float weights take: the folding alone.
  EXPECT_EQ(parseOk("fp32:quarot").str(), "fp32:quarot");
  EXPECT_TRUE(parseOk("FP16:QuaRot").quarot);
  EXPECT_FALSE(parseOk("fp32:quarot").isQuantized());

  std::string quip = parseErr("int4:quip:quarot");
  EXPECT_NE(quip.find("'gptq:quarot'"), std::string::npos) << quip;
  EXPECT_NE(parseErr("int4:quarot:awq").find("'awq'"), std::string::npos)
      << parseErr("int4:quarot:awq");
  EXPECT_NE(parseErr("int4:quarot:quarot").find("twice"), std::string::npos);
  EXPECT_NE(parseErr("fp32:quarot:g32").find("'g32'"), std::string::npos);
}

TEST(QuantRecipe, QuaRotIsAWholeModelOption) {
  auto ok = QuantRecipe::parseJSON(
      R"({"default": "int4:gptq:quarot", "rules": [{"match": "*w2*", "quant": "int8"}]})");
  ASSERT_TRUE(bool(ok)) << llvm::toString(ok.takeError());
  EXPECT_TRUE(ok->defaultSpec.quarot);
  auto bad = QuantRecipe::parseJSON(
      R"({"default": "int4", "rules": [{"match": "*w2*", "quant": "int4:quarot"}]})",
      {}, "r.json");
  ASSERT_FALSE(bool(bad));
  std::string msg = llvm::toString(bad.takeError());
  EXPECT_NE(msg.find("r.json: rule 1 (\"*w2*\"): 'quarot' rotates the whole "
                     "model's residual stream"),
            std::string::npos)
      << msg;
}

TEST(QuantRecipe, FirstMatchWinsAndDefault) {
  auto r = QuantRecipe::parseJSON(R"({
    "default": "int4:g32",
    "rules": [
      {"match": "*embed*", "quant": "int8:pc"},
      {"match": "lm_head", "quant": "fp16"},
      {"match": "*.layers.0.*", "quant": "int8"},
      {"match": "*q_proj*", "quant": "int3:g64:gptq"}
    ]})");
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->lookup("model.embed_tokens.weight").str(), "int8:pc:sym:f32");
  EXPECT_EQ(r->lookup("lm_head.weight").str(), "fp16");
  EXPECT_EQ(r->lookup("model.lm_head.weight").str(), "fp16");
  EXPECT_EQ(r->lookup("lm_head").str(), "fp16");
  EXPECT_EQ(r->lookup("lm_head2.weight").str(), "int4:g32:sym:f16");
  // layers.0 rule comes before q_proj: first match wins.
  EXPECT_EQ(r->lookup("model.layers.0.self_attn.q_proj.weight").str(),
            "int8:pc:sym:f32");
  EXPECT_EQ(r->lookup("model.layers.1.self_attn.q_proj.weight").str(),
            "int3:g64:sym:f16:gptq");
  EXPECT_EQ(r->lookup("model.layers.1.mlp.down_proj.weight").str(),
            "int4:g32:sym:f16");
  // Round trip through the JSON form.
  std::string text;
  llvm::raw_string_ostream os(text);
  os << r->toJSON();
  os.flush();
  auto back = QuantRecipe::parseJSON(text);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->rules.size(), r->rules.size());
  EXPECT_EQ(back->lookup("model.layers.1.self_attn.q_proj.weight"),
            r->lookup("model.layers.1.self_attn.q_proj.weight"));
}

// Patterns that start with literal text ("layers.0.*"): llvm::GlobPattern
// keeps that prefix as a reference into the string it was built from, which
// is gone once parseJSON returns and moves as the rule list grows. The JSON
// text is built in a temporary and enough rules are added to reallocate.
TEST(QuantRecipe, PrefixPatternsOutliveTheirSource) {
  std::string json = R"({"default": "int4:g32", "rules": [)";
  json += R"({"match": "layers.0.*", "quant": "int8"},)";
  json += R"({"match": "layers.{1,2}.attention.*", "quant": "int2:g32"},)";
  for (int i = 0; i < 40; ++i)
    json += R"({"match": "unused.prefix.)" + std::to_string(i) +
            R"(.*", "quant": "fp16"},)";
  json += R"({"match": "tok_embeddings.weight", "quant": "int8:pc"}]})";
  auto r = QuantRecipe::parseJSON(json);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  json.assign(json.size(), 'x'); // the source text is gone
  EXPECT_EQ(r->lookup("layers.0.attention.wq.weight_T").str(), "int8:pc:sym:f32");
  EXPECT_EQ(r->lookup("layers.0.feed_forward.w2.weight_T").str(),
            "int8:pc:sym:f32");
  EXPECT_EQ(r->lookup("layers.2.attention.wo.weight_T").str(),
            "int2:g32:sym:f16");
  EXPECT_EQ(r->lookup("layers.2.feed_forward.w1.weight_T").str(),
            "int4:g32:sym:f16");
  EXPECT_EQ(r->lookup("layers.10.attention.wq.weight_T").str(),
            "int4:g32:sym:f16");
  EXPECT_EQ(r->lookup("unused.prefix.39.w").str(), "fp16");
  EXPECT_EQ(r->lookup("tok_embeddings.weight").str(), "int8:pc:sym:f32");
  // A copy of the recipe matches the same way.
  QuantRecipe copy = *r;
  r->rules.clear();
  EXPECT_EQ(copy.lookup("layers.0.attention.wq.weight_T").str(),
            "int8:pc:sym:f32");
}

TEST(QuantRecipe, FallbackDefaultFromQuantString) {
  auto q = QuantRecipe::fromQuantString("int2:asym");
  ASSERT_TRUE(bool(q));
  EXPECT_TRUE(q->rules.empty());
  EXPECT_EQ(q->lookup("anything").str(), "int2:g32:asym:f16");
  auto r = QuantRecipe::parseJSON(
      R"({"rules": [{"match": "lm_head", "quant": "int8"}]})", q->defaultSpec);
  ASSERT_TRUE(bool(r));
  EXPECT_EQ(r->lookup("x.weight").str(), "int2:g32:asym:f16");
  auto none = QuantRecipe::parseJSON("{}");
  ASSERT_TRUE(bool(none));
  EXPECT_FALSE(none->lookup("w").isQuantized());
}

TEST(QuantRecipe, Errors) {
  auto err = [](llvm::StringRef json) {
    auto r = QuantRecipe::parseJSON(json, {}, "r.json");
    return r ? std::string("<ok>") : llvm::toString(r.takeError());
  };
  EXPECT_NE(err("{").find("invalid JSON"), std::string::npos);
  EXPECT_NE(err("[]").find("r.json"), std::string::npos);
  EXPECT_NE(err(R"({"rules": {"*embed*": "int8"}})").find("array"),
            std::string::npos);
  std::string bad =
      err(R"({"rules": [{"match": "a*", "quant": "int4"}, {"match": "*embed*", "quant": "int9:pc"}]})");
  EXPECT_NE(bad.find("rule 2"), std::string::npos) << bad;
  EXPECT_NE(bad.find("*embed*"), std::string::npos) << bad;
  EXPECT_NE(bad.find("'int9'"), std::string::npos) << bad;
  EXPECT_NE(err(R"({"default": "int4", "rule": []})").find("\"rule\""),
            std::string::npos);
  EXPECT_NE(err(R"({"rules": [{"match": "[", "quant": "int4"}]})").find("'['"),
            std::string::npos);
  EXPECT_NE(err(R"({"default": 4})").find("default"), std::string::npos);
}

// A rule's own activation mode is kept as text (the compiler owns its
// grammar), written back by toJSON, and absent from rules without one.
TEST(QuantRecipe, RuleActivations) {
  auto r = QuantRecipe::parseJSON(R"({
    "default": "int4:g32",
    "rules": [
      {"match": "*wo*", "quant": "bf16", "activations": "bf16"},
      {"match": "*w2*", "quant": "int8", "activations": "static:p99.9"},
      {"match": "*w1*", "quant": "int4:g128"}
    ]})");
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  ASSERT_EQ(r->rules.size(), 3u);
  EXPECT_EQ(r->rules[0].activations, "bf16");
  EXPECT_EQ(r->rules[1].activations, "static:p99.9");
  EXPECT_EQ(r->rules[2].activations, "");
  std::string text;
  llvm::raw_string_ostream os(text);
  os << r->toJSON();
  os.flush();
  EXPECT_NE(text.find(R"("activations":"bf16")"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"("activations":"")"), std::string::npos) << text;
  auto back = QuantRecipe::parseJSON(text);
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(back->rules[i].activations, r->rules[i].activations);
  auto bad = QuantRecipe::parseJSON(
      R"({"rules": [{"match": "a", "quant": "int4", "activations": 8}]})", {},
      "r.json");
  ASSERT_FALSE(bool(bad));
  std::string msg = llvm::toString(bad.takeError());
  EXPECT_NE(msg.find("rule 1 (\"a\"): \"activations\" must be a string"),
            std::string::npos)
      << msg;
}

// "embedding" sets the table's format (matmul rules never apply to it),
// is written back by toJSON, and is absent from recipes without one.
TEST(QuantRecipe, EmbeddingFormat) {
  auto r = QuantRecipe::parseJSON(R"({"default": "int4", "embedding": "nl4:mse"})");
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  ASSERT_TRUE(r->embedding.has_value());
  EXPECT_EQ(r->embedding->str(), "nl4:g32:sym:f16:mse");
  auto back = QuantRecipe::parseJSON(llvm::formatv("{0}", r->toJSON()).str());
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  ASSERT_TRUE(back->embedding.has_value());
  EXPECT_EQ(*back->embedding, *r->embedding);
  auto none = QuantRecipe::parseJSON(R"({"default": "int4"})");
  ASSERT_TRUE(bool(none));
  EXPECT_FALSE(none->embedding.has_value());
  EXPECT_EQ(none->toJSON().getAsObject()->get("embedding"), nullptr);
  for (const char *bad : {R"({"embedding": 8})", R"({"embedding": "int9"})"}) {
    auto e = QuantRecipe::parseJSON(bad);
    ASSERT_FALSE(bool(e)) << bad;
    EXPECT_NE(llvm::toString(e.takeError()).find("\"embedding\""), std::string::npos) << bad;
  }
}

TEST(QuantRecipe, LoadFile) {
  llvm::SmallString<128> path;
  ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("recipe", "json", path));
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    ASSERT_FALSE(ec);
    os << R"({"default": "int4:g128:asym", "rules": [{"match": "*embed*", "quant": "int8:pc"}]})";
  }
  auto r = QuantRecipe::loadFile(path);
  llvm::sys::fs::remove(path);
  ASSERT_TRUE(bool(r)) << llvm::toString(r.takeError());
  EXPECT_EQ(r->lookup("tok_embeddings.weight").str(), "int8:pc:sym:f32");
  EXPECT_EQ(r->lookup("w1.weight").str(), "int4:g128:asym:f16");
  auto missing = QuantRecipe::loadFile("/nonexistent/recipe.json");
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("/nonexistent/recipe.json"),
            std::string::npos);
}
