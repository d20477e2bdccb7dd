//===- Passes.td - llmc graph transformation passes --------*- tablegen -*-===//
//
// Each pass is a thin greedy driver over one populate...Patterns function
// (declared in Passes.h), so that pipelines and tests can combine the pattern
// sets freely. `llmc-fuse-transformer` (Pipeline.cpp) runs them in order.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TRANSFORMS_PASSES_TD
#define LLMC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def GraphCanonicalize : Pass<"llmc-graph-canonicalize", "::mlir::func::FuncOp"> {
  let summary = "Fold the exporter's shape plumbing and trivial graph ops";
  let description = [{
    Op folders plus llmc-specific canonicalizations: reshape of reshape,
    transpose of transpose, exact cast chains, `not(equal(x, 0))` as a cast
    to i1, `gather(shape_of(x), i)` of a static dim, multiplication by one,
    `mul(x, sigmoid(x))` as `silu`.
  }];
  let dependentDialects = ["::llmc::LLMCDialect"];
}

def FuseNorms : Pass<"llmc-fuse-norms", "::mlir::func::FuncOp"> {
  let summary = "Fuse RMSNorm and LayerNorm subgraphs into llmc.rms_norm / llmc.layer_norm";
  let description = [{
    RMSNorm: `w * (x * r)` with `r` one of `rsqrt(v)`, `reciprocal(sqrt(v))`,
    `1 / sqrt(v)`, or `w * (x / sqrt(v))`, where
    `v = reduce_mean(x^2 | x*x, last axis, keepdims) + eps`; optional float
    casts around the statistics (fp16 models computing them in f32).
    LayerNorm: the same over `d = x - reduce_mean(x)`, plus an optional
    bias add.
  }];
  let dependentDialects = ["::llmc::LLMCDialect"];
}

def FuseRope : Pass<"llmc-fuse-rope", "::mlir::func::FuncOp"> {
  let summary = "Fuse rotary position embedding into llmc.rope (+ llmc.rope_cos_sin)";
  let description = [{
    `x * cos + rot(x) * sin` with `rot` = rotate_half (`half` convention) or
    rotate-every-two (`interleaved`) and full-width cos/sin tables that
    duplicate a half-width table in the same convention. When the angles are
    `position_ids * inv_freq` with a geometric `inv_freq`, the tables become
    one `llmc.rope_cos_sin` (shared by every rope after CSE).
  }];
  let dependentDialects = ["::llmc::LLMCDialect"];
}

def FuseAttention : Pass<"llmc-fuse-attention", "::mlir::func::FuncOp"> {
  let summary = "Fuse scaled dot-product attention with GQA, mask and KV cache into llmc.attention";
  let description = [{
    `softmax(scale * q @ k^T + mask) @ v` where k/v may be the concatenation
    of a past cache and the new tokens (the concatenations become the
    op's present_key/present_value), repeated for GQA (reshape/expand/reshape),
    with the scale on the scores, on q or on k, casts around the softmax, and
    masks added or applied with `where`. A causal term (key index <= query
    index + past length) becomes `causal = true`; the rest stays a boolean or
    additive mask operand.
  }];
  let dependentDialects = ["::llmc::LLMCDialect"];
}

def FuseMLP : Pass<"llmc-fuse-mlp", "::mlir::func::FuncOp"> {
  let summary = "Fuse SwiGLU and GELU activations into llmc.swiglu / llmc.gelu";
  let dependentDialects = ["::llmc::LLMCDialect"];
}

def MergeProjections : Pass<"llmc-merge-projections", "::mlir::func::FuncOp"> {
  let summary = "Merge matmuls that share their input into one llmc.merged_matmul";
  let description = [{
    Matmuls of the same activation by 2-D `llmc.weight`s (q/k/v, gate/up)
    become one `llmc.merged_matmul` of the activation by those weights (one
    product by their N-concatenation, one result per weight); `llmc.swiglu`
    of the two halves of an `llmc.split` takes the split operand directly.
  }];
  let dependentDialects = ["::llmc::LLMCDialect"];
}

def FoldHeadLayout : Pass<"llmc-fold-head-layout", "::mlir::func::FuncOp"> {
  let summary = "Fold the head split/merge reshapes and transposes and the mask plumbing into llmc.rope / llmc.attention";
  let description = [{
    `llmc.rope` of `transpose(reshape(x, [B, S, H, D]), [0, 2, 1, 3])`
    becomes the token-major `llmc.rope {num_heads = H}` of `x`; an
    `llmc.attention` whose q, k and v are such head splits takes the
    token-major operands and gives a token-major `out`; the head merge
    `reshape(transpose(split(y)))` of a head split disappears; an attention
    mask that is a cast of an integer mask to i1 and/or its reshape from
    [B, T] to [B, 1, 1, T] is replaced by the mask it was made from.
  }];
  let dependentDialects = ["::llmc::LLMCDialect"];
}

def LastPositionLogits : Pass<"llmc-last-position-logits", "::mlir::func::FuncOp"> {
  let summary = "Compute the lm_head only for the last sequence position";
  let description = [{
    For decode/last-token entry points: the final norm and lm_head matmul
    whose result the function returns ([B, S, V]) are applied to the last
    position of the hidden states only; the result becomes [B, 1, V]. The
    full-logits function (for eval/perplexity) is the one without this pass.
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "Only these functions (default: every function)">
  ];
  let dependentDialects = ["::llmc::LLMCDialect"];
}

#endif // LLMC_TRANSFORMS_PASSES_TD
