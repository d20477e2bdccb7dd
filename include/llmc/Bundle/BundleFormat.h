//===- BundleFormat.h - On-disk layout of a .llmc bundle ---------*- C++ -*-===//
//
// A bundle is one file:
//
//   offset 0        FileHeader (64 bytes)
//   ...             sections, each at an offset aligned to its alignment
//                   (weights: page-aligned so they can be mmap'ed and used in
//                   place; program/manifest/tokenizer: 64-byte aligned)
//   tableOffset     SectionEntry[numSections] (64 bytes each)
//
// The table is written last so sections can be streamed (a 7B model's weights
// are written layer by layer, never held in memory). Every section carries an
// xxh3-64 checksum of its bytes; the table carries one of itself, and the
// header one of its own first 56 bytes. All integers are little-endian.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_BUNDLE_BUNDLEFORMAT_H
#define LLMC_BUNDLE_BUNDLEFORMAT_H

#include <cstddef>
#include <cstdint>

namespace llmc::bundle {

/// "LLMCBNDL"
constexpr char kMagic[8] = {'L', 'L', 'M', 'C', 'B', 'N', 'D', 'L'};

/// Bumped whenever the layout of anything in the file changes.
constexpr uint32_t kFormatVersion = 1;

constexpr unsigned kMaxSectionNameLength = 31;

struct FileHeader {
  char magic[8];
  uint32_t formatVersion;
  uint32_t numSections;
  uint64_t tableOffset;   ///< byte offset of the SectionEntry array
  uint64_t fileSize;      ///< total size; a shorter file is truncated
  uint64_t tableChecksum; ///< xxh3-64 of the SectionEntry array
  uint64_t reserved[2];
  uint64_t headerChecksum; ///< xxh3-64 of the 56 bytes before this field
};
static_assert(sizeof(FileHeader) == 64, "FileHeader layout is part of the format");
static_assert(offsetof(FileHeader, headerChecksum) == 56, "checksum covers bytes [0,56)");

struct SectionEntry {
  char name[kMaxSectionNameLength + 1]; ///< NUL-terminated, NUL-padded
  uint64_t offset;                      ///< aligned to `alignment`
  uint64_t size;
  uint64_t checksum;                    ///< xxh3-64 of the section's bytes
  uint32_t alignment;                   ///< a power of two
  uint32_t flags;                       ///< SectionFlags
};
static_assert(sizeof(SectionEntry) == 64, "SectionEntry layout is part of the format");

enum SectionFlags : uint32_t {
  /// Large payload (weights): its checksum is verified on demand, not on every
  /// load, because hashing it would page in the whole file at start-up.
  kSectionVerifyOnDemand = 1u << 0,
};

/// Well-known section names.
constexpr const char *kManifestSection = "manifest";   // JSON
constexpr const char *kProgramSection = "program";     // object code
constexpr const char *kWeightsSection = "weights";     // packed weights
constexpr const char *kTokenizerSection = "tokenizer"; // tokenizer file bytes

constexpr uint32_t kPageAlignment = 4096;
constexpr uint32_t kDefaultAlignment = 64;

} // namespace llmc::bundle

#endif // LLMC_BUNDLE_BUNDLEFORMAT_H
