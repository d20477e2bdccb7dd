#!/usr/bin/env bash
# Set up, build and run every test (GoogleTest units + lit). Ends with
# ctest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${LLMC_BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$(nproc)" --timeout 1200
