#!/usr/bin/env bash
# Bounded fuzzing run for ctest: copy the seeds into a scratch corpus (the
# fuzzer adds inputs to its first corpus directory; the source tree must stay
# untouched), then run a fixed number of iterations.
#   run-smoke.sh FUZZER SCRATCH_DIR RUNS MAX_LEN SEED...
set -euo pipefail
fuzzer=$1 scratch=$2 runs=$3 max_len=$4
shift 4
rm -rf "$scratch" && mkdir -p "$scratch"
for seed in "$@"; do
  [[ -e "$seed" ]] && cp -r "$seed" "$scratch/" || true
done
exec "$fuzzer" -runs="$runs" -max_len="$max_len" -seed=1 -print_final_stats=1 "$scratch"
