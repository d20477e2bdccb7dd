//===- Target.h - CPU target descriptions ------------------------*- C++ -*-===//
//
// A TargetDesc is the data every tuning decision in llmc is made from: the ISA
// features the generated code may use, the vector width, the cache sizes that
// drive kernel blocking, and the number of cores. It is plain data so that it
// can be detected on the host ("native"), looked up by name to compile for
// another machine, capped for testing lower ISA tiers on a higher machine
// (LLMC_MAX_ISA), and round-tripped through the `#llmc.target` IR attribute.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TARGET_TARGET_H
#define LLMC_TARGET_TARGET_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc {

/// Kernel families, ordered: a tier implies every lower one.
///   AVX2        = AVX2 + FMA + F16C (x86-64-v3)
///   AVX512      = AVX-512 F/BW/VL/DQ (x86-64-v4)
///   AVX512_VNNI = AVX512 + VNNI (vpdpbusd)
///   AMX         = AMX tile + int8 + bf16
/// AVX-VNNI (the 256-bit VEX form) is orthogonal: see TargetDesc::hasAvxVnni.
enum class IsaTier { Scalar = 0, AVX2 = 1, AVX512 = 2, AVX512_VNNI = 3, AMX = 4 };

llvm::StringRef isaTierName(IsaTier tier);

/// The values LLMC_MAX_ISA accepts, ordered from lowest to highest.
/// `avx2_vnni` is AVX2 plus AVX-VNNI (Alder Lake and later client cores).
llvm::ArrayRef<llvm::StringRef> isaCapNames();

/// Feature names as they appear in `#llmc.target<features = [...]>`.
llvm::ArrayRef<llvm::StringRef> knownFeatureNames();

struct CacheSizes {
  uint64_t l1d = 0; ///< bytes, per core
  uint64_t l2 = 0;  ///< bytes, per core
  uint64_t l3 = 0;  ///< bytes, whole package (shared)
};

struct TargetDesc {
  std::string cpu;                   ///< e.g. "icelake-server"
  std::vector<std::string> features; ///< in knownFeatureNames() order
  unsigned vectorBits = 128;
  CacheSizes caches;
  unsigned cores = 1;

  bool hasFeature(llvm::StringRef name) const;
  IsaTier maxTier() const;
  bool hasAvxVnni() const { return hasFeature("avx_vnni"); }

  /// Features this target has and `host` lacks (empty when host ⊇ this).
  std::vector<std::string> missingOn(const TargetDesc &host) const;

  /// Multi-line human-readable description.
  std::string describe() const;
};

/// Build a description from a feature list: sorts the features into canonical
/// order and derives vectorBits. Rejects unknown feature names.
llvm::Expected<TargetDesc> makeTarget(std::string cpu,
                                      llvm::ArrayRef<std::string> features,
                                      CacheSizes caches, unsigned cores);

/// Names accepted by lookupNamedTarget, without "native".
llvm::ArrayRef<llvm::StringRef> namedTargetNames();

/// A named target: x86-64-v3, x86-64-v4, icelake-server, sapphirerapids.
llvm::Expected<TargetDesc> lookupNamedTarget(llvm::StringRef name);

/// Restrict `target` to the features at or below the cap named by `capName`
/// (one of isaCapNames()).
llvm::Expected<TargetDesc> capTarget(const TargetDesc &target,
                                     llvm::StringRef capName);

/// Detect the host: cpuid + XGETBV for features (only those whose register
/// state the OS enables), cpuid leaf 4 / 0x8000001D for caches with a sysfs
/// fallback, the process's CPU affinity for cores. No cap applied.
TargetDesc detectHostUncapped();

/// The host with LLMC_MAX_ISA applied; an invalid LLMC_MAX_ISA is an error.
llvm::Expected<TargetDesc> detectHost();

/// The host as detectHost() sees it, computed once. Library code that cannot
/// report errors (kernel selection) uses this; an invalid LLMC_MAX_ISA is
/// reported on stderr once and ignored. Tools call detectHost() first so the
/// user gets a proper error.
const TargetDesc &hostTarget();

/// "native" (detectHost) or a named target.
llvm::Expected<TargetDesc> resolveTarget(llvm::StringRef name);

} // namespace llmc

#endif // LLMC_TARGET_TARGET_H
