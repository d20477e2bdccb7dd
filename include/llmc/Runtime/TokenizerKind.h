//===- TokenizerKind.h - Tokenizer file kinds -------------------*- C++ -*-===//
//
// The kinds of tokenizer file and how a file's name suggests one: shared by
// the tokenizers (lib/Runtime) and the compiler, which records the kind of
// the file it embeds without linking the tokenizers.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_RUNTIME_TOKENIZERKIND_H
#define LLMC_RUNTIME_TOKENIZERKIND_H

#include "llvm/ADT/StringRef.h"

namespace llmc {

enum class TokenizerKind { Llama2c, SentencePiece, ByteLevelBPE };

/// The kind's name in manifests and on the command line.
inline llvm::StringRef tokenizerKindName(TokenizerKind kind) {
  switch (kind) {
  case TokenizerKind::Llama2c:
    return "llama2c";
  case TokenizerKind::SentencePiece:
    return "sentencepiece";
  case TokenizerKind::ByteLevelBPE:
    return "bpe";
  }
  return "?";
}

/// The kind a tokenizer file's name suggests: *.model SentencePiece, *.json
/// (Hugging Face's tokenizer.json) byte-level BPE, anything else llama2.c.
inline TokenizerKind guessTokenizerKind(llvm::StringRef path) {
  if (path.ends_with(".model"))
    return TokenizerKind::SentencePiece;
  if (path.ends_with(".json"))
    return TokenizerKind::ByteLevelBPE;
  return TokenizerKind::Llama2c;
}

} // namespace llmc

#endif
