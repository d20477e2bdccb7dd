#!/usr/bin/env bash
# Regenerate the pre-quantized ONNX fixtures and ONNX Runtime's reference outputs in
# test/fixtures/onnx/prequant/ (committed; the tests never need ORT):
#   single matmuls: CASE.onnx (model), CASE.x.bin (float32 input x [3, K]), CASE.ort.bin (ORT's
#     float32 output y);
#   decoders (the 2-layer llama_half_fp32 fixture with pre-quantized projections): CASE.onnx,
#     CASE.config.json and CASE.ref.json (ORT's logits: prefill, greedy decode on the KV cache,
#     chunked prefill; read by llmc-check-ref). Two references whose models are not kept (the tests
#     generate them or need none): decoder_nbits4_bias.ref.json (biases on q/k/v) and
#     decoder_qdyn_deq.ref.json (ORT on decoder_qdyn's weights dequantized into float MatMuls).
# Also ORT's references for the onnxruntime-genai-form decoders (GroupQueryAttention,
# SkipSimplifiedLayerNormalization, RotaryEmbedding, packed MatMulNBits, GatherBlockQuantized, MoE) in
# test/fixtures/onnx/genai/:
# only their CASE.ref.json is committed; the tests generate the models with
# test/Frontend/Inputs/make_genai_onnx.py (ORT runs them as its --ort writes them: each MoE's input
# also a graph output, which keeps ORT 1.30's in-place CPU MoE from reading a zeroed input).
# genai_moe_fc3.ref.json is ORT's on genai_moe_fc3_fused, whose model is not kept: ORT's CPU MoE
# refuses genai_moe_fc3's fc3_experts_weights (Mixtral's gated experts), and genai_moe_fc3_fused is
# the same function in the form it runs (fc1 and fc3 interleaved into one SwiGLU fc1, alpha 1,
# beta 0, no limit; every other weight genai_moe_fc3's).
# Needs node/npm; installs onnxruntime-node into test/ort/node_modules (gitignored) with
# --ignore-scripts (its CPU library is bundled in the package).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/test/fixtures/onnx/prequant"
gen="$root/test/Frontend/Inputs/make_prequant_onnx.py"
cases=(nbits4_zp nbits4_sym_bias nbits8_zp nbits4_b16 nbits4_b16_mixed dq_int4_b32 dq_uint4_b64_nozp
       dq_int8_percol mmi_int8_tensor mmi_uint8_percol)
decoders=(decoder_nbits4 decoder_qdyn)
[[ -d "$here/node_modules/onnxruntime-node" ]] ||
  (cd "$here" && npm install --ignore-scripts --no-audit --no-fund)
/usr/bin/python3 "$gen" -o "$out" "${cases[@]}" "${decoders[@]}"
(cd "$here" && node run_ort.js "$out" "${cases[@]}")
(cd "$here" && node run_ort_decoder.js "$out" "${decoders[@]}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$gen" -o "$tmp" decoder_nbits4_bias decoder_qdyn_deq
(cd "$here" && node run_ort_decoder.js "$tmp" decoder_nbits4_bias decoder_qdyn_deq)
cp "$tmp/decoder_nbits4_bias.ref.json" "$tmp/decoder_qdyn_deq.ref.json" "$out/"

# onnxruntime-genai-form decoders: models in $tmp, references committed. (genai_gqa_hd8 is left out:
# ORT's GroupQueryAttention refuses its rotary, head_size 8; its reference is llama_half_fp32.ref.json.)
genai=(genai_gqa genai_gqa_nbits4_packed genai_gqa_nbits4_packed_bias genai_gqa_tied_nbits4
       genai_gqa_embedding_q4 genai_gqa_longrope genai_gqa_window genai_rotary genai_gqa_softcap
       genai_moe genai_moe_silu)
genai_out="$root/test/fixtures/onnx/genai"
mkdir -p "$genai_out"
/usr/bin/python3 "$root/test/Frontend/Inputs/make_genai_onnx.py" --ort -o "$tmp" "${genai[@]}"
(cd "$here" && node run_ort_decoder.js "$tmp" "${genai[@]}")
for c in "${genai[@]}"; do cp "$tmp/$c.ref.json" "$genai_out/"; done
/usr/bin/python3 "$root/test/Frontend/Inputs/make_genai_onnx.py" --ort -o "$tmp" genai_moe_fc3_fused
(cd "$here" && node run_ort_decoder.js "$tmp" genai_moe_fc3_fused)
cp "$tmp/genai_moe_fc3_fused.ref.json" "$genai_out/genai_moe_fc3.ref.json"
