#!/usr/bin/env bash
# The main job end to end on the bundled example model (stories260K):
# set up and build, then run the pipeline as far as this build goes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${LLMC_BUILD_DIR:-build}
LLMC="$BUILD_DIR/bin/llmc"

echo "== host target"
"$LLMC" --print-target=native
echo
echo "== llmc dialect"
"$BUILD_DIR/bin/llmc-opt" --show-dialects | grep -E '^ *llmc$' >/dev/null && echo "llmc-opt knows the llmc dialect"
