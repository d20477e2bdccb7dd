//===- SentencePieceTokenizer.cpp - SentencePiece .model files -------------===//

#include "TokenizerImpl.h"

#include <sentencepiece_processor.h>

using namespace llmc;

namespace {

class SentencePieceTokenizer final : public Tokenizer {
public:
  sentencepiece::SentencePieceProcessor sp;

  TokenizerKind kind() const override { return TokenizerKind::SentencePiece; }
  int32_t vocabSize() const override { return sp.GetPieceSize(); }
  int32_t bosId() const override { return sp.bos_id(); }
  int32_t eosId() const override { return sp.eos_id(); }

  std::vector<int32_t> encode(llvm::StringRef text, bool addBos,
                              bool addEos) const override {
    std::vector<int> pieces;
    std::vector<int32_t> ids;
    if (addBos && bosId() >= 0)
      ids.push_back(bosId());
    if (sp.Encode(std::string_view(text.data(), text.size()), &pieces).ok())
      ids.insert(ids.end(), pieces.begin(), pieces.end());
    if (addEos && eosId() >= 0)
      ids.push_back(eosId());
    return ids;
  }

  // Pieces spell spaces as U+2581 (▁); byte-fallback pieces are <0xNN>.
  std::string decodePiece(int32_t prev, int32_t token) const override {
    if (token < 0 || token >= vocabSize() || sp.IsControl(token) ||
        sp.IsUnknown(token))
      return "";
    std::string piece = sp.IdToPiece(token);
    // A byte piece spells its byte as two hex digits; a model whose byte
    // piece says anything else keeps the piece's text.
    unsigned byte = 0;
    if (sp.IsByte(token) && piece.size() == 6 &&
        llvm::StringRef(piece).starts_with("<0x") && piece[5] == '>' &&
        !llvm::StringRef(piece).substr(3, 2).getAsInteger(16, byte))
      return std::string(1, char(byte));
    std::string out;
    for (size_t i = 0; i < piece.size();) {
      if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {
        out += ' ';
        i += 3;
      } else {
        out += piece[i++];
      }
    }
    if (prev == bosId() && !out.empty() && out[0] == ' ')
      out.erase(0, 1);
    return out;
  }
};

} // namespace

llvm::Expected<std::unique_ptr<Tokenizer>>
llmc::detail::loadSentencePieceTokenizer(llvm::ArrayRef<uint8_t> bytes) {
  auto tok = std::make_unique<SentencePieceTokenizer>();
  sentencepiece::util::Status status;
  // The library reports most bad models as a status, but some (an empty
  // piece: its trie builder rejects zero-length keys) throw from inside the
  // model's constructor. Either is a bad file, never a crash.
  try {
    status = tok->sp.LoadFromSerializedProto(std::string_view(
        reinterpret_cast<const char *>(bytes.data()), bytes.size()));
  } catch (const std::exception &e) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "invalid SentencePiece model: %s", e.what());
  }
  if (!status.ok())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "invalid SentencePiece model: %s",
                                   status.ToString().c_str());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}
