//===- Target.cpp - Target descriptions, named targets and ISA caps -------===//

#include "llmc/Target/Target.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdlib>

using namespace llmc;
using llvm::StringRef;

namespace {

// Canonical feature order: roughly the order in which the ISA grew. Each
// feature belongs to the lowest ISA cap that may use it.
struct FeatureInfo {
  StringRef name;
  unsigned capLevel; // index into kCapNames
};

constexpr StringRef kCapNames[] = {"scalar",      "avx2",        "avx2_vnni",
                                   "avx512",      "avx512_vnni", "amx"};
enum CapLevel : unsigned {
  CapScalar,
  CapAVX2,
  CapAVX2VNNI,
  CapAVX512,
  CapAVX512VNNI,
  CapAMX
};

constexpr FeatureInfo kFeatures[] = {
    {"sse4.2", CapScalar},        {"avx", CapAVX2},
    {"avx2", CapAVX2},            {"fma", CapAVX2},
    {"f16c", CapAVX2},            {"avx_vnni", CapAVX2VNNI},
    {"avx512f", CapAVX512},       {"avx512bw", CapAVX512},
    {"avx512vl", CapAVX512},      {"avx512dq", CapAVX512},
    {"avx512_vnni", CapAVX512VNNI}, {"avx512_bf16", CapAVX512VNNI},
    {"avx512_fp16", CapAMX},      {"amx_tile", CapAMX},
    {"amx_int8", CapAMX},         {"amx_bf16", CapAMX},
};

std::optional<unsigned> featureIndex(StringRef name) {
  for (unsigned i = 0; i < std::size(kFeatures); ++i)
    if (kFeatures[i].name == name)
      return i;
  return std::nullopt;
}

unsigned deriveVectorBits(const std::vector<std::string> &features) {
  auto has = [&](StringRef f) { return llvm::is_contained(features, f); };
  if (has("avx512f"))
    return 512;
  if (has("avx") || has("avx2"))
    return 256;
  return 128;
}

} // namespace

StringRef llmc::isaTierName(IsaTier tier) {
  switch (tier) {
  case IsaTier::Scalar:
    return "scalar";
  case IsaTier::AVX2:
    return "avx2";
  case IsaTier::AVX512:
    return "avx512";
  case IsaTier::AVX512_VNNI:
    return "avx512_vnni";
  case IsaTier::AMX:
    return "amx";
  }
  return "unknown";
}

llvm::ArrayRef<StringRef> llmc::isaCapNames() { return kCapNames; }

llvm::ArrayRef<StringRef> llmc::knownFeatureNames() {
  static const std::vector<StringRef> names = [] {
    std::vector<StringRef> v;
    for (const FeatureInfo &f : kFeatures)
      v.push_back(f.name);
    return v;
  }();
  return names;
}

bool TargetDesc::hasFeature(StringRef name) const {
  return llvm::is_contained(features, name);
}

IsaTier TargetDesc::maxTier() const {
  auto all = [&](std::initializer_list<StringRef> fs) {
    return llvm::all_of(fs, [&](StringRef f) { return hasFeature(f); });
  };
  bool avx2 = all({"avx", "avx2", "fma", "f16c"});
  bool avx512 = avx2 && all({"avx512f", "avx512bw", "avx512vl", "avx512dq"});
  if (avx512 && hasFeature("avx512_vnni") &&
      all({"amx_tile", "amx_int8", "amx_bf16"}))
    return IsaTier::AMX;
  if (avx512 && hasFeature("avx512_vnni"))
    return IsaTier::AVX512_VNNI;
  if (avx512)
    return IsaTier::AVX512;
  if (avx2)
    return IsaTier::AVX2;
  return IsaTier::Scalar;
}

std::vector<std::string> TargetDesc::missingOn(const TargetDesc &host) const {
  std::vector<std::string> missing;
  for (const std::string &f : features)
    if (!host.hasFeature(f))
      missing.push_back(f);
  return missing;
}

std::string TargetDesc::describe() const {
  auto kib = [](uint64_t bytes) { return bytes / 1024; };
  return llvm::formatv("cpu:         {0}\n"
                       "isa tier:    {1}{2}\n"
                       "features:    {3}\n"
                       "vector bits: {4}\n"
                       "L1d:         {5} KiB per core\n"
                       "L2:          {6} KiB per core\n"
                       "L3:          {7} KiB total\n"
                       "cores:       {8}\n",
                       cpu, isaTierName(maxTier()),
                       hasAvxVnni() ? " (+avx_vnni)" : "",
                       llvm::join(features, " "), vectorBits, kib(caches.l1d),
                       kib(caches.l2), kib(caches.l3), cores)
      .str();
}

llvm::Expected<TargetDesc> llmc::makeTarget(std::string cpu,
                                            llvm::ArrayRef<std::string> features,
                                            CacheSizes caches, unsigned cores) {
  std::vector<unsigned> indices;
  for (const std::string &f : features) {
    std::optional<unsigned> idx = featureIndex(f);
    if (!idx)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "unknown CPU feature '%s' (known: %s)", f.c_str(),
          llvm::join(knownFeatureNames(), ", ").c_str());
    indices.push_back(*idx);
  }
  llvm::sort(indices);
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());

  TargetDesc t;
  t.cpu = std::move(cpu);
  for (unsigned i : indices)
    t.features.push_back(kFeatures[i].name.str());
  t.vectorBits = deriveVectorBits(t.features);
  t.caches = caches;
  t.cores = std::max(1u, cores);
  return t;
}

namespace {
struct NamedTarget {
  StringRef name;
  std::initializer_list<const char *> features;
  CacheSizes caches;
  unsigned cores;
};

// Cache sizes are the part's: L1d and L2 per core, L3 for the package. The
// core count of a named target is only a default for tuning; the runtime
// sizes its thread pool from the host it runs on.
const NamedTarget kNamedTargets[] = {
    {"x86-64-v3",
     {"sse4.2", "avx", "avx2", "fma", "f16c"},
     {32 << 10, 256 << 10, 8 << 20},
     4},
    {"x86-64-v4",
     {"sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
      "avx512vl", "avx512dq"},
     {32 << 10, 1 << 20, 16 << 20},
     8},
    {"icelake-server",
     {"sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw",
      "avx512vl", "avx512dq", "avx512_vnni"},
     {48 << 10, 1280 << 10, 48ull << 20},
     32},
    {"sapphirerapids",
     {"sse4.2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f",
      "avx512bw", "avx512vl", "avx512dq", "avx512_vnni", "avx512_bf16",
      "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16"},
     {48 << 10, 2 << 20, 105ull << 20},
     56},
};
} // namespace

llvm::ArrayRef<StringRef> llmc::namedTargetNames() {
  static const std::vector<StringRef> names = [] {
    std::vector<StringRef> v;
    for (const NamedTarget &t : kNamedTargets)
      v.push_back(t.name);
    return v;
  }();
  return names;
}

llvm::Expected<TargetDesc> llmc::lookupNamedTarget(StringRef name) {
  for (const NamedTarget &t : kNamedTargets) {
    if (t.name != name)
      continue;
    std::vector<std::string> features(t.features.begin(), t.features.end());
    return makeTarget(t.name.str(), features, t.caches, t.cores);
  }
  return llvm::createStringError(
      llvm::inconvertibleErrorCode(), "unknown target '%s' (known: native, %s)",
      name.str().c_str(), llvm::join(namedTargetNames(), ", ").c_str());
}

llvm::Expected<TargetDesc> llmc::capTarget(const TargetDesc &target,
                                           StringRef capName) {
  const StringRef *it = llvm::find(kCapNames, capName);
  if (it == std::end(kCapNames))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "invalid ISA cap '%s' (expected one of: %s)", capName.str().c_str(),
        llvm::join(isaCapNames(), ", ").c_str());
  unsigned level = it - std::begin(kCapNames);
  std::vector<std::string> kept;
  for (const std::string &f : target.features)
    if (kFeatures[*featureIndex(f)].capLevel <= level)
      kept.push_back(f);
  return makeTarget(target.cpu, kept, target.caches, target.cores);
}

llvm::Expected<TargetDesc> llmc::detectHost() {
  TargetDesc host = detectHostUncapped();
  const char *cap = std::getenv("LLMC_MAX_ISA");
  if (!cap || !*cap)
    return host;
  auto capped = capTarget(host, cap);
  if (!capped)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(), "LLMC_MAX_ISA: %s",
        llvm::toString(capped.takeError()).c_str());
  return capped;
}

const TargetDesc &llmc::hostTarget() {
  static const TargetDesc host = [] {
    auto detected = detectHost();
    if (detected)
      return *detected;
    llvm::errs() << "llmc: warning: " << llvm::toString(detected.takeError())
                 << "; ignoring the cap\n";
    return detectHostUncapped();
  }();
  return host;
}

llvm::Expected<TargetDesc> llmc::resolveTarget(StringRef name) {
  if (name == "native" || name == "host")
    return detectHost();
  return lookupNamedTarget(name);
}
