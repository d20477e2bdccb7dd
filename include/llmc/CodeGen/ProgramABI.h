//===- ProgramABI.h - Between the generated program and the runtime -*- C++ -*-===//
//
// The program object (bundle section "program") defines two entry points:
//
//   void llmc_prefill(llmc_program_state *s, const int32_t *tokens, int64_t n,
//                     int64_t pos);
//   void llmc_decode(llmc_program_state *s, int32_t token, int64_t pos);
//
// They run every step of the ProgramPlan on the session's arena: glue steps
// (embeddings, norms, RoPE tables and rotation, SwiGLU, GELU, residual adds) are
// generated code; heavy steps call the kernel ABI the runtime binds when it
// links the object (ORC absolute symbols):
//
//   void llmc_rt_matmul(llmc_program_state *s, int32_t weight, const float *x,
//                       int64_t m, int64_t ldx, float *y, int64_t ldy);
//   void llmc_rt_attention(llmc_program_state *s, int32_t step, int64_t n,
//                          int64_t pos);
//   void llmc_rt_moe(llmc_program_state *s, int32_t step, int64_t n);
//   void llmc_rt_embed(llmc_program_state *s, int32_t weight,
//                      const int32_t *tokens, int64_t n, float *out,
//                      int64_t ldout);
//   void llmc_rt_parallel(llmc_program_state *s, llmc_glue_fn fn,
//                         int64_t begin, int64_t end, int64_t pos,
//                         int64_t row_cost);
//
// llmc_rt_parallel runs fn(s, t0, t1, pos) over [begin, end) split into row
// ranges across the session's threads (or inline, for few rows or cheap
// ones: row_cost is the elements a row touches). The per-row glue loops
// (norms, RoPE, SwiGLU, GELU, residual adds) are generated as such functions, so
// prefill's glue scales with the cores as the kernels do.
//
// The embedding gather is a runtime call rather than a generated loop because
// of where its rows come from: a row per token out of a table of vocab rows
// (TinyLlama: 250 MiB of fp32 for 512 rows read by a 512-token prompt). Read
// through the bundle's file mapping, every fault maps a whole page-cache folio
// (up to 2 MiB on a freshly written file), so a prompt makes nearly the whole
// table resident; the runtime reads the rows with pread instead and only the
// rows used ever count in the process's memory.
//
// A mixture-of-experts step is a runtime call as a whole: which expert's
// weights a token's rows meet is known only once its router logits are
// (the runtime groups the n tokens by expert and runs each expert's two
// matmuls on its rows, the activation between them, and the weighted sum).
//
// Math the generated code cannot inline (expf, cosf, sinf, powf) resolves to
// the process's libm. Errors of a kernel call are recorded by the runtime in
// its session and reported after the entry point returns.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_PROGRAMABI_H
#define LLMC_CODEGEN_PROGRAMABI_H

#include <cstddef>
#include <cstdint>

namespace llmc::codegen {

/// Section holding the program's object code (ELF relocatable).
constexpr const char *kProgramObjectSection = "program";

constexpr const char *kPrefillSymbol = "llmc_prefill";
constexpr const char *kDecodeSymbol = "llmc_decode";
constexpr const char *kMatmulSymbol = "llmc_rt_matmul";
constexpr const char *kAttentionSymbol = "llmc_rt_attention";
constexpr const char *kEmbedSymbol = "llmc_rt_embed";
constexpr const char *kMoESymbol = "llmc_rt_moe";
constexpr const char *kParallelSymbol = "llmc_rt_parallel";

extern "C" {
struct llmc_program_state {
  float *arena;
  const uint8_t *weights;
  void *session;       ///< the runtime's, passed back to the kernel ABI
  int64_t all_logits;  ///< non-zero: steps marked last_only run on every token
};
}
static_assert(offsetof(llmc_program_state, arena) == 0, "ABI");
static_assert(offsetof(llmc_program_state, weights) == 8, "ABI");
static_assert(offsetof(llmc_program_state, session) == 16, "ABI");
static_assert(offsetof(llmc_program_state, all_logits) == 24, "ABI");

using PrefillFn = void (*)(llmc_program_state *, const int32_t *, int64_t, int64_t);
/// A generated glue loop over rows [t0, t1) (llmc_rt_parallel's fn).
using GlueFn = void (*)(llmc_program_state *, int64_t t0, int64_t t1, int64_t pos);
using DecodeFn = void (*)(llmc_program_state *, int32_t, int64_t);

} // namespace llmc::codegen

#endif // LLMC_CODEGEN_PROGRAMABI_H
