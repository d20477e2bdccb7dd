//===- AmxTiles.cpp - AMX tile instructions: emission and the scalar model -===//
#include "AmxTiles.h"
#include "llmc/Kernels/Half.h"
#include "llvm/Support/ErrorHandling.h"
#include <cmath>
#include <cstring>
#include <string>

using namespace Xbyak;

namespace llmc {
namespace kernels {
namespace amx {

//===----------------------------------------------------------------------===//
// The model
//===----------------------------------------------------------------------===//

namespace {

struct TileState {
  bool configured = false;
  TileConfig cfg;
  alignas(64) uint8_t t[kTiles][kMaxRows][kMaxColsb];
};

thread_local TileState state;

[[noreturn]] void fault(const std::string &what) {
  llvm::report_fatal_error(("AMX tile model: " + what).c_str());
}

void checkTile(unsigned i) {
  if (!state.configured)
    fault("tile instruction before LDTILECFG");
  if (i >= kTiles || state.cfg.rows[i] == 0 || state.cfg.colsb[i] == 0)
    fault("tile " + std::to_string(i) + " is not configured");
}

// DAZ / FTZ as TDPBF16PS: subnormals read and written as signed zeros.
float flushSubnormal(float v) {
  return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v;
}

// c += a . b
void dot(bool bf16, unsigned c, unsigned a, unsigned b) {
  checkTile(c);
  checkTile(a);
  checkTile(b);
  const TileConfig &k = state.cfg;
  // Shapes (SDM #UD conditions): C is M x N dwords, A M x K/4 dwords (one
  // dword = 4 int8 or 2 bf16), B K/4 rows of N dwords.
  if (k.rows[c] != k.rows[a] || k.colsb[c] != k.colsb[b] ||
      k.colsb[a] != 4 * k.rows[b] || k.colsb[c] % 4 || k.colsb[a] % 4)
    fault("tile shapes do not fit: C " + std::to_string(k.rows[c]) + "x" +
          std::to_string(k.colsb[c]) + ", A " + std::to_string(k.rows[a]) + "x" +
          std::to_string(k.colsb[a]) + ", B " + std::to_string(k.rows[b]) + "x" +
          std::to_string(k.colsb[b]));
  const unsigned M = k.rows[c], N = k.colsb[c] / 4, K4 = k.colsb[a] / 4;
  for (unsigned m = 0; m < M; ++m)
    for (unsigned n = 0; n < N; ++n) {
      uint8_t *dst = &state.t[c][m][4 * n];
      if (!bf16) {
        uint32_t acc;
        std::memcpy(&acc, dst, 4);
        for (unsigned kk = 0; kk < K4; ++kk)
          for (unsigned j = 0; j < 4; ++j)
            acc += uint32_t(int32_t(int8_t(state.t[a][m][4 * kk + j])) *
                            int32_t(state.t[b][kk][4 * n + j]));
        std::memcpy(dst, &acc, 4);
        continue;
      }
      float acc;
      std::memcpy(&acc, dst, 4);
      for (unsigned kk = 0; kk < K4; ++kk)
        for (unsigned j = 0; j < 2; ++j) {
          uint16_t av, bv;
          std::memcpy(&av, &state.t[a][m][4 * kk + 2 * j], 2);
          std::memcpy(&bv, &state.t[b][kk][4 * n + 2 * j], 2);
          // The product of two bf16 numbers is exact in fp32.
          acc = flushSubnormal(acc + flushSubnormal(bf16ToFp32(av)) *
                                         flushSubnormal(bf16ToFp32(bv)));
        }
      std::memcpy(dst, &acc, 4);
    }
}

} // namespace

void modelTileOp(uint32_t op, uint32_t tiles, const uint8_t *base,
                 int64_t stride) {
  // Operand tiles in instruction order (a: the destination or the one tile).
  const unsigned a = tiles & 15, b = (tiles >> 4) & 15, c = (tiles >> 8) & 15;
  switch (TileOp(op)) {
  case TileOp::LoadConfig: {
    TileConfig k;
    std::memcpy(&k, base, sizeof k);
    if (k.palette != 1 || k.startRow != 0)
      fault("LDTILECFG: palette must be 1 and start_row 0");
    for (unsigned i = 0; i < kTiles; ++i)
      if (k.rows[i] > kMaxRows || k.colsb[i] > kMaxColsb ||
          (k.rows[i] == 0) != (k.colsb[i] == 0))
        fault("LDTILECFG: bad shape for tile " + std::to_string(i));
    state.cfg = k;
    state.configured = true;
    std::memset(state.t, 0, sizeof state.t);
    return;
  }
  case TileOp::Load: {
    checkTile(a);
    const unsigned rows = state.cfg.rows[a], colsb = state.cfg.colsb[a];
    std::memset(state.t[a], 0, sizeof state.t[a]);
    for (unsigned r = 0; r < rows; ++r)
      std::memcpy(state.t[a][r], base + int64_t(r) * stride, colsb);
    return;
  }
  case TileOp::Store: {
    checkTile(a);
    const unsigned rows = state.cfg.rows[a], colsb = state.cfg.colsb[a];
    for (unsigned r = 0; r < rows; ++r)
      std::memcpy(const_cast<uint8_t *>(base) + int64_t(r) * stride,
                  state.t[a][r], colsb);
    return;
  }
  case TileOp::Zero:
    checkTile(a);
    std::memset(state.t[a], 0, sizeof state.t[a]);
    return;
  case TileOp::DotBSUD:
    dot(false, a, b, c);
    return;
  case TileOp::DotBF16:
    dot(true, a, b, c);
    return;
  case TileOp::Release:
    state.configured = false;
    std::memset(state.t, 0, sizeof state.t);
    return;
  }
  fault("unknown tile operation " + std::to_string(op));
}

//===----------------------------------------------------------------------===//
// Emission
//===----------------------------------------------------------------------===//

void AmxEmitter::loadConfig(const Label &cfg) {
  if (emulate_)
    return call(TileOp::LoadConfig, 0, nullptr, nullptr, &cfg);
  g_.ldtilecfg(g_.ptr[g_.rip + cfg]);
}

void AmxEmitter::load(const Tmm &t, const Reg64 &base, const Reg64 &stride) {
  if (emulate_)
    return call(TileOp::Load, uint32_t(t.getIdx()), &base, &stride, nullptr);
  g_.tileloadd(t, g_.ptr[base + stride]);
}

void AmxEmitter::store(const Reg64 &base, const Reg64 &stride, const Tmm &t) {
  if (emulate_)
    return call(TileOp::Store, uint32_t(t.getIdx()), &base, &stride, nullptr);
  g_.tilestored(g_.ptr[base + stride], t);
}

void AmxEmitter::zero(const Tmm &t) {
  if (emulate_)
    return call(TileOp::Zero, uint32_t(t.getIdx()), nullptr, nullptr, nullptr);
  g_.tilezero(t);
}

void AmxEmitter::dotBSUD(const Tmm &c, const Tmm &a, const Tmm &b) {
  if (emulate_)
    return call(TileOp::DotBSUD,
                uint32_t(c.getIdx() | a.getIdx() << 4 | b.getIdx() << 8),
                nullptr, nullptr, nullptr);
  g_.tdpbsud(c, a, b);
}

void AmxEmitter::dotBF16(const Tmm &c, const Tmm &a, const Tmm &b) {
  if (emulate_)
    return call(TileOp::DotBF16,
                uint32_t(c.getIdx() | a.getIdx() << 4 | b.getIdx() << 8),
                nullptr, nullptr, nullptr);
  g_.tdpbf16ps(c, a, b);
}

void AmxEmitter::release() {
  if (emulate_)
    return call(TileOp::Release, 0, nullptr, nullptr, nullptr);
  g_.tilerelease();
}

void AmxEmitter::emitConfig(Label &label, const TileConfig &cfg) {
  g_.align(64);
  g_.L(label);
  const uint8_t *b = reinterpret_cast<const uint8_t *>(&cfg);
  for (size_t i = 0; i < sizeof cfg; ++i)
    g_.db(b[i]);
}

// Frame of an emulated tile instruction:
//   push rbp; rbp = rsp; push the caller-saved GPRs (slot i at rbp - 8(i+1));
//   rsp aligned down to 64; zmm0-31 and k1-k7 saved below it;
//   arguments from the saved slots (or the callee-saved registers as they
//   are); call; restore in reverse.
void AmxEmitter::call(TileOp op, uint32_t tiles, const Reg64 *base,
                      const Reg64 *stride, const Label *cfg) {
  CodeGenerator &g = g_;
  static const Reg64 saved[] = {g.rax, g.rcx, g.rdx, g.rsi, g.rdi,
                                g.r8,  g.r9,  g.r10, g.r11};
  constexpr int kSaved = int(sizeof saved / sizeof saved[0]);
  g.push(g.rbp);
  g.mov(g.rbp, g.rsp);
  for (const Reg64 &r : saved)
    g.push(r);
  g.and_(g.rsp, -64);
  g.sub(g.rsp, 32 * 64 + 64);
  for (int i = 0; i < 32; ++i)
    g.vmovdqu64(g.ptr[g.rsp + 64 * i], Zmm(i));
  for (int j = 1; j < 8; ++j)
    g.kmovq(g.ptr[g.rsp + 32 * 64 + 8 * j], Opmask(j));
  auto valueOf = [&](const Reg64 &r, const Reg64 &dst) {
    for (int i = 0; i < kSaved; ++i)
      if (saved[i].getIdx() == r.getIdx()) {
        g.mov(dst, g.ptr[g.rbp - 8 * (i + 1)]);
        return;
      }
    g.mov(dst, r); // callee-saved: unchanged by the frame
  };
  if (base)
    valueOf(*base, g.rdx);
  if (stride)
    valueOf(*stride, g.rcx);
  if (cfg)
    g.lea(g.rdx, g.ptr[g.rip + *cfg]);
  g.mov(g.edi, uint32_t(op));
  g.mov(g.esi, tiles);
  g.mov(g.rax, reinterpret_cast<uintptr_t>(&modelTileOp));
  g.call(g.rax);
  for (int j = 1; j < 8; ++j)
    g.kmovq(Opmask(j), g.ptr[g.rsp + 32 * 64 + 8 * j]);
  for (int i = 0; i < 32; ++i)
    g.vmovdqu64(Zmm(i), g.ptr[g.rsp + 64 * i]);
  g.lea(g.rsp, g.ptr[g.rbp - 8 * kSaved]);
  for (int i = kSaved - 1; i >= 0; --i)
    g.pop(saved[i]);
  g.pop(g.rbp);
}

} // namespace amx
} // namespace kernels
} // namespace llmc
