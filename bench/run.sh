#!/usr/bin/env bash
# llmc's benchmark suite: llmc against ONNX Runtime and against the machine's
# measured limits, in one run; regenerates docs/BENCHMARKS.md and its plots.
#
#   bench/run.sh            full run (stories260K and the TinyLlama-1.1B shape)
#   bench/run.sh --quick    smoke check, < 5 minutes (stories260K, one layer shape); docs untouched
#   bench/run.sh --no-docs  keep docs/ untouched (results JSON only)
# Other flags go to bench/suite.py (--threads 1,2 --reps N --only STEPS ...).
#
# Needs: the build (LLMC_BUILD_DIR, default build-bench, configured and built
# like scripts/setup.sh does), node + npm (onnxruntime-node is installed into
# bench/ort/node_modules with --ignore-scripts), Debian's python3-onnx,
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
for a in "$@"; do
  case "$a" in
    --no-docs) docs=0 ;;
    --quick) quick=1; docs=0; args+=("$a") ;;  # a smoke check never rewrites the docs
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

results=bench/results/full.json
((quick)) && results=bench/results/quick.json
start=$(date +%s)
$PY bench/suite.py --build "$BUILD" -o "$results" "${args[@]}"
if ((docs)); then
  $PY bench/report.py "$results" -o docs/BENCHMARKS.md --img-dir docs/bench
fi
echo "== bench/run.sh: $(( $(date +%s) - start )) s; results in $results"
