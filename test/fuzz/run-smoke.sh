#!/usr/bin/env bash
# Bounded fuzzing run for ctest: copy the seeds into a scratch corpus (the
# fuzzer adds inputs to its first corpus directory; the source tree must stay
# untouched), then run a fixed number of iterations.
#   run-smoke.sh FUZZER SCRATCH_DIR RUNS MAX_LEN SEED...
set -euo pipefail
fuzzer=$1 scratch=$2 runs=$3 max_len=$4
shift 4
rm -rf "$scratch" && mkdir -p "$scratch"
# A missing seed is an error: a fuzzer started from nothing rarely gets past
# a format's magic, and the smoke run would pass without testing the parser.
for seed in "$@"; do
  if [[ ! -e "$seed" ]]; then
    echo "run-smoke.sh: missing seed $seed" >&2
    exit 1
  fi
  cp -r "$seed" "$scratch/"
done
exec "$fuzzer" -runs="$runs" -max_len="$max_len" -seed=1 -print_final_stats=1 "$scratch"
