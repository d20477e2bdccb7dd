//===- Standalone.h - The layout of `llmc compile --emit=exe` output -*- C++ -*-===//
//
// A standalone executable is the prebuilt `llmc-exe-stub` program (the
// runtime and `llmc run`'s generation loop), zero padding to a page boundary,
// the bundle, and a fixed 24-byte trailer at the very end of the file that
// says where the bundle is. The stub reads the trailer of its own file
// (/proc/self/exe), maps the bundle (page aligned, so the weights are mmap'ed
// as from a .llmc file) and runs it with the flags of `llmc run`.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TOOLS_LLMC_STANDALONE_H
#define LLMC_TOOLS_LLMC_STANDALONE_H

#include <cstddef>
#include <cstdint>

namespace llmc::cli {

struct StandaloneTrailer {
  char magic[8];          ///< kStandaloneMagic
  uint64_t bundleOffset;  ///< from the start of the file, page aligned
  uint64_t bundleSize;
};
static_assert(sizeof(StandaloneTrailer) == 24, "file layout");
static_assert(offsetof(StandaloneTrailer, bundleOffset) == 8, "file layout");

constexpr char kStandaloneMagic[8] = {'L', 'L', 'M', 'C', 'E', 'X', 'E', '1'};
constexpr const char *kStandaloneStubName = "llmc-exe-stub";

} // namespace llmc::cli

#endif // LLMC_TOOLS_LLMC_STANDALONE_H
