#!/usr/bin/env bash
# Perplexity of stories260K under each --quant recipe (the tables in
# docs/QUANTIZATION.md): export, compile per recipe, `llmc eval` on the
# held-out text. Prints a markdown table.
#   bench/quant/stories260k-table.sh [BUILD_DIR] [SPEC...]
# SPEC@fp32 compiles SPEC with --activations=fp32 (weight-only); SPEC+seq adds
# --sequential-calibration; auto:GOAL runs
# the auto-tuner (--quant=auto --accuracy-goal=GOAL). Methods that need
# calibration (gptq, awq, quip, auto) use the first CALIB_TOKENS (default
# 32768) tokens of ../shared/data/tinystories_calib.txt; the evaluation text
# is ../shared/data/tinystories_eval.txt, never seen by calibration.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}; shift || true
SPECS=("$@")
((${#SPECS[@]})) || SPECS=(fp32 fp16 bf16 int8:pc int8:g32 int4:g32:sym int4:g32:asym
  int4:g64:sym int4:g64:asym int4:g128:sym int4:g128:asym int4:g32:asym:mse
  int4:g32:sym@fp32 int4:g32:asym@fp32
  int3:g32:asym int3:g32:asym:mse int2:g32:asym int2:g32:asym:mse int2:g16:sym int2:g16:asym
  int2:g16:asym:mse)
SHARED=${LLMC_SHARED:-../shared}
WORK="$BUILD/models/quant-table"
mkdir -p "$WORK"
/usr/bin/python3 examples/export/export_onnx.py \
  --llama2c "$SHARED/models/stories260K/stories260K.bin" -o "$WORK" >/dev/null
CALIB=(--calib "$SHARED/data/tinystories_calib.txt" --calib-tokens "${CALIB_TOKENS:-32768}")
for spec in "${SPECS[@]}"; do
  act=int8
  base=${spec%+seq}
  seq=()
  [[ "$spec" == *+seq ]] && seq=(--sequential-calibration)
  [[ "$base" == *@* ]] && act=${base#*@}
  quant=(--quant="${base%@*}")
  [[ "$base" == auto:* ]] && quant=(--quant=auto --accuracy-goal="${base#auto:}")
  "$BUILD/bin/llmc" compile "$WORK/stories260K.onnx" "${quant[@]}" --activations="$act" \
    "${CALIB[@]}" "${seq[@]}" -o "$WORK/q.llmc" 2>/dev/null
  ppl=$("$BUILD/bin/llmc" eval "$WORK/q.llmc" --text "$SHARED/data/tinystories_eval.txt" \
        --ctx 256 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])')
  bpw=$("$BUILD/bin/llmc" inspect "$WORK/q.llmc" | sed -n 's/.*"matmul_bits_per_weight": \([0-9.]*\).*/\1/p')
  echo "$spec $ppl ${bpw:-}"
done | /usr/bin/python3 -c '
import sys
rows = [l.split() for l in sys.stdin]
base = next((float(r[1]) for r in rows if r[0] == "fp32"), None)
def bpw(q):
    parts = q.split("+")[0].split("@")[0].split(":"); t = parts[0]
    if t in ("fp32", "fp16", "bf16"):
        return {"fp32": 32, "fp16": 16, "bf16": 16}[t]
    b = int(t.replace("int", "").replace("nl", "")); g = 0 if b == 8 else 32
    for p in parts[1:]:
        g = 0 if p == "pc" else int(p[1:]) if p[0] == "g" and p[1:].isdigit() else g
    return b if g == 0 else b + 16 / g + (8 / g if "asym" in parts else 0)
print("| --quant | bits/weight | perplexity | Δ vs fp32 |\n|---|---|---|---|")
for r in rows:
    q, p = r[0], float(r[1])
    b = float(r[2]) if len(r) > 2 else bpw(q)
    d = "" if base is None or q == "fp32" else f"{(p / base - 1) * 100:+.2f}%"
    print(f"| `{q}` | {b:.2f} | {p:.4f} | {d} |")
'
