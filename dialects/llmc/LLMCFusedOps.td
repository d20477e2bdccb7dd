//===- LLMCFusedOps.td - llmc fused transformer ops --------*- tablegen -*-===//
//
// Operations produced by the fusion and quantization passes. Included from
// LLMCOps.td.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_FUSED_OPS_TD
#define LLMC_FUSED_OPS_TD

def LLMC_RMSNormOp : LLMC_Op<"rms_norm",
    [AllTypesMatch<["x", "result"]>, AllElementTypesMatch<["x", "weight"]>]> {
  let summary = "RMS normalization over the last dimension";
  let description = [{
    `result = x / sqrt(mean(x^2, axis = -1) + epsilon) * weight`, where
    `weight` is 1-D with the size of the last dimension of `x`.
  }];
  let arguments = (ins LLMC_FloatTensor:$x, LLMC_FloatTensor:$weight,
                       F32Attr:$epsilon);
  let results = (outs LLMC_FloatTensor:$result);
  let assemblyFormat = [{
    $x `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_LayerNormOp : LLMC_Op<"layer_norm",
    [AllTypesMatch<["x", "result"]>, AllElementTypesMatch<["x", "weight"]>]> {
  let summary = "layer normalization over the trailing dimensions";
  let description = [{
    Normalizes over dims `[axis, rank)` (default: the last one):
    `result = (x - mean) / sqrt(var + epsilon) * weight + bias`. `weight`
    and the optional `bias` have the normalized shape `x.shape[axis:]`.
  }];
  let arguments = (ins LLMC_FloatTensor:$x, LLMC_FloatTensor:$weight,
                       Optional<LLMC_FloatTensor>:$bias, F32Attr:$epsilon,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs LLMC_FloatTensor:$result);
  let assemblyFormat = [{
    $x `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_RopeOp : LLMC_Op<"rope",
    [AllTypesMatch<["x", "result"]>, AllTypesMatch<["cos", "sin"]>,
     AllElementTypesMatch<["x", "cos"]>]> {
  let summary = "rotary position embedding";
  let description = [{
    Without `num_heads`, `x` is [B, H, S, D] (heads before sequence, as
    after the usual transpose). With `num_heads = H`, `x` is token-major
    [B, S, H * D] (the projection's own layout; head h is the slice
    [h * D, (h + 1) * D) of the last dim) and the result has that layout
    too. D is even. `cos`/`sin` are [B or 1, S, R/2] with R <= D the
    rotary dim; dims R..D of each head pass through unchanged (partial
    rotary). For each rotated pair (a, b) with angle index i:
    `a' = a * cos[i] - b * sin[i]`, `b' = b * cos[i] + a * sin[i]`.
    The `convention` chooses the pairs: `interleaved` pairs
    (x[2i], x[2i+1]) (GPT-J, Meta llama); `half` pairs (x[i], x[i + R/2])
    (GPT-NeoX, HF "rotate_half").

    ```mlir
    %r = llmc.rope half %x, %cos, %sin : (tensor<1x32x?x128xf32>,
        tensor<1x?x64xf32>, tensor<1x?x64xf32>) -> tensor<1x32x?x128xf32>
    %t = llmc.rope half %y, %cos, %sin {num_heads = 32 : i64} :
        (tensor<1x?x4096xf32>, tensor<1x?x64xf32>, tensor<1x?x64xf32>)
        -> tensor<1x?x4096xf32>
    ```
  }];
  let arguments = (ins LLMC_FloatTensor:$x, LLMC_FloatTensor:$cos,
                       LLMC_FloatTensor:$sin,
                       LLMC_RopeConventionAttr:$convention,
                       OptionalAttr<I64Attr>:$num_heads);
  let results = (outs LLMC_FloatTensor:$result);
  let assemblyFormat = [{
    `` $convention $x `,` $cos `,` $sin attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_RopeCosSinOp : LLMC_Op<"rope_cos_sin",
    [AllTypesMatch<["cos", "sin"]>]> {
  let summary = "cos/sin tables of rotary embedding for given positions";
  let description = [{
    For `position_ids` [B, S]: `cos[b, s, i] = factor * cos(p * f_i)` and
    likewise `sin`, for `i < dim/2`, `p = position_ids[b, s]`, with the
    frequencies `f_i = theta^(-2i/dim)` or, when `inv_freq` is given (dim/2
    values), `f_i = inv_freq[i]` (theta unread): the frequencies of scaled RoPE variants
    (linear position interpolation, NTK, Llama 3, YaRN, LongRoPE), which no
    single theta describes. `factor` is `attention_factor` (YaRN and
    LongRoPE scale both tables; 1 otherwise). Results are [B, S, dim/2],
    computed once per graph and shared by every `llmc.rope` of the same
    `convention`.

    LongRoPE's two sets (Phi-3 as ONNX Runtime GenAI exports it): with a
    `use_long` operand (a bool scalar, computed from shapes: the total
    sequence length past the original context), the tables of a call whose
    `use_long` is true use `long_inv_freq` and `long_attention_factor`
    instead. Both sets are explicit then: `use_long` needs `inv_freq` and
    `long_inv_freq`.
  }];
  let arguments = (ins LLMC_IndexTensor:$position_ids,
                       Optional<0DTensorOf<[I1]>>:$use_long, F64Attr:$theta,
                       I64Attr:$dim, LLMC_RopeConventionAttr:$convention,
                       OptionalAttr<DenseF32ArrayAttr>:$inv_freq,
                       DefaultValuedAttr<F64Attr, "1.0">:$attention_factor,
                       OptionalAttr<DenseF32ArrayAttr>:$long_inv_freq,
                       DefaultValuedAttr<F64Attr, "1.0">:$long_attention_factor);
  let results = (outs LLMC_FloatTensor:$cos, LLMC_FloatTensor:$sin);
  let assemblyFormat = [{
    `` $convention $position_ids (`long` `(` $use_long^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_AttentionOp : LLMC_Op<"attention",
    [AttrSizedOperandSegments,
     AllElementTypesMatch<["q", "k", "v", "out", "present_key",
                           "present_value"]>]> {
  let summary = "scaled dot-product attention with GQA and KV cache";
  let description = [{
    `q` [B, Hq, S, D]; `k`, `v` [B, Hkv, S, D] (the new tokens; `v` may have
    its own head dim Dv); optional `past_key`/`past_value` [B, Hkv, P, D]
    (both or neither). `present_key = concat(past_key, k, axis = 2)`
    [B, Hkv, P+S, D], likewise `present_value`. Query head h uses KV head
    `h / (Hq / Hkv)` (grouped-query attention, Hq % Hkv == 0):

      `out = softmax(scale * q @ present_key^T + mask) @ present_value`

    `out` is [B, Hq, S, Dv]. With `causal`, query i (at absolute position
    P + i) does not see keys after it.

    Token-major form: `q`, `k`, `v` and `out` may instead all be rank 3,
    [B, S, H * D] with the heads counted by `num_heads` (q, out) and
    `num_kv_heads` (k, v): the projections' own layout, head h being the
    slice [h * D, (h + 1) * D) of the last dim. The cache (`past_*`,
    `present_*`) is heads-first [B, Hkv, P, D] in both forms.

    The optional `mask` is [B or 1, 1 or Hq, 1 or S, P+S], or [B or 1, P+S]
    (a key padding mask: the same row for every head and query). It is
    additive (float, same type as q) or boolean: `i1` or an integer type,
    nonzero = attend (an integer `attention_mask` input is used as it is).

    With `softcap = c > 0` (Gemma-2's attention logit soft-capping) the
    scaled scores are capped before the mask and softmax:
    `softmax(c * tanh(scale * q @ present_key^T / c) + mask)`; 0 = none.
  }];
  let arguments = (ins LLMC_FloatTensor:$q, LLMC_FloatTensor:$k,
                       LLMC_FloatTensor:$v,
                       Optional<LLMC_FloatTensor>:$past_key,
                       Optional<LLMC_FloatTensor>:$past_value,
                       Optional<RankedTensorOf<[F16, BF16, F32, F64, I1, I8, I32, I64]>>:$mask,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads,
                       F32Attr:$scale,
                       DefaultValuedAttr<BoolAttr, "false">:$causal,
                       DefaultValuedAttr<F32Attr, "0.0f">:$softcap);
  let results = (outs LLMC_FloatTensor:$out, LLMC_FloatTensor:$present_key,
                      LLMC_FloatTensor:$present_value);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`past` `(` $past_key^ `,` $past_value `)`)?
    (`mask` `(` $mask^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_MergedMatMulOp : LLMC_Op<"merged_matmul"> {
  let summary = "one matmul of an activation by N-concatenated weights";
  let description = [{
    `x` [..., K] times 2-D weights `w_i` [K, N_i] (same K and element type
    as `x`): result i is `x @ w_i` [..., N_i]. It is one product by the
    concatenation [K, sum N_i] (merged q/k/v or gate/up projections): the
    weights stay separate operands (references, no bytes in the IR) and
    CodeGen packs them as one matrix whose output columns the results view.

    ```mlir
    %q, %k, %v = llmc.merged_matmul %x, %wq, %wk, %wv :
        (tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64x32xf32>,
         tensor<64x32xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xf32>,
         tensor<?x?x32xf32>)
    ```
  }];
  let arguments = (ins LLMC_FloatTensor:$x, Variadic<LLMC_FloatTensor>:$weights);
  let results = (outs Variadic<LLMC_FloatTensor>:$results);
  let assemblyFormat = [{
    $x `,` $weights attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_SwiGLUOp : LLMC_Op<"swiglu"> {
  let summary = "gated linear unit: silu(gate) * up (SwiGLU) or gelu(gate) * up (GeGLU)";
  let description = [{
    With two operands, `result = act(gate) * up` (same types), `act` silu,
    or gelu of the given approximation when `gelu` is set (Gemma's GeGLU).
    With one operand of last dim 2H, its first half is the gate and its
    second half the up projection (merged gate/up weights); the result has
    last dim H.
  }];
  let arguments = (ins LLMC_FloatTensor:$gate, Optional<LLMC_FloatTensor>:$up,
                       OptionalAttr<LLMC_GeluApproximationAttr>:$gelu);
  let results = (outs LLMC_FloatTensor:$result);
  let assemblyFormat = [{
    $gate (`,` $up^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_GeluOp : LLMC_Op<"gelu",
    [SameOperandsAndResultShape, SameOperandsAndResultElementType]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    `approximate = none`: `0.5 * x * (1 + erf(x / sqrt(2)))`;
    `approximate = tanh`:
    `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`.
  }];
  let arguments = (ins LLMC_FloatTensor:$x,
      DefaultValuedAttr<LLMC_GeluApproximationAttr,
                        "::llmc::GeluApproximation::none">:$approximate);
  let results = (outs LLMC_FloatTensor:$result);
  let assemblyFormat = [{
    $x (`approximate` `` $approximate^)? attr-dict `:` type($x) `->` type($result)
  }];
}

def LLMC_SoftcapOp : LLMC_Op<"softcap",
    [SameOperandsAndResultShape, SameOperandsAndResultElementType]> {
  let summary = "soft-capping: cap * tanh(x / cap)";
  let description = [{
    Squashes every element smoothly into (-cap, cap), `cap > 0`: Gemma-2
    caps its final logits this way (`final_logit_softcapping`). Fused from
    `mul(tanh(div(x, cap)), cap)` (or a multiply by 1 / cap).
  }];
  let arguments = (ins LLMC_FloatTensor:$x, F32Attr:$cap);
  let results = (outs LLMC_FloatTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
}

def LLMC_QMatMulOp : LLMC_Op<"qmatmul",
    [AllElementTypesMatch<["x", "result"]>]> {
  let summary = "matrix product with a quantized weight";
  let description = [{
    `result[..., n] = sum_k x[..., k] * dequant(w)[k, n] (+ bias[n])` for a
    `!llmc.qweight<KxN, ...>`; `x` is [..., K] (f32, f16 or bf16), the
    result [..., N] has the element type of `x`, `bias` is 1-D [N].
  }];
  let arguments = (ins RankedTensorOf<[F16, BF16, F32]>:$x, LLMC_QWeightType:$w,
                       Optional<RankedTensorOf<[F16, BF16, F32]>>:$bias);
  let results = (outs RankedTensorOf<[F16, BF16, F32]>:$result);
  let assemblyFormat = [{
    $x `,` $w (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_DequantizeOp : LLMC_Op<"dequantize"> {
  let summary = "the float matrix a quantized weight stands for";
  let description = [{
    `result[k, n] = dequant(w)[k, n]` for a `!llmc.qweight<KxN, ...>`: the
    [K, N] matrix `llmc.qmatmul` multiplies by, in the element type of the
    weight's scales. A weight expression (CodeGen evaluates it when it writes
    the bundle), not a run-time op: it is how a quantized table is read by
    something other than a matmul (a quantized embedding table that is also
    the lm_head's weight, ONNX Runtime's GatherBlockQuantized).
  }];
  let arguments = (ins LLMC_QWeightType:$w);
  let results = (outs RankedTensorOf<[F16, BF16, F32]>:$result);
  let assemblyFormat = "$w attr-dict `:` type($w) `->` type($result)";
  let hasVerifier = 1;
}

def LLMC_MoEOp : LLMC_Op<"moe", [AttrSizedOperandSegments]> {
  let summary = "mixture of experts: each token through its top-k experts, mixed by the router";
  let description = [{
    `x` [..., H] (T rows of H), `router` [..., E] (T rows of E logits, one
    per expert); `fc1` holds E weights [H, F1] and `fc2` E weights [I, H]
    (the matmul orientation, [K, N]); `fc1_bias` is empty or E vectors [F1],
    `fc2_bias` empty or E vectors [H]. For each row t:

      p = softmax(router[t]); S = the k experts of largest p (of equal p,
      the higher index first); w_e = p_e, or p_e / sum_{j in S} p_j with
      `normalize`;
      result[t] = sum_{e in S} w_e * (act(x[t] @ fc1_e + b1_e) @ fc2_e + b2_e)

    `act` is `activation` elementwise (F1 = I; `gelu_tanh` is GELU's tanh
    approximation, which ONNX Runtime's MoE computes for "gelu"), or for
    `swiglu` (F1 = 2I)
    gate g_i and linear l_i, the columns (2i, 2i + 1) with `interleaved`
    and (i, I + i) without:

      g = min(g, limit); l = clamp(l, -limit, limit);
      h_i = g * sigmoid(alpha * g) * (l + beta)

    (no clamp without `limit`; SwiGLU proper is alpha 1, beta 0; gpt-oss's
    is alpha 1.702, beta 1, limit 7).

    Gated experts (Mixtral's form): with `fc3` (E weights [H, I], optional
    `fc3_bias` [I]) and an elementwise `activation`, F1 = I and
    `h = act(x[t] @ fc1_e + b1_e) * (x[t] @ fc3_e + b3_e)`.

    This is ONNX Runtime's com.microsoft
    MoE with its experts' weights as separate operands (references to their
    slices of the stacked [E, N, K] initializers). The result has the type
    of `x`.
  }];
  let arguments = (ins LLMC_FloatTensor:$x, LLMC_FloatTensor:$router,
                       Variadic<LLMC_FloatTensor>:$fc1,
                       Variadic<LLMC_FloatTensor>:$fc2,
                       Variadic<LLMC_FloatTensor>:$fc1_bias,
                       Variadic<LLMC_FloatTensor>:$fc2_bias,
                       Variadic<LLMC_FloatTensor>:$fc3,
                       Variadic<LLMC_FloatTensor>:$fc3_bias,
                       I64Attr:$k,
                       DefaultValuedAttr<BoolAttr, "false">:$normalize,
                       LLMC_MoEActivationAttr:$activation,
                       DefaultValuedAttr<BoolAttr, "true">:$interleaved,
                       DefaultValuedAttr<F32Attr, "1.0f">:$alpha,
                       DefaultValuedAttr<F32Attr, "0.0f">:$beta,
                       OptionalAttr<F32Attr>:$limit);
  let results = (outs LLMC_FloatTensor:$result);
  let assemblyFormat = [{
    $x `,` $router `experts` `(` $fc1 `)` `(` $fc2 `)`
    (`fc1_bias` `(` $fc1_bias^ `)`)? (`fc2_bias` `(` $fc2_bias^ `)`)?
    (`fc3` `(` $fc3^ `)`)? (`fc3_bias` `(` $fc3_bias^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // LLMC_FUSED_OPS_TD
