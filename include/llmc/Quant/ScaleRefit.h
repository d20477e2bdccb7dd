//===- ScaleRefit.h - Least-squares group scales for fixed codes -*- C++ -*-===//
//
// Rounding picks codes u for given group scales; the scales themselves come
// from a min/max rule (or a clipping search) chosen before any code is known.
// Once the codes are fixed, the output error of row n,
//
//     L(s) = (w - q(s)) H (w - q(s))^T,     q_k(s) = s_g(k) (u_k - z_g(k)),
//
// is a quadratic in the row's group scales s (zero points fixed): with a_k =
// u_k - z_g(k) and A_g the vector holding a on group g's columns,
//
//     M s = b,    M_gh = A_g^T H A_h,    b_g = A_g^T H w,
//
// one small SPD system per row (numGroups unknowns). Its solution, rounded to
// the scale dtype, replaces the row's scales only if it lowers L (the dtype
// rounding could in principle undo the gain). Alternating this with GPTQ
// rounding at the new scales (GPTQOptions::refitRounds) descends the same
// proxy loss GPTQ approximately minimises, in the spirit of the scale
// refinement of QuantEase/OmniQuant, but closed-form.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_SCALEREFIT_H
#define LLMC_QUANT_SCALEREFIT_H

#include "llmc/Quant/GroupQuantizer.h"

namespace llmc {
namespace quant {

/// Refits the scales of every row of `q` (a quantized format) against the
/// target W[N][K] under H (K x K, row-major, symmetric PSD), codes and zero
/// points unchanged. Returns the proxy loss tr(dW H dW^T) after; never more
/// than before, row by row.
double refitGroupScales(const float *W, const double *H, QuantizedWeights &q);

} // namespace quant
} // namespace llmc

#endif
