//===- TokenizerImpl.h - Concrete tokenizer constructors --------*- C++ -*-===//
#ifndef LLMC_LIB_RUNTIME_TOKENIZERIMPL_H
#define LLMC_LIB_RUNTIME_TOKENIZERIMPL_H

#include "llmc/Runtime/Tokenizer.h"

namespace llmc::detail {

llvm::Expected<std::unique_ptr<Tokenizer>>
loadLlama2cTokenizer(llvm::ArrayRef<uint8_t> bytes);

llvm::Expected<std::unique_ptr<Tokenizer>>
loadSentencePieceTokenizer(llvm::ArrayRef<uint8_t> bytes);

llvm::Expected<std::unique_ptr<Tokenizer>>
loadByteLevelBPETokenizer(llvm::ArrayRef<uint8_t> bytes,
                          TokenizerSpecialIds special);

} // namespace llmc::detail

#endif
