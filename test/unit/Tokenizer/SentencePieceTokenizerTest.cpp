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

#include <cstdio>
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

// A SentencePiece ModelProto by hand: repeated field 1 (SentencePiece:
// piece = 1, type = 3), and a trainer spec (field 2) that is the default (a
// unigram model) or sets byte_fallback (field 35). Types: 1 normal, 2 unknown,
// 6 byte.
std::vector<uint8_t> modelProto(
    std::vector<std::pair<std::string, uint8_t>> pieces,
    bool byteFallback = false) {
  std::vector<uint8_t> out;
  for (auto &[text, type] : pieces) {
    std::vector<uint8_t> piece = {0x0a, uint8_t(text.size())};
    piece.insert(piece.end(), text.begin(), text.end());
    piece.insert(piece.end(), {0x18, type});
    out.insert(out.end(), {0x0a, uint8_t(piece.size())});
    out.insert(out.end(), piece.begin(), piece.end());
  }
  if (byteFallback)
    out.insert(out.end(), {0x12, 0x03, 0x98, 0x02, 0x01});
  return out;
}

// Found by the fuzzer: an empty piece makes the library's trie builder throw
// from inside the model's constructor.
TEST(SentencePieceModel, EmptyPieceIsAnError) {
  auto ok = Tokenizer::load(TokenizerKind::SentencePiece,
                            modelProto({{"<unk>", 2}, {"b", 1}, {"a", 1}}));
  ASSERT_TRUE(static_cast<bool>(ok)) << llvm::toString(ok.takeError());
  auto tok = Tokenizer::load(TokenizerKind::SentencePiece,
                             modelProto({{"<unk>", 2}, {"", 1}, {"a", 1}}));
  ASSERT_FALSE(static_cast<bool>(tok));
  EXPECT_NE(llvm::toString(tok.takeError()).find("invalid SentencePiece model"),
            std::string::npos);
}

// Byte pieces decode to their byte; one whose text is not <0xNN> with hex
// digits is a bad model.
TEST(SentencePieceModel, BytePieces) {
  // <unk>, the 256 byte pieces (ids 1..256: byte fallback needs them all), a.
  std::vector<std::pair<std::string, uint8_t>> pieces = {{"<unk>", 2}};
  for (unsigned b = 0; b < 256; ++b) {
    char text[8];
    std::snprintf(text, sizeof text, "<0x%02X>", b);
    pieces.push_back({text, 6});
  }
  pieces.push_back({"a", 1});
  auto tok = Tokenizer::load(TokenizerKind::SentencePiece,
                             modelProto(pieces, /*byteFallback=*/true));
  ASSERT_TRUE(static_cast<bool>(tok)) << llvm::toString(tok.takeError());
  EXPECT_EQ((*tok)->decodePiece(257, 1 + 0x41), "A");
  EXPECT_EQ((*tok)->decodePiece(257, 1 + 0xE6), "\xE6");
  EXPECT_EQ((*tok)->decodePiece(1, 257), "a");
  pieces[1 + 0x41].first = "<0xZZ>";
  auto bad = Tokenizer::load(TokenizerKind::SentencePiece,
                             modelProto(pieces, /*byteFallback=*/true));
  ASSERT_FALSE(static_cast<bool>(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("invalid SentencePiece model"),
            std::string::npos);
}

} // namespace
