#!/usr/bin/python3
"""Would trellis-coded quantization (QTIP-style) bring stories260K's 4- and 2-bit weights near fp32?

Research measurement (PyTorch, CPU), not part of the compiler; the model, held-out protocol and
quantized-copy helpers of finetune_ceiling.py. Scalar codes, uniform or with non-uniform levels, spend
a fixed k bits on every weight independently; a trellis code spends the same k bits per weight on a
*path*: the code of a tile of T weights is one bit string, each weight's reconstruction is a table entry
indexed by the L-bit window of that string ending at its k new bits (the "bitshift trellis" of QTIP,
Tseng et al. 2024). Viterbi finds the string that minimises the tile's squared error over all 2^L
states. Vector-quantisation theory puts scalar 4-bit codes of a Gaussian 3.9 dB (2-bit: 2.7 dB) above
the rate-distortion limit; a long trellis recovers most of it.

Pipeline per Linear W [N, K] (all 35 block Linears and the untied lm_head, as finetune_ceiling.py):
  1. incoherence: W' = U W V^T with random orthogonal U (N x N), V (K x K) (seeded; a stand-in for the
     randomized Hadamard transforms llmc uses), H' = V H V^T with H = X^T X from calibration chunks
     of tinystories_calib.txt (the fp32 model's inputs to the layer);
  2. scales: one per matrix (--group 0) or one fp16 scale per row and --group columns, from the RMS of
     the weights it covers, times a multiplier searched on a small grid; --no-rotate skips step 1;
  3. rounding, two ways: "rtn" (each tile on its own) or "ldlq" (block LDLQ: columns in blocks of 16,
     each block's error fed forward to the later columns through the Cholesky factor of H'^-1, as GPTQ);
  4. codes, two ways: "scalar" (the 2^k Lloyd-Max levels of a unit Gaussian, the best fixed-rate scalar
     code) or "trellis" (L-bit bitshift trellis, k bits per weight, tiles of 16 rows x 16 columns
     flattened row-major, T = 256; a table of 2^L values trained with Lloyd iterations on unit-Gaussian
     samples, a constant of the format like nl4's levels);
  5. W_hat = U^T (s Q') V evaluated in place of W (activations fp32).

Bits per weight: k, plus the trellis's start state (L - k bits per tile, no tail-biting) and the scales;
the rotations are seeds. The runs in docs/QUANTIZATION.md (each 3-6 minutes on 2 cores):

    /usr/bin/python3 bench/quant/trellis_ceiling.py --bits 4 2                  # one scale per matrix
    /usr/bin/python3 bench/quant/trellis_ceiling.py --bits 4 --group 32
    /usr/bin/python3 bench/quant/trellis_ceiling.py --bits 4 --group 32 --no-rotate
    /usr/bin/python3 bench/quant/trellis_ceiling.py --bits 2 --group 32 --no-rotate
    /usr/bin/python3 bench/quant/trellis_ceiling.py --bits 2 --group 32 --codes trellis
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import finetune_ceiling as fc  # noqa: E402

TILE = 16  # tile rows and LDLQ block width (columns); a trellis sequence is one 16 x 16 tile


# ----------------------------------------------------------------------------------------------------
# codes


def lloyd_max_levels(k: int, samples: torch.Tensor, iters: int = 60) -> torch.Tensor:
    """The 2^k-level fixed-rate scalar quantizer minimising MSE on the samples (Lloyd's algorithm)."""
    n = 1 << k
    lv = torch.quantile(samples, (torch.arange(n, dtype=samples.dtype) + 0.5) / n)
    for _ in range(iters):
        idx = fc.nearest_level(samples, lv)
        sums = torch.zeros(n).index_add_(0, idx, samples)
        cnt = torch.zeros(n).index_add_(0, idx, torch.ones_like(samples))
        lv = torch.where(cnt > 0, sums / cnt.clamp(min=1), lv)
        lv, _ = lv.sort()
    return lv


def scalar_quant(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    return levels[fc.nearest_level(x, levels)]


def viterbi(x: torch.Tensor, table: torch.Tensor, L: int, k: int):
    """Best bitshift-trellis path for each row of x [B, T]: (reconstruction [B, T], states [B, T]).

    State s_t (L bits) = ((s_{t-1} << k) | new k bits) mod 2^L; weight t reconstructs as table[s_t].
    The predecessors of s' are the 2^k states whose low L-k bits equal s' >> k, so one step is a min over
    the top k bits of the previous state: cost viewed as [B, 2^k (top), 2^(L-k) (low)].
    """
    B, T = x.shape
    S, lowN, topN = 1 << L, 1 << (L - k), 1 << k
    cost = (x[:, :1] - table[None, :]) ** 2  # free start state
    back = torch.empty((T, B, lowN), dtype=torch.uint8)
    for t in range(1, T):
        m, idx = cost.view(B, topN, lowN).min(dim=1)
        back[t] = idx.to(torch.uint8)
        err = (x[:, t:t + 1] - table[None, :]) ** 2
        cost = (m.unsqueeze(-1) + err.view(B, lowN, topN)).view(B, S)
    s = cost.argmin(dim=1)
    states = torch.empty((B, T), dtype=torch.int64)
    states[:, T - 1] = s
    ar = torch.arange(B)
    for t in range(T - 1, 0, -1):
        low = s >> k
        s = back[t][ar, low].long() * lowN + low
        states[:, t - 1] = s
    return table[states], states


def train_table(L: int, k: int, n_seq: int = 1024, iters: int = 4, seed: int = 1) -> torch.Tensor:
    """A 2^L table for unit-Gaussian data: random start, then Lloyd steps (each entry := the mean of the
    samples the Viterbi paths reconstruct with it)."""
    g = torch.Generator().manual_seed(seed)
    table = torch.randn(1 << L, generator=g)
    data = torch.randn(n_seq, TILE * TILE, generator=g)
    for it in range(iters):
        B, T = data.shape
        rec, states = viterbi(data, table, L, k)
        sums = torch.zeros(1 << L).index_add_(0, states.flatten(), data.flatten())
        cnt = torch.zeros(1 << L).index_add_(0, states.flatten(), torch.ones(B * T))
        table = torch.where(cnt > 0, sums / cnt.clamp(min=1), table)
        fc.log(f"  table L={L} k={k} iter {it}: mse {float(((rec - data) ** 2).mean()):.5f}")
    return table


# ----------------------------------------------------------------------------------------------------
# tiles and block LDLQ


def quant_block(wb: torch.Tensor, code: str, ctx) -> torch.Tensor:
    """Quantize a column block wb [N, c] (already divided by the scale)."""
    if code == "scalar":
        return scalar_quant(wb, ctx["levels"])
    N, c = wb.shape
    out = torch.empty_like(wb)
    full = (N // TILE) * TILE
    if full:
        tiles = wb[:full].reshape(N // TILE, TILE * c)  # row-major within each 16-row tile
        out[:full] = viterbi(tiles, ctx["table"], ctx["L"], ctx["k"])[0].reshape(full, c)
    if full < N:
        rest = wb[full:].reshape(1, (N - full) * c)
        out[full:] = viterbi(rest, ctx["table"], ctx["L"], ctx["k"])[0].reshape(N - full, c)
    return out


def group_scales(w: torch.Tensor, group: int, mult: float) -> torch.Tensor:
    """Per-element scales [N, c]: mult x the RMS of each row's group of `group` columns (fp16-rounded),
    or of the whole block when group = 0 (then the caller passes the whole matrix once)."""
    N, c = w.shape
    if group == 0:
        return torch.full_like(w, float(w.pow(2).mean().sqrt()) * mult)
    G = (c + group - 1) // group
    wp = torch.nn.functional.pad(w, (0, G * group - c)).view(N, G, group)
    cnt = torch.tensor([min(group, c - g * group) for g in range(G)], dtype=w.dtype)
    s = ((wp.pow(2).sum(-1) / cnt).sqrt() * mult).clamp(min=1e-8).half().to(w.dtype)
    return s.repeat_interleave(group, dim=1)[:, :c]


def quantize_matrix(w: torch.Tensor, H: torch.Tensor, code: str, rounding: str, ctx) -> torch.Tensor:
    """w [N, K] in the rotated basis, H [K, K] likewise; returns the dequantized matrix.

    Scales: one per matrix (group 0) or one fp16 scale per row and group of columns, from the RMS of the
    weights it covers (with LDLQ: of the weights after the feedback so far, as GPTQ's static groups are
    not). A multiplier on the RMS is searched on a small grid by the plain error of independent rounding.
    """
    N, K = w.shape
    G = ctx["group"]

    def scales(cols: torch.Tensor, mult: float) -> torch.Tensor:
        return group_scales(cols, G, mult) if G else group_scales(w, 0, mult)[:, :cols.shape[1]]

    best = None
    for mult in ctx["mults"]:
        S = scales(w, mult)
        q = torch.cat([quant_block(w[:, i:i + TILE] / S[:, i:i + TILE], code, ctx) for i in range(0, K, TILE)],
                      1) * S
        e = float(((q - w) ** 2).sum())
        if best is None or e < best[0]:
            best = (e, mult, q)
    _, mult, q = best
    if rounding == "rtn":
        return q
    Hd = H.double().clone()
    damp = 0.01 * float(Hd.diagonal().mean())
    Hd += damp * torch.eye(K, dtype=torch.float64)
    Hinv = torch.cholesky_inverse(torch.linalg.cholesky(Hd))
    U = torch.linalg.cholesky(Hinv, upper=True)  # H^-1 = U^T U
    W = w.double().clone()
    Q = torch.zeros_like(W)
    S = scales(w, mult).double() if not G else torch.zeros_like(W)
    for i1 in range(0, K, TILE):
        i2 = min(i1 + TILE, K)
        if G and i1 % G == 0:
            S[:, i1:i1 + G] = scales(W[:, i1:i1 + G].float(), mult).double()
        Q[:, i1:i2] = quant_block((W[:, i1:i2] / S[:, i1:i2]).float(), code, ctx).double() * S[:, i1:i2]
        if i2 < K:
            E = W[:, i1:i2] - Q[:, i1:i2]
            # W_rest -= E U11^-1 U12  (the OBS update for a block fixed jointly)
            X = torch.linalg.solve_triangular(U[i1:i2, i1:i2], U[i1:i2, i2:], upper=True)
            W[:, i2:] -= E @ X
    return Q.float()


# ----------------------------------------------------------------------------------------------------
# model


@torch.no_grad()
def hessians(teacher, runner, chunks) -> dict:
    """H = sum x x^T of every Linear's input over the calibration chunks (the fp32 model's inputs)."""
    acc, hooks = {}, []
    for key, mod in fc.named_linears(teacher):
        def hook(_m, inp, _out, key=key):
            x = inp[0].reshape(-1, inp[0].shape[-1]).double()
            acc[key] = acc.get(key, 0) + x.T @ x
        hooks.append(mod.register_forward_hook(hook))
    for c in range(0, chunks.shape[0], 8):
        runner.logits(teacher, chunks[c:c + 8])
    for h in hooks:
        h.remove()
    return acc


def random_orthogonal(n: int, g: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()


@torch.no_grad()
def quantized_model(teacher, Hs, code, rounding, ctx, seed=0):
    m = fc.quantized_copy(teacher, 4, True)
    g = torch.Generator().manual_seed(seed)
    n_w = bits = 0
    for (key, q), (_, src) in zip(fc.named_linears(m), fc.named_linears(teacher)):
        w = src.weight.detach().float()
        N, K = w.shape
        Uo, Vi = random_orthogonal(N, g), random_orthogonal(K, g)
        if not ctx["rotate"]:
            Uo, Vi = torch.eye(N), torch.eye(K)
        wr = Uo @ w @ Vi.T
        Hr = (Vi.double() @ Hs[key] @ Vi.double().T)
        qr = quantize_matrix(wr, Hr, code, rounding, ctx)
        fixed = Uo.T @ qr @ Vi
        q.qweight = lambda fixed=fixed: fixed
        n_w += N * K
        tiles = math.ceil(N / TILE) * math.ceil(K / TILE)
        n_scales = N * math.ceil(K / ctx["group"]) * 16 if ctx["group"] else 32
        bits += N * K * ctx["k"] + n_scales + (tiles * (ctx["L"] - ctx["k"]) if code == "trellis" else 0)
    return m, bits / n_w


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bits", type=int, nargs="+", default=[4, 2])
    ap.add_argument("--L", type=int, default=12, help="trellis state bits")
    ap.add_argument("--codes", nargs="+", default=["scalar", "trellis"])
    ap.add_argument("--roundings", nargs="+", default=["rtn", "ldlq"])
    ap.add_argument("--group", type=int, default=0, help="columns per fp16 scale (0: one scale per matrix)")
    ap.add_argument("--no-rotate", action="store_true", help="skip the incoherence rotations")
    ap.add_argument("--calib-chunks", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(2)
    teacher, runner, eval_chunks, calib_chunks = fc.load_protocol(args.calib_chunks)
    fp32 = fc.perplexity(runner, teacher, eval_chunks)
    fc.log(f"fp32 held-out perplexity {fp32:.4f}")
    Hs = hessians(teacher, runner, calib_chunks)
    gauss = torch.randn(1 << 20, generator=torch.Generator().manual_seed(7))
    print("| code | bits k | L | rounding | bits/weight | perplexity | vs fp32 |")
    print("|---|---|---|---|---|---|---|")
    for k in args.bits:
        ctx = {"k": k, "L": args.L, "group": args.group, "rotate": not args.no_rotate, "levels": lloyd_max_levels(k, gauss),
               "mults": [0.8, 0.9, 1.0, 1.1] if k <= 2 else [0.9, 0.95, 1.0, 1.05]}
        if "trellis" in args.codes:
            ctx["table"] = train_table(args.L, k)
        for code in args.codes:
            for rounding in args.roundings:
                t0 = time.time()
                m, bpw = quantized_model(teacher, Hs, code, rounding, ctx)
                ppl = fc.perplexity(runner, m, eval_chunks)
                rel = f"{100 * (ppl / fp32 - 1):+.2f}%" if ppl / fp32 < 2 else f"×{ppl / fp32:.2f}"
                print(f"| {code} | {k} | {args.L if code == 'trellis' else '–'} | {rounding} | {bpw:.3f} | "
                      f"{ppl:.4f} | {rel} |  ({time.time() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
