#!/usr/bin/env bash
# `llmc compile` wall time and peak RSS on the TinyLlama-1.1B shape (random
# weights), for one or more llmc binaries in alternating rounds (the machine's
# drift hits all of them); medians as a markdown table.
#   bench/compile-time.sh [BUILD_DIR]    (LLMC_BINS="old/llmc new/llmc" to
#                                         compare binaries; QUANTS="bf16 int4";
#                                         ROUNDS=3)
# The model is bench/run.sh's export, or exported here (4.4 GB of fp32).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BINS=(${LLMC_BINS:-$BUILD/bin/llmc})
QUANTS=(${QUANTS:-bf16 int4})
ROUNDS=${ROUNDS:-3}
WORK="$BUILD/models/compile-time"
mkdir -p "$WORK"
source bench/tinyllama-model.sh
MODEL=$(tinyllama_model "$WORK")
for r in $(seq "$ROUNDS"); do
  for q in "${QUANTS[@]}"; do
    for b in "${BINS[@]}"; do
      rm -f "$WORK/out.llmc"
      /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$b" compile "$MODEL" --quant="$q" \
        -o "$WORK/out.llmc" > /dev/null 2>&1
      echo "$b $q $(cat "$WORK/time.txt")"
    done
  done
done | /usr/bin/python3 -c '
import sys, statistics as st
runs = {}
for l in sys.stdin:
    b, q, sec, kb = l.split()
    runs.setdefault((q, b), []).append((float(sec), int(kb)))
print("| --quant | llmc | compile s (median) | runs | peak RSS MiB |")
print("|---|---|---|---|---|")
for (q, b), v in runs.items():
    each = ", ".join("%.1f" % x[0] for x in v)
    print(f"| {q} | {b} | {st.median(x[0] for x in v):.1f} | {each} | {max(x[1] for x in v) / 1024:.0f} |")
'
rm -f "$WORK/out.llmc"
