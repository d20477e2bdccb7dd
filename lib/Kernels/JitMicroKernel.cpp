//===- JitMicroKernel.cpp - Xbyak generator for the matmul microkernel -----===//
//
// One generator covers every (tier, weight bits, activation path, mr):
//
//   for g in groups:                       // one scale (and zero point) per lane
//     init accumulators with the zero-point term (comp * z)
//     for chunk of 32 k in g:              // unrolled: 32/kPerBlock blocks
//       load one block (L lanes x 4 bytes); for each bit plane i:
//         int8 path:  u8 codes of plane i  --vpdpbusd-->  acc[m] += u * x_q
//         fp32 path:  per byte j: shift/mask/cvt  --fma-->  acc[m] += u * x
//     epilogue: y_acc[m] += cvt(acc[m]) * s_w * s_x[m]
//   store / accumulate y (e4m4 scales: y_acc * the matrix's tensor scale)
//
// 16-k groups (int8/4/2) split a chunk: the loop body is one chunk and two
// groups, the first half of the chunk's blocks for the even group and the
// second half for the odd one.
//
// Decode kernels (mr <= 2) on VNNI zmm use "scaled planes": plane i is only
// masked in place, so its codes are u * 2^(i*bits) (still < 256), accumulated
// separately, and shifted right once per group (exact: the sum is a multiple
// of 2^(i*bits)). That saves one shift per plane in the inner loop; with more
// rows the shift is shared by all of them and the extra accumulators cost more
// than they save. vpmaddubsw (AVX2 / AVX-512 without VNNI) saturates at 16
// bits, so there planes are shifted down to the code itself and 8-bit codes
// are split into nibbles (the high one weighted by 16 in vpmaddwd). int3 adds its high bit, moved to bit 2 (value 0 or 4),
// into the same accumulators as the two low bits.
//
// nl4 / nl2 are int4's / int2's layouts with codes that index 16 / 4 levels
// (WeightFormat.h): each plane's codes are brought into bytes as for int4 /
// int2 and looked up with one vpshufb (a 16-byte table per 128-bit lane,
// loaded from the code's own data); what follows is the 8-bit path with the
// zero point 128 (vpmaddubsw: two tables, the levels' low and high nibbles,
// as 8-bit codes are split).
//
// AMX (generateAmx): the same unpacking feeds tile products instead, from
// row blocks of 9..16 rows.
//
// Integer decode pairs (panels = 2, int8 path): every step above runs for
// two panels, and inside a chunk their blocks alternate (pj_ selects the
// panel's codes, scales and zero points), so that a core keeps two code
// streams in flight; the pair equals two one-panel calls bit for bit.
//
// bf16 weights with bf16 activations (AVX512-BF16): a 64-byte load holds
// the panel's rows k and k+1; one vpermw interleaves them so that lane l's
// dword is (w[k][l], w[k+1][l]), and vdpbf16ps against the broadcast dword
// (x[k], x[k+1]) adds both products into lane l: two k per instruction.
//
// Registers: y accumulators (mr), integer/fp32 group accumulators
// (mr x planes x splits), each once per panel of a pair, then a few
// temporaries; makePlan() counts them and
// the largest mr that fits 32 zmm / 16 ymm is what jitMaxRows() reports.
//
//===----------------------------------------------------------------------===//
#include "AmxTiles.h"
#include "MicroKernel.h"
#include "llvm/Support/Error.h"
#include <xbyak/xbyak.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

using namespace llvm;
using namespace Xbyak;

namespace llmc {
namespace kernels {

namespace {

enum class Dot { None, VnniEvex, VnniVex, Maddubs, AmxTile };

struct Plan {
  bool zmm = false;
  unsigned L = 8, bits = 32, planes = 1, kpb = 1;
  bool intAct = false, floatW = false, scaledPlanes = false;
  bool nl = false; // nl4 / nl2: codes are looked up in a level table
  bool bf16Dot = false; // bf16 weights x bf16 activations, vdpbf16ps
  bool amx = false;     // AMX tiles: codes go to a B tile, tdpbsud
  Dot dot = Dot::None;
  unsigned P = 1, S = 1; // accumulators per row: planes x splits
  unsigned np = 1;       // panels of integer codes per call (2: decode pairs)
  unsigned regs = 0;     // vector registers needed
};

Plan makePlan(const MicroKernelDesc &d) {
  Plan p;
  p.zmm = d.tier >= IsaTier::AVX512;
  p.L = p.zmm ? 16 : 8;
  p.bits = d.format.bits();
  p.floatW = !d.format.isQuantized();
  p.intAct = d.act == ActPath::Int8;
  p.bf16Dot = d.act == ActPath::BF16;
  p.nl = d.format.isNonLinear();
  if (!p.floatW) {
    // int3: one 32-k super block per chunk (two 2-bit blocks + a bit plane).
    p.planes = p.bits == 3 ? 4 : 8 / p.bits;
    p.kpb = p.bits == 3 ? 32 : 32 / p.bits;
  }
  // AMX tiles: integer codes on the int8 path (tdpbsud), bf16 weights on the
  // bf16 path (tdpbf16ps).
  p.amx = d.tier == IsaTier::AMX &&
          ((p.intAct && !p.floatW) ||
           (p.bf16Dot && d.format.type == WeightType::BF16));
  if (p.intAct) {
    if (p.amx)
      p.dot = Dot::AmxTile;
    else if (d.tier >= IsaTier::AVX512_VNNI)
      p.dot = Dot::VnniEvex;
    else if (d.tier == IsaTier::AVX2 && d.avxVnni)
      p.dot = Dot::VnniVex;
    else
      p.dot = Dot::Maddubs;
    // Scaled planes trade one shift per block (shared by all rows) for one
    // shift + add per row and group: a win only for GEMV-sized mr.
    p.scaledPlanes = p.dot == Dot::VnniEvex && p.planes > 1 && d.mr <= 2 &&
                     p.bits != 3 && !p.nl;
  }
  p.P = p.scaledPlanes ? p.planes : 1;
  // Independent accumulator chains per row (split over k): enough to hide
  // vpdpbusd latency at DRAM speed; more only adds epilogue work.
  unsigned splits = d.mr == 1 ? 2 : d.mr == 2 ? 2 : 1;
  if (!p.zmm)
    splits = d.mr == 1 ? 2 : 1;
  p.S = std::max(1u, splits / p.P);
  // facc + accumulators + temporaries (see Generator's slot helpers).
  unsigned temps;
  if (p.floatW)
    temps = p.bf16Dot ? 4 : 3; // 2 x wF, xB (+ the vpermw index)
  else if (p.intAct)
  {
    const bool maddubs = p.dot == Dot::Maddubs;
    unsigned masks = p.scaledPlanes ? p.planes
                     : p.bits == 3  ? 2
                     : p.bits < 8   ? 1
                                    : (maddubs ? 1 : 0);
    // wRaw, 2 x wT, xB, masks; vpmaddubsw: ones, prod (+ sixteens for 8 bits)
    temps = 4 + masks + (maddubs ? (p.bits == 8 ? 3 : 2) : 0);
    // nl4/nl2: the level table(s); vpmaddubsw also needs sixteens
    if (p.nl)
      temps += maddubs ? 3 : 1;
  }
  else if (p.nl)
    temps = 10; // wRaw, 2 x wT, 2 x wF, xB, 2 masks, table, looked-up plane
  else
    temps = p.bits == 3 ? 8 : 7; // wRaw, 2 x wT, 2 x wF, xB, mask(s)
  p.np = d.panels == 2 && !p.floatW ? 2 : 1;
  p.regs = p.np * (d.mr + (p.amx ? 0 : d.mr * p.P * p.S)) + temps;
  if (d.panels == 2 && p.floatW)
    // accumulators per row and panel, 2 x w, x broadcast (+ vpermw index)
    p.regs = 2 * d.mr + 3 + (p.bf16Dot ? 1 : 0);
  return p;
}

bool supported(const MicroKernelDesc &d, const Plan &p) {
  if (d.tier == IsaTier::Scalar)
    return false;
  if (d.tier == IsaTier::AMX) // int8 and bf16 paths (else the VNNI tier runs)
    return p.amx && d.panels == 1 && d.mr >= 1 && d.mr <= amx::kMaxRows &&
           p.regs <= 32;
  if (p.intAct) {
    if (p.floatW)
      return false;
  }
  if (p.bf16Dot && (d.format.type != WeightType::BF16 || !p.zmm))
    return false; // AVX512-BF16 only, on bf16 weights
  if (d.panels == 2 && !p.floatW) // integer decode pairs: the int8 path
    return p.intAct && p.regs <= (p.zmm ? 32u : 16u) && d.mr >= 1 &&
           d.mr <= Matmul::kMaxPairRows;
  if (d.panels == 2)
    return p.floatW && !p.intAct && p.regs <= (p.zmm ? 32u : 16u) &&
           d.mr >= 1 && d.mr <= Matmul::kMaxWideRows;
  return d.panels == 1 && p.regs <= (p.zmm ? 32u : 16u) && d.mr >= 1 &&
         d.mr <= 8;
}

class Generator : public CodeGenerator {
public:
  Generator(const MicroKernelDesc &d, const Plan &p)
      : CodeGenerator(64 * 1024), d_(d), p_(p) {}

  void generate();

private:
  Xmm V(int i) const {
    if (p_.zmm)
      return Zmm(i);
    return Ymm(i);
  }
  // Integer pairs (np = 2): the outputs of both panels, then the group
  // accumulators of both; pj_ selects the panel the helpers address.
  Xmm facc(unsigned m) const { return V(int(pj_ * d_.mr + m)); }
  Xmm acc(unsigned m, unsigned pl, unsigned s) const {
    return V(int(p_.np * d_.mr + pj_ * d_.mr * p_.P * p_.S +
                 (m * p_.P + pl) * p_.S + s));
  }
  // Temporaries after the accumulators; the slots differ per path so that
  // AVX2 (16 registers) fits mr = 4.
  int tempBase() const {
    return int(p_.np * (d_.mr + (p_.amx ? 0 : d_.mr * p_.P * p_.S)));
  }
  unsigned pj_ = 0; // integer pairs: the panel being emitted
  /// Runs emit() once per panel of the call, pj_ set to it.
  template <typename F> void forPanels(F &&emit) {
    for (pj_ = 0; pj_ < p_.np; ++pj_)
      emit();
    pj_ = 0;
  }
  /// Panel pj_'s codes, scales and zero points at byte offset off.
  Address wAddr(int off) const {
    return pj_ ? ptr[rW + rWp + off] : ptr[rW + off];
  }
  Address sclAddr() const { return pj_ ? ptr[rScl + rSclp] : ptr[rScl]; }
  Address zAddr() const { return pj_ ? ptr[rZ + rZp] : ptr[rZ]; }
  Xmm wRaw() const { return V(tempBase()); }
  Xmm wT(int i) const { return V(tempBase() + 1 + (i & 1)); }
  Xmm wF(int i) const {
    return V(tempBase() + (p_.floatW ? 0 : 3) + (i & 1));
  }
  Xmm xB() const { return V(tempBase() + (p_.floatW ? 2 : p_.intAct ? 3 : 5)); }
  /// bf16 dot: the vpermw index that pairs rows k and k+1 per lane.
  Xmm pairIndex() const {
    return V(d_.panels == 2 ? int(2 * d_.mr + 3) : tempBase() + 3);
  }
  Label pairIndexData_;
  /// Loads pairIndex() (bf16 dot) from the data emitted after the code.
  void loadPairIndex() { vmovdqu16(pairIndex(), ptr[rip + pairIndexData_]); }
  void emitPairIndex();
  /// w = lanes' (k, k+1) bf16 pairs from the rows at a (bf16 dot).
  void loadWeightPairs(const Xmm &w, const Address &a) {
    vpermw(w, pairIndex(), a);
  }
  Xmm mask(unsigned i) const {
    return V(tempBase() + (p_.intAct ? 4 : 6) + int(i));
  }
  unsigned numMasks() const {
    if (p_.nl)
      return p_.intAct ? 1 : 2; // code mask (+ byte mask on the fp path)
    if (p_.bits == 3)
      return 2; // low-bits mask (3) and high-bit mask (4)
    if (p_.bits == 8 && p_.dot == Dot::Maddubs)
      return 1; // nibble mask: 8-bit codes are split in two (see chunkBody)
    return p_.scaledPlanes ? p_.planes : (p_.bits < 8 ? 1 : 0);
  }
  Xmm ones() const { return V(tempBase() + 4 + int(numMasks())); }
  Xmm prod() const { return V(tempBase() + 5 + int(numMasks())); }
  Xmm sixteens() const { return V(tempBase() + 6 + int(numMasks())); }
  // nl4/nl2: level table j (vpmaddubsw: 0 = low nibbles, 1 = high nibbles),
  // and on the fp path the plane of looked-up levels.
  Xmm nlTable(unsigned j) const {
    int base = p_.intAct ? 4 + int(numMasks()) + (p_.dot == Dot::Maddubs ? 3 : 0)
                         : 6 + int(numMasks());
    return V(tempBase() + base + int(j));
  }
  Xmm nlLevels() const { return V(tempBase() + 6 + int(numMasks()) + 1); }
  Label nlData_;
  /// Emits the level tables (one per nlTable) after the code.
  void emitNLTables();
  /// dst = plane i of wRaw's codes, one per byte (mask(0): the code's bits
  /// in every byte).
  void codePlane(const Xmm &dst, unsigned i) {
    if (i == 0) {
      vand(dst, wRaw(), mask(0));
    } else {
      vpsrlw(dst, wRaw(), int(i * p_.bits));
      vand(dst, dst, mask(0));
    }
  }
  /// vpmaddubsw rows for 8-bit codes split into nibbles lo, hi (see chunkBody).
  void maddubsSplitRows(const Xmm &lo, const Xmm &hi, int kOff, unsigned s);
  // Instructions whose VEX and EVEX spellings differ.
  void vand(const Xmm &d, const Xmm &a, const Operand &b) {
    if (p_.zmm)
      vpandd(d, a, b);
    else
      vpand(d, a, b);
  }
  void vzero(const Xmm &r) {
    if (p_.zmm)
      vpxord(r, r, r);
    else
      vpxor(r, r, r);
  }

  // Broadcast of one 32-bit activation element of row m at byte offset off.
  Address xAddr(unsigned m, int off) const {
    int eb = xBytes();
    return ptr[rX + int(m) * 32 * eb + off];
  }

  /// Bytes per staged activation element: int8, bf16 or fp32.
  int xBytes() const { return int(stagedActBytes(d_.act)); }
  void setupConstants();
  void bcastImm(const Xmm &dst, uint32_t v);
  void initGroup();
  /// Blocks [blk0, blk1) of the current 32-k chunk (all of it by default;
  /// one half for 16-k groups). Prefetches the chunk when blk0 == 0.
  void chunkBody(unsigned blk0 = 0, unsigned blk1 = ~0u);
  /// The per-group pointers and count, the constants, zeroed outputs.
  void loadGroupArgs();
  void loadGroupScale(const Xmm &scale);
  void groupEpilogue();
  void nextGroup();
  // AMX (int8 path): see generateAmx().
  void generateAmx();
  void amxGroupEpilogue(bool twoChains);
  /// Scratch on the stack of an AMX kernel: the chunk's B tile (8 rows of
  /// 64 bytes for int8, 16 for bf16) and the two C tiles (16 rows of 16
  /// int32 or fp32 each).
  static constexpr int kAmxBOffset = 0, kAmxCOffset = 1024, kAmxC2Offset = 2048,
                       kAmxScratch = 3072;
  unsigned bRowsWritten_ = 0; // B rows of the current chunk written so far
  Label tileConfig_;
  void chunkBodyInt3();
  // Prefetch distance: about DRAM latency x per-core bandwidth (~100 ns x
  // 40 GB/s); 2-8 KiB measured within noise of each other, 4 KiB best.
  static constexpr int kPrefetchBytes = 4096;
  void prefetchWeights(int off) { prefetcht0(wAddr(off + kPrefetchBytes)); }
  /// Rows' dot products of u8 codes `src` (plane accumulator pl) with the
  /// int8 activations at k offset kOff.
  void dotRows(const Xmm &src, int kOff, unsigned &step, unsigned pl = 0);
  void fmaRows(const Xmm &f, int k, unsigned &step);
  /// dst = (src shifted left by `left` bits, right if negative) & m, with
  /// word (int path) or dword (fp path) shifts.
  void shiftMask(const Xmm &dst, const Xmm &src, int left, const Xmm &m,
                 bool dword) {
    if (left > 0) {
      if (dword)
        vpslld(dst, src, left);
      else
        vpsllw(dst, src, left);
      vand(dst, dst, m);
    } else if (left < 0) {
      if (dword)
        vpsrld(dst, src, -left);
      else
        vpsrlw(dst, src, -left);
      vand(dst, dst, m);
    } else {
      vand(dst, src, m);
    }
  }
  void store();
  /// L float weights (f32, or f16 / bf16 widened) into w.
  void loadFloatWeights(const Xmm &w, const Address &a) {
    if (p_.bits == 32)
      vmovups(w, a);
    else if (d_.format.type == WeightType::F16)
      vcvtph2ps(w, a);
    else {
      vpmovzxwd(w, a);
      vpslld(w, w, 16);
    }
  }
  void generateTwoPanels();
  /// Integer pairs and AMX kernels also use r14, r15 and rbp.
  bool usesR14ToRbp() const { return p_.np == 2 || p_.amx; }
  /// Saves the callee-saved registers the kernels use and loads the
  /// weight, activation and chunk-stride arguments.
  void prologue() {
    push(rbx);
    push(r12);
    push(r13);
    if (usesR14ToRbp()) {
      push(r14);
      push(r15);
      push(rbp);
    }
    if (p_.np == 2) {
      mov(rWp, ptr[rArgs + offsetof(MicroKernelArgs, wPanelStride)]);
      mov(rSclp, ptr[rArgs + offsetof(MicroKernelArgs, scalePanelStride)]);
      mov(rZp, ptr[rArgs + offsetof(MicroKernelArgs, zeroPanelStride)]);
    }
    mov(rW, ptr[rArgs + offsetof(MicroKernelArgs, w)]);
    mov(rX, ptr[rArgs + offsetof(MicroKernelArgs, x)]);
    mov(rXs, ptr[rArgs + offsetof(MicroKernelArgs, xChunkStride)]);
  }
  void epilogue() {
    vzeroupper();
    if (usesR14ToRbp()) {
      pop(rbp);
      pop(r15);
      pop(r14);
    }
    pop(r13);
    pop(r12);
    pop(rbx);
    ret();
  }
  static constexpr int kTwoPanelUnroll = 8; // k per inner loop step
  void bcastDword(const Xmm &dst, const Address &a) {
    vpbroadcastd(dst, a);
  }

  const MicroKernelDesc &d_;
  const Plan &p_;
  const Reg64 rArgs = rdi, rW = rsi, rX = rdx, rXs = rcx, rC = r8, rS = r9,
              rGs = r10, rScl = r11, rZ = rax, rG = rbx, rK = r12, rT = r13;
  // AMX kernels: the scratch base and the B / C tiles' row stride (64).
  const Reg64 rBuf = r14, rB64 = r15;
  // Integer pairs: from panel p's codes, scales, zero points to panel p+1's.
  const Reg64 rWp = r14, rSclp = r15, rZp = rbp;
};

#define ARG(field) qword[rArgs + offsetof(MicroKernelArgs, field)]

void Generator::bcastImm(const Xmm &dst, uint32_t v) {
  mov(rT.cvt32(), v);
  if (p_.zmm) {
    vpbroadcastd(dst, rT.cvt32()); // AVX-512F: GPR source
  } else {
    vmovd(Xmm(dst.getIdx()), rT.cvt32());
    vpbroadcastd(dst, Xmm(dst.getIdx()));
  }
}

void Generator::setupConstants() {
  if (p_.bf16Dot)
    loadPairIndex();
  if (p_.floatW)
    return;
  if (p_.nl) {
    const unsigned tables = p_.dot == Dot::Maddubs ? 2 : 1;
    for (unsigned j = 0; j < tables; ++j) {
      if (p_.zmm)
        vbroadcasti32x4(Zmm(nlTable(j).getIdx()), ptr[rip + nlData_ + int(16 * j)]);
      else
        vbroadcasti128(Ymm(nlTable(j).getIdx()), ptr[rip + nlData_ + int(16 * j)]);
    }
  }
  if (p_.intAct) {
    if (p_.bits == 3) {
      bcastImm(mask(0), 0x03030303u);
      bcastImm(mask(1), 0x04040404u);
    }
    if (p_.bits == 8 && p_.dot == Dot::Maddubs)
      bcastImm(mask(0), 0x0f0f0f0fu);
    // vpmaddubsw on 8-bit codes split in nibbles (int8, nl levels)
    if ((p_.bits == 8 || p_.nl) && p_.dot == Dot::Maddubs)
      bcastImm(sixteens(), 0x00100010u);
    for (unsigned i = 0; i < numMasks() && p_.bits != 3 && p_.bits != 8; ++i) {
      uint32_t byteMask = ((1u << p_.bits) - 1) << (i * p_.bits);
      bcastImm(mask(i), byteMask * 0x01010101u);
    }
    if (p_.dot == Dot::Maddubs)
      bcastImm(ones(), 0x00010001u);
  } else {
    if (p_.nl) {
      bcastImm(mask(0), ((1u << p_.bits) - 1) * 0x01010101u);
      bcastImm(mask(1), 0xffu);
    } else if (p_.bits == 3) {
      bcastImm(mask(0), 3);
      bcastImm(mask(1), 4);
    } else {
      bcastImm(mask(0), (1u << p_.bits) - 1);
    }
  }
}

// Accumulators start at the zero-point term comp[m] (* z for asymmetric).
void Generator::initGroup() {
  const bool asym = !p_.floatW && !d_.format.symmetric;
  Xmm z = wRaw();
  if (asym) {
    vpmovzxbd(z, zAddr());
    if (!p_.intAct)
      vcvtdq2ps(z, z);
  }
  for (unsigned m = 0; m < d_.mr; ++m)
    for (unsigned pl = 0; pl < p_.P; ++pl)
      for (unsigned s = 0; s < p_.S; ++s) {
        Xmm a = acc(m, pl, s);
        if (p_.floatW || pl != 0 || s != 0) {
          vzero(a);
          continue;
        }
        Address c = ptr[rC + int(m) * 4];
        if (p_.intAct) {
          if (asym) {
            bcastDword(xB(), c);
            vpmulld(a, z, xB());
          } else {
            bcastDword(a, c);
          }
        } else {
          if (asym) {
            vbroadcastss(xB(), c);
            vmulps(a, z, xB());
          } else {
            vbroadcastss(a, c);
          }
        }
      }
}

void Generator::chunkBody(unsigned blk0, unsigned blk1) {
  const unsigned L = p_.L;
  const int blockBytes = int(4 * L);
  const unsigned mr = d_.mr;
  unsigned step = 0; // rotates the split accumulators
  const bool evex = p_.zmm;
  bRowsWritten_ = 0;

  // Software prefetch of the weight stream, one per cache line of this chunk.
  const int chunkBytes =
      p_.floatW ? int(32 * L * (p_.bits / 8)) : int(32 * L * p_.bits / 8);
  if (blk0 == 0)
    forPanels([&] {
      for (int off = 0; off < chunkBytes; off += 64)
        prefetchWeights(off);
    });

  if (p_.bf16Dot) {
    // 64 bytes = rows k, k+1 of the panel; x's dword at 2k is (x[k], x[k+1]).
    for (int kp = 0; kp < 16; ++kp) {
      Xmm w = wF(kp);
      loadWeightPairs(w, ptr[rW + kp * int(L) * 4]);
      unsigned s = step++ % p_.S;
      for (unsigned m = 0; m < mr; ++m)
        vdpbf16ps(acc(m, 0, s), w, ptr_b[rX + int(m) * 64 + 4 * kp]);
    }
    return;
  }
  if (p_.floatW) {
    const int eb = int(p_.bits / 8);
    for (int k = 0; k < 32; ++k) {
      Xmm w = wF(k);
      loadFloatWeights(w, ptr[rW + k * int(L) * eb]);
      unsigned s = step++ % p_.S;
      for (unsigned m = 0; m < mr; ++m) {
        if (evex) {
          vfmadd231ps(acc(m, 0, s), w, ptr_b[rX + int(m) * 128 + 4 * k]);
        } else {
          vbroadcastss(xB(), xAddr(m, 4 * k));
          vfmadd231ps(acc(m, 0, s), w, xB());
        }
      }
    }
    return;
  }

  if (p_.bits == 3) {
    forPanels([&] { chunkBodyInt3(); });
    return;
  }
  const unsigned nBlocks = std::min(32 / p_.kpb, blk1);
  // Integer pairs: block by block, the two panels' blocks side by side.
  unsigned panelSteps[2] = {0, 0};
  for (unsigned blk = blk0; blk < nBlocks; ++blk)
  for (pj_ = 0; pj_ < p_.np; ++pj_) {
    unsigned &step = panelSteps[pj_];
    Address wa = wAddr(int(blk) * blockBytes);
    if (evex)
      vmovdqu32(wRaw(), wa);
    else
      vmovdqu(wRaw(), wa);
    for (unsigned i = 0; i < p_.planes; ++i) {
      const int kOff = int(blk * p_.kpb + 4 * i); // first k of plane i
      if (p_.intAct && p_.bits == 8 && p_.dot == Dot::Maddubs) {
        // vpmaddubsw adds two u8 x s8 products in int16: 255 * 127 * 2
        // overflows. Split each code u = 16 hi + lo (both <= 15, pair sums <=
        // 3810) and let vpmaddwd weigh the hi products by 16 instead of 1.
        Xmm lo = wT(0), hi = wT(1);
        vand(lo, wRaw(), mask(0));
        vpsrlw(hi, wRaw(), 4);
        vand(hi, hi, mask(0));
        maddubsSplitRows(lo, hi, kOff, step++ % p_.S);
        continue;
      }
      if (p_.nl && p_.dot == Dot::Maddubs) {
        // The level's nibbles straight from the two tables.
        Xmm lo = wT(0), hi = wT(1);
        codePlane(hi, i);
        vpshufb(lo, nlTable(0), hi);
        vpshufb(hi, nlTable(1), hi);
        maddubsSplitRows(lo, hi, kOff, step++ % p_.S);
        continue;
      }
      if (p_.nl && !p_.intAct) {
        // fp path: plane i's levels in bytes, then byte j is k = kOff + j.
        Xmm v = nlLevels();
        codePlane(v, i);
        vpshufb(v, nlTable(0), v);
        for (unsigned j = 0; j < 4; ++j) {
          Xmm t = wT(int(i * 4 + j)), f = wF(int(i * 4 + j));
          if (j == 3)
            vpsrld(t, v, 24);
          else
            shiftMask(t, v, -int(8 * j), mask(1), true);
          vcvtdq2ps(f, t);
          fmaRows(f, kOff + int(j), step);
        }
        continue;
      }
      if (p_.intAct) {
        // Bring plane i's codes into bytes (u8 operand).
        Xmm src = wRaw();
        if (p_.bits < 8) {
          src = wT(i);
          if (p_.scaledPlanes)
            vand(src, wRaw(), mask(i));
          else
            codePlane(src, i);
        }
        // nl4/nl2: the codes' levels, 8-bit codes from here on.
        if (p_.nl)
          vpshufb(src, nlTable(0), src);
        dotRows(src, kOff, step, p_.scaledPlanes ? i : 0);
        continue;
      }
      // fp32 path: byte j of plane i is k = kOff + j, one channel per lane.
      for (unsigned j = 0; j < 4; ++j) {
        const int idx = int(i * 4 + j);
        const unsigned sh = 8 * j + i * p_.bits;
        Xmm t = wT(idx), f = wF(idx);
        if (sh + p_.bits == 32) {
          vpsrld(t, wRaw(), int(sh));
        } else if (sh == 0) {
          vand(t, wRaw(), mask(0));
        } else {
          vpsrld(t, wRaw(), int(sh));
          vand(t, t, mask(0));
        }
        vcvtdq2ps(f, t);
        unsigned s = step++ % p_.S;
        const int k = kOff + int(j);
        for (unsigned m = 0; m < mr; ++m) {
          if (evex) {
            vfmadd231ps(acc(m, 0, s), f, ptr_b[rX + int(m) * 128 + 4 * k]);
          } else {
            vbroadcastss(xB(), xAddr(m, 4 * k));
            vfmadd231ps(acc(m, 0, s), f, xB());
          }
        }
      }
    }
  }
  pj_ = 0;
}

void Generator::emitPairIndex() {
  align(64);
  L(pairIndexData_);
  // Word 2l takes row k's lane l (word l), word 2l + 1 row k+1's (word 16 + l).
  for (unsigned l = 0; l < 16; ++l) {
    dw(l);
    dw(16 + l);
  }
}

void Generator::emitNLTables() {
  align(16);
  L(nlData_);
  // 16 bytes per table (vpshufb's reach); nl2 uses the first 4.
  const uint8_t *v = d_.format.levels();
  const unsigned n = d_.format.maxCode() + 1;
  auto table = [&](auto byteOf) {
    for (unsigned u = 0; u < 16; ++u)
      db(u < n ? byteOf(v[u]) : 0);
  };
  if (p_.dot == Dot::Maddubs) {
    // Levels split as 8-bit codes are: v = 16 hi + lo.
    table([](uint8_t b) { return b & 15; });
    table([](uint8_t b) { return b >> 4; });
  } else {
    table([](uint8_t b) { return b; });
  }
}

void Generator::maddubsSplitRows(const Xmm &lo, const Xmm &hi, int kOff,
                                 unsigned s) {
  for (unsigned m = 0; m < d_.mr; ++m) {
    Xmm a = acc(m, 0, s);
    bcastDword(xB(), xAddr(m, kOff));
    vpmaddubsw(prod(), lo, xB());
    vpmaddwd(prod(), prod(), ones());
    vpaddd(a, a, prod());
    vpmaddubsw(prod(), hi, xB());
    vpmaddwd(prod(), prod(), sixteens());
    vpaddd(a, a, prod());
  }
}

void Generator::dotRows(const Xmm &src, int kOff, unsigned &step,
                        unsigned pl) {
  if (p_.dot == Dot::AmxTile) {
    // Row kOff / 4 of the chunk's B tile: lane l's dword holds the codes of
    // k = kOff .. kOff + 3 of channel l, the VNNI layout tdpbsud reads. int3
    // writes every row twice, the high bit (0 or 4) after the low bits.
    const unsigned row = unsigned(kOff) / 4;
    const Address b = ptr[rBuf + kAmxBOffset + 64 * int(row)];
    if (bRowsWritten_ & (1u << row))
      vpord(src, src, b);
    vmovdqa32(b, src);
    bRowsWritten_ |= 1u << row;
    return;
  }
  unsigned s = step++ % p_.S;
  for (unsigned m = 0; m < d_.mr; ++m) {
    Xmm a = acc(m, pl, s);
    switch (p_.dot) {
    case Dot::VnniEvex:
      vpdpbusd(a, src, ptr_b[rX + int(m) * 32 + kOff]);
      break;
    case Dot::VnniVex:
      bcastDword(xB(), xAddr(m, kOff));
      vpdpbusd(a, src, xB(), VexEncoding);
      break;
    case Dot::Maddubs:
      bcastDword(xB(), xAddr(m, kOff));
      vpmaddubsw(prod(), src, xB());
      vpmaddwd(prod(), prod(), ones());
      vpaddd(a, a, prod());
      break;
    case Dot::None:
    case Dot::AmxTile: // handled above
      break;
    }
  }
}

void Generator::fmaRows(const Xmm &f, int k, unsigned &step) {
  unsigned s = step++ % p_.S;
  for (unsigned m = 0; m < d_.mr; ++m) {
    if (p_.zmm) {
      vfmadd231ps(acc(m, 0, s), f, ptr_b[rX + int(m) * 128 + 4 * k]);
    } else {
      vbroadcastss(xB(), xAddr(m, 4 * k));
      vfmadd231ps(acc(m, 0, s), f, xB());
    }
  }
}

// int3 = low 2 bits (two int2 blocks, k 0..15 and 16..31) + 4 * high bit (one
// bit-plane block). Both parts go into the same accumulators: the high bit is
// moved to bit 2 of its byte (value 0 or 4) before the dot product / convert.
void Generator::chunkBodyInt3() {
  const int L = int(p_.L);
  unsigned step = 0;
  for (int off = 0; off < 12 * L; off += 64)
    prefetchWeights(off);
  auto load = [&](int off) {
    if (p_.zmm)
      vmovdqu32(wRaw(), wAddr(off));
    else
      vmovdqu(wRaw(), wAddr(off));
  };
  const bool fp = !p_.intAct;
  for (int h = 0; h < 2; ++h) {
    load(h * 4 * L);
    for (int i = 0; i < 4; ++i) {
      if (!fp) {
        Xmm t = wT(i);
        shiftMask(t, wRaw(), -2 * i, mask(0), false);
        dotRows(t, h * 16 + 4 * i, step);
        continue;
      }
      for (int j = 0; j < 4; ++j) {
        Xmm t = wT(i * 4 + j), f = wF(i * 4 + j);
        shiftMask(t, wRaw(), -(8 * j + 2 * i), mask(0), true);
        vcvtdq2ps(f, t);
        fmaRows(f, h * 16 + 4 * i + j, step);
      }
    }
  }
  load(8 * L);
  for (int i = 0; i < 8; ++i) {
    if (!fp) {
      Xmm t = wT(i);
      shiftMask(t, wRaw(), 2 - i, mask(1), false);
      dotRows(t, 4 * i, step);
      continue;
    }
    for (int j = 0; j < 4; ++j) {
      Xmm t = wT(i * 4 + j), f = wF(i * 4 + j);
      shiftMask(t, wRaw(), 2 - (8 * j + i), mask(1), true);
      vcvtdq2ps(f, t);
      fmaRows(f, 4 * i + j, step);
    }
  }
}

void Generator::loadGroupScale(const Xmm &scale) {
  switch (d_.format.scaleType) {
  case ScaleType::F32:
    vmovups(scale, sclAddr());
    break;
  case ScaleType::F16:
    vcvtph2ps(scale, sclAddr());
    break;
  case ScaleType::BF16:
    vpmovzxwd(scale, sclAddr());
    vpslld(scale, scale, 16);
    break;
  case ScaleType::E4M4: {
    // Byte c is the fp16 c << 6 (Half.h): widen to words, shift, convert.
    // The matrix's power of two is applied once, in store().
    Xmm h = p_.zmm ? Xmm(Ymm(scale.getIdx())) : Xmm(scale.getIdx());
    vpmovzxbw(h, sclAddr());
    vpsllw(h, h, 6);
    vcvtph2ps(scale, h);
    break;
  }
  }
}

void Generator::groupEpilogue() {
  const unsigned mr = d_.mr;
  Xmm scale = wRaw(), t = wT(0);
  if (!p_.floatW)
    loadGroupScale(scale);
  for (unsigned m = 0; m < mr; ++m) {
    Xmm a0 = acc(m, 0, 0);
    if (p_.intAct) {
      for (unsigned pl = 0; pl < p_.P; ++pl)
        for (unsigned s = 0; s < p_.S; ++s) {
          if (pl == 0 && s == 0)
            continue;
          Xmm a = acc(m, pl, s);
          if (pl)
            vpsrad(a, a, int(pl * p_.bits));
          vpaddd(a0, a0, a);
        }
      vcvtdq2ps(a0, a0);
      if (p_.zmm) {
        vmulps(t, scale, ptr_b[rS + int(m) * 4]);
      } else {
        vbroadcastss(t, ptr[rS + int(m) * 4]);
        vmulps(t, t, scale);
      }
      vfmadd231ps(facc(m), a0, t);
    } else {
      for (unsigned s = 1; s < p_.S; ++s)
        vaddps(a0, a0, acc(m, 0, s));
      if (p_.floatW)
        vaddps(facc(m), facc(m), a0);
      else
        vfmadd231ps(facc(m), a0, scale);
    }
  }
}

// Per-group pointers (scales, zero points, compensation, activation scales)
// move to the next group.
void Generator::nextGroup() {
  const int scaleStride =
      p_.floatW ? 0 : int(p_.L * scaleBytes(d_.format.scaleType));
  if (scaleStride)
    add(rScl, scaleStride);
  if (!p_.floatW && !d_.format.symmetric)
    add(rZ, int(p_.L));
  add(rC, rGs);
  add(rS, rGs);
}

void Generator::store() {
  Label onlyStore, done;
  if (d_.format.hasTensorScale()) {
    // e4m4 scales are relative to the matrix's 2^scaleExponent.
    Xmm t = wRaw();
    mov(rT, ARG(tensorScale));
    vbroadcastss(t, ptr[rT]);
    forPanels([&] {
      for (unsigned m = 0; m < d_.mr; ++m)
        vmulps(facc(m), facc(m), t);
    });
  }
  // Row m of panel j at y + m * ldy + j * L floats.
  auto yAddr = [&] { return ptr[rScl + int(pj_ * p_.L * 4)]; };
  mov(rT, ARG(ldy));
  mov(rScl, ARG(y));
  cmp(ARG(accumulate), 0);
  je(onlyStore, T_NEAR);
  for (unsigned m = 0; m < d_.mr; ++m) {
    forPanels([&] {
      vaddps(facc(m), facc(m), yAddr());
      vmovups(yAddr(), facc(m));
    });
    if (m + 1 < d_.mr)
      add(rScl, rT);
  }
  jmp(done, T_NEAR);
  L(onlyStore);
  for (unsigned m = 0; m < d_.mr; ++m) {
    forPanels([&] { vmovups(yAddr(), facc(m)); });
    if (m + 1 < d_.mr)
      add(rScl, rT);
  }
  L(done);
}

// Float weights, two panels per call (prefill). Per k, one weight vector per
// panel and one broadcast of x[m][k] per row, shared by the two panels' FMAs:
// 2 + mr loads for 2 mr FMAs, where one panel needs mr + 1 loads for mr FMAs.
// With two loads and two FMAs issued per cycle, the one-panel kernel is bound
// by its loads at mr / (mr + 1) of the FMA peak before anything else costs;
// here the loads take 2 + mr of every 2 mr issue slots (mr = 12: 58%). The
// accumulators are the outputs themselves: a float panel is a single group
// (one pass over Kp, or one K block of Blocking::kBlockChunks), so there is no
// group epilogue.
void Generator::generateTwoPanels() {
  const unsigned mr = d_.mr, lanes = p_.L;
  const int eb = int(p_.bits / 8);
  auto acc2 = [&](unsigned m, unsigned j) { return V(int(2 * m + j)); };
  const Xmm w0 = V(int(2 * mr)), w1 = V(int(2 * mr + 1)), xb = V(int(2 * mr + 2));
  const int xElemBytes = xBytes();
  prologue();
  if (p_.bf16Dot)
    loadPairIndex();
  mov(rG, ARG(wPanelStride));
  mov(rK, ARG(chunksPerGroup));
  for (unsigned m = 0; m < mr; ++m)
    for (unsigned j = 0; j < 2; ++j)
      vzero(acc2(m, j));
  // The k loop is unrolled by kTwoPanelUnroll, not by a whole 32-k chunk: at
  // mr = 12 a chunk is ~1,200 instructions (8.5 KB of code), and that version
  // ran 15% slower than the same kernel looping over 8 k at a time.
  constexpr int ku = kTwoPanelUnroll;
  // x moves xElemBytes * ku bytes per inner step, the rest of a chunk per
  // outer one.
  sub(rXs, xElemBytes * 32);
  Label chunkLoop, subLoop;
  L(chunkLoop);
  mov(rT, 32 / ku);
  L(subLoop);
  for (int k = 0; k < ku && p_.bf16Dot; k += 2) {
    // Rows k, k+1 of each panel paired per lane; one x dword for both.
    const int off = k * int(lanes) * eb;
    loadWeightPairs(w0, ptr[rW + off]);
    loadWeightPairs(w1, ptr[rW + rG + off]);
    for (unsigned m = 0; m < mr; ++m) {
      vpbroadcastd(xb, ptr[rX + int(m) * 64 + 2 * k]);
      vdpbf16ps(acc2(m, 0), w0, xb);
      vdpbf16ps(acc2(m, 1), w1, xb);
    }
  }
  for (int k = 0; k < ku && !p_.bf16Dot; ++k) {
    const int off = k * int(lanes) * eb;
    loadFloatWeights(w0, ptr[rW + off]);
    loadFloatWeights(w1, ptr[rW + rG + off]);
    for (unsigned m = 0; m < mr; ++m) {
      vbroadcastss(xb, xAddr(m, 4 * k));
      vfmadd231ps(acc2(m, 0), w0, xb);
      vfmadd231ps(acc2(m, 1), w1, xb);
    }
  }
  add(rW, ku * int(lanes) * eb);
  add(rX, xElemBytes * ku);
  dec(rT);
  jnz(subLoop, T_NEAR);
  add(rX, rXs);
  dec(rK);
  jnz(chunkLoop, T_NEAR);

  // y rows: panel 0 at [y, y + L), panel 1 right after it.
  Label onlyStore, done;
  mov(rT, ARG(ldy));
  mov(rScl, ARG(y));
  const int half = int(lanes) * 4;
  cmp(ARG(accumulate), 0);
  je(onlyStore, T_NEAR);
  for (unsigned m = 0; m < mr; ++m) {
    for (unsigned j = 0; j < 2; ++j) {
      vaddps(acc2(m, j), acc2(m, j), ptr[rScl + int(j) * half]);
      vmovups(ptr[rScl + int(j) * half], acc2(m, j));
    }
    if (m + 1 < mr)
      add(rScl, rT);
  }
  jmp(done, T_NEAR);
  L(onlyStore);
  for (unsigned m = 0; m < mr; ++m) {
    for (unsigned j = 0; j < 2; ++j)
      vmovups(ptr[rScl + int(j) * half], acc2(m, j));
    if (m + 1 < mr)
      add(rScl, rT);
  }
  L(done);
  epilogue();
  if (p_.bf16Dot)
    emitPairIndex();
}

// AMX, int8 path: mr <= 16 rows, one panel, tile C (mr x 16 int32) = A (the
// staged int8 activations, mr rows of 32 k, or 16 k for 16-k groups) times
// B (the panel's codes in VNNI layout: 8 rows of 16 lanes x 4 k), by
// tdpbsud (signed x unsigned, the operands of vpdpbusd swapped). Per chunk
// the codes are unpacked as the VNNI kernels unpack them, but stored as B's
// rows (dotRows) instead of multiplied; A is loaded straight from the staged
// chunk, whose rows are 32 bytes apart. Per group C is stored and the
// epilogue is the VNNI kernel's: y_acc[m] += cvt(C[m] + comp term) *
// (s_w * s_x[m]), the same integers and the same fp32 operations, so the
// two kernels agree bit for bit.
//
//   ldtilecfg
//   for g in groups:
//     tilezero C
//     for chunk of g: unpack -> B rows; tileloadd B; tileloadd A; tdpbsud C, A, B
//       (groups of 64 k and more: chunks alternate between two C tiles)
//     tilestored C; epilogue (AVX-512)
//   store y; tilerelease
//
// AMX, bf16 path (bf16 weights): a float panel is one group, so C (fp32)
// accumulates over the whole run of chunks; per chunk one vpermw per pair of
// k rows builds B's 16 rows (k pairs x 16 lanes), A is the chunk's bf16
// activations (64 bytes per row), and tdpbf16ps adds C += A . B.
void Generator::generateAmx() {
  amx::AmxEmitter tiles(*this, d_.emulateTiles);
  // The second chain has its own A and B tiles too: a tile load into the A
  // or B that a product in flight still reads would wait for it.
  const Tmm tC = tmm0, tA = tmm1, tB = tmm2, tC2 = tmm3, tA2 = tmm4, tB2 = tmm5;
  const bool bf16 = p_.bf16Dot;
  const bool g16 = !bf16 && d_.format.groupSize == 16;
  // Two accumulator chains where a group spans several chunks: bf16 (one
  // group of all K), per-channel and 64-k or larger groups.
  const bool twoChains =
      bf16 || d_.format.groupSize == 0 || d_.format.groupSize >= 64;
  const int kTile = g16 ? 16 : 32; // k per tile product
  prologue();
  mov(rbp, rsp);
  sub(rsp, kAmxScratch);
  and_(rsp, -64);
  mov(rBuf, rsp);
  loadGroupArgs(); // (setupConstants uses rT)
  tiles.loadConfig(tileConfig_);
  mov(rB64, 64);
  // A's row stride: a staged chunk's rows are 32 elements apart (until
  // store()).
  mov(rT, 32 * xBytes());

  const int chunkBytes = int(32 * p_.L * p_.bits / 8);
  // One chunk's tile product into c: B's rows from the panel (vpermw'd row
  // pairs, or the unpacked codes), A from the staged chunk.
  auto chunk = [&](const Tmm &c, const Tmm &a, const Tmm &b) {
    if (bf16) {
      for (int off = 0; off < chunkBytes; off += 64)
        prefetchWeights(off);
      for (int kp = 0; kp < 16; ++kp) {
        Xmm w = wF(kp);
        loadWeightPairs(w, ptr[rW + kp * 64]);
        vmovdqa32(ptr[rBuf + kAmxBOffset + 64 * kp], w);
      }
    } else {
      chunkBody();
    }
    tiles.load(b, rBuf, rB64); // kAmxBOffset = 0
    tiles.load(a, rX, rT);
    if (bf16)
      tiles.dotBF16(c, a, b);
    else
      tiles.dotBSUD(c, a, b);
    add(rW, chunkBytes);
    add(rX, rXs);
  };
  // rK (>= 1) chunks into tC, or, with two chains, alternately into tC and
  // tC2: each tile product waits for the previous one into the same C, so
  // two independent accumulators keep two in flight (as brgemm's 2 x 2 C
  // tiles do); the epilogue adds them.
  auto chunkRun = [&] {
    Label loop, tail, done;
    if (!twoChains) {
      L(loop);
      chunk(tC, tA, tB);
      dec(rK);
      jnz(loop, T_NEAR);
      return;
    }
    L(loop);
    cmp(rK, 2);
    jb(tail, T_NEAR);
    chunk(tC, tA, tB);
    chunk(tC2, tA2, tB2);
    sub(rK, 2);
    jmp(loop, T_NEAR);
    L(tail);
    test(rK, rK);
    jz(done, T_NEAR);
    chunk(tC, tA, tB);
    L(done);
  };
  auto storeC = [&] {
    lea(rK, ptr[rBuf + kAmxCOffset]);
    tiles.store(rK, rB64, tC);
    if (twoChains) {
      lea(rK, ptr[rBuf + kAmxC2Offset]);
      tiles.store(rK, rB64, tC2);
    }
  };
  Label groupLoop;
  if (bf16) {
    // A float panel is one group: C accumulates over all of K (or the
    // K block the driver passes), rows k, k+1 of the panel paired per lane
    // by vpermw into B's 16 rows, as the vdpbf16ps kernels pair them.
    tiles.zero(tC);
    tiles.zero(tC2);
    mov(rK, ARG(chunksPerGroup));
    chunkRun();
    storeC();
    for (unsigned m = 0; m < d_.mr; ++m) {
      vmovups(facc(m), ptr[rBuf + kAmxCOffset + 64 * int(m)]);
      vaddps(facc(m), facc(m), ptr[rBuf + kAmxC2Offset + 64 * int(m)]);
    }
  } else if (g16) {
    L(groupLoop);
    // A chunk holds two groups: B rows 0..3 and bytes 0..15 of A's rows for
    // the even one, rows 4..7 and bytes 16..31 for the odd one.
    const unsigned half = 16 / p_.kpb;
    for (int h = 0; h < 2; ++h) {
      chunkBody(unsigned(h) * half, unsigned(h + 1) * half);
      tiles.zero(tC);
      lea(rK, ptr[rBuf + kAmxBOffset + 4 * 64 * h]);
      tiles.load(tB, rK, rB64);
      lea(rK, ptr[rX + 16 * h]);
      tiles.load(tA, rK, rT);
      tiles.dotBSUD(tC, tA, tB);
      storeC();
      amxGroupEpilogue(twoChains);
      nextGroup();
    }
    add(rW, chunkBytes);
    add(rX, rXs);
    sub(rG, 2);
    jnz(groupLoop, T_NEAR);
  } else {
    L(groupLoop);
    tiles.zero(tC);
    if (twoChains)
      tiles.zero(tC2);
    mov(rK, ARG(chunksPerGroup));
    chunkRun();
    storeC();
    amxGroupEpilogue(twoChains);
    nextGroup();
    dec(rG);
    jnz(groupLoop, T_NEAR);
  }
  store();
  tiles.release();
  mov(rsp, rbp);
  epilogue();
  if (p_.nl)
    emitNLTables();
  if (bf16)
    emitPairIndex();
  // A: mr rows of kTile elements; B: kTile / (elements per dword) rows.
  amx::TileConfig cfg;
  cfg.rows[tC.getIdx()] = uint8_t(d_.mr);
  cfg.colsb[tC.getIdx()] = 64;
  for (const Tmm &t : {tA, tA2}) {
    cfg.rows[t.getIdx()] = uint8_t(d_.mr);
    cfg.colsb[t.getIdx()] = uint16_t(kTile * xBytes());
  }
  for (const Tmm &t : {tB, tB2}) {
    cfg.rows[t.getIdx()] = uint8_t(kTile * xBytes() / 4);
    cfg.colsb[t.getIdx()] = 64;
  }
  cfg.rows[tC2.getIdx()] = uint8_t(d_.mr);
  cfg.colsb[tC2.getIdx()] = 64;
  tiles.emitConfig(tileConfig_, cfg);
}

// The group's C tile (stored at kAmxCOffset; with two chains plus the second
// at kAmxC2Offset) plus the zero-point term, then the VNNI kernel's epilogue
// (groupEpilogue). The int32 sums wrap as vpdpbusd's do, so the order of the
// additions does not change the result.
void Generator::amxGroupEpilogue(bool twoChains) {
  Xmm scale = wRaw(), c = wT(0), t = wT(1), z = xB();
  loadGroupScale(scale);
  const bool asym = !d_.format.symmetric;
  if (asym)
    vpmovzxbd(z, ptr[rZ]);
  for (unsigned m = 0; m < d_.mr; ++m) {
    const Address row = ptr[rBuf + kAmxCOffset + 64 * int(m)];
    if (asym) { // comp = -sum(x_q), times the lanes' zero points
      vpmulld(c, z, ptr_b[rC + int(m) * 4]);
      vpaddd(c, c, row);
    } else { // comp = -z * sum(x_q)
      vmovdqa32(c, row);
      vpaddd(c, c, ptr_b[rC + int(m) * 4]);
    }
    if (twoChains)
      vpaddd(c, c, ptr[rBuf + kAmxC2Offset + 64 * int(m)]);
    vcvtdq2ps(c, c);
    vmulps(t, scale, ptr_b[rS + int(m) * 4]);
    vfmadd231ps(facc(m), c, t);
  }
}

void Generator::loadGroupArgs() {
  mov(rC, ARG(comp));
  mov(rS, ARG(xscale));
  mov(rGs, ARG(groupStride));
  mov(rScl, ARG(scales));
  mov(rZ, ARG(zeros));
  mov(rG, ARG(nGroups));
  setupConstants();
  forPanels([&] {
    for (unsigned m = 0; m < d_.mr; ++m)
      vzero(facc(m));
  });
}

void Generator::generate() {
  if (d_.panels == 2 && p_.floatW) {
    generateTwoPanels();
    return;
  }
  if (p_.amx) {
    generateAmx();
    return;
  }
  prologue();
  loadGroupArgs();

  // Integer pairs (decode): each step runs for both panels, and chunkBody
  // reads their code blocks side by side (two streams in flight per core
  // instead of one: docs/KERNELS.md).
  const int chunkBytes = int(32 * p_.L * p_.bits / 8);
  Label groupLoop, chunkLoop;
  L(groupLoop);
  if (d_.format.isQuantized() && d_.format.groupSize == 16) {
    // 16-k groups: a chunk holds a pair, the first half of its blocks for
    // the even group and the second half for the odd one (x offsets 0..15
    // and 16..31 of the chunk). The driver passes an even nGroups.
    const unsigned half = 16 / p_.kpb;
    for (unsigned h = 0; h < 2; ++h) {
      forPanels([&] { initGroup(); });
      chunkBody(h * half, (h + 1) * half);
      forPanels([&] { groupEpilogue(); });
      nextGroup();
    }
    add(rW, chunkBytes);
    add(rX, rXs);
    sub(rG, 2);
    jnz(groupLoop, T_NEAR);
  } else {
    forPanels([&] { initGroup(); });
    mov(rK, ARG(chunksPerGroup));
    L(chunkLoop);
    chunkBody();
    add(rW, chunkBytes);
    add(rX, rXs);
    dec(rK);
    jnz(chunkLoop, T_NEAR);
    forPanels([&] { groupEpilogue(); });
    nextGroup();
    dec(rG);
    jnz(groupLoop, T_NEAR);
  }

  store();
  epilogue();
  if (p_.nl)
    emitNLTables();
  if (p_.bf16Dot)
    emitPairIndex();
}

#undef ARG

} // namespace

unsigned jitMaxRows(IsaTier tier, WeightFormat fmt, ActPath act, bool avxVnni,
                    unsigned panels) {
  unsigned best = 0;
  for (unsigned mr = 1; mr <= std::max(Matmul::kMaxWideRows, Matmul::kMaxRows);
       ++mr) {
    MicroKernelDesc d;
    d.tier = tier;
    d.format = fmt;
    d.act = act;
    d.mr = mr;
    d.avxVnni = avxVnni;
    d.panels = panels;
    if (supported(d, makePlan(d)))
      best = mr;
  }
  return best;
}

namespace {
Expected<std::unique_ptr<Generator>> generateCode(const MicroKernelDesc &d) {
  Plan p = makePlan(d);
  if (!supported(d, p))
    return createStringError(inconvertibleErrorCode(),
                             "no generated kernel for %s", d.str().c_str());
  // The generator refers to d and p only while generate() runs.
  auto g = std::make_unique<Generator>(d, p);
  g->generate();
  if (int err = Xbyak::GetError()) {
    Xbyak::ClearError();
    return createStringError(inconvertibleErrorCode(),
                             "xbyak failed for %s: %s", d.str().c_str(),
                             Xbyak::ConvertErrorToString(err));
  }
  return std::move(g);
}
} // namespace

Expected<MicroKernelFn> generateMicroKernel(const MicroKernelDesc &d) {
  // Generated code lives as long as the process: kernels are cached forever.
  static std::mutex mu;
  static std::vector<std::unique_ptr<Generator>> keep;
  auto gOr = generateCode(d);
  if (!gOr)
    return gOr.takeError();
  std::unique_ptr<Generator> g = std::move(*gOr);
  g->ready();
  auto fn = g->getCode<MicroKernelFn>();
  std::lock_guard<std::mutex> lk(mu);
  keep.push_back(std::move(g));
  return fn;
}

Expected<std::vector<uint8_t>> kernelCode(const MicroKernelDesc &d) {
  auto g = generateCode(d);
  if (!g)
    return g.takeError();
  const uint8_t *code = (*g)->getCode();
  return std::vector<uint8_t>(code, code + (*g)->getSize());
}

} // namespace kernels
} // namespace llmc
