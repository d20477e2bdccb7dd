//===- llmc-kernel-dump.cpp - Print a generated matmul kernel's machine code -===//
//
// Generates the microkernel of one descriptor and prints its bytes as hex, the
// input `llvm-mc --disassemble` reads. Generating needs no particular ISA, so
// the encodings of every tier (AMX included) can be checked on any host:
//
//   llmc-kernel-dump --tier=amx --format=int4_g32_sym_f16 --act=int8 --mr=16 \
//     | llvm-mc --disassemble -triple=x86_64 -mattr=+avx512f,+amx-int8,...
//
//===----------------------------------------------------------------------===//
#include "llmc/Kernels/Matmul.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace llmc;
using namespace llmc::kernels;

static cl::opt<std::string> tierName("tier", cl::desc("ISA tier (avx2, avx512, avx512_vnni, amx)"),
                                     cl::init("avx512_vnni"));
static cl::opt<std::string> formatName("format",
                                       cl::desc("weight format, e.g. int4_g32_sym_f16, bf16"),
                                       cl::init("int4_g32_sym_f16"));
static cl::opt<std::string> actName("act", cl::desc("activation path: f32, int8, bf16"),
                                    cl::init("int8"));
static cl::opt<unsigned> rows("mr", cl::desc("rows per call"), cl::init(1));
static cl::opt<unsigned> panels("panels", cl::desc("panels per call (1 or 2)"), cl::init(1));
static cl::opt<bool> avxVnni("avx-vnni", cl::desc("AVX2 tier: VEX vpdpbusd"));
static cl::opt<bool> emulateTiles(
    "emulate-tiles", cl::desc("AMX: calls into the scalar tile model instead of tile instructions"));

static int fail(const Twine &msg) {
  WithColor::error(errs(), "llmc-kernel-dump") << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "print a generated matmul kernel as hex bytes\n");
  MicroKernelDesc d;
  bool tierFound = false;
  for (IsaTier t : {IsaTier::Scalar, IsaTier::AVX2, IsaTier::AVX512,
                    IsaTier::AVX512_VNNI, IsaTier::AMX})
    if (isaTierName(t) == tierName) {
      d.tier = t;
      tierFound = true;
    }
  if (!tierFound)
    return fail("unknown tier '" + tierName + "'");
  auto fmt = parseWeightFormat(formatName);
  if (!fmt)
    return fail(toString(fmt.takeError()));
  d.format = *fmt;
  bool actFound = false;
  for (ActPath a : {ActPath::F32, ActPath::Int8, ActPath::BF16})
    if (actName == actPathName(a)) {
      d.act = a;
      actFound = true;
    }
  if (!actFound)
    return fail("unknown activation path '" + actName + "'");
  d.mr = rows;
  d.panels = panels;
  d.avxVnni = avxVnni;
  d.emulateTiles = emulateTiles;
  auto code = kernelCode(d);
  if (!code)
    return fail(toString(code.takeError()));
  outs() << "# " << d.str() << ": " << code->size() << " bytes\n";
  for (size_t i = 0; i < code->size(); ++i)
    outs() << format_hex((*code)[i], 4) << ((i % 16 == 15) ? "\n" : " ");
  outs() << "\n";
  return 0;
}
