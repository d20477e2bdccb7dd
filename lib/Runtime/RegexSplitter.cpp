//===- RegexSplitter.cpp - Pre-tokenizer splits with ICU regexes -----------===//

#include "RegexSplitter.h"

#include <unicode/regex.h>
#include <unicode/utext.h>

using namespace llmc::detail;

RegexSplitter::RegexSplitter(std::unique_ptr<icu::RegexPattern> pattern)
    : pattern_(std::move(pattern)) {}
RegexSplitter::RegexSplitter(RegexSplitter &&) noexcept = default;
RegexSplitter &RegexSplitter::operator=(RegexSplitter &&) noexcept = default;
RegexSplitter::~RegexSplitter() = default;

llvm::Expected<RegexSplitter> RegexSplitter::compile(llvm::StringRef pattern) {
  UErrorCode status = U_ZERO_ERROR;
  UParseError where{};
  icu::UnicodeString text = icu::UnicodeString::fromUTF8(
      icu::StringPiece(pattern.data(), int32_t(pattern.size())));
  std::unique_ptr<icu::RegexPattern> compiled(
      icu::RegexPattern::compile(text, 0, where, status));
  if (U_FAILURE(status) || !compiled)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "invalid split regex '%s': %s at offset %d", pattern.str().c_str(),
        u_errorName(status), where.offset);
  return RegexSplitter(std::move(compiled));
}

void RegexSplitter::splitIsolated(llvm::StringRef text,
                                  std::vector<llvm::StringRef> &pieces) const {
  UErrorCode status = U_ZERO_ERROR;
  // The matcher holds per-search state, so each call makes its own: encode()
  // may run on several threads at once over one tokenizer.
  std::unique_ptr<icu::RegexMatcher> matcher(pattern_->matcher(status));
  UText *input = utext_openUTF8(nullptr, text.data(), int64_t(text.size()),
                                &status);
  if (U_FAILURE(status) || !matcher) {
    utext_close(input);
    pieces.push_back(text); // out of memory: one piece, the text unchanged
    return;
  }
  matcher->reset(input);
  // ICU backtracks on a heap stack capped at 8 MiB by default, which a long
  // run (GPT-2's \s+(?!\S) over a few million spaces) overflows: find()
  // would fail and the rest of the text stay one piece. No cap: what is left
  // to fail is memory itself.
  matcher->setStackLimit(0, status);
  int64_t done = 0;
  while (matcher->find(status) && U_SUCCESS(status)) {
    int64_t start = matcher->start64(status), end = matcher->end64(status);
    if (U_FAILURE(status))
      break;
    if (start > done)
      pieces.push_back(text.slice(size_t(done), size_t(start)));
    if (end > start)
      pieces.push_back(text.slice(size_t(start), size_t(end)));
    done = std::max(done, end);
  }
  if (size_t(done) < text.size())
    pieces.push_back(text.drop_front(size_t(done)));
  matcher.reset();
  utext_close(input);
}
