#!/usr/bin/python3
"""How close to fp32 perplexity can END-TO-END fine-tuning get a weight-quantized stories260K?

Research experiment (PyTorch, CPU), not part of the compiler.  Post-training methods in llmc (RTN, GPTQ,
AWQ, QuIP) reach at best +5.7% perplexity at int4 g32 (docs/QUANTIZATION.md); the question here is
whether training through the whole network can reach +2% on HELD-OUT text, which decides whether an
end-to-end fine-tuning stage is worth building into the compiler.

What is simulated (llmc's weight format, lib/Kernels/Quantize.cpp):
  * every Linear (wq, wk, wv, wo, w1, w2, w3 of all 5 layers, and the lm_head) is stored as
    w ~= (u - z) * s, u integer in [0, 2^b - 1], one fp16 scale s (and for asym one integer zero point z)
    per group of --group (default 32) input columns (K = 172 of w2 ends with a partial group, of 12 at g32);
  * symmetric: z = 2^(b-1), s = fp16(max|w| / (z - 1)); asymmetric: s = fp16((max(hi,0) - min(lo,0)) /
    (2^b - 1)), z = clamp(round(-min(lo,0) / s)); u = clamp(round(w / s) + z);
  * the lm_head is untied: it gets its own quantized (and, in training, trainable) copy of the tied
    matrix; the token-embedding lookup stays the original fp32 table and is never trained;
  * activations stay fp32; final models are evaluated with their scales rounded to fp16.
  Bits per weight: int4 g32 sym 4.5, asym 4.75; int2 g32 sym 2.5, asym 2.75.
  --scale-dtype e4m4 (llmc's `:e4m4`, Kernels/Half.h): scale byte c is the fp16 number with bits c << 6
  (2^(e-15) (1 + m/16), subnormal for e = 0, at most 1.9375), relative to one fp32 power of two 2^E per
  matrix: E is the smallest with max_groups(RTN scale) <= 2^(E-1) * 1.9375 (llmc's chooseScaleExponent,
  one binade of headroom), fixed at initialisation; s = 2^E * e4m4(s / 2^E) (nearest, ties to even,
  saturating).  Every forward pass (all variants, training and evaluation) uses the rounded scales, with a
  straight-through gradient, so each evaluated model is one llmc can store.  Bits per weight: codes +
  8 / group (+ 8 / group asym) + 32 bits per matrix (nl4 g16 e4m4: 4.50).
  --schemes nl: llmc's nl4 / nl2 (codes index fixed non-uniform levels, w ~= level[u] * s, s = fp16(max|w| /
  127), u = the nearest level; QAT passes the gradient straight through the nearest-level rounding); 4.5 / 2.5.

Variants (per bits x sym configuration):
  rtn          round-to-nearest as above (no training): must equal llmc's `--quant=intB:g32:(a)sym`
               with `--activations=fp32` (6.6313 / 6.2175 for int4 sym / asym in docs/QUANTIZATION.md)
  scales       codes u (and z) frozen from RTN; only the per-group scales trained
  scales_norm  scales + all RMSNorm gains (attention_norm, ffn_norm, final norm) trained
  qat          full quantization-aware training: latent fp32 weights (initialised to the fp32 ones)
               with a straight-through estimator for round(), codes recomputed each step from the
               latent weights and the current scales (LSQ-style scale gradient through the STE), plus
               the scales and the norm gains; several weight learning rates, the one with the best
               calibration-validation perplexity is kept (the eval file never chooses anything).
Scales are parametrised as s = s_rtn * exp(t) (t trainable, starts at 0), so one Adam learning rate
means the same relative step for every layer.  Loss: knowledge distillation, the token-mean
KL(p_fp32 || p_quant) of the next-token distributions at all 256 positions of each training sequence.

Data (never the eval file for anything but the final report):
  * calibration text /work/shared/data/tinystories_calib.txt, tokenised like the protocol (no BOS);
    the LAST --val-chunks (default 32) chunks of 256 tokens form the validation slice (perplexity with
    the exact eval protocol), used for early stopping and for choosing the QAT learning rate;
  * training sequences: windows of 256 tokens starting at multiples of 128 inside the rest of the
    calibration text (disjoint from the validation slice), first token replaced by BOS (as the
    protocol does), batch 8; the fp32 teacher's log-probabilities are computed once and cached (fp16).
    --train-data sampled|both replaces / extends them with --n-sampled sequences of 256 tokens sampled
    (temperature 1, from BOS) from the fp32 model itself: data-free distillation data, disjoint from
    both the validation slice and the eval file (4,000 take ~5 min to sample and ~1 GiB cached);
  * held-out evaluation /work/shared/data/tinystories_eval.txt with the protocol of
    examples/export/perplexity_ref.py: whole file tokenised without BOS, chunks of ctx 256, first token
    of each chunk -> BOS, positions 128..255 scored.  fp32 must give 5.5690 (checked, printed).
The default learning rates were chosen from short sweeps scored on the validation slice only (the
eval file was skipped with --no-eval): scales-only lr 1e-3 / 3e-3 / 1e-2 (150 steps; 1e-2 best); QAT
int4 sym weight lr 1e-4 / 3e-4 / 1e-3 with scale lr 1e-3 (300 steps; 1e-4 best, 3e-4 close, 1e-3 worse)
and scale lr 3e-3 / 1e-2 with weight lr 1e-4 (both worse than 1e-3); QAT int2 asym weight lr 1e-4 / 3e-4 /
1e-3 (150 steps; 1e-3 best by far).  Any list option (--lr-scales, --lr-norm, --qat-lrs,
--qat-lr-scales) is a sweep: every combination is trained and the best on the validation slice is kept.

Run (about 40 min on one core of the (shared) build machine; `--quick` is a 4-minute smoke test;
`--no-eval` skips the held-out file, for sweeps):
    /usr/bin/python3 bench/quant/finetune_ceiling.py
    /usr/bin/python3 bench/quant/finetune_ceiling.py --bits 4 --schemes sym --variants rtn,qat \\
        --steps-qat 1500 --qat-lrs 1e-4            # one longer run (~30 min)
    /usr/bin/python3 bench/quant/finetune_ceiling.py --bits 4 --schemes nl --group 16 --scale-dtype e4m4 \\
        --variants qat --steps-qat 1500 --qat-lrs 1e-4 --keep last --threads 1   # nl4:g16:e4m4 (~30 min)
Options: --bits, --schemes, --group, --scale-dtype, --variants, --steps-scales/--steps-norm/--steps-qat
(default: per config, see DEFAULTS), --lr-scales, --lr-norm, --qat-lrs, --qat-lr-scales, --batch, --eval-every, --seed.
Prints progress (flushed) and a markdown table at the end; --json FILE also writes the rows.
Deterministic: fixed seeds, one thread (torch.set_num_threads(1)).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "examples", "export"))
from load_llama2c import DEFAULT_MODEL, DEFAULT_TOKENIZER, SHARED, Llama2cTokenizer, load_llama2c  # noqa: E402
from llama_model import rope_cos_sin  # noqa: E402

BOS = 1
FP32_EVAL_PPL = 5.5690  # reference value of the protocol (perplexity_ref.py, docs/QUANTIZATION.md)
CTX = 256
GROUP = 32
LINEARS = ("attention.wq", "attention.wk", "attention.wv", "attention.wo",
           "feed_forward.w1", "feed_forward.w2", "feed_forward.w3")

# Defaults per (bits, scheme), sized so the whole default run stays near 40 minutes on one core (~1 s per
# training step of 8 x 256 tokens, ~25 s per held-out evaluation).  The primary configuration (int4 sym)
# gets the largest share and two QAT learning rates; int2 needs ~10x larger weight steps (validation
# sweep: 1e-3 beat 3e-4 and 1e-4 at 150 steps).
#   (bits, scheme): (steps scales, steps scales_norm, steps qat per learning rate, QAT weight lrs)
DEFAULTS = {(4, "sym"): (100, 100, 250, (1e-4, 3e-4)), (4, "asym"): (60, 60, 200, (1e-4,)),
            (2, "sym"): (60, 60, 200, (1e-3,)), (2, "asym"): (60, 60, 200, (1e-3,))}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------------------------------
# quantization


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """round() in the forward pass, identity gradient (straight-through estimator)."""
    return (torch.round(x) - x).detach() + x


def expand_groups(t: torch.Tensor, K: int, group: int = GROUP) -> torch.Tensor:
    """[N, G] per-group values -> [N, K] per-column values (last group may be partial)."""
    return t.repeat_interleave(group, dim=1)[:, :K]


# nl4 / nl2 levels (llmc's kNL4Values / kNL2Values minus the bias 128, Kernels/WeightFormat.h)
NL_LEVELS = {4: [-123, -98, -79, -62, -47, -33, -19, -6, 6, 19, 33, 47, 62, 79, 98, 123],
             2: [-84, -25, 25, 84]}

# e4m4 group scales (llmc's Kernels/Half.h): byte c is the fp16 number with bits c << 6, i.e.
# 2^(e-15) (1 + m/16) for e >= 1 and 2^-14 m/16 for e = 0; relative to a per-matrix 2^E.
E4M4_MAX = 1.9375


def round_e4m4(v: torch.Tensor) -> torch.Tensor:
    """The e4m4 value nearest to v (llmc's e4m4ToFp32(fp32ToE4M4(v))): round to nearest, ties to even,
    on the grid of 4 mantissa bits (subnormal below 2^-14: multiples of 2^-18); v <= 0 gives 0, v at or
    above 1.9375 saturates there.  v / step is exact (a power of two), so one rounding, as in llmc."""
    _, ex = torch.frexp(v)  # v = m 2^ex, m in [0.5, 1)
    step = torch.exp2((torch.clamp(ex, min=-13) - 5).float())
    r = torch.round(v / step) * step
    r = torch.where(v >= E4M4_MAX, torch.full_like(v, E4M4_MAX), torch.clamp(r, max=E4M4_MAX))
    return torch.where(v > 0, r, torch.zeros_like(v))


def raw_group_scales(w: torch.Tensor, bits: int, sym: bool, levels: Optional[torch.Tensor] = None,
                     group: int = GROUP):
    """Round-to-nearest group scales before any dtype rounding ([N, G], llmc's rawGroupScale) and, for
    asym, the groups' (lo, hi) ranges."""
    N, K = w.shape
    G = (K + group - 1) // group
    wp = F.pad(w, (0, G * group - K)).view(N, G, group)  # zero padding changes neither max|w| nor lo/hi
    if levels is not None:
        return wp.abs().amax(-1) / 127.0, None
    if sym:
        return wp.abs().amax(-1) / float(max((1 << (bits - 1)) - 1, 1)), None
    lo = wp.amin(-1).clamp(max=0.0)
    hi = wp.amax(-1).clamp(min=0.0)
    return (hi - lo) / float((1 << bits) - 1), lo


def choose_scale_exponent(raw: torch.Tensor) -> int:
    """llmc's chooseScaleExponent: the smallest E with max(raw) <= 2^(E-1) * 1.9375 (one binade of
    headroom above the largest round-to-nearest scale, for scales that grow in training)."""
    smax = float(raw.max())
    if not (smax > 0) or not math.isfinite(smax):
        return 0
    return max(-126, min(126, int(math.ceil(math.log2(smax / E4M4_MAX))) + 1))


def round_scales(s: torch.Tensor, scale_dtype: str, exp: int = 0) -> torch.Tensor:
    """Group scales rounded to their storage dtype: f16, or 2^exp times an e4m4 value."""
    if scale_dtype == "e4m4":
        return round_e4m4(s * 2.0 ** -exp) * 2.0 ** exp
    return s.half().float()


class _ScaleSTE(torch.autograd.Function):
    """Forward: the scale rounded to 2^exp * e4m4 (exactly the grid value); backward: identity."""

    @staticmethod
    def forward(ctx, s: torch.Tensor, exp: int) -> torch.Tensor:  # type: ignore[override]
        return round_scales(s, "e4m4", exp)

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        return g, None


def nearest_level(r: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Index of the level nearest to r (ties to the lower one, as WeightFormat::encode)."""
    mid = (levels[1:] + levels[:-1]) / 2
    return torch.bucketize(r, mid, right=False)


def rtn_params(w: torch.Tensor, bits: int, sym: bool, levels: Optional[torch.Tensor] = None,
               group: int = GROUP, scale_dtype: str = "f16", exp: int = 0):
    """llmc's RTN (lib/Kernels/Quantize.cpp): dtype-rounded scale first (fp16, or 2^exp * e4m4), then
    codes with 1/s.  With levels (nl4 / nl2): s = max|w| / 127, u = the index of the nearest level, z = 0."""
    N, K = w.shape
    qmax = (1 << bits) - 1
    half = 1 << (bits - 1)
    raw, lo = raw_group_scales(w, bits, sym, levels, group)
    s = round_scales(raw, scale_dtype, exp)
    inv = torch.where(s > 0, 1.0 / torch.where(s > 0, s, torch.ones_like(s)), torch.zeros_like(s))
    if levels is not None:
        z = torch.zeros_like(s)
        u = nearest_level(w * expand_groups(inv, K, group), levels).float()
        return s, z, u
    if sym:
        z = torch.full_like(s, float(half))
    else:
        z = torch.where(s > 0, torch.round(-lo / torch.where(s > 0, s, torch.ones_like(s))),
                        torch.zeros_like(s)).clamp(0, qmax)
    u = (torch.round(w * expand_groups(inv, K, group)) + expand_groups(z, K, group)).clamp(0, qmax)
    return s, z, u


class QLinear(nn.Module):
    """A bias-free Linear whose weight is fake-quantized to b-bit groups (default 32) along the input dim.

    mode "fixed": W = (u - z) * s with the RTN codes u frozen (only s, via t, may train).
    mode "qat":   W = (clamp(round_ste(W_latent / s) + z, 0, qmax) - z) * s   (codes follow the latent).
    s = s_rtn * exp(t).  f16 scales: trained unrounded, export() freezes the codes and rounds the scales
    to fp16 (the stored model).  e4m4 scales: every forward pass rounds s to the matrix's grid
    2^E * e4m4 (E fixed here, from the RTN scales) with a straight-through gradient, so what trains and
    what is evaluated is always a storable model.
    """

    def __init__(self, w: torch.Tensor, bits: int, sym: bool, nl: bool = False, group: int = GROUP,
                 scale_dtype: str = "f16"):
        super().__init__()
        assert scale_dtype in ("f16", "e4m4"), scale_dtype
        self.N, self.K = w.shape
        self.bits, self.sym = bits, sym
        self.group, self.scale_dtype = group, scale_dtype
        self.qmax = float((1 << bits) - 1)
        # nl: codes index fixed levels (W = levels[u] * s); STE through the nearest-level rounding
        self.levels = torch.tensor(NL_LEVELS[bits], dtype=torch.float32) if nl else None
        # e4m4: the per-matrix tensor scale 2^E, chosen once before any group is rounded
        self.exp = choose_scale_exponent(raw_group_scales(w, bits, sym, self.levels, group)[0]) \
            if scale_dtype == "e4m4" else 0
        s, z, u = rtn_params(w, bits, sym, self.levels, group, scale_dtype, self.exp)
        self.register_buffer("s0", s)
        self.register_buffer("z", z)
        self.register_buffer("u", u)
        self.t = nn.Parameter(torch.zeros_like(s))
        self.weight = nn.Parameter(w.clone())  # latent weights (trained only in "qat")
        self.mode = "fixed"
        self.fp16_scales = False
        self._cache: Optional[torch.Tensor] = None

    def train_scale(self) -> torch.Tensor:
        """The scale the training forward uses: f16, unrounded; e4m4, rounded to its grid (STE)."""
        s = self.s0 * torch.exp(self.t)
        if self.scale_dtype == "e4m4":
            return _ScaleSTE.apply(s, self.exp)
        return s

    def scale(self) -> torch.Tensor:
        s = self.train_scale()
        return s.half().float() if self.fp16_scales and self.scale_dtype == "f16" else s

    def qweight(self) -> torch.Tensor:
        s = expand_groups(self.scale(), self.K, self.group)
        z = expand_groups(self.z, self.K, self.group)
        if self.levels is not None:
            if self.mode == "fixed":
                return self.levels[self.u.long()] * s
            # r clamped to the grid's extent (+-127: s = max|w| / 127 puts a group's largest weight
            # there), as the uniform path clamps its codes: a latent weight past it gets no gradient
            # (else it drifts while its output stays put) and gives the scale the outer level as
            # gradient (LSQ), not a growing q - r. Inside, weights past the outer level still move,
            # as they can inside a uniform grid's cell (clamping at the outer level froze them:
            # nl2's +-84 is two thirds of the extent).
            r = torch.clamp(self.weight / s.clamp(min=1e-12), -127.0, 127.0)
            q = self.levels[nearest_level(r, self.levels)]
            return ((q - r).detach() + r) * s
        if self.mode == "fixed":
            return (self.u - z) * s
        u = torch.clamp(round_ste(self.weight / s.clamp(min=1e-12)) + z, 0.0, self.qmax)
        return (u - z) * s

    @torch.no_grad()
    def export(self) -> None:
        """Freeze to the deployable form: integer codes (from the training-time scales) + fp16 scales
        (e4m4: the scales already are on their grid, in training too)."""
        if self.mode == "qat":
            s = expand_groups(self.train_scale(), self.K, self.group)
            if self.levels is not None:
                self.u.copy_(nearest_level(self.weight / s.clamp(min=1e-12), self.levels).float())
            else:
                self.u.copy_(torch.clamp(torch.round(self.weight / s.clamp(min=1e-12))
                                         + expand_groups(self.z, self.K, self.group), 0.0, self.qmax))
            self.mode = "fixed"
        self.fp16_scales = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self._cache if self._cache is not None else self.qweight()
        return F.linear(x, w)


def quantized_copy(fp32_model, bits: int, sym: bool, nl: bool = False, group: int = GROUP,
                   scale_dtype: str = "f16"):
    """Student: a deep copy with every Linear (and the untied lm_head) replaced by a QLinear."""
    m = copy.deepcopy(fp32_model)
    for layer in m.layers:
        for name in LINEARS:
            parent, attr = name.split(".")
            mod = getattr(getattr(layer, parent), attr)
            setattr(getattr(layer, parent), attr, QLinear(mod.weight.detach(), bits, sym, nl, group, scale_dtype))
    # untie: the lm_head gets its own copy; the embedding table stays fp32 and frozen
    m.output = QLinear(fp32_model.output.weight.detach().clone(), bits, sym, nl, group, scale_dtype)
    m.tok_embeddings.weight = nn.Parameter(fp32_model.tok_embeddings.weight.detach().clone(),
                                           requires_grad=False)
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def qlinears(m) -> List[QLinear]:
    return [mod for mod in m.modules() if isinstance(mod, QLinear)]


# ----------------------------------------------------------------------------------------------------
# fast forward (same math as llama_model.LlamaModel, checked below; block-causal attention skips most of
# the masked half of the score matrix, which dominates the CPU time of this tiny model)


class Runner:
    def __init__(self, cfg, seq: int, n_blocks: int = 4):
        self.cfg = cfg
        cos, sin = rope_cos_sin(torch.arange(seq).unsqueeze(0), cfg.head_dim, cfg.rope_theta,
                                cfg.rope_convention, torch.float32)
        self.cos, self.sin = cos, sin  # [1, 1, S, hd]
        self.mask = torch.full((seq, seq), float("-inf")).triu(1)
        self.seq = seq
        self.n_blocks = n_blocks

    @staticmethod
    def rms(x, w, eps):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def rope(self, x):
        x_even, x_odd = x[..., 0::2], x[..., 1::2]
        rot = torch.stack((-x_odd, x_even), dim=-1).flatten(-2)
        return x * self.cos + rot * self.sin

    def attention(self, q, k, v):
        """q, k, v [BH, S, hd] (q pre-scaled); causal attention computed in query blocks."""
        S = q.shape[1]
        nb = self.n_blocks if S % self.n_blocks == 0 else 1
        bs = S // nb
        outs = []
        for i in range(nb):
            a, b = i * bs, (i + 1) * bs
            sc = torch.baddbmm(self.mask[a:b, :b], q[:, a:b], k[:, :b].transpose(1, 2))
            outs.append(torch.bmm(torch.softmax(sc, dim=-1), v[:, :b]))
        return torch.cat(outs, dim=1) if nb > 1 else outs[0]

    def hidden(self, model, ids: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        B, S = ids.shape
        assert S == self.seq
        H, KV, hd = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        rep = H // KV
        h = F.embedding(ids, model.tok_embeddings.weight)
        for layer in model.layers:
            att = layer.attention
            x = self.rms(h, layer.attention_norm.weight, cfg.norm_eps)
            q = self.rope(att.wq(x).view(B, S, H, hd).transpose(1, 2)) * (1.0 / math.sqrt(hd))
            k = self.rope(att.wk(x).view(B, S, KV, hd).transpose(1, 2))
            v = att.wv(x).view(B, S, KV, hd).transpose(1, 2)
            k = k[:, :, None].expand(B, KV, rep, S, hd).reshape(B * H, S, hd)
            v = v[:, :, None].expand(B, KV, rep, S, hd).reshape(B * H, S, hd)
            o = self.attention(q.reshape(B * H, S, hd), k, v)
            o = o.view(B, H, S, hd).transpose(1, 2).reshape(B, S, H * hd)
            h = h + att.wo(o)
            x = self.rms(h, layer.ffn_norm.weight, cfg.norm_eps)
            ff = layer.feed_forward
            h = h + ff.w2(F.silu(ff.w1(x)) * ff.w3(x))
        return self.rms(h, model.norm.weight, cfg.norm_eps)

    def logits(self, model, ids: torch.Tensor, lo: int = 0, hi: Optional[int] = None) -> torch.Tensor:
        h = self.hidden(model, ids)
        return model.output(h[:, lo:hi])


@torch.no_grad()
def cache_qweights(model, on: bool) -> None:
    for q in qlinears(model):
        q._cache = q.qweight().detach() if on else None


@torch.no_grad()
def perplexity(runner: Runner, model, chunks: torch.Tensor, batch: int = 8) -> float:
    """The protocol of perplexity_ref.py on pre-cut chunks [n, 256] (first token already BOS)."""
    cache_qweights(model, True)
    first = CTX // 2
    nll, cnt = 0.0, 0
    for c0 in range(0, chunks.shape[0], batch):
        x = chunks[c0:c0 + batch]
        logp = torch.log_softmax(runner.logits(model, x, first - 1, CTX - 1).double(), dim=-1)
        tgt = x[:, first:CTX]
        nll += float(-logp.gather(-1, tgt.unsqueeze(-1)).sum())
        cnt += tgt.numel()
    cache_qweights(model, False)
    return math.exp(nll / cnt)


@torch.no_grad()
def sample_sequences(model, n: int, seq: int, seed: int, batch: int = 250) -> torch.Tensor:
    """n sequences of seq tokens sampled (temperature 1) from the fp32 model, each starting with BOS.

    A sampled BOS starts the next story, as in the TinyStories token stream.  Data-free distillation data:
    unlimited, and independent of both the calibration validation slice and the eval file.
    """
    gen = torch.Generator().manual_seed(seed + 12345)
    out = []
    for b0 in range(0, n, batch):
        bsz = min(batch, n - b0)
        x = torch.full((bsz, 1), BOS, dtype=torch.int64)
        past = model.empty_cache(bsz)
        toks = [x]
        for t in range(seq - 1):
            logits, past = model(x, None, torch.full((bsz, 1), t, dtype=torch.int64), past)
            x = torch.multinomial(torch.softmax(logits[:, -1].double(), -1), 1, generator=gen)
            toks.append(x)
        out.append(torch.cat(toks, 1))
    return torch.cat(out)


def named_linears(m):
    """((layer, name) or "output", module) for every block Linear and the lm_head, in a fixed order."""
    for i, layer in enumerate(m.layers):
        for n in LINEARS:
            parent, attr = n.split(".")
            yield (i, n), getattr(getattr(layer, parent), attr)
    yield "output", m.output


def load_protocol(n_calib: int):
    """The fp32 model, a Runner, the held-out chunks and the first n_calib calibration chunks."""
    teacher = load_llama2c(DEFAULT_MODEL)
    tok = Llama2cTokenizer(DEFAULT_TOKENIZER)
    runner = Runner(teacher.cfg, CTX)
    chunks = {}
    for name in ("eval", "calib"):
        with open(os.path.join(SHARED, f"data/tinystories_{name}.txt"), encoding="utf-8") as f:
            chunks[name] = make_chunks(tok.encode(f.read(), bos=False))
    return teacher, runner, chunks["eval"], chunks["calib"][:n_calib]


def make_chunks(tokens: List[int]) -> torch.Tensor:
    n = len(tokens) // CTX
    x = torch.tensor(tokens[:n * CTX], dtype=torch.int64).view(n, CTX).clone()
    x[:, 0] = BOS
    return x


# ----------------------------------------------------------------------------------------------------
# training


def set_trainable(model, variant: str, qat_lr_w: float, lr_scales: float, lr_norm: float):
    """Switch the student to `variant` and return the Adam parameter groups."""
    ql = qlinears(model)
    for q in ql:
        q.mode = "qat" if variant == "qat" else "fixed"
    groups = [{"params": [q.t for q in ql], "lr": lr_scales}]
    if variant in ("scales_norm", "qat"):
        norms = [l.attention_norm.weight for l in model.layers] + [l.ffn_norm.weight for l in model.layers]
        norms.append(model.norm.weight)
        groups.append({"params": norms, "lr": lr_norm})
    if variant == "qat":
        groups.append({"params": [q.weight for q in ql], "lr": qat_lr_w})
    for g in groups:
        for p in g["params"]:
            p.requires_grad_(True)
    return groups


def train(runner: Runner, student, teacher_logp: torch.Tensor, windows: torch.Tensor, val_chunks,
          groups, steps: int, batch: int, eval_every: int, seed: int, label: str, patience: int,
          keep: str = "best"):
    """Adam on the KD loss with cosine decay (to 10%). keep="best": returns the state with the best
    validation ppl; keep="last": the state after the last step (a fixed step count, for slices whose
    validation ppl is too flat to choose a step)."""
    opt = torch.optim.Adam(groups, betas=(0.9, 0.999))
    base = [g["lr"] for g in opt.param_groups]
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(windows.shape[0], generator=gen)
    pos = 0
    best_ppl = perplexity(runner, student, val_chunks)
    best_state, best_step = copy.deepcopy(student.state_dict()), 0
    history = [(0, best_ppl)]
    log(f"  {label}: step 0 val ppl {best_ppl:.4f}")
    bad = 0
    t0 = time.time()
    run_loss = None
    for step in range(1, steps + 1):
        frac = (step - 1) / max(1, steps)
        for g, lr in zip(opt.param_groups, base):
            g["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        if pos + batch > order.numel():
            order = torch.randperm(windows.shape[0], generator=gen)
            pos = 0
        idx = order[pos:pos + batch]
        pos += batch
        x = windows[idx]
        tl = teacher_logp[idx].float()
        sl = torch.log_softmax(runner.logits(student, x), dim=-1)
        loss = (tl.exp() * (tl - sl)).sum(-1).mean()  # KL(teacher || student), token mean
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run_loss = float(loss) if run_loss is None else 0.9 * run_loss + 0.1 * float(loss)
        if step % eval_every == 0 or step == steps:
            ppl = perplexity(runner, student, val_chunks)
            history.append((step, ppl))
            better = ppl < best_ppl
            if keep == "last" and step == steps:
                best_ppl, best_state, best_step = ppl, copy.deepcopy(student.state_dict()), step
            elif better:
                best_ppl, best_state, best_step = ppl, copy.deepcopy(student.state_dict()), step
                bad = 0
            else:
                bad += 1
            log(f"  {label}: step {step} KD loss {run_loss:.4f} val ppl {ppl:.4f}{' *' if better else ''} "
                f"({(time.time() - t0) / step:.2f} s/step)")
            if patience and bad >= patience:
                log(f"  {label}: early stop (no val improvement in {patience} evals)")
                break
    student.load_state_dict(best_state)
    return best_ppl, best_step, history


# ----------------------------------------------------------------------------------------------------


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    ap.add_argument("--calib", default=os.path.join(SHARED, "data/tinystories_calib.txt"))
    ap.add_argument("--eval", default=os.path.join(SHARED, "data/tinystories_eval.txt"))
    ap.add_argument("--bits", default="4,2", help="comma list of weight bit widths (4, 2, ...)")
    ap.add_argument("--schemes", default="sym,asym",
                    help="comma list of sym / asym / nl (llmc's nl4 / nl2 levels, symmetric)")
    ap.add_argument("--variants", default="rtn,scales,scales_norm,qat")
    ap.add_argument("--group", type=int, default=GROUP,
                    help="group size along K (16, 32, 64, ...; the last group of a row may be partial)")
    ap.add_argument("--scale-dtype", choices=("f16", "e4m4"), default="f16",
                    help="group-scale storage: f16 (rounded at export), or e4m4 relative to a power of two "
                         "per matrix (rounded in every forward pass, straight-through gradient)")
    ap.add_argument("--steps-scales", type=int, default=None, help="default: per config (DEFAULTS)")
    ap.add_argument("--steps-norm", type=int, default=None)
    ap.add_argument("--steps-qat", type=int, default=None)
    ap.add_argument("--lr-scales", default="1e-2",
                    help="Adam lr of t = log(s / s_rtn) (comma list: best on the validation slice is kept)")
    ap.add_argument("--lr-norm", default="1e-3", help="Adam lr of the RMSNorm gains (comma list)")
    ap.add_argument("--qat-lrs", default=None,
                    help="comma list of latent-weight Adam lrs (default: per config, see DEFAULTS)")
    ap.add_argument("--qat-lr-scales", default="1e-3", help="lr of t during QAT (comma list)")
    ap.add_argument("--train-data", choices=("calib", "sampled", "both"), default="calib",
                    help="training sequences: calibration text windows (default), sequences sampled from "
                         "the fp32 model (data-free distillation), or both")
    ap.add_argument("--n-sampled", type=int, default=4000, help="number of sampled training sequences")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--eval-every", type=int, default=50, help="validation interval (steps)")
    ap.add_argument("--keep", choices=("best", "last"), default="best",
                    help="the state scored on eval: best on the validation slice, or after the last step")
    ap.add_argument("--patience", type=int, default=0, help="early stop after N evals without gain (0: off)")
    ap.add_argument("--val-chunks", type=int, default=32, help="last N calib chunks of 256 = validation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="smoke test: few steps, int4 sym only")
    ap.add_argument("--no-eval", action="store_true",
                    help="skip the held-out eval file (for hyper-parameter sweeps on the validation slice)")
    ap.add_argument("--json", default=None, help="also write the result rows to this file")
    args = ap.parse_args(argv)
    if args.group < 1:
        ap.error("--group must be positive")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    T0 = time.time()
    bits_list = [int(b) for b in args.bits.split(",")]
    schemes = args.schemes.split(",")
    variants = args.variants.split(",")
    lr_scales = [float(x) for x in args.lr_scales.split(",")]
    lr_norms = [float(x) for x in args.lr_norm.split(",")]
    qat_lr_scales = [float(x) for x in args.qat_lr_scales.split(",")]
    args.lr_norm = lr_norms[0]
    if args.quick:
        bits_list, schemes = [4], ["sym"]
        args.steps_scales = args.steps_norm = args.steps_qat = 10
        args.eval_every = 5

    teacher = load_llama2c(args.model)
    for p in teacher.parameters():
        p.requires_grad_(False)
    tok = Llama2cTokenizer(args.tokenizer)
    runner = Runner(teacher.cfg, CTX)
    with open(args.eval, encoding="utf-8") as f:
        eval_chunks = make_chunks(tok.encode(f.read(), bos=False))
    with open(args.calib, encoding="utf-8") as f:
        calib_tokens = tok.encode(f.read(), bos=False)
    n_cal = len(calib_tokens) // CTX
    val_start = (n_cal - args.val_chunks) * CTX
    val_chunks = make_chunks(calib_tokens[val_start:n_cal * CTX])
    train_tokens = torch.tensor(calib_tokens[:val_start], dtype=torch.int64)
    starts = torch.arange(0, val_start - CTX + 1, CTX // 2)
    windows = torch.stack([train_tokens[s:s + CTX] for s in starts.tolist()])
    windows[:, 0] = BOS
    if args.train_data != "calib":
        t = time.time()
        sampled = sample_sequences(teacher, args.n_sampled, CTX, args.seed)
        windows = sampled if args.train_data == "sampled" else torch.cat([windows, sampled])
        log(f"sampled {args.n_sampled} sequences of {CTX} tokens from the fp32 model ({time.time() - t:.0f} s); "
            f"training on {args.train_data}: {windows.shape[0]} windows")
    log(f"eval: {eval_chunks.shape[0]} chunks; calib: {n_cal} chunks, validation = last {args.val_chunks} "
        f"({val_chunks.shape[0] * CTX // 2} scored tokens), training = {windows.shape[0]} windows of {CTX} "
        f"(stride {CTX // 2}) from the first {val_start} tokens")

    # sanity: the fast forward equals LlamaModel, and fp32 perplexity reproduces the reference
    with torch.no_grad():
        ref, _ = teacher(eval_chunks[:2])
        mine = runner.logits(teacher, eval_chunks[:2])
        dmax = float((ref - mine).abs().max())
    fp32_eval = perplexity(runner, teacher, eval_chunks)
    fp32_val = perplexity(runner, teacher, val_chunks)
    log(f"fast forward vs LlamaModel: max |dlogits| {dmax:.2e}")
    log(f"fp32 perplexity: eval {fp32_eval:.4f} (reference {FP32_EVAL_PPL}), calib-validation {fp32_val:.4f}")
    if dmax > 1e-3 or abs(fp32_eval - FP32_EVAL_PPL) > 1e-3:
        log("SANITY CHECK FAILED")
        return 1

    need_train = any(v != "rtn" for v in variants)
    teacher_logp = None
    if need_train:
        t = time.time()
        with torch.no_grad():
            teacher_logp = torch.empty(windows.shape[0], CTX, teacher.cfg.vocab_size, dtype=torch.float16)
            for i in range(0, windows.shape[0], 16):
                teacher_logp[i:i + 16] = torch.log_softmax(runner.logits(teacher, windows[i:i + 16]), -1).half()
        log(f"teacher log-probs cached ({time.time() - t:.0f} s)")

    n_mats = sum(1 for _ in named_linears(teacher))
    n_qweights = sum(mod.weight.numel() for _, mod in named_linears(teacher))
    rows: List[Dict] = [{"config": "fp32", "bpw": 32.0, "variant": "-", "steps": "", "lr": "",
                         "val": fp32_val, "eval": fp32_eval, "secs": 0.0}]
    for bits in bits_list:
        for scheme in schemes:
            nl = scheme == "nl"
            sym = scheme != "asym"
            grp, sdt = args.group, args.scale_dtype
            cfgname = (f"nl{bits}:g{grp}" if nl else f"int{bits}:g{grp}:{scheme}") + \
                (":e4m4" if sdt == "e4m4" else "")
            # codes + scale bits per group (+ 8 for an asym zero point); e4m4 adds one fp32 tensor scale
            # per matrix (the 36 quantized matrices' 2^E, spread over all their weights)
            bpw = bits + (8 if sdt == "e4m4" else 16) / grp + (0 if sym else 8 / grp)
            if sdt == "e4m4":
                bpw += 32 * n_mats / n_qweights
            st_s, st_n, st_q, cfg_lrs = DEFAULTS.get((bits, "sym" if nl else scheme), (100, 100, 300, (1e-4,)))
            qat_lrs = [float(x) for x in args.qat_lrs.split(",")] if args.qat_lrs else list(cfg_lrs)
            st_s = args.steps_scales if args.steps_scales is not None else st_s
            st_n = args.steps_norm if args.steps_norm is not None else st_n
            st_q = args.steps_qat if args.steps_qat is not None else st_q
            log(f"=== {cfgname} ({bpw:.2f} bits/weight)")

            def finish(student, variant, steps, lr, secs, extra=""):
                for q in qlinears(student):
                    q.export()
                for p in student.parameters():
                    p.requires_grad_(False)
                v = perplexity(runner, student, val_chunks)
                e = float("nan") if args.no_eval else perplexity(runner, student, eval_chunks)
                log(f"{cfgname} {variant}{extra}: calib-val ppl {v:.4f} ({(v / fp32_val - 1) * 100:+.2f}%), "
                    f"EVAL ppl {e:.4f} ({(e / fp32_eval - 1) * 100:+.2f}%)")
                rows.append({"config": cfgname, "bpw": bpw, "variant": variant + extra, "steps": steps,
                             "lr": lr, "val": v, "eval": e, "secs": round(secs)})

            if "rtn" in variants:
                finish(quantized_copy(teacher, bits, sym, nl, grp, sdt), "rtn", 0, "", 0.0)
            plan = {"scales": (st_s, [(0.0, s, args.lr_norm) for s in lr_scales]),
                    "scales_norm": (st_n, [(0.0, s, n) for s in lr_scales for n in lr_norms]),
                    "qat": (st_q, [(w, s, n) for w in qat_lrs for s in qat_lr_scales for n in lr_norms])}
            for variant in ("scales", "scales_norm", "qat"):
                if variant not in variants:
                    continue
                steps, candidates = plan[variant]
                best = None
                secs = 0.0
                for lr_w, lr_s, lr_n in candidates:
                    t = time.time()
                    desc = (f"w {lr_w:g}, " if variant == "qat" else "") + f"s {lr_s:g}" + \
                        (f", norm {lr_n:g}" if variant != "scales" else "")
                    student = quantized_copy(teacher, bits, sym, nl, grp, sdt)
                    groups = set_trainable(student, variant, lr_w, lr_s, lr_n)
                    vppl, best_step, _ = train(runner, student, teacher_logp, windows, val_chunks, groups, steps,
                                               args.batch, args.eval_every, args.seed,
                                               f"{cfgname} {variant} [{desc}]", args.patience, args.keep)
                    secs += time.time() - t
                    log(f"{cfgname} {variant} [{desc}]: best calib-val ppl {vppl:.4f} at step {best_step}")
                    if best is None or vppl < best[0]:
                        best = (vppl, desc, student, best_step)
                _, desc, student, best_step = best
                if len(candidates) > 1:
                    log(f"{cfgname} {variant}: [{desc}] chosen on the calibration validation slice "
                        f"(of {len(candidates)} settings)")
                    desc += f" (best of {len(candidates)})"
                finish(student, variant, f"{best_step}/{steps}", desc, secs)

    print()
    print(f"fp32: eval {fp32_eval:.4f}, calib-validation {fp32_val:.4f}; total {(time.time() - T0) / 60:.1f} min")
    print()
    print("| config | bits/w | variant | steps (best/run) | Adam lr | calib-val ppl | Δ val | EVAL ppl | Δ eval | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        dv = "" if r["config"] == "fp32" else f"{(r['val'] / fp32_val - 1) * 100:+.2f}%"
        de = "" if r["config"] == "fp32" else f"{(r['eval'] / fp32_eval - 1) * 100:+.2f}%"
        print(f"| {r['config']} | {r['bpw']:.2f} | {r['variant']} | {r['steps']} | {r['lr']} | {r['val']:.4f} | {dv} "
              f"| {r['eval']:.4f} | {de} | {r['secs']} |")
    sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"fp32_eval": fp32_eval, "fp32_val": fp32_val, "rows": rows, "argv": sys.argv[1:]}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
