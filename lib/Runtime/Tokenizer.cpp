//===- Tokenizer.cpp - Tokenizer kinds and loading -------------------------===//

#include "llmc/Runtime/Tokenizer.h"

#include "TokenizerImpl.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace llmc;

Tokenizer::~Tokenizer() = default;

llvm::Expected<TokenizerKind> llmc::parseTokenizerKind(llvm::StringRef name) {
  for (TokenizerKind k : {TokenizerKind::Llama2c, TokenizerKind::SentencePiece,
                          TokenizerKind::ByteLevelBPE})
    if (name == tokenizerKindName(k))
      return k;
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      "unknown tokenizer kind '%s' (expected llama2c, sentencepiece or bpe)",
      name.str().c_str());
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::load(TokenizerKind kind, llvm::ArrayRef<uint8_t> bytes,
                int32_t vocabSize, TokenizerSpecialIds special) {
  llvm::Expected<std::unique_ptr<Tokenizer>> tok =
      kind == TokenizerKind::Llama2c
          ? detail::loadLlama2cTokenizer(bytes)
      : kind == TokenizerKind::SentencePiece
          ? detail::loadSentencePieceTokenizer(bytes)
          : detail::loadByteLevelBPETokenizer(bytes, special);
  if (!tok)
    return tok.takeError();
  // Embedding tables may be padded past a byte-level BPE tokenizer's ids
  // (Qwen2's are); ids beyond the model's rows are always an error.
  bool fits = kind == TokenizerKind::ByteLevelBPE
                  ? (*tok)->vocabSize() <= vocabSize
                  : (*tok)->vocabSize() == vocabSize;
  if (vocabSize > 0 && !fits)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "tokenizer has %d tokens but the model's vocabulary has %d",
        (*tok)->vocabSize(), vocabSize);
  return tok;
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::loadFile(TokenizerKind kind, llvm::StringRef path, int32_t vocabSize,
                    TokenizerSpecialIds special) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    return llvm::createStringError(buf.getError(), "cannot read tokenizer '%s': %s",
                                   path.str().c_str(),
                                   buf.getError().message().c_str());
  auto bytes = llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>((*buf)->getBufferStart()),
      (*buf)->getBufferSize());
  auto tok = load(kind, bytes, vocabSize, special);
  if (!tok)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "'%s': %s",
                                   path.str().c_str(),
                                   llvm::toString(tok.takeError()).c_str());
  return tok;
}

std::string Tokenizer::decode(llvm::ArrayRef<int32_t> tokens) const {
  std::string out;
  int32_t prev = bosId();
  for (int32_t t : tokens) {
    if (t != bosId())
      out += decodePiece(prev, t);
    prev = t;
  }
  return out;
}
