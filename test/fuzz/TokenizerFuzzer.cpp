//===- TokenizerFuzzer.cpp - libFuzzer target for tokenizer files ----------===//
//
// LLMC_FUZZ_KIND (a TokenizerKind enumerator) picks the format; the input is
// the file. A file that loads must then encode and decode text without
// crashing; a byte-level kind must also give the text back from its ids.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Tokenizer.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto tok = llmc::Tokenizer::load(llmc::TokenizerKind::LLMC_FUZZ_KIND,
                                   llvm::ArrayRef<uint8_t>(data, size));
  if (!tok) {
    llvm::consumeError(tok.takeError());
    return 0;
  }
  // Text with what the formats treat specially: a CJK character, a byte
  // that is not UTF-8, runs of spaces and newlines, a contraction, digits,
  // and GPT-2's special token.
  llvm::StringRef text = "Once upon a time, \xE6\x97\xA5 \xFF!  it's\n\n 1234"
                         "<|endoftext|>x";
  std::vector<int32_t> ids = (*tok)->encode(text, true, true);
  (void)(*tok)->decode(ids);
  if ((*tok)->kind() == llmc::TokenizerKind::ByteLevelBPE) {
    // Every byte is spelled by a token, so the text comes back whole, but
    // for the spaces a pre-tokenizer may put before its pieces
    // (add_prefix_space). (No BOS is set, so decode() drops nothing; an
    // added token found in this text is ASCII or CJK, which decode as
    // themselves.)
    auto withoutSpaces = [](llvm::StringRef s) {
      std::string out;
      for (char c : s)
        if (c != ' ')
          out += c;
      return out;
    };
    std::string back = (*tok)->decode((*tok)->encode(text, false, false));
    if (withoutSpaces(back) != withoutSpaces(text))
      __builtin_trap();
  }
  for (int32_t id = -1; id < (*tok)->vocabSize() + 1 && id < 1024; ++id)
    (void)(*tok)->decodePiece(1, id);
  return 0;
}
