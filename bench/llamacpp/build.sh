#!/usr/bin/env bash
# Build bench/work/llamacpp/llamacpp_bench: llmc's driver of llama.cpp's C API, linked against the
# prebuilt libraries of the npm package @node-llama-cpp/linux-x64 (installed here by bench/run.sh).
# The headers come from the llama.cpp source that node-llama-cpp ships as a git bundle (the
# release its binaries were built from); nothing of llama.cpp is built or committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "${1:-$here/../work}/llamacpp"
work=$(cd "${1:-$here/../work}/llamacpp" && pwd)
lib=$here/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
bundle=$here/node_modules/node-llama-cpp/llama/gitRelease.bundle
[[ -d "$lib" && -f "$bundle" ]] || {
  (cd "$here" && npm install --ignore-scripts --omit=optional --no-audit --no-fund)
}
if [[ ! -f "$work/src/include/llama.h" ]]; then
  rm -rf "$work/src"
  git clone -q --depth 1 "$bundle" "$work/src" 2>/dev/null || git clone -q "$bundle" "$work/src"
fi
out=$work/llamacpp_bench
if [[ ! -x "$out" || "$here/llamacpp_bench.cpp" -nt "$out" ]]; then
  g++ -std=c++17 -O2 -o "$out" "$here/llamacpp_bench.cpp" \
    -I"$work/src/include" -I"$work/src/ggml/include" \
    -DLLAMACPP_LIB_DIR="\"$lib\"" \
    "$lib"/libllama.v*.so "$lib"/libggml.v*.so "$lib/libggml-base.so" \
    -Wl,-rpath,"$lib"
fi
echo "$out"
