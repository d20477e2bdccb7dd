//===- MoE.h - A mixture-of-experts step's routing and activation -*- C++ -*-===//
//
// The runtime's MoE step (codegen::StepKind::MoE, llmc.moe's math) in three
// parts: route every token to its top-k experts (routeTokens), run each
// expert's fc1 on the rows routed to it, its activation (expertActivation;
// times the expert's fc3 of the rows for gated, Mixtral-style experts), its
// fc2, and add the rows back weighted (Session::kernelMoE, MoE.cpp).
// The routing and the activation follow ONNX Runtime's CPU MoE operation by
// operation (fp32 softmax of the logits with the maximum subtracted, the k
// largest probabilities with ties to the higher expert index), so a token
// picks the same experts with the same weights.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_RUNTIME_MOE_H
#define LLMC_LIB_RUNTIME_MOE_H

#include "llmc/CodeGen/Plan.h"

#include <cstdint>
#include <vector>

namespace llmc::runtime {

/// One token's choice: `expert[j]` and its weight `weight[j]`, j < k, in
/// order of decreasing probability.
struct Route {
  int32_t expert;
  float weight;
};

/// Routes n tokens: row t of `logits` (E floats at logits + t * ld) gives
/// routes[t * k .. t * k + k). p = softmax(row); the k largest p (of equal
/// p, the higher index first); weight p_e, or p_e / sum of the k with
/// `normalize`.
void routeTokens(const float *logits, int64_t n, int64_t ld, int64_t E, int64_t k,
                 bool normalize, Route *routes);

/// A session's buffers for its MoE steps, grown as calls need.
struct MoEBuffers {
  std::vector<Route> routes;   ///< [n * k]
  std::vector<int64_t> first;  ///< expert e's routes: order[first[e] .. first[e + 1])
  std::vector<int64_t> order;  ///< route indices grouped by expert
  std::vector<float> acc;      ///< [n, H] the weighted sum
  /// One expert's rows: in, fc1 out, activation, fc2 out, fc3 out (gated).
  std::vector<float> x, f, h, y, g;
};

/// The step's activation on one row of fc1's output `f` (F1 floats) into
/// `h` (I floats, I = step.inner).
void expertActivation(const codegen::Step &step, const float *f, float *h);

} // namespace llmc::runtime

#endif // LLMC_LIB_RUNTIME_MOE_H
