//===- MakeSentencePieceSeed.cpp - A small .model for the tokenizer fuzzer -===//
//
// No SentencePiece model ships with the machine, and a generated one does not
// belong in the repository: the build trains small models on the calibration
// text with the library's trainer, and the SentencePiece fuzzer starts from
// them (without a valid model proto as a seed it only ever reaches the
// library's parse error).
//
//   llmc-make-spm-seed TEXT PREFIX MODEL_TYPE VOCAB_SIZE   -> PREFIX.model
//
//===----------------------------------------------------------------------===//

#include <cstdio>
#include <sentencepiece_trainer.h>
#include <string>

int main(int argc, char **argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s TEXT PREFIX bpe|unigram VOCAB_SIZE\n",
                 argv[0]);
    return 2;
  }
  const std::string type = argv[3];
  // bpe: with byte fallback (llama's tokenizer.model is such a model);
  // unigram: without it, so unknown characters map to <unk>.
  const std::string args =
      std::string("--input=") + argv[1] + " --model_prefix=" + argv[2] +
      " --model_type=" + type + " --vocab_size=" + argv[4] +
      (type == "bpe" ? " --byte_fallback=true" : "") +
      // identity: no precompiled normalization map (~240 KB), as in llama's
      // tokenizer.model; the seed stays a few KB.
      " --normalization_rule_name=identity"
      " --character_coverage=1.0 --input_sentence_size=500"
      " --shuffle_input_sentence=false --minloglevel=2 --num_threads=1";
  auto status = sentencepiece::SentencePieceTrainer::Train(args);
  if (!status.ok()) {
    std::fprintf(stderr, "training failed: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
