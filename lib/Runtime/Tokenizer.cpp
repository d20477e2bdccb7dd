//===- Tokenizer.cpp - Tokenizer kinds and loading -------------------------===//

#include "llmc/Runtime/Tokenizer.h"

#include "TokenizerImpl.h"

#include "llvm/Support/MemoryBuffer.h"

using namespace llmc;

Tokenizer::~Tokenizer() = default;

llvm::StringRef llmc::tokenizerKindName(TokenizerKind kind) {
  return kind == TokenizerKind::Llama2c ? "llama2c" : "sentencepiece";
}

llvm::Expected<TokenizerKind> llmc::parseTokenizerKind(llvm::StringRef name) {
  if (name == "llama2c")
    return TokenizerKind::Llama2c;
  if (name == "sentencepiece")
    return TokenizerKind::SentencePiece;
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(),
      "unknown tokenizer kind '%s' (expected llama2c or sentencepiece)",
      name.str().c_str());
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::load(TokenizerKind kind, llvm::ArrayRef<uint8_t> bytes,
                int32_t vocabSize) {
  llvm::Expected<std::unique_ptr<Tokenizer>> tok =
      kind == TokenizerKind::Llama2c ? detail::loadLlama2cTokenizer(bytes)
                                     : detail::loadSentencePieceTokenizer(bytes);
  if (!tok)
    return tok.takeError();
  if (vocabSize > 0 && (*tok)->vocabSize() != vocabSize)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "tokenizer has %d tokens but the model's vocabulary has %d",
        (*tok)->vocabSize(), vocabSize);
  return tok;
}

llvm::Expected<std::unique_ptr<Tokenizer>>
Tokenizer::loadFile(TokenizerKind kind, llvm::StringRef path, int32_t vocabSize) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    return llvm::createStringError(buf.getError(), "cannot read tokenizer '%s': %s",
                                   path.str().c_str(),
                                   buf.getError().message().c_str());
  auto bytes = llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>((*buf)->getBufferStart()),
      (*buf)->getBufferSize());
  auto tok = load(kind, bytes, vocabSize);
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
