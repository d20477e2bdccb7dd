#!/usr/bin/python3
"""Would keeping a few outlier weights exact (SpQR-style) bring int4 g32 on stories260K near fp32?

Research measurement (PyTorch, CPU), not part of the compiler; the same model, formats and held-out
protocol as finetune_ceiling.py (whose helpers it uses). For every Linear (q/k/v/o, gate/up/down of all
layers and the untied lm_head), the fraction F of weights with the largest score is taken out of the
int4 g32 symmetric round-to-nearest grid and kept exact (fp16); the group scales are then computed from
the remaining weights, so an outlier no longer stretches its group's grid. Activations stay fp32.

  score "w":   |w|                   (weight magnitude)
  score "act": |w| * rms(x_k)        (magnitude times its input channel's RMS on 64 calibration
                                      chunks: the weight's share of the output)

Storage: an outlier needs its value (16 bits) and its position (8 bits of column within a row of at
most 256, plus row pointers), about 24 bits, so F = 0.25% costs ~0.06 bits per weight and 1% ~0.24 on
top of int4 g32's 4.5. Run (about 3 minutes):

    /usr/bin/python3 bench/quant/outlier_ceiling.py
"""
from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import finetune_ceiling as fc  # noqa: E402

BITS = 4
CASES = [(0.0, "w"), (0.0025, "w"), (0.0025, "act"), (0.005, "act"), (0.01, "act")]


@torch.no_grad()
def input_rms(teacher, runner, chunks) -> dict:
    """Per-input-channel RMS of every Linear's input over the calibration chunks."""
    sums, count, hooks = {}, {}, []
    for key, mod in fc.named_linears(teacher):
        def hook(_m, inp, _out, key=key):
            x = inp[0].reshape(-1, inp[0].shape[-1])
            sums[key] = sums.get(key, 0) + (x * x).sum(0)
            count[key] = count.get(key, 0) + x.shape[0]
        hooks.append(mod.register_forward_hook(hook))
    for c in range(0, chunks.shape[0], 8):
        runner.logits(teacher, chunks[c:c + 8])
    for h in hooks:
        h.remove()
    return {k: (sums[k] / count[k]).sqrt() for k in sums}


@torch.no_grad()
def with_outliers(teacher, rms: dict, frac: float, score: str):
    """A quantized copy whose weights are RTN int4 g32 except the top-`frac` scored, kept exact."""
    m = fc.quantized_copy(teacher, BITS, True)
    kept = total = 0
    for (key, q), (_, src) in zip(fc.named_linears(m), fc.named_linears(teacher)):
        w = src.weight.detach()
        mask = torch.zeros_like(w, dtype=torch.bool)
        k = int(round(frac * w.numel()))
        if k:
            s = w.abs() * (rms[key] if score == "act" else 1.0)
            mask.view(-1)[s.flatten().topk(k).indices] = True
        rest = torch.where(mask, torch.zeros_like(w), w)  # zeros never widen a group's range
        sc, z, u = fc.rtn_params(rest, BITS, True)
        deq = (u - fc.expand_groups(z, q.K)) * fc.expand_groups(sc, q.K)
        fixed = torch.where(mask, w.half().float(), deq)
        q.qweight = lambda fixed=fixed: fixed  # the stored model: codes, fp16 scales, exact outliers
        kept += int(mask.sum())
        total += w.numel()
    return m, kept, total


def main() -> int:
    torch.set_num_threads(2)
    teacher, runner, eval_chunks, calib_chunks = fc.load_protocol(64)
    fp32 = fc.perplexity(runner, teacher, eval_chunks)
    print(f"fp32 held-out perplexity {fp32:.4f}")
    rms = input_rms(teacher, runner, calib_chunks)
    print("| outliers kept exact | score | count | perplexity | Δ vs fp32 |")
    print("|---|---|---|---|---|")
    for frac, score in CASES:
        m, kept, total = with_outliers(teacher, rms, frac, score)
        ppl = fc.perplexity(runner, m, eval_chunks)
        print(f"| {100 * frac:.2f}% | {score if frac else '–'} | {kept} / {total} | {ppl:.4f} | "
              f"{100 * (ppl / fp32 - 1):+.2f}% |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
