//===- BPETokenizerJSON.h - Hugging Face tokenizer.json (BPE) ---*- C++ -*-===//
//
// Reads the parts of a Hugging Face `tokenizer.json` that a byte-level BPE
// tokenizer (GPT-2, Llama-3, Qwen2) is made of, and refuses everything else
// by name, so that an unsupported tokenizer is an error rather than wrong
// token ids:
//
//   normalizer      null, or NFC (Qwen2)
//   pre_tokenizer   ByteLevel (use_regex: GPT-2's split regex; add_prefix_space)
//                   or a Sequence of Split (a Regex pattern, behavior Isolated,
//                   not inverted) ending in ByteLevel
//   model           BPE: vocab, merges ("a b" strings or [a, b] pairs),
//                   ignore_merges; no dropout, byte fallback or word affixes
//   decoder         ByteLevel
//   added_tokens    matched literally in the text before normalization and
//                   pre-tokenization (no lstrip / rstrip / single_word; with
//                   a normalizer, none that asks to be matched after it)
//   post_processor  null, ByteLevel, TemplateProcessing whose `single`
//                   template puts special tokens before the sequence only
//                   (Llama-3's <|begin_of_text|>), or a Sequence of these:
//                   the tokens encode adds when asked to add BOS
//
// The checks that make encoding total are done here too: token ids are
// 0..N-1 with none missing or repeated, every merge's parts and result are
// in the vocabulary, and all 256 byte symbols are.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_RUNTIME_BPETOKENIZERJSON_H
#define LLMC_LIB_RUNTIME_BPETOKENIZERJSON_H

#include "RegexSplitter.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"

#include <string>
#include <variant>
#include <vector>

namespace llmc::detail {

/// One step of pre-tokenization, applied to every piece the steps before it
/// produced.
struct PrefixSpaceStep {}; ///< prepend ' ' to a piece not starting with one
using PreTokenizeStep = std::variant<PrefixSpaceStep, RegexSplitter>;

struct BPEMerge {
  int32_t left, right, merged;
};

struct AddedToken {
  std::string content;
  int32_t id;
  bool special;
  /// Matched in a second pass, in the text the first pass (the tokens
  /// without `normalized`) left: Hugging Face's order.
  bool normalized;
};

struct BPETokenizerSpec {
  /// Every token by id: a vocabulary entry as spelled in the byte-level
  /// alphabet, an added token that is not in the vocabulary as its content.
  std::vector<std::string> tokens;
  /// Whether tokens[id] came from added_tokens only (its text is literal).
  std::vector<bool> addedOnly;
  llvm::StringMap<int32_t> vocab; ///< model.vocab: spelled token -> id
  std::vector<BPEMerge> merges;   ///< by rank, highest priority first
  std::vector<AddedToken> addedTokens;
  bool ignoreMerges = false;
  bool normalizeNFC = false; ///< text between added tokens goes to NFC first
  std::vector<PreTokenizeStep> preTokenize;
  /// The ids the post-processor puts before the text (none for GPT-2 and
  /// Qwen2, whose encoders add no BOS).
  std::vector<int32_t> bosPrefix;
  /// The ids its template puts after the text (Hugging Face appends them with
  /// add_special_tokens; llmc when EOS is asked for, never to a prompt).
  std::vector<int32_t> eosSuffix;
};

/// Parses and checks a tokenizer.json file's bytes.
llvm::Expected<BPETokenizerSpec>
parseBPETokenizerJSON(llvm::ArrayRef<uint8_t> bytes);

/// GPT-2's split regex, which ByteLevel applies when `use_regex` is true.
extern const char *const kGPT2SplitRegex;

} // namespace llmc::detail

#endif
