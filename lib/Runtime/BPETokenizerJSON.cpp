//===- BPETokenizerJSON.cpp - Hugging Face tokenizer.json (BPE) ------------===//

#include "BPETokenizerJSON.h"

#include "ByteLevelAlphabet.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/JSON.h"

using namespace llmc::detail;
namespace json = llvm::json;

const char *const llmc::detail::kGPT2SplitRegex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|"
    "\\s+(?!\\S)|\\s+";

namespace {

llvm::Error fail(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "tokenizer.json: " + msg);
}

/// The "type" of a component object, or "" when it has none.
llvm::StringRef typeOf(const json::Object &o) {
  return o.getString("type").value_or("");
}

/// A field that must be absent or null (or false / empty) for the behaviour
/// llmc implements.
bool isUnset(const json::Object &o, llvm::StringRef key) {
  const json::Value *v = o.get(key);
  if (!v || v->getAsNull())
    return true;
  if (std::optional<bool> b = v->getAsBoolean())
    return !*b;
  if (std::optional<llvm::StringRef> s = v->getAsString())
    return s->empty();
  return false;
}

llvm::Error parseNormalizer(const json::Object &root, BPETokenizerSpec &spec) {
  const json::Value *n = root.get("normalizer");
  if (!n || n->getAsNull())
    return llvm::Error::success();
  const json::Object *o = n->getAsObject();
  if (o && typeOf(*o) == "NFC") {
    spec.normalizeNFC = true;
    return llvm::Error::success();
  }
  return fail("normalizer '" + (o ? typeOf(*o) : llvm::StringRef("?")) +
              "' is not supported (expected none, or NFC)");
}

llvm::Error checkDecoder(const json::Object &root) {
  const json::Object *d = root.getObject("decoder");
  if (!d)
    return fail("no decoder; a byte-level BPE tokenizer decodes with "
                "ByteLevel");
  if (typeOf(*d) != "ByteLevel")
    return fail("decoder '" + typeOf(*d) +
                "' is not supported (expected ByteLevel; SentencePiece-style "
                "tokenizers load from their .model file with the "
                "sentencepiece kind)");
  return llvm::Error::success();
}

/// ByteLevel as a pre-tokenizer: an optional prefix space, GPT-2's regex
/// when use_regex (the default) is set; the byte mapping itself is the
/// tokenizer's.
llvm::Error addByteLevelSteps(const json::Object &o,
                              std::vector<PreTokenizeStep> &steps) {
  if (o.getBoolean("add_prefix_space").value_or(true))
    steps.emplace_back(PrefixSpaceStep{});
  if (o.getBoolean("use_regex").value_or(true)) {
    auto re = RegexSplitter::compile(kGPT2SplitRegex);
    if (!re)
      return re.takeError();
    steps.emplace_back(std::move(*re));
  }
  return llvm::Error::success();
}

llvm::Error addSplitStep(const json::Object &o,
                         std::vector<PreTokenizeStep> &steps) {
  const json::Object *pattern = o.getObject("pattern");
  std::optional<llvm::StringRef> regex =
      pattern ? pattern->getString("Regex") : std::nullopt;
  if (!regex)
    return fail("Split pre-tokenizer: only a {\"Regex\": ...} pattern is "
                "supported");
  llvm::StringRef behavior = o.getString("behavior").value_or("");
  if (behavior != "Isolated")
    return fail("Split pre-tokenizer: behavior '" + behavior +
                "' is not supported (expected Isolated)");
  if (o.getBoolean("invert").value_or(false))
    return fail("Split pre-tokenizer: invert is not supported");
  auto re = RegexSplitter::compile(*regex);
  if (!re)
    return fail("Split pre-tokenizer: " + llvm::toString(re.takeError()));
  steps.emplace_back(std::move(*re));
  return llvm::Error::success();
}

llvm::Error parsePreTokenizer(const json::Object &root,
                              std::vector<PreTokenizeStep> &steps) {
  const json::Object *p = root.getObject("pre_tokenizer");
  if (!p)
    return fail("no pre_tokenizer; a byte-level BPE tokenizer needs "
                "ByteLevel");
  if (typeOf(*p) == "ByteLevel")
    return addByteLevelSteps(*p, steps);
  if (typeOf(*p) != "Sequence")
    return fail("pre_tokenizer '" + typeOf(*p) +
                "' is not supported (expected ByteLevel, or a Sequence of "
                "Split ending in ByteLevel)");
  const json::Array *seq = p->getArray("pretokenizers");
  if (!seq || seq->empty())
    return fail("pre_tokenizer Sequence without pretokenizers");
  for (size_t i = 0; i < seq->size(); ++i) {
    const json::Object *step = (*seq)[i].getAsObject();
    llvm::StringRef type = step ? typeOf(*step) : "";
    bool last = i + 1 == seq->size();
    if (type == "Split" && !last) {
      if (llvm::Error e = addSplitStep(*step, steps))
        return e;
    } else if (type == "ByteLevel" && last) {
      if (llvm::Error e = addByteLevelSteps(*step, steps))
        return e;
    } else {
      return fail("pre_tokenizer Sequence: '" + type + "' at position " +
                  llvm::Twine(i) +
                  " is not supported (expected Split steps, then ByteLevel "
                  "last)");
    }
  }
  return llvm::Error::success();
}

/// Records `token` as id `id`, which must be new or name the same text.
/// The ids of N tokens are 0..N-1, so none reaches the number of entries
/// the file lists (`idLimit`): a larger one is out of range, caught before
/// it sizes a table.
llvm::Error placeToken(BPETokenizerSpec &spec, int64_t id,
                       llvm::StringRef token, bool addedOnly, size_t idLimit) {
  if (id < 0 || uint64_t(id) >= idLimit)
    return fail("token '" + token + "' has the out-of-range id " +
                llvm::Twine(id) + " (the file lists " + llvm::Twine(idLimit) +
                " tokens)");
  if (size_t(id) >= spec.tokens.size()) {
    spec.tokens.resize(size_t(id) + 1);
    spec.addedOnly.resize(size_t(id) + 1);
  }
  std::string &slot = spec.tokens[size_t(id)];
  if (!slot.empty() && slot != token)
    return fail("id " + llvm::Twine(id) + " is given to both '" + slot +
                "' and '" + token + "'");
  if (slot.empty()) {
    slot = token.str();
    spec.addedOnly[size_t(id)] = addedOnly;
  }
  return llvm::Error::success();
}

llvm::Error parseVocab(const json::Object &model, BPETokenizerSpec &spec,
                       size_t idLimit) {
  const json::Object *vocab = model.getObject("vocab");
  if (!vocab)
    return fail("model.vocab is missing or not an object");
  for (const auto &[key, value] : *vocab) {
    std::optional<int64_t> id = value.getAsInteger();
    if (!id)
      return fail("vocab entry '" + key.str() + "' has no integer id");
    if (key.str().empty())
      return fail("the vocabulary has an empty token");
    if (llvm::Error e = placeToken(spec, *id, key, /*addedOnly=*/false, idLimit))
      return e;
    spec.vocab[key] = int32_t(*id);
  }
  // Every byte must be spelled by some token, or some text would have no
  // tokens (Hugging Face drops such characters without a word).
  const ByteLevelAlphabet &alphabet = byteLevelAlphabet();
  for (unsigned b = 0; b < 256; ++b)
    if (!spec.vocab.count(alphabet.symbol(uint8_t(b))))
      return fail("the vocabulary lacks the symbol '" +
                  alphabet.symbol(uint8_t(b)) + "' of byte " +
                  llvm::Twine(b) + " (not a byte-level BPE vocabulary)");
  return llvm::Error::success();
}

llvm::Error parseMerges(const json::Object &model, BPETokenizerSpec &spec) {
  const json::Array *merges = model.getArray("merges");
  if (!merges)
    return fail("model.merges is missing or not an array");
  llvm::DenseMap<std::pair<int32_t, int32_t>, size_t> seen;
  std::string joined;
  for (size_t rank = 0; rank < merges->size(); ++rank) {
    const json::Value &m = (*merges)[rank];
    llvm::StringRef left, right;
    if (std::optional<llvm::StringRef> s = m.getAsString()) {
      // The older form: "left right" (byte-level tokens never hold a space).
      auto [l, r] = s->split(' ');
      left = l, right = r;
      if (left.empty() || right.empty() || right.contains(' '))
        return fail("merge " + llvm::Twine(rank) + " '" + *s +
                    "' is not two tokens separated by one space");
    } else if (const json::Array *pair = m.getAsArray();
               pair && pair->size() == 2 && (*pair)[0].getAsString() &&
               (*pair)[1].getAsString()) {
      left = *(*pair)[0].getAsString();
      right = *(*pair)[1].getAsString();
    } else {
      return fail("merge " + llvm::Twine(rank) +
                  " is neither \"left right\" nor [left, right]");
    }
    joined = (left + right).str();
    auto l = spec.vocab.find(left), r = spec.vocab.find(right),
         j = spec.vocab.find(joined);
    for (auto [it, text] : {std::pair{l, left}, std::pair{r, right},
                            std::pair{j, llvm::StringRef(joined)}})
      if (it == spec.vocab.end())
        return fail("merge " + llvm::Twine(rank) + " ('" + left + "' '" +
                    right + "'): '" + text + "' is not in the vocabulary");
    auto [prior, inserted] = seen.try_emplace({l->second, r->second}, rank);
    if (!inserted)
      return fail("merge " + llvm::Twine(rank) + " ('" + left + "' '" + right +
                  "') repeats merge " + llvm::Twine(prior->second));
    spec.merges.push_back({l->second, r->second, j->second});
  }
  return llvm::Error::success();
}

llvm::Error parseModel(const json::Object &root, BPETokenizerSpec &spec,
                       size_t idLimit) {
  const json::Object *model = root.getObject("model");
  if (!model)
    return fail("no model object");
  llvm::StringRef type = typeOf(*model);
  if (type != "BPE")
    return fail("model type '" + type +
                "' is not supported (only byte-level BPE)");
  for (llvm::StringRef key : {"dropout", "byte_fallback",
                              "continuing_subword_prefix",
                              "end_of_word_suffix"})
    if (!isUnset(*model, key))
      return fail("BPE model with " + key +
                  " is not supported (byte_fallback tokenizers are "
                  "SentencePiece-style: use the sentencepiece kind with the "
                  ".model file)");
  spec.ignoreMerges = model->getBoolean("ignore_merges").value_or(false);
  if (llvm::Error e = parseVocab(*model, spec, idLimit))
    return e;
  return parseMerges(*model, spec);
}

llvm::Error parseAddedTokens(const json::Object &root,
                             BPETokenizerSpec &spec, size_t idLimit) {
  const json::Value *v = root.get("added_tokens");
  if (!v || v->getAsNull())
    return llvm::Error::success();
  const json::Array *added = v->getAsArray();
  if (!added)
    return fail("added_tokens is not an array");
  for (const json::Value &entry : *added) {
    const json::Object *t = entry.getAsObject();
    std::optional<llvm::StringRef> content =
        t ? t->getString("content") : std::nullopt;
    std::optional<int64_t> id = t ? t->getInteger("id") : std::nullopt;
    if (!content || !id)
      return fail("an added token without a content string and an integer "
                  "id");
    if (content->empty())
      return fail("added token " + llvm::Twine(*id) + " is empty");
    for (llvm::StringRef key : {"lstrip", "rstrip", "single_word"})
      if (!isUnset(*t, key))
        return fail("added token '" + *content + "': " + key +
                    " is not supported");
    // Hugging Face matches a token with `normalized` (the default for
    // non-special ones) in the normalized text, the others in the raw text;
    // llmc matches all in the raw text, the same only without a normalizer.
    bool special = t->getBoolean("special").value_or(false);
    if (spec.normalizeNFC && t->getBoolean("normalized").value_or(!special))
      return fail("added token '" + *content +
                  "': matching after the normalizer (normalized: true) is "
                  "not supported");
    // An added token that is also a vocabulary entry (GPT-2's
    // <|endoftext|>) keeps the vocabulary's id; one that is not is decoded
    // as its literal text.
    auto inVocab = spec.vocab.find(*content);
    if (inVocab != spec.vocab.end() && inVocab->second != *id)
      return fail("added token '" + *content + "' has id " +
                  llvm::Twine(*id) + " but the vocabulary gives it " +
                  llvm::Twine(inVocab->second));
    if (inVocab == spec.vocab.end())
      if (llvm::Error e = placeToken(spec, *id, *content, /*addedOnly=*/true,
                                   idLimit))
        return e;
    spec.addedTokens.push_back({content->str(), int32_t(*id), special,
                                t->getBoolean("normalized").value_or(!special)});
  }
  return llvm::Error::success();
}

/// One post-processor: ByteLevel adds nothing (its offset trimming does not
/// change ids); TemplateProcessing's `single` template contributes the
/// special tokens before the sequence ($A) to `prefix`, those after it to
/// `suffix`.
llvm::Error parsePostProcessor(const json::Object &o, const BPETokenizerSpec &spec,
                               std::vector<int32_t> &prefix,
                               std::vector<int32_t> &suffix) {
  llvm::StringRef type = typeOf(o);
  if (type == "ByteLevel")
    return llvm::Error::success();
  if (type == "Sequence") {
    const json::Array *steps = o.getArray("processors");
    if (!steps)
      return fail("post_processor Sequence without processors");
    for (const json::Value &v : *steps) {
      const json::Object *step = v.getAsObject();
      if (!step)
        return fail("post_processor Sequence has a step that is not an object");
      if (llvm::Error e = parsePostProcessor(*step, spec, prefix, suffix))
        return e;
    }
    return llvm::Error::success();
  }
  if (type != "TemplateProcessing")
    return fail("post_processor '" + type +
                "' is not supported (expected ByteLevel, TemplateProcessing or a "
                "Sequence of them)");
  const json::Array *single = o.getArray("single");
  if (!single)
    return fail("post_processor TemplateProcessing without a 'single' template");
  bool sawSequence = false;
  for (const json::Value &v : *single) {
    const json::Object *item = v.getAsObject();
    if (item && item->getObject("Sequence")) {
      if (sawSequence)
        return fail("post_processor template repeats the sequence");
      sawSequence = true;
      continue;
    }
    const json::Object *special = item ? item->getObject("SpecialToken") : nullptr;
    std::optional<llvm::StringRef> name = special ? special->getString("id") : std::nullopt;
    if (!name)
      return fail("post_processor template item is neither a Sequence nor a "
                  "SpecialToken");
    // The token's ids come from the template's special_tokens table.
    const json::Object *table = o.getObject("special_tokens");
    const json::Object *entry = table ? table->getObject(*name) : nullptr;
    const json::Array *ids = entry ? entry->getArray("ids") : nullptr;
    if (!ids)
      return fail("post_processor special token '" + *name +
                  "' has no ids in special_tokens");
    for (const json::Value &id : *ids) {
      std::optional<int64_t> i = id.getAsInteger();
      if (!i || *i < 0 || *i >= int64_t(spec.tokens.size()))
        return fail("post_processor special token '" + *name +
                    "' has an id outside the vocabulary");
      (sawSequence ? suffix : prefix).push_back(int32_t(*i));
    }
  }
  if (!sawSequence)
    return fail("post_processor template has no sequence ($A)");
  return llvm::Error::success();
}

/// The file's components, in the order their checks depend on: the
/// vocabulary before the merges and added tokens that name its entries.
llvm::Error parseParts(const json::Object &root, BPETokenizerSpec &spec,
                       size_t idLimit) {
  if (llvm::Error e = parseNormalizer(root, spec))
    return e;
  if (llvm::Error e = parseModel(root, spec, idLimit))
    return e;
  if (llvm::Error e = parseAddedTokens(root, spec, idLimit))
    return e;
  if (llvm::Error e = parsePreTokenizer(root, spec.preTokenize))
    return e;
  if (const json::Value *p = root.get("post_processor"); p && !p->getAsNull()) {
    const json::Object *o = p->getAsObject();
    if (!o)
      return fail("post_processor is not an object");
    if (llvm::Error e = parsePostProcessor(*o, spec, spec.bosPrefix, spec.eosSuffix))
      return e;
  }
  return checkDecoder(root);
}

} // namespace

llvm::Expected<BPETokenizerSpec>
llmc::detail::parseBPETokenizerJSON(llvm::ArrayRef<uint8_t> bytes) {
  llvm::StringRef text(reinterpret_cast<const char *>(bytes.data()),
                       bytes.size());
  llvm::Expected<json::Value> doc = json::parse(text);
  if (!doc)
    return fail("malformed JSON: " + llvm::toString(doc.takeError()));
  const json::Object *root = doc->getAsObject();
  if (!root)
    return fail("the top level is not an object");

  // Every entry of the vocabulary and of added_tokens, an upper bound on
  // the number of distinct tokens.
  size_t idLimit = 0;
  if (const json::Object *model = root->getObject("model"))
    if (const json::Object *vocab = model->getObject("vocab"))
      idLimit += vocab->size();
  if (const json::Array *added = root->getArray("added_tokens"))
    idLimit += added->size();

  BPETokenizerSpec spec;
  if (llvm::Error e = parseParts(*root, spec, idLimit))
    return llvm::Expected<BPETokenizerSpec>(std::move(e));
  for (size_t id = 0; id < spec.tokens.size(); ++id)
    if (spec.tokens[id].empty())
      return fail("no token has id " + llvm::Twine(id) + " (the ids of " +
                  llvm::Twine(spec.tokens.size()) +
                  " tokens must be 0.." +
                  llvm::Twine(spec.tokens.size() - 1) + ")");
  return spec;
}
