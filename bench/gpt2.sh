#!/usr/bin/env bash
# GPT-2 (the 124M shape, random weights) in llmc against ONNX Runtime, in interleaved rounds.
#
#   bench/gpt2.sh [--rounds N] [--threads 1,2] [--prompt P] [--gen G]
#
# The model is test/Frontend/Inputs/export_gpt2_style.py --shape gpt2-small: HF's GPT-2 structure
# (Conv1D projections, LayerNorms, tanh GELU, learned positions, tied lm_head) exported with plain
# torch.onnx.export. Two pairs, each engine on the same ONNX file:
#   fp32:     llmc compile gpt2-small.onnx  |  ORT on gpt2-small.onnx
#   int4 g32: bench/models.py nbits --block 32 (every linear layer as MatMulNBits, accuracy level 4:
#             int8 activations, as llmc's int4 kernels), llmc compiling that file (its codes kept)
#             |  ORT on it
# ORT runs the `models.py lastlogits` form of each (logits of the last position only, as llmc's
# pipeline computes them). Before timing, llmc's logits on the int4 model are checked against ORT's
# with ORT's fp32 MatMulNBits path (accuracy level 0) and llmc's weight-only path: the two engines
# compute the same function.
#
# Needs the build (LLMC_BUILD_DIR, default build-bench), node with bench/ort/node_modules
# (bench/run.sh installs it), Debian's python3-torch/onnx/numpy. Work files: bench/work/gpt2/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${LLMC_BUILD_DIR:-build-bench}
PY=/usr/bin/python3
LLMC=$ROOT/$BUILD/bin/llmc
W=bench/work/gpt2
rounds=4 threads=1,2 prompt=128 gen=64
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --prompt) prompt=$2; shift 2 ;;
    --gen) gen=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $LLMC ]] || { echo "build llmc first ($LLMC)" >&2; exit 1; }
[[ -f bench/ort/node_modules/onnxruntime-node/package.json ]] ||
  (cd bench/ort && npm install --ignore-scripts --no-audit --no-fund)
mkdir -p "$W" bench/results

if [[ ! -f $W/gpt2-small.onnx ]]; then
  $PY test/Frontend/Inputs/export_gpt2_style.py "$W/gpt2-small.onnx" --shape gpt2-small 2> "$W/export.log"
fi
[[ -f $W/gpt2-q4g32.onnx ]] || $PY bench/models.py nbits --block 32 "$W/gpt2-small.onnx" -o "$W/gpt2-q4g32.onnx" 2> "$W/nbits.log"
for m in gpt2-small gpt2-q4g32; do
  [[ -f $W/$m.last.onnx ]] || $PY bench/models.py lastlogits "$W/$m.onnx" -o "$W/$m.last.onnx"
done
"$LLMC" compile "$W/gpt2-small.onnx" -o "$W/gpt2-f32.llmc" 2> "$W/compile-f32.log"
"$LLMC" compile "$W/gpt2-q4g32.onnx" -o "$W/gpt2-q4g32.llmc" 2> "$W/compile-q4.log"

# The same function: ORT's fp32 MatMulNBits (accuracy level 0) against llmc's weight-only int4.
$PY - "$W" <<'EOF'
import onnx, sys
w = sys.argv[1]
m = onnx.load(f"{w}/gpt2-q4g32.onnx", load_external_data=False)
for n in m.graph.node:
    for a in n.attribute:
        if n.op_type == "MatMulNBits" and a.name == "accuracy_level":
            a.i = 0
onnx.save(m, f"{w}/gpt2-q4g32.acc0.onnx")  # shares gpt2-q4g32.onnx.data
EOF
echo '{"n_layers": 12, "n_kv_heads": 12, "head_dim": 64, "vocab_size": 50257}' > "$W/gpt2-q4g32.acc0.config.json"
NODE_PATH=$ROOT/bench/ort/node_modules node test/ort/run_ort_decoder.js "$W" gpt2-q4g32.acc0
"$LLMC" compile "$W/gpt2-q4g32.onnx" --activations=fp32 -o "$W/gpt2-q4g32-w.llmc" 2> "$W/compile-q4w.log"
"$BUILD/bin/llmc-check-ref" "$W/gpt2-q4g32-w.llmc" "$W/gpt2-q4g32.acc0.ref.json" --tol 1e-3 --check-tokens=false

$PY bench/llamacpp/interleaved.py --llmc "$LLMC" \
  --pair "$W/gpt2-f32.llmc:$W/gpt2-small.last.onnx" --pair "$W/gpt2-q4g32.llmc:$W/gpt2-q4g32.last.onnx" \
  --threads "$threads" --rounds "$rounds" --prompt "$prompt" --gen "$gen" --vocab 50257 \
  --json bench/results/gpt2-ort.json
