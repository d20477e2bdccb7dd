#!/usr/bin/python3
"""llmc against llama.cpp or ONNX Runtime in interleaved rounds: ratios that the drift of a shared machine
cancels out of.

bench/suite.py measures each engine once per row, one after the other, so a change in the machine's
bandwidth between them lands in the ratio. Here every round runs both engines back to back on the same
model, in ABBA order (llmc first in even rounds, the peer first in odd ones), and the figure is the
median over rounds of the per-round ratio llmc ÷ peer.

    interleaved.py --llmc build/bin/llmc [--driver bench/work/llamacpp/llamacpp_bench] \\
        --pair BUNDLE.llmc:MODEL.gguf|MODEL.onnx [--pair ...] --threads 1,2 --rounds 6 [--prompt 512] \\
        [--gen 128] [--vocab 32000] [--json out.json]

The peer of a pair is llama.cpp for a .gguf (through --driver) and ONNX Runtime for an .onnx decoder
(bench/ort/bench_ort.mjs, node). Each round and engine: a fresh process, pp = prefill of --prompt random
tokens from an empty cache, tg = --gen greedy decode steps after a one-token prompt (one run each, as
`llmc bench --reps 1`, `llamacpp_bench decoder --reps 1` and `bench_ort.mjs decoder --reps 1`). Prints a
markdown table of medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from suite import last_json, run as run_logged  # noqa: E402  (bench/suite.py: logs each command)


def run(cmd) -> dict:
    return last_json(run_logged(cmd))


def llmc_round(a, bundle: str, t: int) -> dict:
    pp = run([a.llmc, "bench", bundle, "--prompt", a.prompt, "--gen", 0, "--threads", t, "--reps", 1, "--json"])
    tg = run([a.llmc, "bench", bundle, "--prompt", 1, "--gen", a.gen, "--threads", t, "--reps", 1, "--json"])
    return {"pp": pp["prefill_tok_s"], "tg": tg["decode_tok_s"]}


def llamacpp_round(a, gguf: str, t: int) -> dict:
    j = run([a.driver, "decoder", gguf, "--threads", t, "--prompt", a.prompt, "--gen", a.gen, "--reps", 1,
             "--vocab", a.vocab])
    return {"pp": j["prefill"][str(a.prompt)]["tok_s"], "tg": j["decode_tok_s"]}


def ort_round(a, onnx: str, t: int) -> dict:
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ort", "bench_ort.mjs")
    j = run(["node", script, "decoder", onnx, "--threads", t, "--prompt", a.prompt, "--gen", a.gen, "--reps", 1,
             "--vocab", a.vocab])
    return {"pp": j["prefill"][str(a.prompt)]["tok_s"], "tg": j["decode_tok_s"]}


def peer_round(a, model: str, t: int) -> dict:
    return ort_round(a, model, t) if model.endswith(".onnx") else llamacpp_round(a, model, t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llmc", required=True)
    ap.add_argument("--driver", help="llamacpp_bench (bench/llamacpp/build.sh), for .gguf peers")
    ap.add_argument("--pair", action="append", required=True, help="BUNDLE.llmc:MODEL.gguf or BUNDLE.llmc:MODEL.onnx")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rows = []
    for pair in a.pair:
        bundle, gguf = pair.split(":", 1)
        if not gguf.endswith(".onnx") and not a.driver:
            ap.error(f"{gguf}: a llama.cpp peer needs --driver")
        peer = "onnxruntime" if gguf.endswith(".onnx") else "llama.cpp"
        for t in [int(x) for x in a.threads.split(",")]:
            rounds = []
            for r in range(a.rounds):
                order = ("llmc", "peer") if r % 2 == 0 else ("peer", "llmc")
                res = {}
                for eng in order:
                    res[eng] = llmc_round(a, bundle, t) if eng == "llmc" else peer_round(a, gguf, t)
                rounds.append(res)
                print(f"{os.path.basename(bundle)} t={t} round {r}: llmc pp {res['llmc']['pp']:.1f} "
                      f"tg {res['llmc']['tg']:.2f} | {peer} pp {res['peer']['pp']:.1f} "
                      f"tg {res['peer']['tg']:.2f}", file=sys.stderr, flush=True)
            row = {"bundle": bundle, "peer_model": gguf, "peer": peer, "threads": t, "rounds": rounds}
            for k in ("pp", "tg"):
                row[f"llmc_{k}"] = statistics.median(x["llmc"][k] for x in rounds)
                row[f"peer_{k}"] = statistics.median(x["peer"][k] for x in rounds)
                row[f"ratio_{k}"] = statistics.median(x["llmc"][k] / x["peer"][k] for x in rounds)
                row[f"ratio_{k}_range"] = [min(x["llmc"][k] / x["peer"][k] for x in rounds),
                                           max(x["llmc"][k] / x["peer"][k] for x in rounds)]
            rows.append(row)
    print(f"| model | peer | threads | pp{a.prompt} llmc | peer | **llmc ÷ peer** (min–max) | "
          f"tg{a.gen} llmc | peer | **llmc ÷ peer** (min–max) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {os.path.basename(r['bundle'])} | {r['peer']} | {r['threads']} | {r['llmc_pp']:.1f} | {r['peer_pp']:.1f} | "
              f"**{r['ratio_pp']:.2f}×** ({r['ratio_pp_range'][0]:.2f}–{r['ratio_pp_range'][1]:.2f}) | "
              f"{r['llmc_tg']:.2f} | {r['peer_tg']:.2f} | **{r['ratio_tg']:.2f}×** "
              f"({r['ratio_tg_range'][0]:.2f}–{r['ratio_tg_range'][1]:.2f}) |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": a.rounds, "prompt": a.prompt, "gen": a.gen, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
