//===- Llama2cTokenizer.cpp - llama2.c tokenizer.bin ------------------------===//
//
// File format: int32 max_token_length, then for every token: float32 score,
// int32 length, `length` bytes. Ids 3..258 are the byte-fallback tokens
// "<0x00>".."<0xFF>"; BOS is 1, EOS is 2.
//
// Encoding follows llama2.c's run.c exactly: an optional BOS, a dummy-prefix
// space token, one token per UTF-8 code point (or its bytes as byte tokens
// when the code point is not in the vocabulary), then repeatedly merge the
// adjacent pair whose concatenation is the highest-scoring vocabulary entry
// (leftmost on ties) until no pair merges. run.c rescans the whole sequence
// for every merge, O(n²); here the candidate pairs live in a max-heap and
// stale entries are skipped when popped, O(n log n) with identical results,
// which matters when `llmc eval` tokenizes a whole corpus.
//
//===----------------------------------------------------------------------===//

#include "PairMerge.h"
#include "TokenizerImpl.h"

#include "llvm/ADT/StringMap.h"

#include <cstring>

using namespace llmc;
using llmc::detail::mergeAdjacentPairs;
using llmc::detail::PairMerge;

namespace {

class Llama2cTokenizer final : public Tokenizer {
public:
  static constexpr int32_t kBos = 1, kEos = 2, kFirstByteToken = 3;

  static llvm::Expected<std::unique_ptr<Tokenizer>>
  parse(llvm::ArrayRef<uint8_t> bytes);

  TokenizerKind kind() const override { return TokenizerKind::Llama2c; }
  int32_t vocabSize() const override { return int32_t(pieces_.size()); }
  int32_t bosId() const override { return kBos; }
  int32_t eosId() const override { return kEos; }
  std::vector<int32_t> encode(llvm::StringRef text, bool addBos,
                              bool addEos) const override;
  std::string decodePiece(int32_t prev, int32_t token) const override;

private:
  int32_t lookup(llvm::StringRef s) const {
    auto it = ids_.find(s);
    return it == ids_.end() ? -1 : it->second;
  }
  void mergePairs(std::vector<int32_t> &ids) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  llvm::StringMap<int32_t> ids_;
};

llvm::Error parseError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "invalid llama2.c tokenizer: " + msg);
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Llama2cTokenizer::parse(llvm::ArrayRef<uint8_t> bytes) {
  size_t pos = 0;
  auto readI32 = [&](int32_t &v) {
    if (bytes.size() - pos < 4)
      return false;
    std::memcpy(&v, bytes.data() + pos, 4);
    pos += 4;
    return true;
  };
  int32_t maxLen = 0;
  if (!readI32(maxLen))
    return parseError("file too short for its header");
  if (maxLen <= 0 || maxLen > 4096)
    return parseError("max_token_length " + llvm::Twine(maxLen) +
                      " is out of range");

  auto tok = std::make_unique<Llama2cTokenizer>();
  while (pos < bytes.size()) {
    size_t id = tok->pieces_.size();
    float score;
    int32_t len;
    if (bytes.size() - pos < 8)
      return parseError("truncated inside token " + llvm::Twine(id));
    std::memcpy(&score, bytes.data() + pos, 4);
    pos += 4;
    readI32(len);
    if (len < 0 || len > maxLen)
      return parseError("token " + llvm::Twine(id) + " has length " +
                        llvm::Twine(len) + " (max_token_length is " +
                        llvm::Twine(maxLen) + ")");
    if (bytes.size() - pos < size_t(len))
      return parseError("truncated inside token " + llvm::Twine(id));
    tok->pieces_.emplace_back(reinterpret_cast<const char *>(bytes.data() + pos),
                              len);
    tok->scores_.push_back(score);
    pos += len;
  }
  if (tok->pieces_.size() < size_t(kFirstByteToken + 256))
    return parseError(llvm::Twine(tok->pieces_.size()) +
                      " tokens; at least 259 expected (BOS, EOS and 256 "
                      "byte tokens)");
  for (int b = 0; b < 256; ++b) {
    char expect[8];
    std::snprintf(expect, sizeof(expect), "<0x%02X>", b);
    if (tok->pieces_[kFirstByteToken + b] != expect)
      return parseError("token " + llvm::Twine(kFirstByteToken + b) +
                        " should be the byte token " + expect);
  }
  // First occurrence wins for duplicate pieces.
  for (size_t i = 0; i < tok->pieces_.size(); ++i)
    tok->ids_.try_emplace(tok->pieces_[i], int32_t(i));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

std::vector<int32_t> Llama2cTokenizer::encode(llvm::StringRef text,
                                              bool addBos, bool addEos) const {
  std::vector<int32_t> ids;
  if (!text.empty()) {
    if (int32_t space = lookup(" "); space >= 0)
      ids.push_back(space); // the dummy prefix
  }
  // One token per UTF-8 code point: a lead byte, then up to 3 continuation
  // bytes (10xxxxxx).
  for (size_t i = 0; i < text.size();) {
    size_t n = 1;
    while (i + n < text.size() && n < 4 && (uint8_t(text[i + n]) & 0xC0) == 0x80)
      ++n;
    llvm::StringRef cp = text.substr(i, n);
    if (int32_t id = lookup(cp); id >= 0) {
      ids.push_back(id);
    } else {
      for (char c : cp)
        ids.push_back(kFirstByteToken + uint8_t(c));
    }
    i += n;
  }
  mergePairs(ids);
  if (addBos)
    ids.insert(ids.begin(), kBos);
  if (addEos)
    ids.push_back(kEos);
  return ids;
}

// The adjacent pair whose merge has the highest score merges first,
// leftmost on ties, as run.c.
void Llama2cTokenizer::mergePairs(std::vector<int32_t> &ids) const {
  std::string buf;
  mergeAdjacentPairs(ids, [&](int32_t left, int32_t right) -> std::optional<PairMerge> {
    buf = pieces_[left];
    buf += pieces_[right];
    int32_t merged = lookup(buf);
    if (merged < 0)
      return std::nullopt;
    return PairMerge{double(scores_[merged]), merged};
  });
}

std::string Llama2cTokenizer::decodePiece(int32_t prev, int32_t token) const {
  if (token < 0 || token >= vocabSize())
    return "";
  llvm::StringRef piece = pieces_[token];
  if (prev == kBos && piece.starts_with(" "))
    piece = piece.drop_front();
  if (token >= kFirstByteToken && token < kFirstByteToken + 256)
    return std::string(1, char(token - kFirstByteToken));
  return piece.str();
}

} // namespace

llvm::Expected<std::unique_ptr<Tokenizer>>
llmc::detail::loadLlama2cTokenizer(llvm::ArrayRef<uint8_t> bytes) {
  return Llama2cTokenizer::parse(bytes);
}
