//===- ByteLevelBPETokenizerTest.cpp - tokenizer.json byte-level BPE ------===//
//
// Small tokenizers written out here, whose ids follow by hand from the merge
// ranks; the comparison with an independent reference on many strings is
// test/Runtime/bpe-tokenizer.test.
//
//===----------------------------------------------------------------------===//

#include "ByteLevelAlphabet.h"
#include "RegexSplitter.h"

#include "llmc/Runtime/Tokenizer.h"

#include "llvm/Support/JSON.h"

#include "gtest/gtest.h"

#include <set>

using namespace llmc;
namespace json = llvm::json;

namespace {

const detail::ByteLevelAlphabet &alphabet() {
  return detail::byteLevelAlphabet();
}

TEST(ByteLevelAlphabet, IsGPT2sMapping) {
  std::set<uint32_t> seen;
  for (unsigned b = 0; b < 256; ++b) {
    uint32_t cp = alphabet().codePoint(uint8_t(b));
    EXPECT_TRUE(seen.insert(cp).second) << "byte " << b;
    bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                     (b >= 0xAE && b <= 0xFF);
    if (printable)
      EXPECT_EQ(cp, b);
    else
      EXPECT_GE(cp, 0x100u);
  }
  // The code points GPT-2's vocabulary is known by: space 'Ġ', newline 'Ċ',
  // NUL U+0100, DEL U+0121, NBSP U+0142, soft hyphen U+0143 (the last).
  EXPECT_EQ(alphabet().codePoint(' '), 0x120u);
  EXPECT_EQ(alphabet().codePoint('\n'), 0x10Au);
  EXPECT_EQ(alphabet().codePoint(0), 0x100u);
  EXPECT_EQ(alphabet().codePoint(0x7F), 0x121u);
  EXPECT_EQ(alphabet().codePoint(0xA0), 0x142u);
  EXPECT_EQ(alphabet().codePoint(0xAD), 0x143u);
  EXPECT_EQ(alphabet().symbol(' '), "\xC4\xA0");
}

TEST(ByteLevelAlphabet, SpellsAndUnspellsEveryByte) {
  std::string all;
  for (unsigned b = 0; b < 256; ++b)
    all += char(b);
  std::optional<std::string> back = alphabet().unspell(alphabet().spell(all));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
  EXPECT_FALSE(alphabet().unspell("\xE2\x96\x81").has_value()); // U+2581
  EXPECT_FALSE(alphabet().unspell("\xFF").has_value());         // not UTF-8
}

/// A tokenizer.json over the 256 byte symbols (id = byte) plus `extra`
/// vocabulary entries given as raw bytes (spelled here), `merges` as raw
/// byte pairs, and added tokens after them.
struct TokenizerFile {
  std::vector<std::string> extra;
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<std::string> added;
  /// Added tokens (by index) to mark `normalized`: matched in the second pass.
  std::set<size_t> normalizedAdded;
  bool ignoreMerges = false;
  bool mergesAsPairs = false;
  json::Value preTokenizer = json::Object{
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  json::Value normalizer = nullptr;

  std::vector<uint8_t> bytes() const {
    json::Object vocab;
    for (unsigned b = 0; b < 256; ++b)
      vocab[alphabet().symbol(uint8_t(b))] = int64_t(b);
    for (size_t i = 0; i < extra.size(); ++i)
      vocab[alphabet().spell(extra[i])] = int64_t(256 + i);
    json::Array mergeList;
    for (const auto &[l, r] : merges) {
      std::string a = alphabet().spell(l), b = alphabet().spell(r);
      if (mergesAsPairs)
        mergeList.push_back(json::Array{a, b});
      else
        mergeList.push_back(a + " " + b);
    }
    json::Array addedList;
    for (size_t i = 0; i < added.size(); ++i)
      addedList.push_back(json::Object{
          {"id", int64_t(256 + extra.size() + i)}, {"content", added[i]},
          {"special", true}, {"lstrip", false}, {"rstrip", false},
          {"single_word", false},
          {"normalized", normalizedAdded.count(i) != 0}});
    json::Object model{{"type", "BPE"},
                       {"vocab", std::move(vocab)},
                       {"merges", std::move(mergeList)}};
    if (ignoreMerges)
      model["ignore_merges"] = true;
    json::Object root{{"version", "1.0"},
                      {"normalizer", normalizer},
                      {"pre_tokenizer", preTokenizer},
                      {"decoder", json::Object{{"type", "ByteLevel"}}},
                      {"added_tokens", std::move(addedList)},
                      {"model", std::move(model)}};
    std::string text;
    llvm::raw_string_ostream(text) << json::Value(std::move(root));
    return std::vector<uint8_t>(text.begin(), text.end());
  }
};

std::unique_ptr<Tokenizer> load(const TokenizerFile &f,
                                TokenizerSpecialIds special = {}) {
  auto tok = Tokenizer::load(TokenizerKind::ByteLevelBPE, f.bytes(), 0, special);
  EXPECT_TRUE(static_cast<bool>(tok)) << llvm::toString(tok.takeError());
  return tok ? std::move(*tok) : nullptr;
}

std::string loadError(const TokenizerFile &f, int32_t vocab = 0,
                      TokenizerSpecialIds special = {}) {
  auto tok = Tokenizer::load(TokenizerKind::ByteLevelBPE, f.bytes(), vocab,
                             special);
  if (tok)
    return "(loaded)";
  return llvm::toString(tok.takeError());
}

using Ids = std::vector<int32_t>;

TEST(ByteLevelBPE, MergesByRankLeftmostFirst) {
  TokenizerFile f;
  // 256: "ab", 257: "bc", 258: "abc"; "bc" outranks "ab".
  f.extra = {"ab", "bc", "abc"};
  f.merges = {{"b", "c"}, {"a", "b"}, {"ab", "c"}};
  auto tok = load(f);
  ASSERT_TRUE(tok);
  // "abc": bc merges first (rank 0), then nothing joins a + bc.
  EXPECT_EQ(tok->encode("abc", false, false), (Ids{'a', 257}));
  // "abab": ab twice (the leftmost first, then the other).
  EXPECT_EQ(tok->encode("abab", false, false), (Ids{256, 256}));
  // "aaa" has no merge: one token per byte.
  EXPECT_EQ(tok->encode("aaa", false, false), (Ids{'a', 'a', 'a'}));
  // "abX": ab, then ab + X has no merge.
  EXPECT_EQ(tok->encode("abX", false, false), (Ids{256, 'X'}));
  EXPECT_EQ(tok->vocabSize(), 259);
}

TEST(ByteLevelBPE, BothMergeFormsAgree) {
  TokenizerFile f;
  f.extra = {" t", " th", " the"};
  f.merges = {{" ", "t"}, {" t", "h"}, {" th", "e"}};
  auto strings = load(f);
  f.mergesAsPairs = true;
  auto pairs = load(f);
  ASSERT_TRUE(strings && pairs);
  // GPT-2's regex keeps the space with the word: " the" is one piece.
  Ids want{'a', 258, ' ', 'c', 'a', 't'};
  EXPECT_EQ(strings->encode("a the cat", false, false), want);
  EXPECT_EQ(pairs->encode("a the cat", false, false), want);
}

TEST(ByteLevelBPE, IgnoreMergesTakesWholeVocabularyPieces) {
  TokenizerFile f;
  // "cat" is in the vocabulary, but no merge builds it.
  f.extra = {"ca", "cat"};
  f.merges = {{"c", "a"}};
  auto merging = load(f);
  f.ignoreMerges = true;
  auto whole = load(f);
  ASSERT_TRUE(merging && whole);
  EXPECT_EQ(merging->encode("cat", false, false), (Ids{256, 't'}));
  EXPECT_EQ(whole->encode("cat", false, false), (Ids{257}));
  // A piece not in the vocabulary still merges.
  EXPECT_EQ(whole->encode("cab", false, false), (Ids{256, 'b'}));
}

TEST(ByteLevelBPE, AddedTokensMatchLongestFirstAndDecodeLiterally) {
  TokenizerFile f;
  f.added = {"<|a|>", "<|a|>x", "<|end|>"};
  auto tok = load(f, TokenizerSpecialIds{256, 258});
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->bosId(), 256);
  EXPECT_EQ(tok->eosId(), 258);
  // At one position the longest added token wins; text between them is
  // pre-tokenized on its own.
  EXPECT_EQ(tok->encode("<|a|>xy<|a|>", false, false), (Ids{257, 'y', 256}));
  // BOS is what the post-processor adds (this file has none, as GPT-2's);
  // EOS is the model's.
  EXPECT_EQ(tok->encode("q<|end|>", true, true), (Ids{'q', 258, 258}));
  EXPECT_TRUE(tok->bosPrefix().empty());
  // An unfinished one is plain text.
  EXPECT_EQ(tok->encode("<|a", false, false), (Ids{'<', '|', 'a'}));
  EXPECT_EQ(tok->decodePiece(-1, 258), "<|end|>");
}

TEST(ByteLevelBPE, NormalizedAddedTokensMatchInASecondPass) {
  TokenizerFile f;
  f.added = {"<|eot|>", "y<|e"};
  f.normalizedAdded = {1};
  auto tok = load(f);
  ASSERT_TRUE(tok);
  // "y<|e" starts further left, but "<|eot|>" is matched first (Hugging
  // Face's order); "y<|e" only in the text left between.
  EXPECT_EQ(tok->encode("y<|eot|> y<|e", false, false),
            (Ids{'y', 256, ' ', 257}));
}

TEST(ByteLevelBPE, PrefixSpaceAndSplitSequence) {
  TokenizerFile f;
  f.preTokenizer = json::Object{{"type", "ByteLevel"},
                                {"add_prefix_space", true},
                                {"use_regex", true}};
  auto prefixed = load(f);
  ASSERT_TRUE(prefixed);
  EXPECT_EQ(prefixed->encode("hi", false, false), (Ids{' ', 'h', 'i'}));
  EXPECT_EQ(prefixed->encode(" hi", false, false), (Ids{' ', 'h', 'i'}));

  // Split on digits (one piece per digit), then ByteLevel without a regex:
  // with a merge of "1" + "2", the split keeps the digits apart.
  f.preTokenizer = json::Object{
      {"type", "Sequence"},
      {"pretokenizers",
       json::Array{json::Object{{"type", "Split"},
                                {"pattern", json::Object{{"Regex", "\\p{N}"}}},
                                {"behavior", "Isolated"},
                                {"invert", false}},
                   json::Object{{"type", "ByteLevel"},
                                {"add_prefix_space", false},
                                {"use_regex", false}}}}};
  f.extra = {"12", "ab"};
  f.merges = {{"1", "2"}, {"a", "b"}};
  auto split = load(f);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->encode("ab12", false, false), (Ids{257, '1', '2'}));
}

// A run long enough to overflow the backtracking stack ICU gives a matcher by
// default (8 MiB): the splitter lifts that limit, so the pieces are still the
// pattern's (GPT-2's whitespace rule), not the rest of the text as one piece.
TEST(RegexSplitter, LongRunsSplitAsThePatternSays) {
  auto split = detail::RegexSplitter::compile("\\s+(?!\\S)|\\s+|\\p{L}+");
  ASSERT_TRUE(static_cast<bool>(split)) << llvm::toString(split.takeError());
  const size_t run = size_t(1) << 22;
  const std::string text = "a" + std::string(run, ' ') + "b";
  std::vector<llvm::StringRef> pieces;
  split->splitIsolated(text, pieces);
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(pieces[0], "a");
  EXPECT_EQ(pieces[1].size(), run - 1);
  EXPECT_EQ(pieces[2], " ");
  EXPECT_EQ(pieces[3], "b");
}

TEST(ByteLevelBPE, DecodesBytesAcrossPieces) {
  TokenizerFile f;
  auto tok = load(f);
  ASSERT_TRUE(tok);
  // No merges: an emoji is four byte tokens, each piece part of a UTF-8
  // sequence; together they are the text.
  std::string text = "x \xF0\x9F\x98\x80 caf\xC3\xA9\n";
  Ids ids = tok->encode(text, false, false);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(tok->decodePiece(-1, 0xF0), "\xF0");
  EXPECT_EQ(tok->decode(ids), text);
  EXPECT_EQ(tok->decodePiece(-1, -1), "");
  EXPECT_EQ(tok->decodePiece(-1, 256), "");
}

TEST(ByteLevelBPE, InvalidUTF8KeepsItsBytes) {
  TokenizerFile f;
  f.extra = {"ab"};
  f.merges = {{"a", "b"}};
  auto tok = load(f);
  ASSERT_TRUE(tok);
  std::string text = "\xFF\xFE" "ab \xC3 ab\xE2\x82";
  Ids ids = tok->encode(text, false, false);
  EXPECT_EQ(tok->decode(ids), text);
  EXPECT_EQ(ids[0], 0xFF);
}

TEST(ByteLevelBPE, NFCNormalizesBetweenAddedTokens) {
  TokenizerFile f;
  f.extra = {"\xC3\xA9"}; // é
  f.merges = {{"\xC3", "\xA9"}};
  f.added = {"<|x|>"};
  f.normalizer = json::Object{{"type", "NFC"}};
  auto tok = load(f);
  ASSERT_TRUE(tok);
  // e + U+0301 (combining acute) is é in NFC; an invalid byte stays itself.
  EXPECT_EQ(tok->encode("e\xCC\x81<|x|>\xFF", false, false),
            (Ids{256, 257, 0xFF}));
  f.normalizer = json::Object{{"type", "Lowercase"}};
  EXPECT_EQ(loadError(f), "tokenizer.json: normalizer 'Lowercase' is not "
                          "supported (expected none, or NFC)");
}

TEST(ByteLevelBPE, VocabularyAndSpecialIdsAgainstTheModel) {
  TokenizerFile f;
  f.added = {"<|eot|>"};
  // Fewer tokens than the model's rows (a padded table) are accepted; more
  // are not, and BOS / EOS must be tokens.
  EXPECT_EQ(loadError(f, 300), "(loaded)");
  EXPECT_EQ(loadError(f, 256),
            "tokenizer has 257 tokens but the model's vocabulary has 256");
  EXPECT_EQ(loadError(f, 0, TokenizerSpecialIds{1, 257}),
            "the model's eos id 257 is not a token of the tokenizer (257 "
            "tokens)");
}

TEST(ByteLevelBPE, RefusesWhatItDoesNotImplement) {
  TokenizerFile f;
  auto withModelField = [&](llvm::StringRef key, json::Value v) {
    auto bytes = f.bytes();
    auto doc = json::parse(llvm::StringRef(
        reinterpret_cast<const char *>(bytes.data()), bytes.size()));
    EXPECT_TRUE(static_cast<bool>(doc));
    (*doc->getAsObject()->getObject("model"))[key] = std::move(v);
    std::string text;
    llvm::raw_string_ostream(text) << *doc;
    auto tok = Tokenizer::load(
        TokenizerKind::ByteLevelBPE,
        llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(text.data()),
                                text.size()));
    return tok ? std::string("(loaded)") : llvm::toString(tok.takeError());
  };
  EXPECT_EQ(withModelField("dropout", 0.1),
            "tokenizer.json: BPE model with dropout is not supported "
            "(byte_fallback tokenizers are SentencePiece-style: use the "
            "sentencepiece kind with the .model file)");
  EXPECT_EQ(withModelField("type", "Unigram"),
            "tokenizer.json: model type 'Unigram' is not supported (only "
            "byte-level BPE)");
  EXPECT_EQ(withModelField("merges", json::Array{"a"}),
            "tokenizer.json: merge 0 'a' is not two tokens separated by one "
            "space");
  EXPECT_EQ(withModelField("merges", json::Array{"a b", "a b"}),
            "tokenizer.json: merge 0 ('a' 'b'): 'ab' is not in the "
            "vocabulary");

  f.preTokenizer = json::Object{{"type", "Whitespace"}};
  EXPECT_EQ(loadError(f), "tokenizer.json: pre_tokenizer 'Whitespace' is not "
                          "supported (expected ByteLevel, or a Sequence of "
                          "Split ending in ByteLevel)");
  f.preTokenizer = nullptr;
  EXPECT_EQ(loadError(f), "tokenizer.json: no pre_tokenizer; a byte-level BPE "
                          "tokenizer needs ByteLevel");

  std::vector<uint8_t> notJson = {'{', '"', 'm'};
  auto tok = Tokenizer::load(TokenizerKind::ByteLevelBPE, notJson);
  ASSERT_FALSE(static_cast<bool>(tok));
  EXPECT_NE(llvm::toString(tok.takeError()).find("malformed JSON"),
            std::string::npos);
}

TEST(ByteLevelBPE, RefusesRepeatedMerges) {
  TokenizerFile f;
  f.extra = {"ab"};
  f.merges = {{"a", "b"}, {"a", "b"}};
  EXPECT_EQ(loadError(f),
            "tokenizer.json: merge 1 ('a' 'b') repeats merge 0");
}

TEST(TokenizerKinds, NamesAndGuesses) {
  for (TokenizerKind k : {TokenizerKind::Llama2c, TokenizerKind::SentencePiece,
                          TokenizerKind::ByteLevelBPE}) {
    auto parsed = parseTokenizerKind(tokenizerKindName(k));
    ASSERT_TRUE(static_cast<bool>(parsed));
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_EQ(tokenizerKindName(TokenizerKind::ByteLevelBPE), "bpe");
  EXPECT_EQ(guessTokenizerKind("dir/tokenizer.json"), TokenizerKind::ByteLevelBPE);
  EXPECT_EQ(guessTokenizerKind("m.model"), TokenizerKind::SentencePiece);
  EXPECT_EQ(guessTokenizerKind("tok512.bin"), TokenizerKind::Llama2c);
}

} // namespace
