//===- ByteLevelAlphabet.h - GPT-2's bytes <-> unicode mapping --*- C++ -*-===//
//
// Byte-level BPE vocabularies (GPT-2, Llama-3, Qwen2) never store raw bytes:
// every byte is spelled as one printable code point, so that a vocabulary
// entry is always valid text. Bytes that are printable Latin-1 characters
// ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for themselves; the other
// 68 bytes (controls, space, DEL, NBSP, soft hyphen, ...) take the code points
// U+0100, U+0101, ... in byte order. A space is therefore 'Ġ' (U+0120) and a
// newline 'Ċ' (U+010A).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_RUNTIME_BYTELEVELALPHABET_H
#define LLMC_LIB_RUNTIME_BYTELEVELALPHABET_H

#include "llvm/ADT/StringRef.h"

#include <array>
#include <optional>
#include <string>

namespace llmc::detail {

class ByteLevelAlphabet {
public:
  ByteLevelAlphabet();

  /// The code point byte `b` is spelled with.
  uint32_t codePoint(uint8_t b) const { return codePoints_[b]; }
  /// That code point as UTF-8 (2 bytes at most).
  llvm::StringRef symbol(uint8_t b) const { return symbols_[b]; }

  /// `bytes` spelled in the alphabet.
  std::string spell(llvm::StringRef bytes) const;

  /// The bytes a spelled string stands for; nullopt when it holds a code
  /// point outside the alphabet (or is not valid UTF-8).
  std::optional<std::string> unspell(llvm::StringRef spelled) const;

private:
  std::array<uint32_t, 256> codePoints_;
  std::array<std::string, 256> symbols_;
  /// Inverse of codePoints_, indexed by code point (all are below 0x144);
  /// -1 where a code point spells no byte.
  std::array<int16_t, 0x144> bytes_;
};

/// The one shared instance (the mapping is fixed).
const ByteLevelAlphabet &byteLevelAlphabet();

} // namespace llmc::detail

#endif
