//===- Plan.h - The planned program of a compiled model ---------*- C++ -*-===//
//
// CodeGen walks the fused `@main` of a transformer once and turns it into a
// ProgramPlan: every weight gets a slot in the bundle's weights section (packed
// for the target's kernels, or dense fp32 for norms and the embedding), every
// activation a region of one arena sized for the largest number of tokens per
// call, every KV cache tensor a (layer, key|value) slot of the session's
// cache, and every op a Step with all its strides resolved. Shape plumbing
// (reshape, transpose, split, static slices) never becomes a step: it is folded
// into the strides of the views the steps read and write.
//
// Batch is 1. Dimensions are either static or one of the symbols the model's
// entry points bind at run time: the tokens of this call (S) or the cached
// positions plus the new ones (T = P + S).
//
// The plan is serialized (JSON) into the bundle and executed by the runtime;
// heavy steps (matmul, attention) call the kernel ABI, glue steps run the
// program's code.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_PLAN_H
#define LLMC_CODEGEN_PLAN_H

#include "llmc/CodeGen/ActivationMode.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc::codegen {

/// How one weight is stored in the weights section.
enum class SlotKind : uint8_t {
  Dense,  ///< fp32 row-major (norm weights, embedding table)
  Packed, ///< kernels::PackedWeights for a matmul, [N, K] logical
  /// kernels::PackedWeights of an embedding table [rows, width] (N = rows,
  /// K = width) that an Embed step reads a row at a time, dequantized; never
  /// a matmul's operand. Its bytes may be those of a Packed slot (a tied
  /// lm_head stored once): slots own no bytes exclusively.
  PackedTable,
};

llvm::StringRef slotKindName(SlotKind k);

struct WeightSlot {
  std::string name;  ///< the source weight(s), e.g. "layers.0.wq+wk+wv"
  SlotKind kind = SlotKind::Dense;
  int64_t offset = 0; ///< byte offset in the weights section (page aligned)
  int64_t bytes = 0;
  /// Dense: logical shape. Packed: {N, K}.
  std::vector<int64_t> shape;
  /// Packed, PackedTable: kernels::WeightFormat::str() and the packing lanes.
  std::string format;
  unsigned lanes = 0;
  /// Packed: how each activation row x is transformed before the matmul (the
  /// weights were quantized in the transformed basis), applied in this order:
  ///  - inputScale >= 0: x_k *= d_k, d the dense slot `inputScale` ([K]);
  ///    AWQ's 1/s when it cannot be folded into a preceding norm;
  ///  - rotated: x <- U x, U = quant::RandomizedHadamard::create(K,
  ///    rotationSeed) (incoherence processing).
  int32_t inputScale = -1;
  bool rotated = false;
  uint64_t rotationSeed = 0;
  /// Packed: bias >= 0 adds the dense slot `bias` ([N]) to every output row
  /// (a pre-quantized MatMulNBits' bias input).
  int32_t bias = -1;
  /// Packed, integer format: > 0 quantizes the input with this static int8
  /// scale (activations "static", calibrated) instead of per row and group.
  float actScale = 0;
  /// Packed: this slot's own activation mode (a --quant-recipe rule's
  /// "activations"); unset: the manifest recipe's.
  std::optional<ActivationMode> activations;
  /// PackedTable: every row read is multiplied by this (a table stored in
  /// a tied lm_head's bytes that the graph scales, Gemma's sqrt(hidden)).
  float rowScale = 1.0f;
};

/// Rows (tokens) of a 2-D activation: element (s, j) is at
/// arena[offset + s * rowStride + j].
struct RowView {
  int64_t offset = 0;
  int64_t rowStride = 0;
};

/// Heads of a token: element (s, h, d) is at
/// arena[offset + s * tokenStride + h * headStride + d].
struct HeadView {
  int64_t offset = 0;
  int64_t tokenStride = 0;
  int64_t headStride = 0;
};

enum class StepKind : uint8_t {
  Embed,      ///< out[s] = table[tokens[s]]
  RmsNorm,    ///< out = in / rms(in) * w
  Matmul,     ///< out[s] = in[s] @ W^T   (kernel ABI)
  RopeTables, ///< cos/sin[s][i] for positions pos + s
  Rope,       ///< rotate pairs of q or k heads
  Attention,  ///< causal GQA attention over the KV cache (kernel ABI)
  SwiGLU,     ///< out = silu(gate) * up
  Add,        ///< out = a + b
  LayerNorm,  ///< out = (in - mean) / sqrt(var + eps) * w (+ b)
  Gelu,       ///< out = gelu(in), erf or tanh form
  EmbedPositions, ///< out[s] = table[pos + s] (learned absolute positions)
  Softcap,    ///< out = softcap * tanh(in / softcap) (Gemma-2's final logits)
  /// out[s] = sum over the router's top-k experts e of in2[s] of
  /// w_e * fc2_e(act(fc1_e(in[s]))) (kernel ABI; llmc.moe's math)
  MoE,
};

llvm::StringRef stepKindName(StepKind k);

/// An MoE step's activation between an expert's two matmuls (llmc.moe's):
/// elementwise on fc1's I outputs, or SwiGLU on its 2I gate/linear outputs.
enum class ExpertActivation : uint8_t { Identity, Relu, GeluTanh, Silu, SwiGLU };
llvm::StringRef expertActivationName(ExpertActivation a);

struct Step {
  StepKind kind = StepKind::Add;
  /// EmbedPositions/RmsNorm/LayerNorm: dense slot; Embed: dense or packed
  /// table slot; Matmul: packed slot;
  /// RopeTables: the dense [rotHalf] slot of its frequencies, or -1 for
  /// theta^(-2i/headDim).
  int32_t weight = -1;
  /// LayerNorm: the dense [width] slot of its shift, or -1.
  int32_t bias = -1;
  RowView in, in2, out; // in2: Add's second operand
  int64_t width = 0;    ///< row length (D for norms, N for matmul, ...)
  int64_t inner = 0;    ///< K for matmul; up offset within the row for SwiGLU
  float eps = 0;        ///< RmsNorm, LayerNorm
  /// RmsNorm: a row holds `groups` consecutive vectors of `width`, each
  /// normalized on its own with the same weight (per-head q/k norms: groups =
  /// heads, width = head_dim); 1 otherwise.
  int64_t groups = 1;
  bool geluTanh = false; ///< Gelu, GeGLU: the tanh approximation instead of erf
  bool geglu = false;    ///< SwiGLU: the gate's activation is GELU (GeGLU), not SiLU
  // Rope / Attention / RopeTables
  HeadView q, k, v, o;
  int64_t heads = 0, kvHeads = 0, headDim = 0, valueDim = 0, rotHalf = 0;
  bool interleaved = false;
  float scale = 0;  ///< Attention: of the scores; RopeTables: of the tables (1: none)
  bool causal = true;
  int32_t layer = -1;       ///< Attention: KV cache slot
  /// Attention: a sliding window, the query at position p seeing keys
  /// (p - window, p]; 0: every key up to its own.
  int64_t window = 0;
  /// Attention: the scores' soft cap c, c * tanh(score / c) (0: none);
  /// Softcap: its cap (> 0).
  float softcap = 0;
  double theta = 0;         ///< RopeTables
  /// RopeTables, LongRoPE: a call with pos + n > longAfter uses the dense
  /// [rotHalf] frequency slot `longWeight` and the factor `longScale`
  /// instead of `weight` and `scale` (longWeight -1: one set).
  int32_t longWeight = -1;
  float longScale = 1;
  int64_t longAfter = 0;
  int64_t cos = 0, sin = 0; ///< RopeTables out / Rope in (arena offsets, row = rotHalf)
  // MoE: in = the tokens' rows [width], in2 = the router's logits [E],
  // out [width]; inner = I, the activation's width.
  /// MoE: the packed slots of the E experts' fc1 ([F1, width]; F1 = 2I for
  /// SwiGLU, I otherwise), then of their fc2 ([width, I]), then with `gated`
  /// of their fc3 ([I, width]): 2E or 3E entries. A slot's bias is the
  /// expert's.
  std::vector<int32_t> experts;
  /// MoE: h = act(fc1 x) * (fc3 x) (Mixtral's gated experts).
  bool gated = false;
  /// MoE: the number of experts E.
  int64_t expertCount() const { return int64_t(experts.size()) / (gated ? 3 : 2); }
  int64_t topK = 0;          ///< MoE: experts per token
  bool normalize = false;    ///< MoE: weights renormalized over the top k
  ExpertActivation expertAct = ExpertActivation::Identity;
  /// MoE, SwiGLU: gate/linear are fc1's columns (2i, 2i + 1) when
  /// `interleaved`, (i, I + i) otherwise; h = g * sigmoid(alpha g) * (l +
  /// beta) after clamping g <= limit, |l| <= limit (limit 0: none).
  float alpha = 1, beta = 0, limit = 0;
  /// Steps whose only consumers compute the logits: the runtime may run them
  /// on the last token only when the caller wants just the last logits.
  bool lastOnly = false;
};

/// Element type of the KV cache: fp32, fp16, or int8 codes with one fp32
/// scale per position, KV head and K/V (runtime/Attention.h).
enum class KvType : uint8_t { F32, F16, I8 };
/// "f32" | "f16" | "i8" (the plan's and manifest's spelling).
llvm::StringRef kvTypeName(KvType t);
std::optional<KvType> parseKvTypeName(llvm::StringRef name);
/// Bytes of one cached element.
inline unsigned kvElementBytes(KvType t) {
  return t == KvType::F32 ? 4 : t == KvType::F16 ? 2 : 1;
}

struct ModelConfig {
  int64_t vocab = 0, dim = 0, layers = 0, heads = 0, kvHeads = 0;
  int64_t headDim = 0, valueDim = 0, hidden = 0;
  int64_t maxContext = 0; ///< KV cache length
  KvType kvType = KvType::F32;
  int32_t bos = 1, eos = 2;
  /// More ids that end generation: a model's other EOS ids (Llama 3.1's
  /// <|eom_id|> and <|eot_id|>).
  std::vector<int32_t> stop;
};

struct ProgramPlan {
  ModelConfig config;
  std::vector<WeightSlot> weights;
  std::vector<Step> steps;
  /// The activation arena (floats) and the most tokens one call may take
  /// (the runtime splits longer prompts into chunks).
  int64_t arenaFloats = 0;
  int64_t maxTokens = 0;
  /// Where the logits are: rows of `vocab` floats.
  RowView logits;

  llvm::json::Value toJSON() const;
  static llvm::Expected<ProgramPlan> fromJSON(const llvm::json::Value &v);
  /// Whether running the plan stays inside its buffers for every call of 1
  /// to maxTokens tokens: each view in the arena, each matmul's weight a
  /// packed slot of its [N, K], each attention's layer and heads a slot of
  /// the KV cache the config lays out (PlanVerifier.cpp).
  llvm::Error verify() const;
};

} // namespace llmc::codegen

#endif // LLMC_CODEGEN_PLAN_H
