//===- ModelFacts.h - What the graph does not say about a model -*- C++ -*-===//
//
// BOS/EOS ids, the context length and the tokenizer file come from beside
// the ONNX model: llmc's own `<model>.config.json` (written by its export
// scripts), or else the files of a Hugging Face model directory (Optimum's
// export puts model.onnx beside config.json, generation_config.json and the
// tokenizer files; ONNX Runtime GenAI's builder adds genai_config.json).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_MODELFACTS_H
#define LLMC_CODEGEN_MODELFACTS_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llmc::codegen {

struct ModelFacts {
  /// The KV cache length when --ctx is not given.
  int64_t maxContext = 2048;
  int32_t bos = 1, eos = 2;
  /// The model's other EOS ids (the rest of an eos_token_id list).
  std::vector<int32_t> moreEos;
  /// Empty when no tokenizer file was found; the kind may be empty (guessed
  /// from the file's name).
  std::string tokenizerPath, tokenizerKind;
};

/// The facts for the model at `sourcePath`:
///  * `<model>.config.json`: `max_seq_len`, `bos_id`, `eos_id`,
///    `tokenizer: {path, kind}`;
///  * otherwise, in the model's directory, Hugging Face's `config.json`
///    (`bos_token_id`, `eos_token_id` (a list: the first, and the others
///    as more stop ids),
///    `max_position_embeddings` or GPT-2's `n_positions`, capped at
///    kHuggingFaceDefaultContext: the KV cache grows with it, --ctx asks for
///    more), `generation_config.json` (its bos/eos override config.json's),
///    ONNX Runtime GenAI's `genai_config.json` (its `model` object's
///    `bos_token_id`, `eos_token_id` and `context_length` override both),
///    and the tokenizer: `tokenizer.model` (SentencePiece, which Llama-2 and
///    Mistral directories also ship as tokenizer.json in a form llmc does not
///    read) or else `tokenizer.json`.
/// Missing files and keys keep the defaults.
ModelFacts readModelFacts(llvm::StringRef sourcePath);

inline constexpr int64_t kHuggingFaceDefaultContext = 4096;

} // namespace llmc::codegen

#endif
