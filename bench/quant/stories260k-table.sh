#!/usr/bin/env bash
# Perplexity of stories260K under each --quant recipe (the table in
# docs/QUANTIZATION.md): export, compile per recipe, `llmc eval` on the
# held-out text. Prints a markdown table.
#   bench/quant/stories260k-table.sh [BUILD_DIR] [SPEC...]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}; shift || true
SPECS=("$@")
((${#SPECS[@]})) || SPECS=(fp32 fp16 bf16 int8:pc int8:g32 int4:g32:sym int4:g32:asym
  int4:g64:sym int4:g64:asym int4:g128:sym int4:g128:asym int4:g32:asym:mse
  int4:g32:sym@fp32 int4:g32:asym@fp32
  int3:g32:asym int3:g32:asym:mse int2:g32:asym int2:g32:asym:mse)
SHARED=${LLMC_SHARED:-../shared}
WORK="$BUILD/models/quant-table"
mkdir -p "$WORK"
/usr/bin/python3 examples/export/export_onnx.py \
  --llama2c "$SHARED/models/stories260K/stories260K.bin" -o "$WORK" >/dev/null
# SPEC@fp32 compiles SPEC with --activations=fp32 (weight-only quantization).
for spec in "${SPECS[@]}"; do
  act=int8
  [[ "$spec" == *@* ]] && act=${spec#*@}
  "$BUILD/bin/llmc" compile "$WORK/stories260K.onnx" --quant="${spec%@*}" --activations="$act" \
    -o "$WORK/q.llmc" 2>/dev/null
  ppl=$("$BUILD/bin/llmc" eval "$WORK/q.llmc" --text "$SHARED/data/tinystories_eval.txt" \
        --ctx 256 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])')
  echo "$spec $ppl"
done | /usr/bin/python3 -c '
import sys
rows = [l.split() for l in sys.stdin]
base = next(float(p) for q, p in rows if q == "fp32") if any(q == "fp32" for q, _ in rows) else None
def bpw(q):
    parts = q.split("@")[0].split(":"); t = parts[0]
    if t in ("fp32", "fp16", "bf16"):
        return {"fp32": 32, "fp16": 16, "bf16": 16}[t]
    b = int(t[3:]); g = 0 if b == 8 else 32
    for p in parts[1:]:
        g = 0 if p == "pc" else int(p[1:]) if p[0] == "g" and p[1:].isdigit() else g
    return b if g == 0 else b + 16 / g + (8 / g if "asym" in parts else 0)
print("| --quant | bits/weight | perplexity | Δ vs fp32 |\n|---|---|---|---|")
for q, p in rows:
    p = float(p)
    d = "" if base is None or q == "fp32" else f"{(p / base - 1) * 100:+.2f}%"
    print(f"| `{q}` | {bpw(q):.2f} | {p:.4f} | {d} |")
'
