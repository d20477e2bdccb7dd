//===- BundleReader.cpp - Open and validate .llmc bundles ------------------===//
//
// Every field read from the file is untrusted: sizes and offsets are checked
// for overflow and bounds before anything is dereferenced, so a truncated,
// corrupted or hostile file yields an error naming what is wrong, never a
// crash.
//
//===----------------------------------------------------------------------===//

#include "llmc/Bundle/Bundle.h"

#include "llvm/Support/Alignment.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cstring>

using namespace llmc::bundle;
using llvm::Error;
using llvm::StringRef;

static Error bundleError(StringRef path, const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "'" + path + "': " + msg);
}

static llvm::ArrayRef<uint8_t> bytesOf(const void *p, size_t n) {
  return {static_cast<const uint8_t *>(p), n};
}

llvm::Expected<std::unique_ptr<Bundle>> Bundle::open(StringRef path,
                                                     Verify verify) {
  // Page alignment: sections keep their alignment in memory whether the file
  // is mmap'ed or (for small files) read into a buffer.
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false,
                                         /*IsVolatile=*/false,
                                         llvm::Align(kPageAlignment));
  if (!buf)
    return bundleError(path, "cannot open: " + buf.getError().message());
  return openBuffer(std::move(*buf), verify);
}

llvm::Expected<std::unique_ptr<Bundle>>
Bundle::openBuffer(std::unique_ptr<llvm::MemoryBuffer> buffer, Verify verify) {
  std::unique_ptr<Bundle> b(new Bundle());
  b->path_ = buffer->getBufferIdentifier().str();
  b->buffer_ = std::move(buffer);
  if (Error e = b->validate(verify))
    return std::move(e);
  return b;
}

Error Bundle::validate(Verify verify) {
  const uint64_t size = buffer_->getBufferSize();
  const char *base = buffer_->getBufferStart();

  size_t magicBytes = std::min<uint64_t>(size, sizeof(kMagic));
  if (std::memcmp(base, kMagic, magicBytes) != 0)
    return bundleError(path_, "not an llmc bundle (bad magic)");
  if (size < sizeof(FileHeader))
    return bundleError(path_, "truncated: " + llvm::Twine(size) +
                                  " bytes is shorter than the bundle header");

  const FileHeader &h = header();
  if (h.formatVersion != kFormatVersion)
    return bundleError(path_, "bundle format version " +
                                  llvm::Twine(h.formatVersion) +
                                  " is not supported (this llmc reads version " +
                                  llvm::Twine(kFormatVersion) +
                                  "); recompile the model");
  if (checksum(bytesOf(&h, offsetof(FileHeader, headerChecksum))) !=
      h.headerChecksum)
    return bundleError(path_, "corrupted: header checksum mismatch");
  if (size < h.fileSize)
    return bundleError(path_, "truncated: header says " +
                                  llvm::Twine(h.fileSize) + " bytes, file has " +
                                  llvm::Twine(size));
  if (size > h.fileSize)
    return bundleError(path_, "corrupted: " + llvm::Twine(size - h.fileSize) +
                                  " unexpected bytes after the section table");

  constexpr uint32_t kMaxSections = 1024;
  if (h.numSections > kMaxSections)
    return bundleError(path_, "corrupted: " + llvm::Twine(h.numSections) +
                                  " sections");
  const uint64_t tableBytes = uint64_t(h.numSections) * sizeof(SectionEntry);
  if (h.tableOffset < sizeof(FileHeader) || h.tableOffset > size ||
      tableBytes > size - h.tableOffset ||
      h.tableOffset % alignof(SectionEntry) != 0)
    return bundleError(path_, "corrupted: section table out of bounds");
  if (checksum(bytesOf(base + h.tableOffset, tableBytes)) != h.tableChecksum)
    return bundleError(path_, "corrupted: section table checksum mismatch");

  table_.resize(h.numSections);
  std::memcpy(table_.data(), base + h.tableOffset, tableBytes);

  std::vector<const SectionEntry *> byOffset;
  for (const SectionEntry &s : table_) {
    size_t nameLen = strnlen(s.name, sizeof(s.name));
    if (nameLen == 0 || nameLen == sizeof(s.name))
      return bundleError(path_, "corrupted: invalid section name");
    StringRef name(s.name, nameLen);
    if (findSection(name) != &s)
      return bundleError(path_, "corrupted: duplicate section '" + name + "'");
    if (!llvm::isPowerOf2_32(s.alignment) || s.alignment > kPageAlignment ||
        s.offset % s.alignment != 0)
      return bundleError(path_, "corrupted: section '" + name +
                                    "' is misaligned");
    if (s.offset < sizeof(FileHeader) || s.offset > h.tableOffset ||
        s.size > h.tableOffset - s.offset)
      return bundleError(path_, "corrupted: section '" + name +
                                    "' lies outside the file's data area");
    byOffset.push_back(&s);
  }
  std::sort(byOffset.begin(), byOffset.end(),
            [](auto *a, auto *b) { return a->offset < b->offset; });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i - 1]->offset + byOffset[i - 1]->size > byOffset[i]->offset)
      return bundleError(path_, "corrupted: sections '" +
                                    StringRef(byOffset[i - 1]->name) + "' and '" +
                                    StringRef(byOffset[i]->name) + "' overlap");

  for (const SectionEntry &s : table_) {
    if (verify == Verify::Metadata && (s.flags & kSectionVerifyOnDemand))
      continue;
    if (Error e = verifySection(s))
      return e;
  }
  return Error::success();
}

Error Bundle::verifySection(const SectionEntry &s) const {
  const char *base = buffer_->getBufferStart();
  if (checksum(bytesOf(base + s.offset, s.size)) != s.checksum)
    return bundleError(path_, "corrupted: checksum mismatch in section '" +
                                  StringRef(s.name) + "'");
  return Error::success();
}

const SectionEntry *Bundle::findSection(StringRef name) const {
  for (const SectionEntry &s : table_)
    if (name == StringRef(s.name, strnlen(s.name, sizeof(s.name))))
      return &s;
  return nullptr;
}

llvm::Expected<llvm::ArrayRef<uint8_t>> Bundle::section(StringRef name) const {
  const SectionEntry *s = findSection(name);
  if (!s)
    return bundleError(path_, "has no '" + name + "' section");
  return bytesOf(buffer_->getBufferStart() + s->offset, s->size);
}

llvm::Expected<StringRef> Bundle::sectionText(StringRef name) const {
  auto bytes = section(name);
  if (!bytes)
    return bytes.takeError();
  return StringRef(reinterpret_cast<const char *>(bytes->data()), bytes->size());
}
