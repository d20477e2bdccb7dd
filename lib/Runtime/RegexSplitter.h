//===- RegexSplitter.h - Pre-tokenizer splits with ICU regexes --*- C++ -*-===//
//
// Hugging Face pre-tokenizers split text with regexes written for the Rust
// `onig`/`fancy-regex` engines: Unicode classes (\p{L}, \p{N}), inline flags
// ((?i:...)) and lookahead (\s+(?!\S)). ICU's regex engine reads them all, so
// the splitter compiles the pattern with ICU and matches over the UTF-8 text
// in place (a UText), getting byte offsets back. Bytes that are not valid
// UTF-8 match as U+FFFD but keep their own bytes in the pieces, so a split
// never changes the text. ICU's \s is Unicode's White_Space property, as
// Oniguruma's (Hugging Face's engine) is.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_RUNTIME_REGEXSPLITTER_H
#define LLMC_LIB_RUNTIME_REGEXSPLITTER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <vector>

#include <unicode/uversion.h>

// `icu` is an alias of a versioned namespace; declare inside the real one.
U_NAMESPACE_BEGIN
class RegexPattern;
U_NAMESPACE_END

namespace llmc::detail {

class RegexSplitter {
public:
  /// Compiles `pattern`; an invalid one is an error naming the pattern and
  /// where ICU stopped reading it.
  static llvm::Expected<RegexSplitter> compile(llvm::StringRef pattern);

  RegexSplitter(RegexSplitter &&) noexcept;
  RegexSplitter &operator=(RegexSplitter &&) noexcept;
  ~RegexSplitter();

  /// Hugging Face's "Isolated" split: every match is a piece of its own, and
  /// so is every non-empty run of text between matches. The pieces
  /// concatenate to `text`; they are appended to `pieces`.
  void splitIsolated(llvm::StringRef text,
                     std::vector<llvm::StringRef> &pieces) const;

private:
  explicit RegexSplitter(std::unique_ptr<icu::RegexPattern> pattern);
  std::unique_ptr<icu::RegexPattern> pattern_;
};

} // namespace llmc::detail

#endif
