#!/usr/bin/python3
"""Export a Llama-family model written the way HuggingFace writes it, as a new user would.

The model below is not llmc's examples/export/llama_model.py: it follows the structure of HF
transformers' Llama/Mistral/Qwen2 modeling code of the 4.3x era (cached cos/sin buffers sliced
by the total length and indexed by position_ids, q/k/v biases as in Qwen2, masks built with
torch.full + triu + masked_fill, repeat_kv with expand + reshape, softmax in fp32, tied
embeddings), and it is exported with plain torch.onnx.export and default settings (opset 14
default of torch 1.13, or --opset) plus dynamic axes in the HF/Optimum naming.  No export
helper from llmc is used; the point is to see whether the importer copes without changes.

    /usr/bin/python3 export_hf_style.py OUT.onnx [--opset N] [--also-opsets 13,17] [--also-unfolded]
                                             [--reference REF.json] [--layers L] [--o-proj-bias]
                                             [--rotary-dim R]

--also-opsets also writes OUT.opsetN.onnx for each N (one torch session, faster than several runs),
--also-unfolded OUT.unfolded.onnx exported with do_constant_folding=False.
--reference REF.json writes PyTorch outputs in the format of examples/export's *.ref.json (prefill,
greedy steps through the KV cache, chunked prefill, left-padded batch) for run_llmc_ir.py.
"""

import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    vocab_size = 96
    hidden_size = 48
    intermediate_size = 80
    num_hidden_layers = 2
    num_attention_heads = 6
    num_key_value_heads = 2
    max_position_embeddings = 128
    rms_norm_eps = 1e-6
    rope_theta = 1000000.0
    attention_bias = True
    o_proj_bias = False
    rotary_dim = 0  # 0: the whole head
    sliding_window = 0  # 0: none
    rope_scaling = None  # or "linear", "llama3", "yarn" (rope_parameters)
    rope_style = "cached"  # or "dynamic"
    gemma = False  # (1 + w) norms, sqrt(hidden)-scaled embeddings, GeGLU
    # Gemma-2 (with gemma): post-attention and pre/post-feedforward norms, scores scaled by
    # query_pre_attn_scalar^-0.5 and soft-capped, final logits soft-capped, the sliding window
    # (sliding_window) on even layers only.
    gemma2 = False
    qk_norm = False  # Qwen3/OLMo-2/Gemma-3: RMSNorm over each head's q and k (before RoPE)
    local_rope_theta = 0.0  # Gemma-3: the sliding-window (even) layers' own RoPE base; 0: rope_theta
    query_pre_attn_scalar = 24.0
    attn_logit_softcapping = 0.0  # 0: none
    final_logit_softcapping = 0.0


class RMSNorm(nn.Module):
    def __init__(self, hidden_size, eps, gemma=False):
        super().__init__()
        # Gemma stores w and scales by (1 + w).
        self.weight = nn.Parameter(torch.randn(hidden_size) * 0.1 if gemma else torch.ones(hidden_size))
        self.variance_epsilon = eps
        self.offset = 1.0 if gemma else 0.0

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        if self.offset:
            return (hidden_states * (self.offset + self.weight.float())).to(input_dtype)
        return self.weight * hidden_states.to(input_dtype)


def rope_parameters(dim, base, scaling):
    """inv_freq and the tables' attention factor of the RoPE variants HF's configs name
    (rope_scaling.rope_type), with small-model settings that make every variant differ from
    plain geometric frequencies at this head size."""
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    if scaling == "linear":  # position interpolation: positions divided by the factor
        return inv_freq / 4.0, 1.0
    if scaling == "llama3":  # Llama 3.1: long wavelengths divided by the factor, a smooth band between
        factor, low_freq_factor, high_freq_factor, original = 8.0, 1.0, 4.0, 512
        low_freq_wavelen, high_freq_wavelen = original / low_freq_factor, original / high_freq_factor
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth = (original / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
        return torch.where(medium, smoothed, scaled), 1.0
    if scaling == "yarn":  # YaRN: interpolated and extrapolated frequencies blended by a ramp
        factor, original, beta_fast, beta_slow = 4.0, 32, 32, 1

        def correction_dim(rotations):
            return (dim * math.log(original / (rotations * 2 * math.pi))) / (2 * math.log(base))

        low = max(math.floor(correction_dim(beta_fast)), 0)
        high = min(math.ceil(correction_dim(beta_slow)), dim - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low)).clamp(0, 1)
        extrapolation = 1 - ramp
        pos_freqs = base ** (torch.arange(0, dim, 2).float() / dim)
        inv_freq = (1.0 / (factor * pos_freqs)) * (1 - extrapolation) + (1.0 / pos_freqs) * extrapolation
        return inv_freq, 0.1 * math.log(factor) + 1.0
    return inv_freq, 1.0


class RotaryEmbedding(nn.Module):
    """transformers <= 4.37: cos/sin caches of max_position_embeddings rows, sliced by the total
    length and indexed by position_ids."""

    def __init__(self, dim, max_position_embeddings, base, scaling=None):
        super().__init__()
        inv_freq, attention_factor = rope_parameters(dim, base, scaling)
        t = torch.arange(max_position_embeddings, dtype=torch.float32)
        freqs = torch.outer(t, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos() * attention_factor, persistent=False)
        self.register_buffer("sin_cached", emb.sin() * attention_factor, persistent=False)

    def forward(self, x, seq_len, position_ids):
        cos = self.cos_cached[:seq_len].to(dtype=x.dtype)
        sin = self.sin_cached[:seq_len].to(dtype=x.dtype)
        return cos[position_ids], sin[position_ids]


class DynamicRotaryEmbedding(nn.Module):
    """transformers >= 4.38: the angles computed per call as inv_freq @ position_ids, the tables
    scaled by the attention factor."""

    def __init__(self, dim, base, scaling=None):
        super().__init__()
        inv_freq, self.attention_scaling = rope_parameters(dim, base, scaling)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x, seq_len, position_ids):
        inv_freq_expanded = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        position_ids_expanded = position_ids[:, None, :].float()
        freqs = (inv_freq_expanded @ position_ids_expanded).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos = cos.unsqueeze(1)
    sin = sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


class Attention(nn.Module):
    def __init__(self, config, layer_idx=0):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // self.num_heads
        self.num_key_value_heads = config.num_key_value_heads
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads
        b = config.attention_bias
        self.q_proj = nn.Linear(config.hidden_size, self.num_heads * self.head_dim, bias=b)
        self.k_proj = nn.Linear(config.hidden_size, self.num_key_value_heads * self.head_dim, bias=b)
        self.v_proj = nn.Linear(config.hidden_size, self.num_key_value_heads * self.head_dim, bias=b)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, config.hidden_size,
                                bias=config.o_proj_bias)
        self.scaling = (config.query_pre_attn_scalar ** -0.5 if config.gemma2
                        else 1.0 / math.sqrt(self.head_dim))
        self.softcap = config.attn_logit_softcapping
        if config.qk_norm:
            self.q_norm = RMSNorm(self.head_dim, config.rms_norm_eps, config.gemma)
            self.k_norm = RMSNorm(self.head_dim, config.rms_norm_eps, config.gemma)
            with torch.no_grad():  # not ones: the norms' weights must matter
                self.q_norm.weight.copy_(1.0 + 0.5 * torch.randn(self.head_dim))
                self.k_norm.weight.copy_(1.0 + 0.5 * torch.randn(self.head_dim))
        self.qk_norm = config.qk_norm
        # Partial rotary (Phi, GPT-NeoX): only the first rotary_dim dims of each head rotate.
        self.rotary_dim = config.rotary_dim or self.head_dim
        theta = (config.local_rope_theta if config.local_rope_theta and layer_idx % 2 == 0
                 else config.rope_theta)
        if config.rope_style == "dynamic":
            self.rotary_emb = DynamicRotaryEmbedding(self.rotary_dim, theta, config.rope_scaling)
        else:
            self.rotary_emb = RotaryEmbedding(self.rotary_dim, config.max_position_embeddings,
                                              theta, config.rope_scaling)

    def forward(self, hidden_states, attention_mask, position_ids, past_key_value):
        bsz, q_len, _ = hidden_states.size()
        query_states = self.q_proj(hidden_states).view(bsz, q_len, self.num_heads, self.head_dim)
        key_states = self.k_proj(hidden_states).view(bsz, q_len, self.num_key_value_heads, self.head_dim)
        if self.qk_norm:  # Qwen3: each head's q and k normalized over head_dim, before RoPE
            query_states = self.q_norm(query_states)
            key_states = self.k_norm(key_states)
        query_states = query_states.transpose(1, 2)
        key_states = key_states.transpose(1, 2)
        value_states = self.v_proj(hidden_states).view(bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        kv_seq_len = key_states.shape[-2] + past_key_value[0].shape[-2]
        cos, sin = self.rotary_emb(value_states, kv_seq_len, position_ids)
        if self.rotary_dim < self.head_dim:
            r = self.rotary_dim
            q_rot, q_pass = query_states[..., :r], query_states[..., r:]
            k_rot, k_pass = key_states[..., :r], key_states[..., r:]
            q_rot, k_rot = apply_rotary_pos_emb(q_rot, k_rot, cos, sin)
            query_states = torch.cat((q_rot, q_pass), dim=-1)
            key_states = torch.cat((k_rot, k_pass), dim=-1)
        else:
            query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
        key_states = torch.cat([past_key_value[0], key_states], dim=2)
        value_states = torch.cat([past_key_value[1], value_states], dim=2)
        present = (key_states, value_states)
        key_states = repeat_kv(key_states, self.num_key_value_groups)
        value_states = repeat_kv(value_states, self.num_key_value_groups)
        if self.softcap:  # Gemma-2: scale, then cap before the mask
            attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) * self.scaling
            attn_weights = attn_weights / self.softcap
            attn_weights = torch.tanh(attn_weights)
            attn_weights = attn_weights * self.softcap
        else:
            attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) * self.scaling
        attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query_states.dtype)
        attn_output = torch.matmul(attn_weights, value_states)
        attn_output = attn_output.transpose(1, 2).contiguous().reshape(bsz, q_len, -1)
        return self.o_proj(attn_output), present


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)
        self.gelu = config.gemma  # Gemma's GeGLU: gelu_pytorch_tanh(gate) * up

    def forward(self, x):
        if self.gelu:
            return self.down_proj(F.gelu(self.gate_proj(x), approximate="tanh") * self.up_proj(x))
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config, layer_idx=0):
        super().__init__()
        self.self_attn = Attention(config, layer_idx)
        self.mlp = MLP(config)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, config.gemma)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, config.gemma)
        self.gemma2 = config.gemma2
        if self.gemma2:
            self.pre_feedforward_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, True)
            self.post_feedforward_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, True)

    def forward(self, hidden_states, attention_mask, position_ids, past_key_value):
        residual = hidden_states
        hidden_states, present = self.self_attn(self.input_layernorm(hidden_states), attention_mask,
                                                position_ids, past_key_value)
        if self.gemma2:  # sandwich norms: the sublayers' outputs are normalized too
            hidden_states = residual + self.post_attention_layernorm(hidden_states)
            residual = hidden_states
            mlp = self.mlp(self.pre_feedforward_layernorm(hidden_states))
            return residual + self.post_feedforward_layernorm(mlp), present
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = residual + self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states, present


def prepare_4d_causal_attention_mask(attention_mask, input_shape, dtype, past_key_values_length,
                                     sliding_window=0):
    bsz, tgt_len = input_shape
    mask = torch.full((tgt_len, tgt_len), torch.finfo(dtype).min)
    mask_cond = torch.arange(mask.size(-1))
    mask.masked_fill_(mask_cond < (mask_cond + 1).view(mask.size(-1), 1), 0)
    mask = mask.to(dtype)
    mask = torch.cat([torch.zeros(tgt_len, past_key_values_length, dtype=dtype), mask], dim=-1)
    if sliding_window:
        # Mistral's window: keys more than `sliding_window` positions before the query are hidden,
        # cached ones included (transformers 4.34 applied it to the new tokens' block only).
        query_pos = torch.arange(tgt_len) + past_key_values_length
        key_pos = torch.arange(tgt_len + past_key_values_length)
        mask = mask.masked_fill(key_pos[None, :] < query_pos[:, None] - sliding_window, torch.finfo(dtype).min)
    causal = mask[None, None, :, :].expand(bsz, 1, tgt_len, tgt_len + past_key_values_length)
    src_len = attention_mask.shape[-1]
    expanded = attention_mask[:, None, None, :].expand(bsz, 1, tgt_len, src_len).to(dtype)
    inverted = 1.0 - expanded
    padding = inverted.masked_fill(inverted.to(torch.bool), torch.finfo(dtype).min)
    return causal + padding


class ForCausalLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(config, i) for i in range(config.num_hidden_layers)])
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps, config.gemma)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.lm_head.weight = self.embed_tokens.weight
        self.sliding_window = config.sliding_window
        self.gemma = config.gemma
        self.gemma2 = config.gemma2
        self.final_softcap = config.final_logit_softcapping
        self.hidden_size = config.hidden_size

    def forward(self, input_ids, attention_mask, position_ids, *past):
        inputs_embeds = self.embed_tokens(input_ids)
        if self.gemma:  # Gemma scales the (tied) embeddings by sqrt(hidden)
            inputs_embeds = inputs_embeds * torch.tensor(self.hidden_size ** 0.5, dtype=inputs_embeds.dtype)
        past_len = past[0].shape[2]
        mask = prepare_4d_causal_attention_mask(attention_mask, input_ids.shape, inputs_embeds.dtype, past_len,
                                                self.sliding_window)
        # Gemma-2 alternates: even layers see the sliding window, odd layers every key.
        full_mask = (prepare_4d_causal_attention_mask(attention_mask, input_ids.shape, inputs_embeds.dtype,
                                                      past_len) if self.gemma2 else mask)
        hidden_states = inputs_embeds
        presents = []
        for i, layer in enumerate(self.layers):
            layer_mask = full_mask if i % 2 else mask
            hidden_states, present = layer(hidden_states, layer_mask, position_ids, (past[2 * i], past[2 * i + 1]))
            presents += list(present)
        logits = self.lm_head(self.norm(hidden_states))
        if self.final_softcap:
            logits = logits / self.final_softcap
            logits = torch.tanh(logits)
            logits = logits * self.final_softcap
        return (logits.float(), *presents)


def trace_inputs(cfg):
    """Inputs to trace the export with: a batch of 2, 3 new tokens after 4 cached ones."""
    hd = cfg.hidden_size // cfg.num_attention_heads
    b, s, p = 2, 3, 4
    past = []
    for _ in range(cfg.num_hidden_layers):
        past += [torch.randn(b, cfg.num_key_value_heads, p, hd), torch.randn(b, cfg.num_key_value_heads, p, hd)]
    return (torch.randint(0, cfg.vocab_size, (b, s)), torch.ones(b, p + s, dtype=torch.int64),
            torch.arange(p, p + s).unsqueeze(0).expand(b, s), *past)


def decoder_io(num_layers):
    """Input and output names and dynamic axes of a decoder with past, as HF/Optimum name them."""
    in_names = ["input_ids", "attention_mask", "position_ids"]
    out_names = ["logits"]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
            "position_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    for i in range(num_layers):
        for kv in ("key", "value"):
            in_names.append(f"past_key_values.{i}.{kv}")
            out_names.append(f"present.{i}.{kv}")
            axes[in_names[-1]] = {0: "batch_size", 2: "past_sequence_length"}
            axes[out_names[-1]] = {0: "batch_size", 2: "total_sequence_length"}
    return in_names, out_names, axes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--opset", type=int, default=None)
    ap.add_argument("--also-opsets", default="")
    ap.add_argument("--reference")
    ap.add_argument("--also-unfolded", action="store_true",
                    help="also write OUT.unfolded.onnx with do_constant_folding=False (weight "
                         "transposes etc. stay in the graph)")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--rotary-dim", type=int, default=0,
                    help="rotate only the first R dims of each head (Phi/GPT-NeoX partial rotary)")
    ap.add_argument("--fp16", action="store_true",
                    help="write fp16 graphs (weights, constants, casts, inputs and outputs); the "
                         "reference is the model with its weights rounded to fp16, computed in fp32")
    ap.add_argument("--rope-scaling", choices=["linear", "llama3", "yarn"], default=None,
                    help="scaled RoPE frequencies (and YaRN's attention factor)")
    ap.add_argument("--rope-style", choices=["cached", "dynamic"], default="cached",
                    help="cos/sin caches indexed by position_ids (transformers <= 4.37) or angles "
                         "computed per call from inv_freq (>= 4.38)")
    ap.add_argument("--gemma", action="store_true",
                    help="Gemma's differences: (1 + w) RMSNorm weights, embeddings scaled by "
                         "sqrt(hidden), GeGLU (tanh GELU) MLP")
    ap.add_argument("--gemma2", default=None, metavar="ATTN_CAP,FINAL_CAP",
                    help="Gemma-2 (implies --gemma): sandwich norms, query_pre_attn_scalar scaling, "
                         "attention scores and final logits soft-capped at these caps (0: none), "
                         "--sliding-window on even layers only")
    ap.add_argument("--local-rope-theta", type=float, default=0.0,
                    help="Gemma-3: a RoPE base of its own for the even (sliding-window) layers")
    ap.add_argument("--qk-norm", action="store_true",
                    help="RMSNorm over each head's q and k before RoPE (Qwen3, OLMo-2, Gemma-3)")
    ap.add_argument("--sliding-window", type=int, default=0,
                    help="hide keys more than W positions before the query (Mistral's mask)")
    ap.add_argument("--o-proj-bias", action="store_true",
                    help="give o_proj a bias too (as GPT-2/Phi-style dense layers have)")
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = Config()
    cfg.num_hidden_layers = args.layers
    cfg.o_proj_bias = args.o_proj_bias
    cfg.rotary_dim = args.rotary_dim
    cfg.sliding_window = args.sliding_window
    cfg.rope_scaling = args.rope_scaling
    cfg.rope_style = args.rope_style
    cfg.qk_norm = args.qk_norm
    cfg.local_rope_theta = args.local_rope_theta
    cfg.gemma = args.gemma or args.gemma2 is not None
    if args.gemma2 is not None:
        cfg.gemma2 = True
        cfg.attn_logit_softcapping, cfg.final_logit_softcapping = (float(c) for c in args.gemma2.split(","))
    model = ForCausalLM(cfg).eval()
    inputs = trace_inputs(cfg)
    in_names, out_names, axes = decoder_io(cfg.num_hidden_layers)
    targets = [(args.out, args.opset, True)]
    stem = args.out[:-5] if args.out.endswith(".onnx") else args.out
    targets += [(f"{stem}.opset{int(o)}.onnx", int(o), True) for o in args.also_opsets.split(",") if o]
    if args.also_unfolded:
        targets.append((f"{stem}.unfolded.onnx", args.opset, False))
    if args.fp16:
        # The reference is the model with fp16 weights computed in fp32.
        with torch.no_grad():
            for t in list(model.parameters()) + list(model.buffers()):
                if t.is_floating_point():
                    t.copy_(t.half().float())
    if args.reference:
        reference(model, cfg, args.reference)
    for path, opset, fold in targets:
        kwargs = {} if opset is None else {"opset_version": opset}
        kwargs["do_constant_folding"] = fold
        with torch.no_grad():
            torch.onnx.export(model, inputs, path, input_names=in_names, output_names=out_names,
                              dynamic_axes=axes, **kwargs)
        if args.fp16:
            convert_to_fp16(path)


def convert_to_fp16(path):
    """Rewrites an exported graph to fp16 throughout, as fp16 exports are (Optimum's --fp16,
    onnxconverter-common): float initializers and constants stored as fp16, casts to float cast to
    fp16, float inputs and outputs (logits, the KV cache) fp16. PyTorch 1.13 cannot trace fp16 on
    the CPU, so the model is exported in fp32 and converted."""
    import numpy as np
    import onnx
    from onnx import TensorProto, numpy_helper

    m = onnx.load(path)
    g = m.graph

    def to_half(t):
        if t.data_type == TensorProto.FLOAT:
            with np.errstate(over="ignore"):  # finfo(fp32).min becomes -inf, as in fp16 models
                t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))

    for t in g.initializer:
        to_half(t)
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                to_half(a.t)
            if n.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.save(m, path)


def reference(model, cfg, path):
    """PyTorch outputs for the cases run_llmc_ir.py replays."""
    import json
    hd = cfg.hidden_size // cfg.num_attention_heads

    def call(ids, mask, pos, past):
        b = len(ids)
        if past is None:
            past = [torch.zeros(b, cfg.num_key_value_heads, 0, hd) for _ in range(2 * cfg.num_hidden_layers)]
        out = model(torch.tensor(ids), torch.tensor(mask), torch.tensor(pos), *past)
        return out[0], list(out[1:])

    g = torch.Generator().manual_seed(1)
    prompt = [1] + torch.randint(3, cfg.vocab_size, (11,), generator=g).tolist()
    n = len(prompt)
    ref = {"prompt_ids": prompt}
    with torch.no_grad():
        logits, _ = call([prompt], [[1] * n], [list(range(n))], None)
        ref["prefill_logits"] = {"values": logits[0].tolist()}
        ids, past, steps = list(prompt), None, {"step_past_lengths": [], "step_input_lengths": [],
                                                  "step_logits": [], "generated_ids": []}
        for _ in range(4):
            p = 0 if past is None else past[0].shape[2]
            s = len(ids) - p
            logits, past = call([ids[p:]], [[1] * (p + s)], [list(range(p, p + s))], past)
            last = logits[0, -1]
            steps["step_past_lengths"].append(p)
            steps["step_input_lengths"].append(s)
            steps["step_logits"].append(last.tolist())
            steps["generated_ids"].append(int(last.argmax()))
            ids.append(int(last.argmax()))
        ref["greedy"] = steps
        k = 7
        _, past = call([prompt[:k]], [[1] * k], [list(range(k))], None)
        logits, _ = call([prompt[k:]], [[1] * n], [list(range(k, n))], past)
        ref["chunked_prefill"] = {"split": k, "last_logits": logits[0, -1].tolist()}
        pad = 4
        batch = {"input_ids": [prompt, [0] * pad + prompt[:n - pad]],
                 "attention_mask": [[1] * n, [0] * pad + [1] * (n - pad)],
                 "position_ids": [list(range(n)), [0] * pad + list(range(n - pad))]}
        logits, _ = call(batch["input_ids"], batch["attention_mask"], batch["position_ids"], None)
        batch["last_logits"] = logits[:, -1].tolist()
        ref["padded_batch"] = batch
    with open(path, "w") as f:
        json.dump(ref, f)


if __name__ == "__main__":
    main()
