//===- ByteLevelBPETokenizer.cpp - Hugging Face byte-level BPE -------------===//
//
// Encoding, as Hugging Face `tokenizers` does for GPT-2, Llama-3 and Qwen2:
//
//  1. Added tokens (<|endoftext|>, <|begin_of_text|>, ...) are found in the
//     raw text first, leftmost and then longest, and become their ids: those
//     marked `normalized: false` first, then the others in the text left
//     between them (Hugging Face's two passes; llmc refuses the second kind
//     with a normalizer, so both match raw text).
//  2. Each stretch of text between them is normalized (NFC, where the file
//     says so) and pre-tokenized: split by the tokenizer's regexes
//     (BPETokenizerJSON.h), a prefix space where ByteLevel asks for one.
//  3. Each piece's bytes are spelled in the byte-level alphabet
//     (ByteLevelAlphabet.h). With ignore_merges (Llama-3) a piece that is a
//     vocabulary entry as a whole is that token; otherwise it starts as one
//     symbol per byte and the adjacent pair of lowest merge rank is merged,
//     leftmost first on ties, until no pair has a merge.
//
// Decoding spells each token back to bytes, so a piece may end inside a
// UTF-8 sequence: the text is the concatenation, not each piece.
//
//===----------------------------------------------------------------------===//

#include "BPETokenizerJSON.h"
#include "ByteLevelAlphabet.h"
#include "NFCNormalizer.h"
#include "PairMerge.h"
#include "TokenizerImpl.h"

#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <deque>

using namespace llmc;
using namespace llmc::detail;

namespace {

class ByteLevelBPETokenizer final : public Tokenizer {
public:
  ByteLevelBPETokenizer(BPETokenizerSpec spec, TokenizerSpecialIds special);

  TokenizerKind kind() const override { return TokenizerKind::ByteLevelBPE; }
  int32_t vocabSize() const override { return int32_t(decoded_.size()); }
  int32_t bosId() const override { return bos_; }
  int32_t eosId() const override { return eos_; }
  std::vector<int32_t> bosPrefix() const override { return spec_.bosPrefix; }
  std::vector<int32_t> encode(llvm::StringRef text, bool addBos,
                              bool addEos) const override;
  std::string decodePiece(int32_t prev, int32_t token) const override;

private:
  /// Added tokens by their first byte, longest first.
  using AddedTokenIndex = std::array<std::vector<uint32_t>, 256>;
  /// The added token of `index` starting at text[pos] (the longest), or null.
  const AddedToken *addedTokenAt(const AddedTokenIndex &index,
                                 llvm::StringRef text, size_t pos) const;
  /// Encodes `text`: the added tokens of pass `pass` and on, the text
  /// between them as stretches.
  void encodeWithAddedTokens(llvm::StringRef text, size_t pass,
                             std::vector<int32_t> &ids) const;
  void encodeStretch(llvm::StringRef text, std::vector<int32_t> &ids) const;
  void encodePiece(llvm::StringRef bytes, std::vector<int32_t> &ids) const;
  void mergeSymbols(std::vector<int32_t> &symbols) const;

  BPETokenizerSpec spec_;
  int32_t bos_, eos_;
  std::array<int32_t, 256> byteIds_; ///< the token of each byte's symbol
  /// (left, right) -> (rank, merged token).
  llvm::DenseMap<std::pair<int32_t, int32_t>, std::pair<uint32_t, int32_t>>
      mergeRanks_;
  /// Indices into spec_.addedTokens, for the pass without `normalized` and
  /// the pass with it.
  std::array<AddedTokenIndex, 2> addedPasses_;
  std::vector<std::string> decoded_; ///< each token's bytes
};

ByteLevelBPETokenizer::ByteLevelBPETokenizer(BPETokenizerSpec spec,
                                             TokenizerSpecialIds special)
    : spec_(std::move(spec)), bos_(special.bos), eos_(special.eos) {
  const ByteLevelAlphabet &alphabet = byteLevelAlphabet();
  for (unsigned b = 0; b < 256; ++b)
    byteIds_[b] = spec_.vocab.lookup(alphabet.symbol(uint8_t(b)));
  for (size_t rank = 0; rank < spec_.merges.size(); ++rank) {
    const BPEMerge &m = spec_.merges[rank];
    mergeRanks_[{m.left, m.right}] = {uint32_t(rank), m.merged};
  }
  for (size_t i = 0; i < spec_.addedTokens.size(); ++i) {
    const AddedToken &t = spec_.addedTokens[i];
    addedPasses_[t.normalized][uint8_t(t.content[0])].push_back(uint32_t(i));
  }
  for (AddedTokenIndex &index : addedPasses_)
    for (std::vector<uint32_t> &group : index)
      std::sort(group.begin(), group.end(), [&](uint32_t a, uint32_t b) {
        size_t la = spec_.addedTokens[a].content.size(),
               lb = spec_.addedTokens[b].content.size();
        return la != lb ? la > lb : a < b;
      });
  // A vocabulary entry spells bytes; an entry with a character outside the
  // alphabet, or an added token, is its literal text (as Hugging Face's
  // ByteLevel decoder does).
  decoded_.reserve(spec_.tokens.size());
  for (size_t id = 0; id < spec_.tokens.size(); ++id) {
    std::optional<std::string> bytes;
    if (!spec_.addedOnly[id])
      bytes = alphabet.unspell(spec_.tokens[id]);
    decoded_.push_back(bytes ? std::move(*bytes) : spec_.tokens[id]);
  }
}

const AddedToken *
ByteLevelBPETokenizer::addedTokenAt(const AddedTokenIndex &index,
                                   llvm::StringRef text, size_t pos) const {
  for (uint32_t i : index[uint8_t(text[pos])]) {
    const AddedToken &t = spec_.addedTokens[i];
    if (text.substr(pos).starts_with(t.content))
      return &t;
  }
  return nullptr;
}

std::vector<int32_t> ByteLevelBPETokenizer::encode(llvm::StringRef text,
                                                   bool addBos,
                                                   bool addEos) const {
  // BOS is what the file's post-processor adds before the text, as Hugging
  // Face's encode does: nothing for GPT-2 and Qwen2.
  std::vector<int32_t> ids;
  if (addBos)
    ids = spec_.bosPrefix;
  encodeWithAddedTokens(text, 0, ids);
  // EOS: what the template puts after the text, when it puts anything.
  if (addEos && !spec_.eosSuffix.empty())
    ids.insert(ids.end(), spec_.eosSuffix.begin(), spec_.eosSuffix.end());
  else if (addEos && eos_ >= 0)
    ids.push_back(eos_);
  return ids;
}

void ByteLevelBPETokenizer::encodeWithAddedTokens(
    llvm::StringRef text, size_t pass, std::vector<int32_t> &ids) const {
  auto between = [&](llvm::StringRef part) {
    if (pass + 1 < addedPasses_.size())
      encodeWithAddedTokens(part, pass + 1, ids);
    else
      encodeStretch(part, ids);
  };
  size_t stretch = 0; // start of the text not yet encoded
  for (size_t pos = 0; pos < text.size();) {
    const AddedToken *added = addedTokenAt(addedPasses_[pass], text, pos);
    if (!added) {
      ++pos;
      continue;
    }
    between(text.slice(stretch, pos));
    ids.push_back(added->id);
    pos += added->content.size();
    stretch = pos;
  }
  between(text.drop_front(stretch));
}

void ByteLevelBPETokenizer::encodeStretch(llvm::StringRef text,
                                          std::vector<int32_t> &ids) const {
  if (text.empty())
    return;
  std::string normalized;
  if (spec_.normalizeNFC) {
    normalized = normalizeNFC(text);
    text = normalized;
  }
  // A piece a step has rewritten (given a prefix space) lives in `rewritten`
  // (a deque: its strings stay put as it grows); splits only narrow pieces.
  std::deque<std::string> rewritten;
  std::vector<llvm::StringRef> pieces{text}, next;
  for (const PreTokenizeStep &step : spec_.preTokenize) {
    next.clear();
    if (const auto *split = std::get_if<RegexSplitter>(&step)) {
      for (llvm::StringRef p : pieces)
        split->splitIsolated(p, next);
    } else {
      for (llvm::StringRef p : pieces) {
        if (p.starts_with(" ")) {
          next.push_back(p);
        } else {
          rewritten.push_back(" " + p.str());
          next.push_back(rewritten.back());
        }
      }
    }
    pieces.swap(next);
  }
  for (llvm::StringRef p : pieces)
    encodePiece(p, ids);
}

void ByteLevelBPETokenizer::encodePiece(llvm::StringRef bytes,
                                        std::vector<int32_t> &ids) const {
  if (bytes.empty())
    return;
  if (spec_.ignoreMerges) {
    auto whole = spec_.vocab.find(byteLevelAlphabet().spell(bytes));
    if (whole != spec_.vocab.end()) {
      ids.push_back(whole->second);
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(bytes.size());
  for (char c : bytes)
    symbols.push_back(byteIds_[uint8_t(c)]);
  mergeSymbols(symbols);
  ids.insert(ids.end(), symbols.begin(), symbols.end());
}

// The adjacent pair of lowest rank merges first, leftmost on ties.
void ByteLevelBPETokenizer::mergeSymbols(std::vector<int32_t> &symbols) const {
  mergeAdjacentPairs(symbols, [&](int32_t left, int32_t right) -> std::optional<PairMerge> {
    auto it = mergeRanks_.find({left, right});
    if (it == mergeRanks_.end())
      return std::nullopt;
    return PairMerge{-double(it->second.first), it->second.second};
  });
}

std::string ByteLevelBPETokenizer::decodePiece(int32_t prev,
                                               int32_t token) const {
  if (token < 0 || token >= vocabSize())
    return "";
  return decoded_[size_t(token)];
}

} // namespace

llvm::Expected<std::unique_ptr<Tokenizer>>
llmc::detail::loadByteLevelBPETokenizer(llvm::ArrayRef<uint8_t> bytes,
                                        TokenizerSpecialIds special) {
  auto spec = parseBPETokenizerJSON(bytes);
  if (!spec)
    return spec.takeError();
  int32_t n = int32_t(spec->tokens.size());
  for (auto [name, id] : {std::pair{"bos", special.bos}, std::pair{"eos", special.eos}})
    if (id >= n)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "the model's %s id %d is not a token of the tokenizer (%d tokens)",
          name, id, n);
  return std::make_unique<ByteLevelBPETokenizer>(std::move(*spec), special);
}
