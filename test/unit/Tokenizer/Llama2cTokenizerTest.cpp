//===- Llama2cTokenizerTest.cpp - tokenizer.bin vs run.c's algorithm -------===//
//
// The reference here is a direct transcription of run.c's encode loop: rescan
// every adjacent pair, merge the best (leftmost on ties), repeat. The
// tokenizer under test must produce identical ids with its heap-based merge.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Tokenizer.h"

#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

#include <cstring>
#include <fstream>
#include <map>
#include <random>

using namespace llmc;

namespace {

const std::string kSharedDir = LLMC_SHARED_DIR;
const std::string kTokPath = kSharedDir + "/models/stories260K/tok512.bin";

std::vector<uint8_t> readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// run.c's algorithm, O(n²) per merge, on a vocabulary parsed independently.
struct NaiveLlama2c {
  std::vector<std::string> vocab;
  std::vector<float> scores;
  std::map<std::string, int> ids;

  explicit NaiveLlama2c(const std::vector<uint8_t> &file) {
    size_t pos = 4;
    while (pos < file.size()) {
      float score;
      int32_t len;
      std::memcpy(&score, &file[pos], 4);
      std::memcpy(&len, &file[pos + 4], 4);
      vocab.emplace_back(reinterpret_cast<const char *>(&file[pos + 8]), len);
      scores.push_back(score);
      ids.emplace(vocab.back(), int(vocab.size() - 1));
      pos += 8 + len;
    }
  }
  int lookup(const std::string &s) const {
    auto it = ids.find(s);
    return it == ids.end() ? -1 : it->second;
  }
  std::vector<int32_t> encode(const std::string &text) const {
    std::vector<int32_t> t{1};
    if (!text.empty())
      t.push_back(lookup(" "));
    std::string buf;
    for (size_t i = 0; i < text.size(); ++i) {
      if ((uint8_t(text[i]) & 0xC0) != 0x80)
        buf.clear();
      buf += text[i];
      if (i + 1 < text.size() && (uint8_t(text[i + 1]) & 0xC0) == 0x80 &&
          buf.size() < 4)
        continue;
      int id = lookup(buf);
      if (id >= 0)
        t.push_back(id);
      else
        for (char c : buf)
          t.push_back(uint8_t(c) + 3);
      buf.clear();
    }
    while (true) {
      float best = -1e10f;
      int bestId = -1, bestIdx = -1;
      for (size_t i = 0; i + 1 < t.size(); ++i) {
        int id = lookup(vocab[t[i]] + vocab[t[i + 1]]);
        if (id != -1 && scores[id] > best) {
          best = scores[id];
          bestId = id;
          bestIdx = int(i);
        }
      }
      if (bestIdx == -1)
        break;
      t[bestIdx] = bestId;
      t.erase(t.begin() + bestIdx + 1);
    }
    return t;
  }
};

class Llama2cTokenizerTest : public ::testing::Test {
protected:
  void SetUp() override {
    bytes_ = readBytes(kTokPath);
    if (bytes_.empty())
      GTEST_SKIP() << "stories260K tokenizer not found at " << kTokPath;
    auto tok = Tokenizer::load(TokenizerKind::Llama2c, bytes_, 512);
    ASSERT_TRUE(static_cast<bool>(tok)) << llvm::toString(tok.takeError());
    tok_ = std::move(*tok);
  }
  std::vector<uint8_t> bytes_;
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(Llama2cTokenizerTest, KnownPrompt) {
  // From the model card: run.c's ids for this prompt.
  EXPECT_EQ(tok_->encode("Once upon a time", true, false),
            (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok_->vocabSize(), 512);
  EXPECT_EQ(tok_->bosId(), 1);
  EXPECT_EQ(tok_->eosId(), 2);
}

TEST_F(Llama2cTokenizerTest, MatchesRunCOnHeldOutText) {
  NaiveLlama2c ref(bytes_);
  std::ifstream in(kSharedDir + "/data/tinystories_eval.txt");
  std::string line;
  int checked = 0;
  while (checked < 300 && std::getline(in, line)) {
    ASSERT_EQ(tok_->encode(line, true, false), ref.encode(line)) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 300);
}

TEST_F(Llama2cTokenizerTest, MatchesRunCOnArbitraryBytes) {
  NaiveLlama2c ref(bytes_);
  std::mt19937 rng(7);
  const char *alphabet[] = {"a", "e", "t", " ", "th", "\n", "é", "日本", "\xff",
                            "\x80", "Lily", "!", "0x", "<0x41>"};
  for (int i = 0; i < 300; ++i) {
    std::string s;
    for (int n = rng() % 40; n > 0; --n)
      s += alphabet[rng() % std::size(alphabet)];
    ASSERT_EQ(tok_->encode(s, true, false), ref.encode(s)) << s;
  }
}

TEST_F(Llama2cTokenizerTest, DecodeInvertsEncode) {
  for (std::string s : {"Once upon a time, there was a little girl named Lily.",
                        "He said: \"hi!\"\nShe smiled.", "naïve café 日本"}) {
    std::vector<int32_t> ids = tok_->encode(s, true, false);
    EXPECT_EQ(tok_->decode(ids), s);
  }
  EXPECT_EQ(tok_->decodePiece(1, 403), "Once");
  EXPECT_EQ(tok_->decodePiece(403, 407), " upon");
  EXPECT_EQ(tok_->decodePiece(1, 3 + 'A'), "A") << "byte fallback token";
  EXPECT_EQ(tok_->decodePiece(1, 99999), "");
}

TEST_F(Llama2cTokenizerTest, EncodeAddsBosAndEos) {
  std::vector<int32_t> ids = tok_->encode("", true, true);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 2}));
}

TEST_F(Llama2cTokenizerTest, VocabularyMismatchIsAnError) {
  auto tok = Tokenizer::load(TokenizerKind::Llama2c, bytes_, 32000);
  ASSERT_FALSE(static_cast<bool>(tok));
  EXPECT_NE(llvm::toString(tok.takeError()).find("512 tokens"), std::string::npos);
}

std::string loadError(const std::vector<uint8_t> &bytes) {
  auto tok = Tokenizer::load(TokenizerKind::Llama2c, bytes);
  return tok ? "" : llvm::toString(tok.takeError());
}

TEST_F(Llama2cTokenizerTest, MalformedFilesAreRejected) {
  EXPECT_NE(loadError({}).find("too short"), std::string::npos);
  std::vector<uint8_t> cut(bytes_.begin(), bytes_.begin() + bytes_.size() - 3);
  EXPECT_NE(loadError(cut).find("truncated inside token 511"), std::string::npos);
  std::vector<uint8_t> few(bytes_.begin(), bytes_.begin() + 200);
  EXPECT_NE(loadError(few).find("truncated"), std::string::npos);
  std::vector<uint8_t> badLen = bytes_;
  int32_t negative = -5;
  std::memcpy(&badLen[4 + 4], &negative, 4); // token 0's length
  EXPECT_NE(loadError(badLen).find("has length -5"), std::string::npos);
}

TEST_F(Llama2cTokenizerTest, CorruptedFilesNeverCrash) {
  std::mt19937 rng(99);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> b = bytes_;
    for (int k = 0; k < 4; ++k)
      b[rng() % b.size()] = uint8_t(rng());
    if (rng() % 4 == 0)
      b.resize(rng() % b.size());
    auto tok = Tokenizer::load(TokenizerKind::Llama2c, b);
    if (tok)
      (void)(*tok)->encode("Once upon a time", true, false);
    else
      llvm::consumeError(tok.takeError());
  }
}

} // namespace
