#!/usr/bin/env bash
# Decode and prefill speed of the TinyLlama-1.1B shape (random weights) under
# each --quant recipe (the speed column of docs/QUANTIZATION.md): compile per
# recipe, `llmc bench` at 2 threads (medians of --reps), print a markdown table.
#   bench/quant/tinyllama-decode-table.sh [BUILD_DIR] [SPEC...]
# SPEC@ACT compiles with --activations=ACT (static ones calibrate on random
# token ids: speed only); SPEC/EMB (before any @ACT) stores the embedding table
# as --quant-embedding=EMB (docs/QUANTIZATION.md). The model is bench/run.sh's export, or exported here.
# KEEP_BUNDLES=1 keeps each bundle (BUILD/models/tinyllama-table/SPEC.llmc)
# and reuses it on the next run; COMPILE_ONLY=1 only compiles (so that the
# timed runs can wait for a quiet moment of a shared machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}; shift || true
SPECS=("$@")
((${#SPECS[@]})) || SPECS=(fp32 fp16 bf16 bf16@bf16 int8:pc int8:g32 int8:pc@static:p99.99 int4:g32:sym int4:g32:asym
  int4:g64:sym int4:g64:asym int4:g128:sym int4:g128:asym nl4:g32 nl4:g64 int3:g32:asym int2:g32:asym
  int2:g16:asym nl2:g32)
WORK="$BUILD/models/tinyllama-table"
mkdir -p "$WORK"
source bench/tinyllama-model.sh
MODEL=$(tinyllama_model "$WORK")
for spec in "${SPECS[@]}"; do
  act=int8
  [[ "$spec" == *@* ]] && act=${spec#*@}
  quant=${spec%@*}
  embedding=fp32
  [[ "$quant" == */* ]] && embedding=${quant#*/} && quant=${quant%/*}
  extra=()
  [[ "$act" == static* ]] && extra=(--calib random:1 --calib-tokens 1024)
  bundle="$WORK/${spec//[:@\/]/_}.llmc"
  if [[ "${KEEP_BUNDLES:-}" != 1 || ! -f "$bundle" ]]; then
    "$BUILD/bin/llmc" compile "$MODEL" --quant="$quant" --quant-embedding="$embedding" \
      --activations="$act" "${extra[@]}" -o "$bundle" 2>/dev/null
  fi
  [[ "${COMPILE_ONLY:-}" == 1 ]] && continue
  size=$(stat -c %s "$bundle")
  "$BUILD/bin/llmc" bench "$bundle" --prompt 16 --gen 64 --reps 3 --threads 2 --bandwidth --json |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(sys.argv[1], sys.argv[2], d["decode_tok_s"], d["prefill_tok_s"], d["decode_gb_s"], d["decode_fraction_of_adjacent_read"])' "$spec" "$size"
  [[ "${KEEP_BUNDLES:-}" == 1 ]] || rm -f "$bundle"
done | /usr/bin/python3 -c '
import sys
print("| --quant | bundle MiB | decode tok/s | decode GB/s | of the adjacent read | prefill (16 tokens) tok/s |")
print("|---|---|---|---|---|---|")
for l in sys.stdin:
    q, size, dec, pre, gbs, adj = l.split()
    print(f"| `{q}` | {int(size) / 2**20:.0f} | {float(dec):.1f} | {float(gbs):.1f} | {100 * float(adj):.0f}% | {float(pre):.0f} |")
'
