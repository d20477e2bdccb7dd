#!/usr/bin/env bash
# The main job end to end on the bundled example model, stories260K
# (../shared/models/stories260K): set up and build, export the llama2.c
# checkpoint to ONNX with PyTorch, compile it for this CPU, generate a story.
#
#   scripts/demo.sh                      fp32
#   LLMC_QUANT=int4:g32:asym scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${LLMC_BUILD_DIR:-build}
LLMC="$BUILD_DIR/bin/llmc"
SHARED=${LLMC_SHARED:-../shared}
OUT="$BUILD_DIR/models/stories260K"
QUANT=${LLMC_QUANT:-fp32}

echo "== host target"
"$LLMC" --print-target=native

echo "== export stories260K to ONNX (PyTorch)"
/usr/bin/python3 examples/export/export_onnx.py \
  --llama2c "$SHARED/models/stories260K/stories260K.bin" -o "$OUT" >/dev/null

echo "== llmc compile (--quant=$QUANT)"
"$LLMC" compile "$OUT/stories260K.onnx" --target=native --quant="$QUANT" \
  -o "$OUT/stories260K.llmc"

echo "== llmc run"
"$LLMC" run "$OUT/stories260K.llmc" -p "Once upon a time" -n 256
