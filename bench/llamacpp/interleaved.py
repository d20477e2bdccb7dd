#!/usr/bin/python3
"""llmc against llama.cpp in interleaved rounds: ratios that the drift of a shared machine cancels out of.

bench/suite.py measures each engine once per row, one after the other, so a change in the machine's
bandwidth between them lands in the ratio. Here every round runs both engines back to back on the same
model, in ABBA order (llmc first in even rounds, llama.cpp first in odd ones), and the figure is the
median over rounds of the per-round ratio llmc ÷ llama.cpp.

    interleaved.py --llmc build/bin/llmc --driver bench/work/llamacpp/llamacpp_bench \\
        --pair BUNDLE.llmc:MODEL.gguf [--pair ...] --threads 1,2 --rounds 6 [--prompt 512] [--gen 128] \\
        [--vocab 32000] [--json out.json]

Each round and engine: a fresh process, pp = prefill of --prompt random tokens from an empty cache,
tg = --gen greedy decode steps after a one-token prompt (one run each, as `llmc bench --reps 1` and
`llamacpp_bench decoder --reps 1`). Prints a markdown table of medians.
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llmc", required=True)
    ap.add_argument("--driver", required=True, help="llamacpp_bench (bench/llamacpp/build.sh)")
    ap.add_argument("--pair", action="append", required=True, help="BUNDLE.llmc:MODEL.gguf")
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
        for t in [int(x) for x in a.threads.split(",")]:
            rounds = []
            for r in range(a.rounds):
                order = ("llmc", "llama.cpp") if r % 2 == 0 else ("llama.cpp", "llmc")
                res = {}
                for eng in order:
                    res[eng] = llmc_round(a, bundle, t) if eng == "llmc" else llamacpp_round(a, gguf, t)
                rounds.append(res)
                print(f"{os.path.basename(bundle)} t={t} round {r}: llmc pp {res['llmc']['pp']:.1f} "
                      f"tg {res['llmc']['tg']:.2f} | llama.cpp pp {res['llama.cpp']['pp']:.1f} "
                      f"tg {res['llama.cpp']['tg']:.2f}", file=sys.stderr, flush=True)
            row = {"bundle": bundle, "gguf": gguf, "threads": t, "rounds": rounds}
            for k in ("pp", "tg"):
                row[f"llmc_{k}"] = statistics.median(x["llmc"][k] for x in rounds)
                row[f"llamacpp_{k}"] = statistics.median(x["llama.cpp"][k] for x in rounds)
                row[f"ratio_{k}"] = statistics.median(x["llmc"][k] / x["llama.cpp"][k] for x in rounds)
                row[f"ratio_{k}_range"] = [min(x["llmc"][k] / x["llama.cpp"][k] for x in rounds),
                                           max(x["llmc"][k] / x["llama.cpp"][k] for x in rounds)]
            rows.append(row)
    print(f"| model | threads | pp{a.prompt} llmc | llama.cpp | **llmc ÷ llama.cpp** (min–max) | "
          f"tg{a.gen} llmc | llama.cpp | **llmc ÷ llama.cpp** (min–max) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {os.path.basename(r['bundle'])} | {r['threads']} | {r['llmc_pp']:.1f} | {r['llamacpp_pp']:.1f} | "
              f"**{r['ratio_pp']:.2f}×** ({r['ratio_pp_range'][0]:.2f}–{r['ratio_pp_range'][1]:.2f}) | "
              f"{r['llmc_tg']:.2f} | {r['llamacpp_tg']:.2f} | **{r['ratio_tg']:.2f}×** "
              f"({r['ratio_tg_range'][0]:.2f}–{r['ratio_tg_range'][1]:.2f}) |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rounds": a.rounds, "prompt": a.prompt, "gen": a.gen, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
