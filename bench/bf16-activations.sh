#!/usr/bin/env bash
# bf16 weights with fp32 activations (vfmadd on widened weights) against
# --activations=bf16 (vdpbf16ps, AVX512-BF16) on the TinyLlama-1.1B shape
# (random weights): both bundles compiled, then ROUNDS rounds of `llmc bench`
# alternating the two per thread count, so the machine's drift hits both;
# medians and their ratio as a markdown table.
#   bench/bf16-activations.sh [BUILD_DIR]     (ROUNDS=5, THREADS="1 2",
#                                              PROMPT=512, GEN=32)
# The kernels alone, against the measured vdpbf16ps / FMA peaks:
#   llmc-bench-kernels --formats=bf16,bf16_dot --ms=128,512
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-"1 2"}
PROMPT=${PROMPT:-512}
GEN=${GEN:-32}
LLMC="$BUILD/bin/llmc"
WORK="$BUILD/models/bf16-activations"
mkdir -p "$WORK"
source bench/tinyllama-model.sh
MODEL=$(tinyllama_model "$WORK")
for act in fp32 bf16; do
  [[ -f "$WORK/act-$act.llmc" ]] ||
    "$LLMC" compile "$MODEL" --quant=bf16 --activations=$act -o "$WORK/act-$act.llmc" 2>/dev/null
done
# The path each bundle runs on this host (bf16 falls back to fp32 without
# AVX512-BF16: the ratio is then ~1 by construction).
"$LLMC" inspect "$WORK/act-bf16.llmc" > "$WORK/inspect.txt"
echo "bf16 bundle's kernels: $(grep -o 'act=[a-z0-9]*' "$WORK/inspect.txt" | sort | uniq -c | xargs)"
for t in $THREADS; do
  for r in $(seq "$ROUNDS"); do
    for act in fp32 bf16; do
      "$LLMC" bench "$WORK/act-$act.llmc" --prompt "$PROMPT" --gen "$GEN" --reps 1 --threads "$t" --json |
        /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(sys.argv[1], sys.argv[2], d["prefill_tok_s"], d["decode_tok_s"])' "$t" "$act"
    done
  done
done | /usr/bin/python3 -c '
import sys, statistics as st
runs = {}
for l in sys.stdin:
    if l.startswith("bf16 bundle"):
        print(l.strip()); continue
    t, act, pre, dec = l.split()
    runs.setdefault((t, act), []).append((float(pre), float(dec)))
print(f"| threads | prefill ('"$PROMPT"' tokens) fp32 act tok/s | bf16 act tok/s | bf16 ÷ fp32 | decode fp32 act tok/s | bf16 act tok/s | bf16 ÷ fp32 |")
print("|---|---|---|---|---|---|---|")
for t in sorted({k[0] for k in runs}, key=int):
    f, b = runs[(t, "fp32")], runs[(t, "bf16")]
    pf, pb = st.median(x[0] for x in f), st.median(x[0] for x in b)
    df, db = st.median(x[1] for x in f), st.median(x[1] for x in b)
    print(f"| {t} | {pf:.1f} | {pb:.1f} | {pb / pf:.2f}x | {df:.1f} | {db:.1f} | {db / df:.2f}x |")
'
