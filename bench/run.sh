#!/usr/bin/env bash
# llmc's benchmark suite: llmc against ONNX Runtime, llama.cpp and the machine's
# measured limits, in one run; regenerates docs/BENCHMARKS.md and its plots.
#
#   bench/run.sh            full run (stories260K and the TinyLlama-1.1B shape)
#   bench/run.sh --quick    smoke check, < 5 minutes (stories260K, one layer shape); docs untouched
#   bench/run.sh --no-docs  keep docs/ untouched (results JSON only)
# Other flags go to bench/suite.py (--threads 1,2 --reps N --only STEPS ...).
#
# Needs: the build (LLMC_BUILD_DIR, default build-bench, configured and built
# like scripts/setup.sh does), node + npm (onnxruntime-node is installed into
# bench/ort/node_modules, node-llama-cpp's prebuilt x64 CPU library of llama.cpp into
# bench/llamacpp/node_modules, both with --ignore-scripts), g++ for llama.cpp's driver, Debian's python3-onnx,
# python3-numpy, python3-torch and python3-matplotlib under /usr/bin/python3.
# Generated models and bundles go to bench/work/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${LLMC_BUILD_DIR:-build-bench}
PY=/usr/bin/python3

docs=1
args=()
quick=0
llamacpp=1
for a in "$@"; do
  case "$a" in
    --no-docs) docs=0 ;;
    --quick) quick=1; docs=0; args+=("$a") ;;  # a smoke check never rewrites the docs
    --no-llamacpp) llamacpp=0 ;;
    *) args+=("$a") ;;
  esac
done

# The build: configure like scripts/setup.sh if needed, then build what the suite runs.
if [[ ! -f "$BUILD/build.ninja" ]]; then
  LLMC_BUILD_DIR="$BUILD" scripts/setup.sh
fi
export CCACHE_BASEDIR="$ROOT"
cmake --build "$BUILD" --target llmc llmc-bench-kernels

# ONNX Runtime for node, its bundled CPU library (no install scripts run).
if [[ ! -f bench/ort/node_modules/onnxruntime-node/package.json ]]; then
  (cd bench/ort && npm install --ignore-scripts --no-audit --no-fund)
fi

# llama.cpp: the prebuilt CPU libraries of the npm package @node-llama-cpp/linux-x64 (ggml picks the
# host's ISA variant at load time), driven through its C API by bench/llamacpp/llamacpp_bench.cpp.
# No install scripts run and no optional GPU packages are fetched. --no-llamacpp skips it.
lcpp=()
if ((llamacpp)); then
  driver=$(bench/llamacpp/build.sh bench/work | tail -1)
  # The llama.cpp rows run the model llmc runs: greedy tokens equal PyTorch's on small models.
  $PY bench/llamacpp/check_same_model.py --driver "$driver"
  lcpp=(--llamacpp-driver "$driver")
fi

results=bench/results/full.json
((quick)) && results=bench/results/quick.json
start=$(date +%s)
$PY bench/suite.py --build "$BUILD" -o "$results" "${lcpp[@]}" "${args[@]}"
if ((docs)); then
  $PY bench/report.py "$results" -o docs/BENCHMARKS.md --img-dir docs/bench
fi
echo "== bench/run.sh: $(( $(date +%s) - start )) s; results in $results"
