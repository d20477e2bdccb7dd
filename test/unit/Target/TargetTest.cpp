//===- TargetTest.cpp - Target descriptions, caps and host detection -------===//

#include "llmc/Target/Target.h"

#include "gtest/gtest.h"

#include <cstdlib>

using namespace llmc;

namespace {

TargetDesc named(llvm::StringRef name) {
  auto t = lookupNamedTarget(name);
  EXPECT_TRUE(static_cast<bool>(t)) << llvm::toString(t.takeError());
  return t ? *t : TargetDesc();
}

std::string errorText(llvm::Error e) { return llvm::toString(std::move(e)); }

TEST(NamedTargets, TiersAndVectorWidths) {
  EXPECT_EQ(named("x86-64-v3").maxTier(), IsaTier::AVX2);
  EXPECT_EQ(named("x86-64-v3").vectorBits, 256u);
  EXPECT_EQ(named("x86-64-v4").maxTier(), IsaTier::AVX512);
  EXPECT_EQ(named("x86-64-v4").vectorBits, 512u);
  EXPECT_EQ(named("icelake-server").maxTier(), IsaTier::AVX512_VNNI);
  EXPECT_EQ(named("icelake-server").caches.l2, 1280u * 1024);
  TargetDesc spr = named("sapphirerapids");
  EXPECT_EQ(spr.maxTier(), IsaTier::AMX);
  EXPECT_TRUE(spr.hasAvxVnni());
}

TEST(NamedTargets, EveryListedNameResolves) {
  for (llvm::StringRef name : namedTargetNames()) {
    auto t = resolveTarget(name);
    ASSERT_TRUE(static_cast<bool>(t)) << llvm::toString(t.takeError());
    EXPECT_EQ(t->cpu, name.str());
  }
}

TEST(NamedTargets, UnknownNameListsKnownOnes) {
  auto t = lookupNamedTarget("pentium4");
  ASSERT_FALSE(static_cast<bool>(t));
  std::string msg = errorText(t.takeError());
  EXPECT_NE(msg.find("unknown target 'pentium4'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("icelake-server"), std::string::npos) << msg;
}

TEST(MakeTarget, SortsDeduplicatesAndDerivesWidth) {
  auto t = makeTarget("x", {"avx512f", "avx2", "avx2", "sse4.2"}, {}, 0);
  ASSERT_TRUE(static_cast<bool>(t));
  EXPECT_EQ(t->features,
            (std::vector<std::string>{"sse4.2", "avx2", "avx512f"}));
  EXPECT_EQ(t->vectorBits, 512u);
  EXPECT_EQ(t->cores, 1u) << "zero cores is clamped to one";
}

TEST(MakeTarget, RejectsUnknownFeature) {
  auto t = makeTarget("x", {"avx2", "sse9"}, {}, 1);
  ASSERT_FALSE(static_cast<bool>(t));
  EXPECT_NE(errorText(t.takeError()).find("unknown CPU feature 'sse9'"),
            std::string::npos);
}

TEST(Cap, Avx2RemovesEveryAvx512Feature) {
  auto t = capTarget(named("sapphirerapids"), "avx2");
  ASSERT_TRUE(static_cast<bool>(t));
  EXPECT_EQ(t->maxTier(), IsaTier::AVX2);
  EXPECT_EQ(t->vectorBits, 256u);
  for (const std::string &f : t->features)
    EXPECT_EQ(f.find("avx512"), std::string::npos) << f;
  EXPECT_FALSE(t->hasAvxVnni());
  EXPECT_FALSE(t->hasFeature("amx_int8"));
}

TEST(Cap, EachLevelGivesItsTier) {
  TargetDesc spr = named("sapphirerapids");
  struct {
    const char *cap;
    IsaTier tier;
    bool avxVnni;
  } cases[] = {{"scalar", IsaTier::Scalar, false},
               {"avx2", IsaTier::AVX2, false},
               {"avx2_vnni", IsaTier::AVX2, true},
               {"avx512", IsaTier::AVX512, true},
               {"avx512_vnni", IsaTier::AVX512_VNNI, true},
               {"amx", IsaTier::AMX, true}};
  for (auto &c : cases) {
    auto t = capTarget(spr, c.cap);
    ASSERT_TRUE(static_cast<bool>(t)) << c.cap;
    EXPECT_EQ(t->maxTier(), c.tier) << c.cap;
    EXPECT_EQ(t->hasAvxVnni(), c.avxVnni) << c.cap;
  }
}

TEST(Cap, CapAboveTargetChangesNothing) {
  TargetDesc v3 = named("x86-64-v3");
  auto t = capTarget(v3, "amx");
  ASSERT_TRUE(static_cast<bool>(t));
  EXPECT_EQ(t->features, v3.features);
}

TEST(Cap, InvalidCapIsAnError) {
  auto t = capTarget(named("x86-64-v3"), "avx1024");
  ASSERT_FALSE(static_cast<bool>(t));
  std::string msg = errorText(t.takeError());
  EXPECT_NE(msg.find("invalid ISA cap 'avx1024'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("avx512_vnni"), std::string::npos) << msg;
}

TEST(MissingOn, NamesFeaturesTheHostLacks) {
  auto missing = named("icelake-server").missingOn(named("x86-64-v3"));
  EXPECT_EQ(missing, (std::vector<std::string>{"avx512f", "avx512bw",
                                               "avx512vl", "avx512dq",
                                               "avx512_vnni"}));
  EXPECT_TRUE(named("x86-64-v3").missingOn(named("icelake-server")).empty());
}

TEST(Describe, MentionsTierCachesAndCores) {
  std::string d = named("icelake-server").describe();
  EXPECT_NE(d.find("avx512_vnni"), std::string::npos) << d;
  EXPECT_NE(d.find("1280 KiB"), std::string::npos) << d;
  EXPECT_NE(d.find("cores:       32"), std::string::npos) << d;
}

// Host detection is checked for consistency, not for this machine's values:
// the tests must pass on any x86-64 CI host.
TEST(Host, DetectionIsSelfConsistent) {
  TargetDesc host = detectHostUncapped();
  EXPECT_GE(host.cores, 1u);
  EXPECT_GT(host.caches.l1d, 0u);
  EXPECT_GE(host.caches.l2, host.caches.l1d);
  if (host.hasFeature("avx512f"))
    EXPECT_EQ(host.vectorBits, 512u);
  // What we report must round-trip through makeTarget unchanged.
  auto again = makeTarget(host.cpu, host.features, host.caches, host.cores);
  ASSERT_TRUE(static_cast<bool>(again));
  EXPECT_EQ(again->features, host.features);
}

TEST(Host, EnvironmentCapApplies) {
  ::setenv("LLMC_MAX_ISA", "avx2", 1);
  auto capped = detectHost();
  ::unsetenv("LLMC_MAX_ISA");
  ASSERT_TRUE(static_cast<bool>(capped));
  EXPECT_LE(static_cast<int>(capped->maxTier()), static_cast<int>(IsaTier::AVX2));
  EXPECT_FALSE(capped->hasFeature("avx512f"));

  ::setenv("LLMC_MAX_ISA", "bogus", 1);
  auto bad = detectHost();
  ::unsetenv("LLMC_MAX_ISA");
  ASSERT_FALSE(static_cast<bool>(bad));
  EXPECT_NE(errorText(bad.takeError()).find("LLMC_MAX_ISA"), std::string::npos);
}

} // namespace
