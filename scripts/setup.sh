#!/usr/bin/env bash
# Set up a Debian 12 machine for llmc and build it.
#   scripts/setup.sh            install missing packages, configure, build
# Idempotent: packages already installed are not touched, and the build is
# incremental (ccache makes a fresh clone's first build cheap on a machine
# that built llmc before).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache git
  llvm-19-dev libmlir-19-dev mlir-19-tools clang-19
  libxbyak-dev libonnx-dev libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libsentencepiece-dev libclang-rt-19-dev libicu-dev
  python3-torch python3-onnx python3-numpy python3-matplotlib python3-regex
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ccache keys on absolute paths unless told the tree's root: with this, a
# fresh clone elsewhere on the machine reuses an earlier build's objects.
export CCACHE_BASEDIR="$PWD"

BUILD_DIR=${LLMC_BUILD_DIR:-build}
WERROR=OFF
[[ "${CI:-}" == "true" ]] && WERROR=ON
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  echo "== configuring ($BUILD_DIR)"
  cmake -G Ninja -S . -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-19/build/utils/lit/lit.py \
    -DLLMC_WERROR=$WERROR
fi
echo "== building"
cmake --build "$BUILD_DIR" -j "$(nproc)"
