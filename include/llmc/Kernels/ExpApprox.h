//===- ExpApprox.h - The constants of llmc's vectorizable e^x ---*- C++ -*-===//
//
// e^x without a libm call, so that loops around it vectorize: the runtime's
// attention softmax (lib/Runtime/Attention.cpp, x <= 0) and the generated
// SwiGLU (expF32 in lib/CodeGen/ProgramEmitter.cpp, arith ops) compute it the
// same way from these constants:
//   x clamped to [kMinArg, kMaxArg];
//   n = round(x log2 e), by adding and subtracting kRoundMagic = 1.5 * 2^23
//       (in float the sum has no fraction bits left, so it rounds to nearest);
//   r = x - n ln2, ln2 in two parts (Cephes'): kLn2Hi has few significant
//       bits, so n * kLn2Hi is exact, and kLn2Lo carries the rest; |r| <= ln2/2;
//   e^r by its Taylor polynomial to degree 7, Horner from kExpTaylor[0]
//       (truncation below r^8 / 8! < 6e-9 relative);
//   2^n built in the exponent bits: (n + 127) << 23.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_KERNELS_EXPAPPROX_H
#define LLMC_KERNELS_EXPAPPROX_H

namespace llmc::kernels::exp_approx {

/// e^-87 is near the smallest normal float; 88 keeps 2^n finite.
inline constexpr float kMinArg = -87.0f, kMaxArg = 88.0f;
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kRoundMagic = 12582912.0f;
/// ln2 = kLn2Hi - kLn2Lo.
inline constexpr float kLn2Hi = 0.693359375f, kLn2Lo = 2.12194440e-4f;
/// 1/7!, 1/6!, ..., 1/1!, 1/0!: Horner's order, highest degree first.
inline constexpr float kExpTaylor[8] = {1.0f / 5040, 1.0f / 720, 1.0f / 120,
                                        1.0f / 24,   1.0f / 6,   0.5f,
                                        1.0f,        1.0f};

} // namespace llmc::kernels::exp_approx

#endif // LLMC_KERNELS_EXPAPPROX_H
