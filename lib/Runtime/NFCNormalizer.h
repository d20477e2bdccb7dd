//===- NFCNormalizer.h - Unicode NFC for tokenizer.json normalizers -*- C++ -*-===//
//
// Qwen2's tokenizer.json normalizes text to NFC before pre-tokenization. ICU
// normalizes UTF-8 in place of Hugging Face's Rust tables; bytes that are not
// valid UTF-8 pass through unchanged, so a prompt's bytes are never replaced.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_RUNTIME_NFCNORMALIZER_H
#define LLMC_LIB_RUNTIME_NFCNORMALIZER_H

#include "llvm/ADT/StringRef.h"

#include <string>

namespace llmc::detail {

/// `text` in Unicode Normalization Form C.
std::string normalizeNFC(llvm::StringRef text);

} // namespace llmc::detail

#endif
