//===- ModelFacts.cpp - What the graph does not say about a model ---------===//

#include "llmc/CodeGen/ModelFacts.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <optional>

using namespace llvm;

namespace llmc::codegen {

/// The top-level object of the JSON file at `path`, if it is one.
static std::optional<json::Object> readJSONObject(const Twine &path) {
  auto buf = MemoryBuffer::getFile(path);
  if (!buf)
    return std::nullopt;
  auto v = json::parse((*buf)->getBuffer());
  if (!v) {
    consumeError(v.takeError());
    return std::nullopt;
  }
  if (json::Object *o = v->getAsObject())
    return std::move(*o);
  return std::nullopt;
}

/// The ids of a Hugging Face config field: an integer, or a list (Llama
/// 3.1's several EOS ids). Empty when absent, null or not ids.
static std::vector<int32_t> tokenIds(const json::Object &o, StringRef key) {
  std::vector<int32_t> ids;
  const json::Value *v = o.get(key);
  if (!v)
    return ids;
  auto add = [&](const json::Value &x) {
    std::optional<int64_t> i = x.getAsInteger();
    if (i && *i >= 0 && *i <= INT32_MAX)
      ids.push_back(int32_t(*i));
  };
  if (const json::Array *a = v->getAsArray())
    for (const json::Value &x : *a)
      add(x);
  else
    add(*v);
  return ids;
}

static void readHuggingFaceDirectory(StringRef dir, ModelFacts &facts) {
  auto path = [&](StringRef name) {
    SmallString<256> p(dir);
    sys::path::append(p, name);
    return std::string(p);
  };
  // Later files override earlier ones: generation_config.json's ids are the
  // ones generation uses, and ONNX Runtime GenAI's genai_config.json (its
  // "model" object) is what its own runtime reads for the exported model.
  for (StringRef file : {"config.json", "generation_config.json", "genai_config.json"}) {
    std::optional<json::Object> top = readJSONObject(path(file));
    if (!top)
      continue;
    const json::Object *o = &*top;
    if (file == "genai_config.json" && !(o = top->getObject("model")))
      continue;
    if (std::vector<int32_t> bos = tokenIds(*o, "bos_token_id"); !bos.empty())
      facts.bos = bos.front();
    if (std::vector<int32_t> eos = tokenIds(*o, "eos_token_id"); !eos.empty()) {
      facts.eos = eos.front();
      facts.moreEos.assign(eos.begin() + 1, eos.end());
    }
    for (StringRef key : {"max_position_embeddings", "n_positions", "context_length"})
      if (std::optional<int64_t> n = o->getInteger(key); n && *n > 0) {
        facts.maxContext = std::min(*n, kHuggingFaceDefaultContext);
        break;
      }
  }
  // The kind follows from the name (guessTokenizerKind).
  for (StringRef name : {"tokenizer.model", "tokenizer.json"})
    if (sys::fs::exists(path(name))) {
      facts.tokenizerPath = path(name);
      break;
    }
}

ModelFacts readModelFacts(StringRef sourcePath) {
  ModelFacts facts;
  if (sourcePath.empty())
    return facts;
  SmallString<256> own(sourcePath);
  sys::path::replace_extension(own, ".config.json");
  if (std::optional<json::Object> cfg = readJSONObject(own)) {
    facts.maxContext = cfg->getInteger("max_seq_len").value_or(facts.maxContext);
    facts.bos = int32_t(cfg->getInteger("bos_id").value_or(facts.bos));
    facts.eos = int32_t(cfg->getInteger("eos_id").value_or(facts.eos));
    if (const json::Object *t = cfg->getObject("tokenizer")) {
      facts.tokenizerPath = t->getString("path").value_or("").str();
      facts.tokenizerKind = t->getString("kind").value_or("").str();
    }
    return facts;
  }
  readHuggingFaceDirectory(sys::path::parent_path(sourcePath), facts);
  return facts;
}

} // namespace llmc::codegen
