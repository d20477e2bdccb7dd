#!/usr/bin/env bash
# Regenerate the pre-quantized ONNX fixtures and ONNX Runtime's reference outputs in
# test/fixtures/onnx/prequant/ (committed; the tests never need ORT):
#   CASE.onnx (model), CASE.x.bin (float32 input x [3, K]), CASE.ort.bin (ORT's float32 output y).
# Needs node/npm; installs onnxruntime-node into test/ort/node_modules (gitignored) with
# --ignore-scripts (its CPU library is bundled in the package).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/test/fixtures/onnx/prequant"
cases=(nbits4_zp nbits4_sym_bias nbits8_zp nbits4_b16 dq_int4_b32 dq_uint4_b64_nozp
       dq_int8_percol mmi_int8_tensor mmi_uint8_percol)
[[ -d "$here/node_modules/onnxruntime-node" ]] ||
  (cd "$here" && npm install --ignore-scripts --no-audit --no-fund)
/usr/bin/python3 "$root/test/Frontend/Inputs/make_prequant_onnx.py" -o "$out" "${cases[@]}"
(cd "$here" && node run_ort.js "$out" "${cases[@]}")
