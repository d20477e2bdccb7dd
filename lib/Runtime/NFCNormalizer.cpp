//===- NFCNormalizer.cpp - Unicode NFC for tokenizer.json normalizers ------===//

#include "NFCNormalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

std::string llmc::detail::normalizeNFC(llvm::StringRef text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2 *nfc = icu::Normalizer2::getNFCInstance(status);
  icu::StringPiece in(text.data(), int32_t(text.size()));
  if (U_FAILURE(status) || nfc->isNormalizedUTF8(in, status))
    return text.str(); // (ICU's data is built in: a failure is out of memory)
  std::string out;
  icu::StringByteSink<std::string> sink(&out, int32_t(text.size()));
  nfc->normalizeUTF8(0, in, sink, nullptr, status);
  return U_SUCCESS(status) ? out : text.str();
}
