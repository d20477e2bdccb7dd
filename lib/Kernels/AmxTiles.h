//===- AmxTiles.h - AMX tile instructions for the generators, native or modelled -===//
//
// The AMX kernels (JitMicroKernel.cpp) emit their tile instructions through
// AmxEmitter. Natively these are the instructions themselves. With
// `emulate` set, each one becomes a call into a scalar model of it
// (amx::modelTileOp, same operands: the tile numbers, and the values of the
// base and stride registers of the memory operand), wrapped in code that
// saves and restores every register the kernel may hold live (the
// caller-saved GPRs, zmm0-31 and k1-k7). Everything else in the kernel --
// the loops, the addressing, the strides, the code unpacking and the epilogue
// -- is the same code in both modes, so a host without AMX runs and tests the
// generated kernel except for the tile instructions, whose encodings the
// lit test kernels/amx-encoding.test checks against llvm-mc's disassembler.
//
// The model follows the Intel SDM's pseudo-code: TILELOADD zeroes the bytes
// and rows outside the configured shape, TDPBSUD sums int8 x uint8 products
// into int32 with wraparound, TDPBF16PS adds the two bf16 products of a pair
// one after the other into fp32 (round to nearest even, subnormal inputs and
// outputs flushed to zero). An instruction whose tile shapes do not fit
// together, or a tile used before LDTILECFG, is a fatal error (the hardware
// raises #UD).
//
// The emulated sequence clobbers the flags: a kernel never keeps flags live
// across a tile instruction.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_KERNELS_AMXTILES_H
#define LLMC_LIB_KERNELS_AMXTILES_H

#define XBYAK_NO_EXCEPTION
#include <cstddef>
#include <cstdint>
#include <xbyak/xbyak.h>

namespace llmc {
namespace kernels {
namespace amx {

/// LDTILECFG's 64-byte operand (palette 1).
struct TileConfig {
  uint8_t palette = 1;
  uint8_t startRow = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {}; // bytes per row, tiles 0..7 (8..15 reserved)
  uint8_t rows[16] = {};   // rows, tiles 0..7
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");
static_assert(offsetof(TileConfig, colsb) == 16 && offsetof(TileConfig, rows) == 48,
              "palette 1 layout (Intel SDM, LDTILECFG)");

constexpr unsigned kTiles = 8, kMaxRows = 16, kMaxColsb = 64;

enum class TileOp : uint32_t {
  LoadConfig, // base = the TileConfig
  Load,       // tile a <- rows at base + r * stride
  Store,      // rows at base + r * stride <- tile a
  Zero,       // tile a <- 0
  DotBSUD,    // tile a (int32) += tile b (int8) . tile c (uint8, VNNI pairs of 4)
  DotBF16,    // tile a (fp32) += tile b (bf16) . tile c (bf16, pairs of 2)
  Release,
};

/// The scalar model of one tile instruction on the calling thread's tile
/// state. `tiles` = a | b << 4 | c << 8 (the operand tiles as above).
void modelTileOp(uint32_t op, uint32_t tiles, const uint8_t *base,
                 int64_t stride);

/// Emits tile instructions into `g`, natively or as calls into the model.
class AmxEmitter {
public:
  AmxEmitter(Xbyak::CodeGenerator &g, bool emulate) : g_(g), emulate_(emulate) {}

  void loadConfig(const Xbyak::Label &cfg);
  /// base and stride: any GPRs but rsp and rbp.
  void load(const Xbyak::Tmm &t, const Xbyak::Reg64 &base,
            const Xbyak::Reg64 &stride);
  void store(const Xbyak::Reg64 &base, const Xbyak::Reg64 &stride,
             const Xbyak::Tmm &t);
  void zero(const Xbyak::Tmm &t);
  /// c += a . b: a int8 (signed) rows, b uint8 in VNNI layout.
  void dotBSUD(const Xbyak::Tmm &c, const Xbyak::Tmm &a, const Xbyak::Tmm &b);
  /// c += a . b: bf16 pairs.
  void dotBF16(const Xbyak::Tmm &c, const Xbyak::Tmm &a, const Xbyak::Tmm &b);
  void release();
  /// Emits `cfg` as 64-byte aligned data at the current position (after the
  /// code).
  void emitConfig(Xbyak::Label &label, const TileConfig &cfg);

private:
  void call(TileOp op, uint32_t tiles, const Xbyak::Reg64 *base,
            const Xbyak::Reg64 *stride, const Xbyak::Label *cfg);
  Xbyak::CodeGenerator &g_;
  bool emulate_;
};

} // namespace amx
} // namespace kernels
} // namespace llmc

#endif
