//===- Tokenizer.h - Text <-> token ids --------------------------*- C++ -*-===//
//
// Two tokenizer kinds: llama2.c's tokenizer.bin (byte-level BPE with scores,
// byte fallback) and SentencePiece .model files. Both are loaded from bytes so
// the runtime can load them straight from a bundle section.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_RUNTIME_TOKENIZER_H
#define LLMC_RUNTIME_TOKENIZER_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmc {

enum class TokenizerKind { Llama2c, SentencePiece };

llvm::StringRef tokenizerKindName(TokenizerKind kind);
llvm::Expected<TokenizerKind> parseTokenizerKind(llvm::StringRef name);

class Tokenizer {
public:
  virtual ~Tokenizer();

  /// Load a tokenizer from the bytes of its file. `vocabSize` is the model's
  /// vocabulary size; a tokenizer file that disagrees is an error (0 = accept
  /// the file's size).
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  load(TokenizerKind kind, llvm::ArrayRef<uint8_t> bytes, int32_t vocabSize = 0);
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  loadFile(TokenizerKind kind, llvm::StringRef path, int32_t vocabSize = 0);

  virtual TokenizerKind kind() const = 0;
  virtual int32_t vocabSize() const = 0;
  virtual int32_t bosId() const = 0;
  virtual int32_t eosId() const = 0;

  /// Token ids for `text`, optionally with BOS first / EOS last.
  virtual std::vector<int32_t> encode(llvm::StringRef text, bool addBos,
                                      bool addEos) const = 0;

  /// The text `token` contributes when it follows `prev` (streaming decode):
  /// handles the leading space after BOS and byte-fallback tokens.
  virtual std::string decodePiece(int32_t prev, int32_t token) const = 0;

  /// Concatenated decodePiece over `tokens` (the first is treated as
  /// following BOS when it is not BOS itself).
  std::string decode(llvm::ArrayRef<int32_t> tokens) const;
};

} // namespace llmc

#endif // LLMC_RUNTIME_TOKENIZER_H
