//===- TokenizerFuzzer.cpp - libFuzzer target for tokenizer files ----------===//
//
// LLMC_FUZZ_KIND (a TokenizerKind enumerator) picks the format; the input is
// the file. A file that loads must then encode and decode text without
// crashing.
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
  std::vector<int32_t> ids = (*tok)->encode("Once upon a time, \xE6\x97\xA5 \xFF!", true, true);
  (void)(*tok)->decode(ids);
  for (int32_t id = -1; id < (*tok)->vocabSize() + 1 && id < 1024; ++id)
    (void)(*tok)->decodePiece(1, id);
  return 0;
}
