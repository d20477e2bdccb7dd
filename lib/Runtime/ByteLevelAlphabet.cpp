//===- ByteLevelAlphabet.cpp - GPT-2's bytes <-> unicode mapping -----------===//

#include "ByteLevelAlphabet.h"

#include "llvm/Support/ConvertUTF.h"

using namespace llmc::detail;

namespace {

bool standsForItself(unsigned b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
         (b >= 0xAE && b <= 0xFF);
}

std::string utf8(uint32_t cp) {
  // Every code point of the alphabet is below U+0800: one or two bytes.
  if (cp < 0x80)
    return std::string(1, char(cp));
  return {char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
}

} // namespace

ByteLevelAlphabet::ByteLevelAlphabet() {
  bytes_.fill(-1);
  uint32_t next = 0x100;
  for (unsigned b = 0; b < 256; ++b) {
    codePoints_[b] = standsForItself(b) ? b : next++;
    symbols_[b] = utf8(codePoints_[b]);
    bytes_[codePoints_[b]] = int16_t(b);
  }
}

std::string ByteLevelAlphabet::spell(llvm::StringRef bytes) const {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes)
    out += symbols_[uint8_t(c)];
  return out;
}

std::optional<std::string>
ByteLevelAlphabet::unspell(llvm::StringRef spelled) const {
  std::string out;
  const auto *p = reinterpret_cast<const llvm::UTF8 *>(spelled.begin());
  const auto *end = reinterpret_cast<const llvm::UTF8 *>(spelled.end());
  while (p < end) {
    llvm::UTF32 cp;
    if (llvm::convertUTF8Sequence(&p, end, &cp, llvm::strictConversion) !=
        llvm::conversionOK)
      return std::nullopt;
    if (cp >= bytes_.size() || bytes_[cp] < 0)
      return std::nullopt;
    out += char(bytes_[cp]);
  }
  return out;
}

const ByteLevelAlphabet &llmc::detail::byteLevelAlphabet() {
  static const ByteLevelAlphabet alphabet;
  return alphabet;
}
