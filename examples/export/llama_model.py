"""A small, self-contained Llama-family decoder in PyTorch (reference + ONNX export source).

This is the model that the llmc export scripts trace to ONNX and that produces the PyTorch reference
outputs the compiler is checked against.  It is deliberately plain: one file, no dependency on
`transformers`, and it follows the HuggingFace Llama computation order closely so that the exported ONNX
graph has the same shape of subgraphs (RMSNorm, RoPE, GQA attention with a KV cache, SwiGLU) that an
Optimum export of a real Llama would have.

Architecture (pre-norm decoder, no biases anywhere):

    h = embed(input_ids)
    for each layer:
        h = h + Wo · Attention(RoPE(Wq · rms(h)), RoPE(Wk · rms(h)), Wv · rms(h))
        h = h + W2 · (silu(W1 · rms(h)) * (W3 · rms(h)))          # SwiGLU
    logits = Wout · rms(h)                                          # Wout may be tied to embed

Tensor layouts (HF/Optimum convention):
    input_ids       [B, S]            int64
    attention_mask  [B, P+S]          int64, 1 = real token, 0 = padding (covers past and new tokens)
    position_ids    [B, S]            int64, RoPE positions of the new tokens
    past k / v      [B, n_kv, P, hd]  per layer, keys already rotated
    logits          [B, S, V]
    present k / v   [B, n_kv, P+S, hd]

Two RoPE conventions are supported.  Both rotate 2-D sub-vectors of each head by the angle
pos * theta^(-2i/hd) (i = 0 .. hd/2-1); they differ in *which* two elements form pair i:

  * "interleaved" (llama2.c run.c, GPT-J, Meta's original complex-number Llama code):
        pair i = (x[2i], x[2i+1])
  * "half" (HF Llama, GPT-NeoX): the head is split in two halves,
        pair i = (x[i], x[i + hd/2])

Both are written as   out = x * cos + rot(x) * sin   with cos/sin expanded to the full head size:
  interleaved: cos = [c0, c0, c1, c1, ...],  rot(x) = [-x1, x0, -x3, x2, ...]      (GPT-J rotate_every_two)
  half:        cos = [c0, c1, ..., c0, c1, ...], rot(x) = [-x[hd/2:], x[:hd/2]]      (HF rotate_half)
A checkpoint trained with one convention gives garbage with the other (it is a fixed permutation of
the q/k rows), so the convention is part of the model config and must be carried to the runtime.
"""

from __future__ import annotations

import dataclasses
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

KVCache = List[Tuple[torch.Tensor, torch.Tensor]]

ROPE_CONVENTIONS = ("interleaved", "half")


@dataclasses.dataclass
class LlamaConfig:
    dim: int = 64
    hidden_dim: int = 176
    n_layers: int = 2
    n_heads: int = 8
    n_kv_heads: int = 2
    vocab_size: int = 256
    max_seq_len: int = 512
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_convention: str = "interleaved"  # "interleaved" | "half"
    tie_embeddings: bool = False

    def __post_init__(self):
        if self.dim % self.n_heads:
            raise ValueError(f"dim {self.dim} not divisible by n_heads {self.n_heads}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads {self.n_heads} not a multiple of n_kv_heads {self.n_kv_heads}")
        if self.head_dim % 2:
            raise ValueError("head_dim must be even for RoPE")
        if self.rope_convention not in ROPE_CONVENTIONS:
            raise ValueError(f"rope_convention must be one of {ROPE_CONVENTIONS}")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["head_dim"] = self.head_dim
        return d


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Precision of the numerically sensitive parts (RMSNorm statistics, RoPE angles, masked softmax):
    fp32 for fp16/bf16 models (as HF does), otherwise the model's own dtype (fp32, or fp64 in checks)."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * w, statistics in at least fp32 whatever the model dtype (as HF)."""

    def __init__(self, dim: int, eps: float, device=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(compute_dtype(dtype))
        variance = x.pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.eps)
        return self.weight * x.to(dtype)


def rope_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float, convention: str,
                 dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables for the given positions, shape [B, 1, S, head_dim] (broadcast over heads).

    Like HF, the angles are computed on the fly from position_ids (outer product with inv_freq) in
    (at least) fp32, instead of slicing a precomputed table: this keeps left-padded batches and
    arbitrary positions exact.
    """
    acc = compute_dtype(dtype)
    # inv_freq[i] = theta^(-2i/hd), i = 0 .. hd/2-1
    i2 = torch.arange(0, head_dim, 2, dtype=acc, device=position_ids.device)  # 2i
    inv_freq = 1.0 / (theta ** (i2 / head_dim))
    # angles[b, s, i] = pos[b, s] * inv_freq[i]
    freqs = position_ids.to(acc).unsqueeze(-1) * inv_freq  # [B, S, hd/2]
    if convention == "half":
        emb = torch.cat((freqs, freqs), dim=-1)  # [f0 .. f_{n-1}, f0 .. f_{n-1}]
    else:
        emb = torch.stack((freqs, freqs), dim=-1).flatten(-2)  # [f0, f0, f1, f1, ...]
    cos = emb.cos().to(dtype).unsqueeze(1)
    sin = emb.sin().to(dtype).unsqueeze(1)
    return cos, sin


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """[x1, x2] -> [-x2, x1] on the two halves of the last dim (HF Llama)."""
    half = x.shape[-1] // 2
    x1 = x[..., :half]
    x2 = x[..., half:]
    return torch.cat((-x2, x1), dim=-1)


def rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...) on interleaved pairs (GPT-J)."""
    x_even = x[..., 0::2]
    x_odd = x[..., 1::2]
    return torch.stack((-x_odd, x_even), dim=-1).flatten(-2)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, convention: str) -> torch.Tensor:
    """Rotate each pair (a, b) by angle t: (a cos t - b sin t, a sin t + b cos t)."""
    rot = rotate_half(x) if convention == "half" else rotate_every_two(x)
    return x * cos + rot * sin


def permute_interleaved_to_half(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Reorder the rows of a q/k projection [n_heads*hd, in] from interleaved to half-split RoPE pairs.

    Within each head, output rows (0,1), (2,3), ... (pairs for the interleaved convention) move to
    (0, hd/2), (1, hd/2+1), ... (pairs for the half convention).  A model with weights permuted this way
    and rope_convention="half" computes exactly the same function (q.k is invariant under the same
    permutation of q and k).  This is the permutation HF's convert_llama_weights_to_hf applies to
    Meta's checkpoints.
    """
    out_dim, in_dim = w.shape
    hd = out_dim // n_heads
    return w.reshape(n_heads, hd // 2, 2, in_dim).transpose(1, 2).reshape(out_dim, in_dim)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """GQA: [B, n_kv, T, hd] -> [B, n_kv * n_rep, T, hd]; query head h uses kv head h // n_rep."""
    if n_rep == 1:
        return x
    b, n_kv, t, hd = x.shape
    return x[:, :, None, :, :].expand(b, n_kv, n_rep, t, hd).reshape(b, n_kv * n_rep, t, hd)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig, device=None):
        super().__init__()
        self.n_heads = cfg.n_heads
        self.n_kv_heads = cfg.n_kv_heads
        self.head_dim = cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False, device=device)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False, device=device)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False, device=device)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False, device=device)

    def forward(self, x, cos, sin, mask, past: Optional[Tuple[torch.Tensor, torch.Tensor]],
                convention: str):
        b, s, _ = x.shape
        q = self.wq(x).view(b, s, self.n_heads, self.head_dim).transpose(1, 2)      # [B, H, S, hd]
        k = self.wk(x).view(b, s, self.n_kv_heads, self.head_dim).transpose(1, 2)   # [B, KV, S, hd]
        v = self.wv(x).view(b, s, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q = apply_rope(q, cos, sin, convention)
        k = apply_rope(k, cos, sin, convention)
        if past is not None:
            # The cache holds rotated keys, so old keys never need re-rotation.
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        present = (k, v)
        n_rep = self.n_heads // self.n_kv_heads
        kk = repeat_kv(k, n_rep)
        vv = repeat_kv(v, n_rep)
        # softmax(q k^T / sqrt(hd) + mask) v ; the masked softmax runs in >= fp32 (as HF does for fp16).
        scores = torch.matmul(q, kk.transpose(2, 3)) / math.sqrt(self.head_dim)     # [B, H, S, P+S]
        scores = scores.to(compute_dtype(q.dtype)) + mask
        probs = torch.softmax(scores, dim=-1).to(q.dtype)
        out = torch.matmul(probs, vv)                                               # [B, H, S, hd]
        out = out.transpose(1, 2).reshape(b, s, self.n_heads * self.head_dim)
        return self.wo(out), present


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x); w1 = gate, w3 = up, w2 = down (llama2.c / Meta naming)."""

    def __init__(self, cfg: LlamaConfig, device=None):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False, device=device)
        self.w2 = nn.Linear(cfg.hidden_dim, cfg.dim, bias=False, device=device)
        self.w3 = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False, device=device)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg: LlamaConfig, device=None):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps, device)
        self.attention = Attention(cfg, device)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps, device)
        self.feed_forward = FeedForward(cfg, device)

    def forward(self, x, cos, sin, mask, past, convention):
        a, present = self.attention(self.attention_norm(x), cos, sin, mask, past, convention)
        h = x + a
        return h + self.feed_forward(self.ffn_norm(h)), present


def build_attention_mask(attention_mask: torch.Tensor, q_len: int, past_len) -> torch.Tensor:
    """Additive fp32 mask [B, 1, S, P+S]: 0 where query i may attend key j, finfo(fp32).min elsewhere.

    Query i sits at cache index P+i; it may see key j iff j <= P+i (causal) and attention_mask[b, j] != 0
    (padding).  As in HF's `_prepare_4d_causal_attention_mask`, a large finite negative is used rather
    than -inf, so a fully masked row (a padding query) softmaxes to a uniform row instead of NaN.
    The mask stays fp32 even for fp16 models because the score + mask addition is done in fp32.
    """
    total_len = attention_mask.shape[-1]
    dev = attention_mask.device
    q_idx = torch.arange(q_len, dtype=torch.int64, device=dev).unsqueeze(-1) + past_len   # [S, 1]
    k_idx = torch.arange(total_len, dtype=torch.int64, device=dev).unsqueeze(0)          # [1, P+S]
    causal = k_idx <= q_idx                                                  # [S, P+S]
    keep = causal[None, None, :, :] & (attention_mask[:, None, None, :] != 0)  # [B, 1, S, P+S]
    return torch.where(keep, 0.0, torch.finfo(torch.float32).min)  # fp32 (the default dtype)


class LlamaModel(nn.Module):
    """device="meta" builds the module tree without allocating weights (used for big exports)."""

    def __init__(self, cfg: LlamaConfig, device=None):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim, device=device)
        self.layers = nn.ModuleList([Block(cfg, device) for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps, device)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False, device=device)
        if cfg.tie_embeddings:
            self.output.weight = self.tok_embeddings.weight

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                position_ids: Optional[torch.Tensor] = None,
                past_key_values: Optional[KVCache] = None):
        cfg = self.cfg
        b, s = input_ids.shape
        past_len = past_key_values[0][0].shape[2] if past_key_values is not None else 0
        if attention_mask is None:
            attention_mask = torch.ones(b, past_len + s, dtype=torch.int64, device=input_ids.device)
        if position_ids is None:
            position_ids = (torch.arange(s, dtype=torch.int64, device=input_ids.device)
                            + past_len).unsqueeze(0).expand(b, s)

        h = self.tok_embeddings(input_ids)
        cos, sin = rope_cos_sin(position_ids, cfg.head_dim, cfg.rope_theta, cfg.rope_convention, h.dtype)
        mask = build_attention_mask(attention_mask, s, past_len)
        presents: KVCache = []
        for i, layer in enumerate(self.layers):
            past = past_key_values[i] if past_key_values is not None else None
            h, present = layer(h, cos, sin, mask, past, cfg.rope_convention)
            presents.append(present)
        logits = self.output(self.norm(h))
        return logits, presents

    def empty_cache(self, batch: int = 1, dtype: Optional[torch.dtype] = None) -> KVCache:
        """A zero-length KV cache ([B, n_kv, 0, hd] per layer), for the first (prefill) call.

        The cache dtype is the activation dtype: the weight dtype, unless the model says otherwise
        (export_onnx's fp16-stored reference model computes in fp32 and sets `cache_dtype`).
        """
        dtype = dtype or getattr(self, "cache_dtype", None) or self.tok_embeddings.weight.dtype
        shape = (batch, self.cfg.n_kv_heads, 0, self.cfg.head_dim)
        return [(torch.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=dtype))
                for _ in range(self.cfg.n_layers)]


@torch.no_grad()
def greedy_generate(model: LlamaModel, prompt_ids: List[int], n_new: int,
                    stop_ids: Tuple[int, ...] = ()) -> Tuple[List[int], List[torch.Tensor]]:
    """Greedy decoding with the KV cache: one prefill call, then one call per new token.

    Returns (all ids = prompt + generated, per-step logits [V] of the last position of each call).
    Stops early when a token in stop_ids is produced (llama2.c stops on BOS, id 1).
    """
    ids = list(prompt_ids)
    x = torch.tensor([ids], dtype=torch.int64)
    past = model.empty_cache(1)
    step_logits = []
    for _ in range(n_new):
        p = past[0][0].shape[2]
        s = x.shape[1]
        mask = torch.ones(1, p + s, dtype=torch.int64)
        pos = torch.arange(p, p + s, dtype=torch.int64).unsqueeze(0)
        logits, past = model(x, mask, pos, past)
        last = logits[0, -1].float()
        step_logits.append(last)
        nxt = int(torch.argmax(last))
        if nxt in stop_ids:
            break
        ids.append(nxt)
        x = torch.tensor([[nxt]], dtype=torch.int64)
    return ids, step_logits


def init_random_(model: LlamaModel, seed: int) -> LlamaModel:
    """Fill a (small) model with the same seeded weights that export_onnx streams for big models."""
    from weightgen import generate_param  # local import: keeps this file free of export helpers
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(generate_param(name, tuple(p.shape), seed).to(p.dtype))
    return model
