//===- HostDetection.cpp - Detect the host CPU with cpuid and XGETBV ------===//
//
// A feature counts only when the CPU has it *and* the OS saves its register
// state on context switch (XCR0, read with XGETBV): AVX needs XMM|YMM state,
// AVX-512 additionally opmask|ZMM_Hi256|Hi16_ZMM, AMX additionally
// XTILECFG|XTILEDATA — and on Linux a process must also ask for permission to
// use AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM) before touching it.
//
// Cache sizes come from cpuid's deterministic cache parameters (leaf 4 on
// Intel, 0x8000001D on AMD). Where those return nothing (some hypervisors,
// older AMD parts) AMD's legacy leaves 0x80000005/6 and then the sysfs cache
// description are used instead.
//
//===----------------------------------------------------------------------===//

#include "llmc/Target/Target.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/TargetParser/Host.h"

#include <cpuid.h>
#include <sched.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

using namespace llmc;

namespace {

struct CpuidRegs {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
};

CpuidRegs cpuid(unsigned leaf, unsigned subleaf = 0) {
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
  return r;
}

uint64_t xgetbv0() {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

bool bit(unsigned reg, unsigned n) { return (reg >> n) & 1u; }

// Linux: request permission to use AMX tile data (XFEATURE 18). Returns false
// when the kernel refuses or predates the interface.
bool requestAmxPermission() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchReqXcompPerm = 0x1023;
  constexpr int kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

std::vector<std::string> detectFeatures() {
  std::vector<std::string> f;
  unsigned maxLeaf = cpuid(0).eax;
  CpuidRegs l1 = cpuid(1);
  if (bit(l1.ecx, 20))
    f.push_back("sse4.2");

  bool osxsave = bit(l1.ecx, 27);
  uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  bool osAvx = (xcr0 & 0x6) == 0x6;                   // XMM | YMM
  bool osAvx512 = osAvx && (xcr0 & 0xE0) == 0xE0;     // opmask|ZMM_Hi256|Hi16
  bool osAmx = (xcr0 & 0x60000) == 0x60000;           // XTILECFG | XTILEDATA
  if (!osAvx)
    return f;

  if (bit(l1.ecx, 28))
    f.push_back("avx");
  if (bit(l1.ecx, 12))
    f.push_back("fma");
  if (bit(l1.ecx, 29))
    f.push_back("f16c");
  if (maxLeaf < 7)
    return f;

  CpuidRegs l7 = cpuid(7, 0);
  CpuidRegs l71 = cpuid(7, 1);
  if (bit(l7.ebx, 5))
    f.push_back("avx2");
  if (bit(l71.eax, 4))
    f.push_back("avx_vnni");
  if (osAvx512) {
    if (bit(l7.ebx, 16))
      f.push_back("avx512f");
    if (bit(l7.ebx, 17))
      f.push_back("avx512dq");
    if (bit(l7.ebx, 30))
      f.push_back("avx512bw");
    if (bit(l7.ebx, 31))
      f.push_back("avx512vl");
    if (bit(l7.ecx, 11))
      f.push_back("avx512_vnni");
    if (bit(l71.eax, 5))
      f.push_back("avx512_bf16");
    if (bit(l7.edx, 23))
      f.push_back("avx512_fp16");
  }
  bool amx = bit(l7.edx, 24);
  if (osAmx && amx && requestAmxPermission()) {
    f.push_back("amx_tile");
    if (bit(l7.edx, 25))
      f.push_back("amx_int8");
    if (bit(l7.edx, 22))
      f.push_back("amx_bf16");
  }
  return f;
}

// Deterministic cache parameters: one subleaf per cache, until type 0.
// size = ways × partitions × line size × sets.
CacheSizes cachesFromCpuid() {
  CacheSizes c;
  unsigned vendorEbx = cpuid(0).ebx;
  bool amd = vendorEbx == 0x68747541 /* "Auth" */;
  unsigned leaf = amd ? 0x8000001D : 4;
  unsigned maxLeaf = amd ? cpuid(0x80000000).eax : cpuid(0).eax;
  if (maxLeaf < leaf)
    return c;
  for (unsigned sub = 0; sub < 16; ++sub) {
    CpuidRegs r = cpuid(leaf, sub);
    unsigned type = r.eax & 0x1F;
    if (type == 0)
      break;
    unsigned level = (r.eax >> 5) & 0x7;
    uint64_t ways = ((r.ebx >> 22) & 0x3FF) + 1;
    uint64_t partitions = ((r.ebx >> 12) & 0x3FF) + 1;
    uint64_t line = (r.ebx & 0xFFF) + 1;
    uint64_t sets = uint64_t(r.ecx) + 1;
    uint64_t size = ways * partitions * line * sets;
    if (level == 1 && type == 1)
      c.l1d = size;
    else if (level == 2 && type != 2)
      c.l2 = size;
    else if (level == 3 && type != 2)
      c.l3 = size;
  }
  return c;
}

// AMD's legacy cache leaves, which hypervisors that hide 0x8000001D still
// pass through: 0x80000005 ECX[31:24] = L1d KiB; 0x80000006 ECX[31:16] = L2
// KiB, EDX[31:18] = L3 in 512 KiB units.
CacheSizes cachesFromAmdLegacyLeaves() {
  CacheSizes c;
  if (cpuid(0).ebx != 0x68747541 /* "Auth" */ ||
      cpuid(0x80000000).eax < 0x80000006)
    return c;
  c.l1d = uint64_t(cpuid(0x80000005).ecx >> 24) << 10;
  CpuidRegs l2l3 = cpuid(0x80000006);
  c.l2 = uint64_t(l2l3.ecx >> 16) << 10;
  c.l3 = uint64_t(l2l3.edx >> 18) * (512 << 10);
  return c;
}

// sysfs: /sys/devices/system/cpu/cpu0/cache/indexN/{level,type,size}, sizes
// like "48K" or "48M".
uint64_t parseSysfsSize(llvm::StringRef s) {
  s = s.trim();
  uint64_t mult = 1;
  if (s.consume_back("K"))
    mult = 1024;
  else if (s.consume_back("M"))
    mult = 1024 * 1024;
  uint64_t v = 0;
  if (s.getAsInteger(10, v))
    return 0;
  return v * mult;
}

CacheSizes cachesFromSysfs() {
  CacheSizes c;
  for (unsigned i = 0; i < 8; ++i) {
    std::string dir =
        "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    auto read = [&](const char *name) -> std::string {
      auto buf = llvm::MemoryBuffer::getFileAsStream(dir + name);
      return buf ? (*buf)->getBuffer().trim().str() : std::string();
    };
    std::string level = read("level");
    if (level.empty())
      break;
    std::string type = read("type");
    uint64_t size = parseSysfsSize(read("size"));
    if (level == "1" && type == "Data")
      c.l1d = size;
    else if (level == "2" && type != "Instruction")
      c.l2 = size;
    else if (level == "3" && type != "Instruction")
      c.l3 = size;
  }
  return c;
}

unsigned detectCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return unsigned(n);
  }
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

} // namespace

TargetDesc llmc::detectHostUncapped() {
  // Sources in order of trust; each fills only what the ones before left 0.
  CacheSizes caches;
  for (const CacheSizes &source :
       {cachesFromCpuid(), cachesFromAmdLegacyLeaves(), cachesFromSysfs()}) {
    if (!caches.l1d)
      caches.l1d = source.l1d;
    if (!caches.l2)
      caches.l2 = source.l2;
    if (!caches.l3)
      caches.l3 = source.l3;
  }
  // A machine that reports nothing at all still needs blocking parameters:
  // assume a conservative 32 KiB / 256 KiB / 8 MiB hierarchy.
  if (!caches.l1d)
    caches.l1d = 32 << 10;
  if (!caches.l2)
    caches.l2 = 256 << 10;
  if (!caches.l3)
    caches.l3 = 8 << 20;

  std::string cpu = llvm::sys::getHostCPUName().str();
  if (cpu.empty() || cpu == "generic")
    cpu = "native";
  auto t = makeTarget(cpu, detectFeatures(), caches, detectCores());
  // detectFeatures only produces known names, so this cannot fail.
  return t ? std::move(*t) : (llvm::consumeError(t.takeError()), TargetDesc());
}
