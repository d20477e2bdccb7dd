//===- Tokenizer.h - Text <-> token ids --------------------------*- C++ -*-===//
//
// Three tokenizer kinds: llama2.c's tokenizer.bin (BPE with scores, byte
// fallback), SentencePiece .model files, and Hugging Face tokenizer.json files
// of byte-level BPE (GPT-2, Llama-3, Qwen2). All are loaded from bytes so the
// runtime can load them straight from a bundle section.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_RUNTIME_TOKENIZER_H
#define LLMC_RUNTIME_TOKENIZER_H

#include "llmc/Runtime/TokenizerKind.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmc {

/// The model's BOS / EOS ids (its config's bos_id / eos_id), for tokenizer
/// files that do not say which tokens they are: a tokenizer.json names its
/// special tokens but not their roles. -1: none. The llama2.c and
/// SentencePiece kinds take theirs from the file and ignore these.
struct TokenizerSpecialIds {
  int32_t bos = -1, eos = -1;
};

llvm::Expected<TokenizerKind> parseTokenizerKind(llvm::StringRef name);

class Tokenizer {
public:
  virtual ~Tokenizer();

  /// Load a tokenizer from the bytes of its file. `vocabSize` is the model's
  /// vocabulary size; a tokenizer file that disagrees is an error (0 = accept
  /// the file's size). A byte-level BPE tokenizer may have fewer tokens than
  /// the model has embedding rows (Qwen2 pads its tables), never more.
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  load(TokenizerKind kind, llvm::ArrayRef<uint8_t> bytes, int32_t vocabSize = 0,
       TokenizerSpecialIds special = {});
  static llvm::Expected<std::unique_ptr<Tokenizer>>
  loadFile(TokenizerKind kind, llvm::StringRef path, int32_t vocabSize = 0,
           TokenizerSpecialIds special = {});

  virtual TokenizerKind kind() const = 0;
  virtual int32_t vocabSize() const = 0;
  virtual int32_t bosId() const = 0;
  virtual int32_t eosId() const = 0;

  /// The ids encode(text, addBos = true, ...) puts before the text: BOS,
  /// or what a tokenizer.json's post-processor adds (possibly nothing).
  virtual std::vector<int32_t> bosPrefix() const {
    return bosId() >= 0 ? std::vector<int32_t>{bosId()} : std::vector<int32_t>{};
  }

  /// Token ids for `text`, optionally with BOS first / EOS last.
  virtual std::vector<int32_t> encode(llvm::StringRef text, bool addBos,
                                      bool addEos) const = 0;

  /// The text `token` contributes when it follows `prev` (streaming decode):
  /// handles the leading space after BOS and byte-fallback tokens. Pieces of
  /// byte-level kinds may hold part of a UTF-8 sequence; their concatenation
  /// is the text.
  virtual std::string decodePiece(int32_t prev, int32_t token) const = 0;

  /// Concatenated decodePiece over `tokens` (the first is treated as
  /// following BOS when it is not BOS itself).
  std::string decode(llvm::ArrayRef<int32_t> tokens) const;
};

} // namespace llmc

#endif // LLMC_RUNTIME_TOKENIZER_H
