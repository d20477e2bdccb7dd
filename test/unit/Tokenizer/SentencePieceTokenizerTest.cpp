//===- SentencePieceTokenizerTest.cpp - SentencePiece .model wrapper -------===//
//
// No SentencePiece model ships with the machine, so the test trains a small
// BPE model on the calibration text and checks the wrapper against the
// library's own encoder and decoder.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Tokenizer.h"

#include "llvm/Support/FileSystem.h"

#include "gtest/gtest.h"

#include <fstream>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

using namespace llmc;

namespace {

const std::string kCalib = std::string(LLMC_SHARED_DIR) + "/data/tinystories_calib.txt";

class SentencePieceTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (!llvm::sys::fs::exists(kCalib))
      return;
    llvm::SmallString<128> dir;
    if (llvm::sys::fs::createUniqueDirectory("llmc-spm", dir))
      return;
    prefix_ = (dir + "/tiny").str();
    auto status = sentencepiece::SentencePieceTrainer::Train(
        "--input=" + kCalib + " --model_prefix=" + prefix_ +
        " --vocab_size=400 --model_type=bpe --byte_fallback=true"
        " --character_coverage=1.0 --input_sentence_size=2000"
        " --minloglevel=2 --num_threads=1");
    if (!status.ok())
      prefix_.clear();
  }
  void SetUp() override {
    if (prefix_.empty())
      GTEST_SKIP() << "could not train a SentencePiece model";
    std::ifstream in(prefix_ + ".model", std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
    ASSERT_TRUE(ref_.LoadFromSerializedProto(std::string_view(
                        reinterpret_cast<const char *>(bytes_.data()), bytes_.size()))
                    .ok());
  }
  static std::string prefix_;
  std::vector<uint8_t> bytes_;
  sentencepiece::SentencePieceProcessor ref_;
};
std::string SentencePieceTest::prefix_;

TEST_F(SentencePieceTest, EncodesLikeTheLibraryAndRoundTrips) {
  auto tok = Tokenizer::loadFile(TokenizerKind::SentencePiece, prefix_ + ".model");
  ASSERT_TRUE(static_cast<bool>(tok)) << llvm::toString(tok.takeError());
  EXPECT_EQ((*tok)->vocabSize(), 400);
  for (std::string s : {"Once upon a time, there was a little girl.",
                        "Tom said \"wow\" - 42 日本!"}) {
    std::vector<int> expect;
    ASSERT_TRUE(ref_.Encode(s, &expect).ok());
    std::vector<int32_t> ids = (*tok)->encode(s, true, true);
    ASSERT_EQ(ids.size(), expect.size() + 2);
    EXPECT_EQ(ids.front(), ref_.bos_id());
    EXPECT_EQ(ids.back(), ref_.eos_id());
    EXPECT_TRUE(std::equal(expect.begin(), expect.end(), ids.begin() + 1));
    std::string libDecoded;
    ASSERT_TRUE(ref_.Decode(expect, &libDecoded).ok());
    EXPECT_EQ((*tok)->decode(ids), libDecoded);
    EXPECT_EQ(libDecoded, s);
  }
}

TEST_F(SentencePieceTest, GarbageIsRejected) {
  std::vector<uint8_t> garbage = {1, 2, 3, 4, 5, 0xff, 0xee};
  auto tok = Tokenizer::load(TokenizerKind::SentencePiece, garbage);
  ASSERT_FALSE(static_cast<bool>(tok));
  EXPECT_NE(llvm::toString(tok.takeError()).find("invalid SentencePiece model"),
            std::string::npos);
  auto missing = Tokenizer::loadFile(TokenizerKind::SentencePiece, "/nonexistent.model");
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("cannot read tokenizer"),
            std::string::npos);
}

} // namespace
