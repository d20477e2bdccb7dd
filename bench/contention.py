#!/usr/bin/env python3
"""Speed of `llmc bench` while other processes compete for the cores.

On a shared machine the OS gives some of llmc's threads' time to other
processes. A thread pool that waits for every thread at every matmul then
runs at the pace of its least-scheduled thread: 2 threads can be slower than
1. This benchmark starts C busy-loop processes (C in --competitors), runs
`llmc bench --json` for every binary (--llmc, one or more builds to compare)
and thread count, interleaved round by round so that drift hits all of them
alike (in ABBA order), and prints the medians, each binary against the first, and 2 threads
against 1.

    bench/contention.py --llmc build/bin/llmc --llmc /tmp/llmc-old \\
        --bundle model.llmc --competitors 0,1,3 --threads 1,2 --rounds 5

Standard library only; any python3.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def start_competitors(n):
    return [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(n)]


def stop(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def bench_once(llmc, bundle, threads, prompt, gen):
    out = subprocess.run(
        [llmc, "bench", bundle, "--prompt", str(prompt), "--gen", str(gen),
         "--reps", "1", "--threads", str(threads), "--json"],
        check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["prefill_tok_s"], r["decode_tok_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llmc", action="append", required=True,
                    help="llmc binary; repeat to compare builds (the first is the baseline)")
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--competitors", default="0,1,3")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", help="also write every run here")
    a = ap.parse_args()
    for b in a.llmc:
        if not os.access(b, os.X_OK):
            sys.exit(f"contention.py: {b} is not an executable")
    threads = [int(t) for t in a.threads.split(",")]
    comps = [int(c) for c in a.competitors.split(",")]

    runs = {}  # (competitors, binary index, threads) -> [(prefill, decode)]
    for c in comps:
        procs = start_competitors(c)
        try:
            for rnd in range(a.rounds):
                # ABBA order: whatever favours the first or the last run of
                # a round (page cache, clocks) favours no binary.
                order = list(enumerate(a.llmc))
                if rnd % 2:
                    order.reverse()
                for bi, b in order:
                    for t in threads:
                        runs.setdefault((c, bi, t), []).append(
                            bench_once(b, a.bundle, t, a.prompt, a.gen))
        finally:
            stop(procs)

    print(f"bundle {a.bundle}, prompt {a.prompt}, gen {a.gen}, "
          f"{a.rounds} interleaved rounds (ABBA), medians (tok/s)")
    names = [f"[{i}] {b}" for i, b in enumerate(a.llmc)]
    print("binaries: " + "; ".join(names))
    print()
    hdr = "| competitors | binary | threads | prefill | decode |"
    extra = len(a.llmc) > 1
    if extra:
        hdr += " prefill ÷ [0] | decode ÷ [0] |"
    if 1 in threads:
        hdr += " decode ÷ 1 thread |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for c in comps:
        for bi in range(len(a.llmc)):
            for t in threads:
                r = runs[(c, bi, t)]
                p = statistics.median(x[0] for x in r)
                d = statistics.median(x[1] for x in r)
                row = f"| {c} | [{bi}] | {t} | {p:,.1f} | {d:,.1f} |"
                if extra:
                    r0 = runs[(c, 0, t)]
                    p0 = statistics.median(x[0] for x in r0)
                    d0 = statistics.median(x[1] for x in r0)
                    row += f" {p / p0:.2f}× | {d / d0:.2f}× |"
                if 1 in threads:
                    d1 = statistics.median(x[1] for x in runs[(c, bi, 1)])
                    row += f" {d / d1:.2f}× |"
                print(row)
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"competitors": c, "binary": a.llmc[bi], "threads": t,
                        "prefill_tok_s": [x[0] for x in r],
                        "decode_tok_s": [x[1] for x in r]}
                       for (c, bi, t), r in runs.items()], f, indent=1)


if __name__ == "__main__":
    main()
