//===- BundleWriter.cpp - Stream sections into a .llmc bundle --------------===//

#include "llmc/Bundle/Bundle.h"

#include "llvm/Support/MathExtras.h"
#include "llvm/Support/xxhash.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

using namespace llmc::bundle;
using llvm::Error;
using llvm::StringRef;

static Error makeError(const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
}

uint64_t llmc::bundle::checksum(llvm::ArrayRef<uint8_t> bytes) {
  return llvm::xxh3_64bits(bytes);
}

llvm::Expected<std::unique_ptr<BundleWriter>>
BundleWriter::create(StringRef path) {
  auto temp = llvm::sys::fs::TempFile::create(path + "-%%%%%%.tmp");
  if (!temp)
    return makeError("cannot create a temporary file next to '" + path +
                     "': " + llvm::toString(temp.takeError()));
  std::unique_ptr<BundleWriter> w(new BundleWriter());
  w->path_ = path.str();
  w->temp_.emplace(std::move(*temp));
  // The header is written last; reserve its bytes now.
  w->end_ = sizeof(FileHeader);
  return w;
}

BundleWriter::~BundleWriter() {
  if (temp_ && !finished_)
    llvm::consumeError(temp_->discard());
}

Error BundleWriter::writeAt(uint64_t offset, const void *data, size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size) {
    ssize_t n = ::pwrite(temp_->FD, p, size, offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return makeError("writing '" + path_ + "': " + std::strerror(errno));
    p += n;
    offset += n;
    size -= n;
  }
  return Error::success();
}

Error BundleWriter::checkName(StringRef name) const {
  if (name.empty() || name.size() > kMaxSectionNameLength)
    return makeError("invalid bundle section name '" + name + "'");
  for (const SectionEntry &s : sections_)
    if (name == s.name)
      return makeError("duplicate bundle section '" + name + "'");
  return Error::success();
}

Error BundleWriter::beginSection(StringRef name, uint32_t alignment,
                                 uint32_t flags) {
  if (finished_ || sectionOpen_)
    return makeError("bundle writer: beginSection('" + name +
                     "') while another section is open or after finish()");
  if (Error e = checkName(name))
    return e;
  if (!llvm::isPowerOf2_32(alignment))
    return makeError("bundle section alignment must be a power of two");
  SectionEntry entry{};
  std::memcpy(entry.name, name.data(), name.size());
  entry.offset = llvm::alignTo(end_, alignment);
  entry.alignment = alignment;
  entry.flags = flags;
  // Zero the padding so the file's bytes are deterministic.
  if (entry.offset > end_) {
    std::vector<char> zeros(entry.offset - end_, 0);
    if (Error e = writeAt(end_, zeros.data(), zeros.size()))
      return e;
  }
  end_ = entry.offset;
  sections_.push_back(entry);
  sectionOpen_ = true;
  return Error::success();
}

llvm::Expected<uint64_t> BundleWriter::append(llvm::ArrayRef<uint8_t> bytes) {
  if (!sectionOpen_)
    return makeError("bundle writer: append() with no open section");
  SectionEntry &s = sections_.back();
  uint64_t at = s.size;
  if (Error e = writeAt(end_, bytes.data(), bytes.size()))
    return std::move(e);
  end_ += bytes.size();
  s.size += bytes.size();
  return at;
}

Error BundleWriter::alignSection(uint32_t align) {
  if (!sectionOpen_)
    return makeError("bundle writer: alignSection() with no open section");
  SectionEntry &s = sections_.back();
  if (!llvm::isPowerOf2_32(align) || align > s.alignment)
    return makeError("bundle writer: in-section alignment must be a power of "
                     "two no larger than the section's");
  uint64_t pad = llvm::alignTo(s.size, align) - s.size;
  std::vector<uint8_t> zeros(pad, 0);
  return append(zeros).takeError();
}

Error BundleWriter::endSection() {
  if (!sectionOpen_)
    return makeError("bundle writer: endSection() with no open section");
  sectionOpen_ = false;
  return Error::success();
}

Error BundleWriter::addSection(StringRef name, llvm::ArrayRef<uint8_t> bytes,
                               uint32_t alignment, uint32_t flags) {
  if (Error e = beginSection(name, alignment, flags))
    return e;
  if (auto at = append(bytes); !at)
    return at.takeError();
  return endSection();
}

Error BundleWriter::finish() {
  if (finished_ || sectionOpen_)
    return makeError("bundle writer: finish() with an open section or twice");

  // Checksum each section by reading it back through a mapping of the file:
  // streamed sections were never in memory as a whole.
  for (SectionEntry &s : sections_) {
    if (s.size == 0) {
      s.checksum = checksum({});
      continue;
    }
    auto slice = llvm::MemoryBuffer::getOpenFileSlice(
        llvm::sys::fs::convertFDToNativeFile(temp_->FD), temp_->TmpName,
        s.size, s.offset);
    if (!slice)
      return makeError("reading back '" + path_ +
                       "': " + slice.getError().message());
    s.checksum = checksum(llvm::ArrayRef<uint8_t>(
        reinterpret_cast<const uint8_t *>((*slice)->getBufferStart()),
        s.size));
  }

  FileHeader h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.formatVersion = kFormatVersion;
  h.numSections = sections_.size();
  h.tableOffset = llvm::alignTo(end_, alignof(SectionEntry));
  const uint64_t tableBytes = sections_.size() * sizeof(SectionEntry);
  h.fileSize = h.tableOffset + tableBytes;
  h.tableChecksum = checksum(llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(sections_.data()), tableBytes));
  h.headerChecksum = checksum(llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(&h), offsetof(FileHeader, headerChecksum)));

  std::vector<char> pad(h.tableOffset - end_, 0);
  if (Error e = writeAt(end_, pad.data(), pad.size()))
    return e;
  if (Error e = writeAt(h.tableOffset, sections_.data(), tableBytes))
    return e;
  if (Error e = writeAt(0, &h, sizeof(h)))
    return e;
  if (::fsync(temp_->FD) != 0)
    return makeError("writing '" + path_ + "': " + std::strerror(errno));
  if (Error e = temp_->keep(path_))
    return makeError("cannot move the bundle into place at '" + path_ +
                     "': " + llvm::toString(std::move(e)));
  finished_ = true;
  return Error::success();
}
