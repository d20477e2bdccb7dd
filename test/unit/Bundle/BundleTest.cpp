//===- BundleTest.cpp - .llmc container: round trip and corruption ---------===//

#include "llmc/Bundle/Bundle.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <fstream>
#include <random>

using namespace llmc::bundle;

namespace {

class BundleTest : public ::testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> dir;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("llmc-bundle-test", dir));
    dir_ = dir.str().str();
    path_ = dir_ + "/model.llmc";
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir_); }

  // manifest + a streamed, page-aligned weights section + tokenizer.
  void writeSample() {
    auto w = BundleWriter::create(path_);
    ASSERT_TRUE(static_cast<bool>(w)) << llvm::toString(w.takeError());
    ASSERT_FALSE((*w)->addSection(kManifestSection, llvm::StringRef(manifest_)));
    ASSERT_FALSE((*w)->beginSection(kWeightsSection, kPageAlignment,
                                    kSectionVerifyOnDemand));
    for (int layer = 0; layer < 3; ++layer) {
      std::vector<uint8_t> chunk(1000 + layer, uint8_t(layer + 1));
      auto at = (*w)->append(chunk);
      ASSERT_TRUE(static_cast<bool>(at));
      offsets_.push_back(*at);
      ASSERT_FALSE((*w)->alignSection(64));
    }
    ASSERT_FALSE((*w)->endSection());
    ASSERT_FALSE((*w)->addSection(kTokenizerSection, llvm::StringRef("tok")));
    ASSERT_FALSE((*w)->finish());
  }

  std::vector<char> readFile() {
    std::ifstream in(path_, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), {});
  }
  void writeFile(const std::vector<char> &bytes) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), bytes.size());
  }
  std::string openError(Verify v = Verify::Metadata) {
    auto b = Bundle::open(path_, v);
    if (b)
      return "";
    return llvm::toString(b.takeError());
  }
  uint64_t sectionOffset(const char *name) {
    auto b = Bundle::open(path_);
    EXPECT_TRUE(static_cast<bool>(b));
    return b ? (*b)->findSection(name)->offset : 0;
  }

  std::string dir_, path_;
  std::string manifest_ = R"({"model":"test","layers":3})";
  std::vector<uint64_t> offsets_;
};

TEST_F(BundleTest, RoundTripsSectionsWithAlignment) {
  writeSample();
  auto b = Bundle::open(path_, Verify::All);
  ASSERT_TRUE(static_cast<bool>(b)) << llvm::toString(b.takeError());
  EXPECT_EQ((*b)->formatVersion(), kFormatVersion);
  EXPECT_EQ((*b)->sections().size(), 3u);

  auto manifest = (*b)->sectionText(kManifestSection);
  ASSERT_TRUE(static_cast<bool>(manifest));
  EXPECT_EQ(*manifest, manifest_);

  auto weights = (*b)->section(kWeightsSection);
  ASSERT_TRUE(static_cast<bool>(weights));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(weights->data()) % kPageAlignment, 0u)
      << "weights must be page-aligned in memory";
  EXPECT_EQ(offsets_, (std::vector<uint64_t>{0, 1024, 2048}));
  for (int layer = 0; layer < 3; ++layer)
    EXPECT_EQ((*weights)[offsets_[layer]], uint8_t(layer + 1));
  EXPECT_EQ(weights->size(), 3072u) << "3 layers, each padded to 64 bytes";

  auto missing = (*b)->section("program");
  ASSERT_FALSE(static_cast<bool>(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("has no 'program' section"),
            std::string::npos);
}

TEST_F(BundleTest, TruncatedFileIsRejected) {
  writeSample();
  std::vector<char> bytes = readFile();
  for (size_t keep : {bytes.size() - 1, bytes.size() / 2, size_t(70), size_t(10)}) {
    writeFile(std::vector<char>(bytes.begin(), bytes.begin() + keep));
    EXPECT_NE(openError().find("truncated"), std::string::npos) << keep;
  }
}

TEST_F(BundleTest, WrongVersionIsRejected) {
  writeSample();
  std::vector<char> bytes = readFile();
  uint32_t v = kFormatVersion + 1;
  std::memcpy(bytes.data() + offsetof(FileHeader, formatVersion), &v, 4);
  writeFile(bytes);
  EXPECT_NE(openError().find("format version 2 is not supported"),
            std::string::npos);
}

TEST_F(BundleTest, NotABundle) {
  writeFile(std::vector<char>{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r'});
  EXPECT_NE(openError().find("not an llmc bundle"), std::string::npos);
  writeFile({});
  EXPECT_NE(openError().find("truncated"), std::string::npos);
  path_ = dir_ + "/does-not-exist.llmc";
  EXPECT_NE(openError().find("cannot open"), std::string::npos);
}

TEST_F(BundleTest, FlippedByteInMetadataIsCaughtOnOpen) {
  writeSample();
  uint64_t manifestAt = sectionOffset(kManifestSection);
  std::vector<char> bytes = readFile();
  bytes[manifestAt + 3] ^= 0x10;
  writeFile(bytes);
  EXPECT_NE(openError().find("checksum mismatch in section 'manifest'"),
            std::string::npos);
}

TEST_F(BundleTest, FlippedByteInWeightsIsCaughtByFullVerify) {
  writeSample();
  uint64_t weightsAt = sectionOffset(kWeightsSection);
  std::vector<char> bytes = readFile();
  bytes[weightsAt + 1500] ^= 0x01;
  writeFile(bytes);
  EXPECT_EQ(openError(Verify::Metadata), "")
      << "the weights are verified on demand, not on every load";
  EXPECT_NE(openError(Verify::All).find("checksum mismatch in section 'weights'"),
            std::string::npos);
}

TEST_F(BundleTest, FlippedByteAnywhereIsRejectedOrHarmless) {
  writeSample();
  const std::vector<char> pristine = readFile();
  // Bytes covered by a checksum: header, table, and every section's bytes.
  // Only the zero padding between sections is not, and flipping it changes
  // no data.
  std::vector<bool> covered(pristine.size(), false);
  {
    auto b = Bundle::open(path_);
    ASSERT_TRUE(static_cast<bool>(b));
    std::fill(covered.begin(), covered.begin() + sizeof(FileHeader), true);
    uint64_t tableAt = pristine.size() - (*b)->sections().size() * sizeof(SectionEntry);
    std::fill(covered.begin() + tableAt, covered.end(), true);
    for (const SectionEntry &s : (*b)->sections())
      std::fill(covered.begin() + s.offset, covered.begin() + s.offset + s.size, true);
  }
  std::mt19937 rng(1234);
  for (int i = 0; i < 500; ++i) {
    std::vector<char> bytes = pristine;
    size_t at = rng() % bytes.size();
    bytes[at] ^= char(1u << (rng() % 8));
    writeFile(bytes);
    std::string err = openError(Verify::All);
    if (covered[at])
      EXPECT_FALSE(err.empty()) << "flip at byte " << at << " went unnoticed";
    else
      EXPECT_TRUE(err.empty()) << "flip in padding at " << at << ": " << err;
  }
}

TEST_F(BundleTest, AbandonedWriterLeavesExistingFileAlone) {
  writeSample();
  std::vector<char> before = readFile();
  {
    auto w = BundleWriter::create(path_);
    ASSERT_TRUE(static_cast<bool>(w));
    ASSERT_FALSE((*w)->addSection(kManifestSection, llvm::StringRef("{}")));
    // Destroyed without finish(): as if the compile failed half-way.
  }
  EXPECT_EQ(readFile(), before);
  std::error_code ec;
  int entries = 0;
  for (llvm::sys::fs::directory_iterator it(dir_, ec), end; it != end && !ec;
       it.increment(ec))
    ++entries;
  EXPECT_EQ(entries, 1) << "no temporary file left behind";
}

TEST_F(BundleTest, WriterRejectsMisuse) {
  auto w = BundleWriter::create(path_);
  ASSERT_TRUE(static_cast<bool>(w));
  EXPECT_FALSE((*w)->addSection("a", llvm::StringRef("x")));
  llvm::Error dup = (*w)->addSection("a", llvm::StringRef("y"));
  ASSERT_TRUE(static_cast<bool>(dup));
  EXPECT_NE(llvm::toString(std::move(dup)).find("duplicate"), std::string::npos);
  llvm::Error longName =
      (*w)->addSection(std::string(40, 'n'), llvm::StringRef("y"));
  EXPECT_TRUE(static_cast<bool>(longName));
  llvm::consumeError(std::move(longName));
  auto orphan = (*w)->append({});
  EXPECT_FALSE(static_cast<bool>(orphan));
  llvm::consumeError(orphan.takeError());
}

} // namespace
