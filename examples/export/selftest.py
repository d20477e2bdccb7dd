#!/usr/bin/python3
"""Fast self-check of the export tooling (< 60 s on one thread); exits non-zero on any failure.

    /usr/bin/python3 examples/export/selftest.py [-v]

Checks:
  1. stories260K greedy text: "Once upon a time" + 30 tokens reproduces the known output exactly;
     the tokenizer matches a literal transcription of run.c's encode() and decode(encode(t)) == t.
  2. RoPE conventions: stories260K with q/k rows permuted interleaved->half and rope "half" gives the
     same logits as the original (interleaved); without the permutation the text changes.
  3. KV cache == full forward (prefill + single-token steps vs one call), for both RoPE conventions,
     in fp64 (exact logic, < 1e-9) and fp32 (summation-order noise, < 1e-4).
  4. ONNX: tiny random models (interleaved fp32, half fp32, half fp16, MHA with tied embeddings) and
     stories260K are exported,
     pass onnx.checker, and -- run by the numpy interpreter on dynamic shapes (batch 2 with left
     padding, prefill with past 0, then a decode step with the cache) -- match PyTorch; the exported
     stories260K reproduces the greedy tokens.
Prints "N passed, N failed" last.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import onnx  # noqa: E402

import export_onnx as ex  # noqa: E402
from llama_model import LlamaConfig, LlamaModel, greedy_generate, permute_interleaved_to_half  # noqa: E402
from load_llama2c import (DEFAULT_MODEL, DEFAULT_TOKENIZER, EXPECTED_PROMPT_IDS, EXPECTED_TEXT, SHARED,  # noqa: E402
                          Llama2cTokenizer, check_greedy_text, kv_cache_max_diff, load_llama2c)
from onnx_numpy_eval import run_model  # noqa: E402

RESULTS = []


def check(name: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((name, ok))
    print(f"{'PASS' if ok else 'FAIL'}  {name}{('  ' + detail) if detail else ''}", flush=True)


def encode_naive(tok: Llama2cTokenizer, text: str):
    """run.c's encode() transcribed literally (O(n^2) rescans), to cross-check the heap-based encoder."""
    data = text.encode("utf-8")
    ids = [1] + ([tok.lookup[b" "]] if data else [])
    i = 0
    while i < len(data):
        j = i + 1
        while j < len(data) and (data[j] & 0xC0) == 0x80 and j - i < 4:
            j += 1
        cp = data[i:j]
        ids += [tok.lookup[cp]] if cp in tok.lookup else [b + 3 for b in cp]
        i = j
    while True:
        best, best_id, best_idx = -1e10, -1, -1
        for k in range(len(ids) - 1):
            mid = tok.lookup.get(tok.pieces[ids[k]] + tok.pieces[ids[k + 1]])
            if mid is not None and tok.scores[mid] > best:
                best, best_id, best_idx = tok.scores[mid], mid, k
        if best_idx == -1:
            return ids
        ids[best_idx:best_idx + 2] = [best_id]


def to_half_convention(model: LlamaModel) -> LlamaModel:
    cfg = LlamaConfig(**{k: v for k, v in model.cfg.to_dict().items() if k != "head_dim"})
    cfg.rope_convention = "half"
    m2 = LlamaModel(cfg)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    for k in list(sd):
        if k.endswith("attention.wq.weight"):
            sd[k] = permute_interleaved_to_half(sd[k], cfg.n_heads)
        elif k.endswith("attention.wk.weight"):
            sd[k] = permute_interleaved_to_half(sd[k], cfg.n_kv_heads)
    m2.load_state_dict(sd)
    return m2.eval()


def onnx_vs_torch(path: str, model: LlamaModel, dtype: str, seed: int = 0) -> float:
    """Max |logits| difference ONNX(numpy) vs PyTorch over a padded-batch prefill and a decode step."""
    cfg = model.cfg
    g = torch.Generator().manual_seed(seed)
    B, S = 2, 6
    ids = torch.randint(3, cfg.vocab_size, (B, S + 1), generator=g)
    mask = torch.ones(B, S + 1, dtype=torch.int64)
    mask[1, :2] = 0  # row 1 is left-padded by 2
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    npd = ex.NP_DTYPE[dtype]
    with torch.no_grad():
        l1, past = model(ids[:, :S], mask[:, :S], pos[:, :S], model.empty_cache(B))
        l2, _ = model(ids[:, S:], mask, pos[:, S:], past)
    feeds = {"input_ids": ids[:, :S].numpy(), "attention_mask": mask[:, :S].numpy(),
             "position_ids": pos[:, :S].numpy()}
    for i in range(cfg.n_layers):
        for kv in ("key", "value"):
            feeds[f"past_key_values.{i}.{kv}"] = np.zeros((B, cfg.n_kv_heads, 0, cfg.head_dim), npd)
    o1 = run_model(path, feeds)
    feeds = {"input_ids": ids[:, S:].numpy(), "attention_mask": mask.numpy(), "position_ids": pos[:, S:].numpy()}
    for i in range(cfg.n_layers):
        for kv in ("key", "value"):
            feeds[f"past_key_values.{i}.{kv}"] = o1[f"present.{i}.{kv}"]
    o2 = run_model(path, feeds)
    assert o2[f"present.{cfg.n_layers - 1}.key"].shape == (B, cfg.n_kv_heads, S + 1, cfg.head_dim)
    d1 = np.abs(o1["logits"].astype(np.float32) - l1.numpy()).max()
    d2 = np.abs(o2["logits"].astype(np.float32) - l2.numpy()).max()
    return float(max(d1, d2))


def onnx_greedy(path: str, cfg: LlamaConfig, prompt, n_new: int):
    """Greedy decoding with the exported model (numpy interpreter), B=1, through the KV cache."""
    ids = list(prompt)
    feeds_past = {f"past_key_values.{i}.{kv}": np.zeros((1, cfg.n_kv_heads, 0, cfg.head_dim), np.float32)
                  for i in range(cfg.n_layers) for kv in ("key", "value")}
    x = np.array([ids], dtype=np.int64)
    for _ in range(n_new):
        p = feeds_past["past_key_values.0.key"].shape[2]
        s = x.shape[1]
        out = run_model(path, {"input_ids": x, "attention_mask": np.ones((1, p + s), np.int64),
                               "position_ids": np.arange(p, p + s, dtype=np.int64)[None], **feeds_past})
        nxt = int(out["logits"][0, -1].argmax())
        ids.append(nxt)
        x = np.array([[nxt]], dtype=np.int64)
        feeds_past = {f"past_key_values.{i}.{kv}": out[f"present.{i}.{kv}"]
                      for i in range(cfg.n_layers) for kv in ("key", "value")}
    return ids


def run(verbose: bool) -> None:
    model = load_llama2c(DEFAULT_MODEL)
    tok = Llama2cTokenizer(DEFAULT_TOKENIZER)

    # 1. greedy text
    check("stories260K greedy text", check_greedy_text(model, tok, verbose=verbose))

    texts = ["", "Once upon a time", "Hello,  world!\nTwo  spaces\tand a tab.", "café — naïve 😀 日本語",
             open(os.path.join(SHARED, "data/tinystories_eval.txt"), encoding="utf-8").read()[:1500]]
    bad = [t[:20] for t in texts if tok.encode(t) != encode_naive(tok, t) or tok.decode(tok.encode(t)) != t]
    check("tokenizer == run.c encode (naive) and round-trips", not bad, f"mismatch on {bad}" if bad else "")

    # 2. RoPE conventions on the trained model
    half = to_half_convention(model)
    x = torch.tensor([EXPECTED_PROMPT_IDS + [432, 383, 286, 261, 376]])
    with torch.no_grad():
        d = float((model(x)[0] - half(x)[0]).abs().max())
    check("interleaved == half after q/k row permutation", d < 1e-4, f"max |dlogits| {d:.2e}")
    wrong = LlamaModel(half.cfg)
    wrong.load_state_dict(model.state_dict())
    ids, _ = greedy_generate(wrong.eval(), EXPECTED_PROMPT_IDS, 30, stop_ids=(1,))
    check("wrong RoPE convention changes the output", tok.decode(ids) != EXPECTED_TEXT)

    # 3. KV cache vs full forward
    for name, m in (("stories260K interleaved", model), ("stories260K half (permuted)", half)):
        d64 = kv_cache_max_diff(m.double(), EXPECTED_PROMPT_IDS, 30)
        d32 = kv_cache_max_diff(m.float(), EXPECTED_PROMPT_IDS, 30)
        check(f"kv cache == full forward, {name}", d64 < 1e-9 and d32 < 1e-4,
              f"fp64 {d64:.2e}, fp32 {d32:.2e}")
    for rope in ("interleaved", "half"):
        cfg = LlamaConfig(**{**ex.PRESETS["tiny-test"], "rope_convention": rope})
        m = ex.reference_model(cfg, ex.random_weight_fn(0))
        prompt = ex.random_prompt(12, cfg.vocab_size, 0)
        d64 = kv_cache_max_diff(m.double(), prompt, 20)
        d32 = kv_cache_max_diff(m.float(), prompt, 20)
        check(f"kv cache == full forward, tiny-test {rope}", d64 < 1e-9 and d32 < 1e-4,
              f"fp64 {d64:.2e}, fp32 {d32:.2e}")

    # 4. ONNX
    with tempfile.TemporaryDirectory(prefix="llmc-selftest-") as tmp:
        quiet = (lambda s: None) if not verbose else print
        variants = (("interleaved", "fp32", {}, 1e-4), ("half", "fp32", {}, 1e-4), ("half", "fp16", {}, 3e-2),
                    ("half", "fp32", {"n_kv_heads": 8, "tie_embeddings": True}, 1e-4))  # MHA + tied
        for rope, dtype, extra, tol in variants:
            cfg = LlamaConfig(**{**ex.PRESETS["tiny-test"], "rope_convention": rope, **extra})
            path = os.path.join(tmp, f"tiny-{rope}-{dtype}-{len(extra)}.onnx")
            ex.export_onnx(cfg, dtype, ex.random_weight_fn(0), path, log=quiet)
            onnx.checker.check_model(path, full_check=True)
            d = onnx_vs_torch(path, ex.reference_model(cfg, ex.random_weight_fn(0)), dtype)
            what = f"{rope} {dtype}" + (" MHA tied" if extra else "")
            check(f"onnx tiny-test {what}: checker + numpy run == torch", d < tol, f"max |dlogits| {d:.2e}")
        path = os.path.join(tmp, "stories260K.onnx")
        ex.export_onnx(model.cfg, "fp32", ex.state_dict_weight_fn(model), path, log=quiet)
        onnx.checker.check_model(path, full_check=True)
        d = onnx_vs_torch(path, model, "fp32")
        check("onnx stories260K: checker + numpy run == torch", d < 1e-4, f"max |dlogits| {d:.2e}")
        ref_ids, _ = greedy_generate(model, EXPECTED_PROMPT_IDS, 12)
        got = onnx_greedy(path, model.cfg, EXPECTED_PROMPT_IDS, 12)
        check("onnx stories260K greedy (12 tokens, KV cache) == torch", got == ref_ids, tok.decode(got))
        # external-data path on a small model
        cfg = LlamaConfig(**ex.PRESETS["fixture"])
        path = os.path.join(tmp, "fixture-ext.onnx")
        ex.export_onnx(cfg, "fp32", ex.random_weight_fn(0), path, external=True, log=quiet)
        m = onnx.load(path, load_external_data=False)
        ext = all(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer)
        d = onnx_vs_torch(path, ex.reference_model(cfg, ex.random_weight_fn(0)), "fp32")
        check("onnx external data (one .onnx_data file) == torch", ext and d < 1e-4, f"max |dlogits| {d:.2e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not (os.path.exists(DEFAULT_MODEL) and os.path.exists(DEFAULT_TOKENIZER)):
        print(f"missing {DEFAULT_MODEL} or {DEFAULT_TOKENIZER} (set LLMC_SHARED)")
        return 1
    t0 = time.time()
    try:
        run(args.verbose)
    except Exception:
        traceback.print_exc()
        RESULTS.append(("unexpected exception", False))
    n_fail = sum(1 for _, ok in RESULTS if not ok)
    print(f"selftest: {time.time() - t0:.1f}s")
    print(f"{len(RESULTS) - n_fail} passed, {n_fail} failed")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
