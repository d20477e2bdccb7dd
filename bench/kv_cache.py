#!/usr/bin/env python3
"""Decode speed by KV cache type (`llmc compile --kv fp32|fp16|int8`) as the
context fills up.

A decode step streams the packed weights once and, per layer, the cached keys
and values of every earlier position. On a multi-head model (Llama-2-7B: 32 KV
heads of 128) the cache outgrows the int4 weights of a layer after about 2,000
positions at fp32, so its element type decides decode speed at long contexts.

The model is the Llama-2-7B shape with 2 layers (random weights; per layer the
bytes of weights and of cache are those of the full model, the lm_head weighs
more), int4 g32, compiled once per cache type with --ctx 4096. For each
prompt length P, rounds of `llmc bench --prompt P --gen G --reps 1 --threads T
--bandwidth --profile` alternate the cache types (the machine's bandwidth
drifts; the rounds spread that over every type alike); the table has medians,
and the attention time per decode step from the profile (the part of a step
the cache type changes).

    /usr/bin/python3 bench/kv_cache.py [--build build] [--prompts 256,1024,3968]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KV_TYPES = ("fp32", "fp16", "int8")


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--prompts", default="256,1024,3968")
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quant", default="int4:g32")
    args = ap.parse_args()
    llmc = os.path.join(args.build, "bin", "llmc")
    work = os.path.join(args.build, "models", "kv")
    model = os.path.join(work, "llama2-7b-2l-half-fp32.onnx")
    if not os.path.exists(model):
        os.makedirs(work, exist_ok=True)
        run([sys.executable, os.path.join(ROOT, "examples/export/export_onnx.py"), "--random",
             "--preset", "llama2-7b", "--layers", "2", "-o", work, "-q"])
    bundles = {}
    for kv in KV_TYPES:
        bundles[kv] = os.path.join(work, f"{args.quant.replace(':', '_')}-kv-{kv}.llmc")
        if not os.path.exists(bundles[kv]):
            run([llmc, "compile", model, f"--quant={args.quant}", "--ctx", "4096", "--kv", kv,
                 "-o", bundles[kv]])
    prompts = [int(p) for p in args.prompts.split(",")]
    rows = {}
    for p in prompts:
        for rnd in range(args.rounds):
            for kv in KV_TYPES:
                j = json.loads(run([llmc, "bench", bundles[kv], "--prompt", str(p), "--gen",
                                    str(args.gen), "--reps", "1", "--threads", str(args.threads),
                                    "--bandwidth", "--profile", "--json"]).strip().splitlines()[-1])
                rows.setdefault((p, kv), []).append(j)
                print(f"P={p} round {rnd + 1} {kv}: {j['decode_tok_s']:.2f} tok/s, "
                      f"attention {j['profile']['decode']['attention_ms']:.2f} ms, "
                      f"{j['decode_gb_s']:.1f} GB/s, "
                      f"{100 * j['decode_fraction_of_adjacent_read']:.0f}% of the adjacent read",
                      file=sys.stderr)
    med = lambda xs: statistics.median(xs)
    print(f"| context (P + {args.gen} generated) | KV cache | decode tok/s | vs fp16 | "
          "attention ms per step | MB read per token | decode GB/s | of the adjacent read |")
    print("|---|---|---|---|---|---|---|---|")
    for p in prompts:
        base = med([j["decode_tok_s"] for j in rows[(p, "fp16")]])
        for kv in KV_TYPES:
            js = rows[(p, kv)]
            tok = med([j["decode_tok_s"] for j in js])
            gbs = med([j["decode_gb_s"] for j in js])
            mb = gbs * 1e3 / tok if tok else 0
            adj = med([j["decode_fraction_of_adjacent_read"] for j in js])
            att = med([j["profile"]["decode"]["attention_ms"] for j in js])
            print(f"| {p} | {kv} | {tok:.2f} | {tok / base:.2f}x | {att:.2f} | {mb:.0f} | "
                  f"{gbs:.1f} | {100 * adj:.0f}% |")


if __name__ == "__main__":
    main()
