//===- Bundle.h - Write and read .llmc bundles -------------------*- C++ -*-===//
#ifndef LLMC_BUNDLE_BUNDLE_H
#define LLMC_BUNDLE_BUNDLE_H

#include "llmc/Bundle/BundleFormat.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc::bundle {

/// Writes a bundle section by section. Output goes to a temporary file next to
/// the destination and is renamed into place by finish(), so a failed or
/// interrupted compile never leaves a partial bundle behind (nor destroys an
/// existing one).
class BundleWriter {
public:
  static llvm::Expected<std::unique_ptr<BundleWriter>> create(llvm::StringRef path);
  ~BundleWriter();

  /// Add a whole section at once.
  llvm::Error addSection(llvm::StringRef name, llvm::ArrayRef<uint8_t> bytes,
                         uint32_t alignment = kDefaultAlignment,
                         uint32_t flags = 0);
  llvm::Error addSection(llvm::StringRef name, llvm::StringRef bytes,
                         uint32_t alignment = kDefaultAlignment,
                         uint32_t flags = 0) {
    return addSection(name, llvm::ArrayRef<uint8_t>(
                                reinterpret_cast<const uint8_t *>(bytes.data()),
                                bytes.size()),
                      alignment, flags);
  }

  /// Stream a section: beginSection, any number of append(), endSection.
  /// Returns the offset of the appended bytes within the section.
  llvm::Error beginSection(llvm::StringRef name,
                           uint32_t alignment = kDefaultAlignment,
                           uint32_t flags = 0);
  llvm::Expected<uint64_t> append(llvm::ArrayRef<uint8_t> bytes);
  /// Pad the open section so the next append starts at a multiple of `align`
  /// relative to the section start.
  llvm::Error alignSection(uint32_t align);
  llvm::Error endSection();

  /// Write the section table and header, checksum everything, and move the
  /// file into place.
  llvm::Error finish();

private:
  BundleWriter() = default;
  llvm::Error writeAt(uint64_t offset, const void *data, size_t size);
  llvm::Error checkName(llvm::StringRef name) const;

  std::string path_;
  std::optional<llvm::sys::fs::TempFile> temp_;
  uint64_t end_ = 0; ///< current end of file
  std::vector<SectionEntry> sections_;
  bool sectionOpen_ = false;
  bool finished_ = false;
};

/// How much of a bundle open() checks.
enum class Verify {
  /// Header, table, bounds and the checksums of every section not marked
  /// kSectionVerifyOnDemand. Cheap: does not page in the weights.
  Metadata,
  /// Everything, including the weights' checksum.
  All,
};

/// A bundle opened read-only; the file is mmap'ed and sections are views into
/// it that live as long as the Bundle.
class Bundle {
public:
  static llvm::Expected<std::unique_ptr<Bundle>> open(llvm::StringRef path,
                                                     Verify verify = Verify::Metadata);
  /// Validate a bundle already in memory (the buffer should be page-aligned
  /// for the weights to keep their alignment); `name` is used in messages.
  static llvm::Expected<std::unique_ptr<Bundle>>
  openBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, Verify verify = Verify::Metadata);

  llvm::StringRef path() const { return path_; }
  uint32_t formatVersion() const { return header().formatVersion; }
  llvm::ArrayRef<SectionEntry> sections() const { return table_; }
  const SectionEntry *findSection(llvm::StringRef name) const;

  /// The bytes of a section; an error naming the section when it is absent.
  llvm::Expected<llvm::ArrayRef<uint8_t>> section(llvm::StringRef name) const;
  llvm::Expected<llvm::StringRef> sectionText(llvm::StringRef name) const;

  /// Verify one section's checksum (used for on-demand sections).
  llvm::Error verifySection(const SectionEntry &entry) const;

private:
  Bundle() = default;
  const FileHeader &header() const {
    return *reinterpret_cast<const FileHeader *>(buffer_->getBufferStart());
  }
  llvm::Error validate(Verify verify);

  std::string path_;
  std::unique_ptr<llvm::MemoryBuffer> buffer_;
  std::vector<SectionEntry> table_;
};

/// xxh3-64 of a byte range: the checksum used throughout the format.
uint64_t checksum(llvm::ArrayRef<uint8_t> bytes);

} // namespace llmc::bundle

#endif // LLMC_BUNDLE_BUNDLE_H
