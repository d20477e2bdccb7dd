#!/usr/bin/python3
"""Decoders in the form ONNX Runtime GenAI's model builder (onnxruntime-genai
src/python/py/models/builder.py, builders/base.py) writes for CPU Llama models, built from the weights
of test/fixtures/onnx/llama_half_fp32.onnx (2 layers, dim 32, 4 heads, 2 KV heads, head_dim 8,
hidden 72, vocab 64): Microsoft contrib ops (GroupQueryAttention, SkipSimplifiedLayerNormalization,
RotaryEmbedding, MatMulNBits) and the builder's names, node order and value_info.

    make_genai_onnx.py -o DIR [CASE...]   write DIR/CASE.onnx and DIR/CASE.config.json for each CASE
                                          (default: every case)
    make_genai_onnx.py --ort -o DIR ...   the same, with each MoE's input also a graph output (the
                                          models ONNX Runtime's references are made on: keep_moe_inputs)
    make_genai_onnx.py --list             list the cases

The graph, per layer (one layer of genai_gqa; "~" = com.microsoft):
    [~Skip]SimplifiedLayerNormalization -> q/k/v MatMul -> ~GroupQueryAttention (rotary inside, KV
    cache in/out) -> o_proj MatMul -> ~SkipSimplifiedLayerNormalization (residual as output 3) ->
    gate/up MatMul -> Sigmoid, Mul (SiLU) -> Mul -> down MatMul
The genai_moe cases replace each gate/up/down MLP with ONNX Runtime's MoE (~MoE, see class MoE): a
router MatMul [+ Add] whose logits pick each token's experts, whose weights are seeded normal numbers.
genai_moe_fc3 has Mixtral's gated experts (fc3_experts_weights), which ONNX Runtime's CPU MoE refuses;
its reference is ORT's on genai_moe_fc3_fused, the same function as one fused SwiGLU fc1.
seqlens_k and total_sequence_length come from attention_mask (ReduceSum - 1, Shape[1], both int32).
Like the builder, the first norm is SimplifiedLayerNormalization in the default ONNX domain (ONNX
Runtime registers it there, not in com.microsoft); the Skip variants are com.microsoft.

ONNX Runtime's GroupQueryAttention applies its own rotary embedding (do_rotary) only when head_size is
a multiple of 16, so the do_rotary cases split the same q/k/v columns into 2 query heads and 1 KV head
of 16 (config.json says so); genai_rotary (separate RotaryEmbedding ops) keeps the source's 4 and 2
heads of 8 and computes the same function as llama_half_fp32. local_window_size = 4 lets each query
see 4 keys: its own position and the 3 before it.

genai_decoder also builds other shapes (Shape; the defaults are the source fixture's) from a dict of
weights named like llama_half_fp32's initializers, optionally with the lm_head a MatMulNBits too and
an accuracy_level on every MatMulNBits; save_model writes large ones with external data.
bench/genai.py builds a TinyLlama-1.1B-shaped model that way.

The models are not committed: the tests generate them; ONNX Runtime's logits on them are committed in
test/fixtures/onnx/genai/CASE.ref.json (test/ort/regenerate.sh). Output is deterministic (random numbers
only from fixed seeds; the rotary caches are rounded from float64).
"""

import dataclasses
import importlib.util
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("make_prequant_onnx", os.path.join(_here, "make_prequant_onnx.py"))
pq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pq)

F32, I32, I64, U8 = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.UINT8
MS = "com.microsoft"
LAYERS, DIM, HEADS, KV_HEADS, HEAD_DIM, HIDDEN, VOCAB = 2, 32, 4, 2, 8, 72, 64
EPS, THETA, CACHE_LEN, BLOCK = 1e-5, 10000.0, 128, 32
BS, SEQ, TOTAL, PAST = "batch_size", "sequence_length", "total_sequence_length", "past_sequence_length"
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


@dataclasses.dataclass(frozen=True)
class Shape:
    """A decoder's shape; the defaults are the source fixture's (llama_half_fp32). head_dim is
    dim // heads (genai_decoder's heads override splits the same columns); cache_len is the length
    of the rotary cos/sin caches (the builder's context length); block is MatMulNBits' block_size."""
    layers: int = LAYERS
    dim: int = DIM
    heads: int = HEADS
    kv_heads: int = KV_HEADS
    hidden: int = HIDDEN
    vocab: int = VOCAB
    eps: float = EPS
    theta: float = THETA
    cache_len: int = CACHE_LEN
    block: int = BLOCK


@dataclasses.dataclass(frozen=True)
class MoE:
    """A com.microsoft MoE block in place of each layer's MLP (ONNX Runtime's CPU kernel,
    contrib_ops/cpu/moe): a router MatMul (plus a bias Add with bias) on the post-attention norm's
    output gives the logits; MoE sends each row to the K experts of largest softmax probability,
    weighted by those probabilities (renormalized over the K with normalize). Expert e computes
    fc2_e(act(fc1_e(x))), fc1_experts_weights [E, F1, dim] and fc2_experts_weights [E, dim, inter]
    holding each expert's [N, K] matrix (y = x W^T); swiglu's F1 = 2 * inter outputs alternate
    gate, linear (swiglu_fusion 1, the only layout ONNX Runtime's CPU kernel takes) and give
    min(g, limit) * sigmoid(alpha * min(g, limit)) * (clamp(l, -limit, limit) + beta); silu's
    F1 = inter. flatten reshapes the MoE's input to [rows, dim] and its output back to [batch,
    seq, dim] (genai_moe's gpt-oss form); otherwise the input stays [batch, seq, dim] (ONNX
    Runtime takes a 3-D input and gives a 3-D output). The router logits are always reshaped to
    [rows, E]: ONNX Runtime 1.30 refuses 3-D router_probs. alpha, beta and limit are written only
    when given (ONNX Runtime's defaults: 1, 0, no limit). The weights are seeded normal numbers
    times the scales, rounded to float16-representable values.

    gated: Mixtral's experts, fc3_experts_weights [E, inter, dim] (and fc3_experts_bias [E, inter]
    with bias) beside fc1 [E, inter, dim]: h = act(fc1_e(x)) * fc3_e(x) for an elementwise
    activation (silu: Mixtral's). ONNX Runtime's CUDA MoE takes that form, its CPU MoE refuses it
    ("FC3 is not implemented for CPU MoE"). fuse_fc3 (with gated) writes the same weights as the one
    MoE the CPU kernel runs: fc1 [E, 2 * inter, dim] with fc1's rows (the gates) at 2i and fc3's
    (the linears) at 2i + 1, the biases interleaved the same way, activation_type "swiglu",
    swiglu_fusion 1, activation_alpha 1 and activation_beta 0, no swiglu_limit: silu(g) * l, the
    same function (only for a silu activation)."""
    experts: int
    k: int
    inter: int
    activation: str = "swiglu"
    normalize: int = 1
    bias: bool = True
    flatten: bool = True
    alpha: float = None
    beta: float = None
    limit: float = None
    seed: int = 0
    router_scale: float = 0.3
    fc1_scale: float = 0.3
    fc2_scale: float = 0.05
    gated: bool = False
    fuse_fc3: bool = False


def moe_weights(moe, layer, dim):
    """Layer LAYER's router [dim, E] and bias [E], fc1 [E, F1, dim] and bias [E, F1], fc2
    [E, dim, inter] and bias [E, dim] and, with moe.gated, fc3 [E, inter, dim] and bias [E, inter]
    (float32, float16-representable; the biases None without moe.bias). fc3 is drawn after the
    others, and moe.fuse_fc3 does not change the draws: the fused form's weights are the gated
    form's, interleaved (moe_block)."""
    rng = np.random.default_rng(1000 * moe.seed + layer)
    f1 = 2 * moe.inter if moe.activation == "swiglu" else moe.inter
    E = moe.experts

    def normal(scale, *shape):
        return (rng.standard_normal(shape) * scale).astype(np.float16).astype(np.float32)
    w = {"router": normal(moe.router_scale, dim, E), "fc1": normal(moe.fc1_scale, E, f1, dim),
         "fc2": normal(moe.fc2_scale, E, dim, moe.inter)}
    w.update({"router_bias": normal(0.5, E), "fc1_bias": normal(0.5, E, f1), "fc2_bias": normal(0.1, E, dim)}
             if moe.bias else {"router_bias": None, "fc1_bias": None, "fc2_bias": None})
    if moe.gated:
        w["fc3"] = normal(moe.fc1_scale, E, moe.inter, dim)
        w["fc3_bias"] = normal(0.5, E, moe.inter) if moe.bias else None
    return w


def interleave_rows(a, b):
    """[E, 2n, ...] with A's rows (axis 1) at the even indices and B's at the odd ones."""
    out = np.empty((a.shape[0], 2 * a.shape[1]) + a.shape[2:], np.float32)
    out[:, 0::2], out[:, 1::2] = a, b
    return out


def source_weights():
    m = onnx.load(os.path.join(pq.FIXTURES, "llama_half_fp32.onnx"))
    return {t.name: onnx.numpy_helper.to_array(t).astype(np.float32) for t in m.graph.initializer}


def rotary_caches(head_dim, theta=THETA, cache_len=CACHE_LEN, rescale=None, mscale=1.0):
    """builder.py's make_rotary_embedding_caches_from_scratch, halved to [cache_length, head_dim / 2]:
    inv_freq = 1 / (rescale_j * theta^(2j / head_dim)) (rescale: LongRoPE's short or long factors,
    default 1) and t = arange(cache_length), both float32, freqs = outer(t, inv_freq) in float32;
    cos and sin of those float32 angles, rounded from float64, times mscale."""
    r = np.ones(head_dim // 2, np.float32) if rescale is None else np.asarray(rescale, np.float32)
    inv_freq = (1.0 / (r * np.float32(theta) ** (np.arange(0, head_dim, 2, dtype=np.float32)
                                                   / np.float32(head_dim)))).astype(np.float32)
    freqs = np.outer(np.arange(cache_len, dtype=np.float32), inv_freq).astype(np.float32)
    f = freqs.astype(np.float64)
    return ((np.cos(f) * mscale).astype(np.float32), (np.sin(f) * mscale).astype(np.float32))


# LongRoPE (Phi-3/3.5/4-mini): short factors up to ORIGINAL positions, long factors (and an mscale)
# beyond; tiny contexts so that the 16-token prompt of the references crosses the switch.
LONGROPE_ORIGINAL = 12
LONGROPE_SHORT = [1.0, 1.05, 1.1, 1.2, 1.4, 1.7, 2.1, 2.6]
LONGROPE_LONG = [1.0, 1.3, 1.9, 2.8, 4.0, 5.5, 7.5, 10.0]
LONGROPE_MSCALE = float(np.sqrt(1 + np.log(CACHE_LEN / LONGROPE_ORIGINAL) / np.log(LONGROPE_ORIGINAL)))


class Builder:
    """The bits of the model builder's Model class these graphs need: named constants made on first
    use (/model/constants/DTYPE/VALUE, a Constant node /model/constant_nodes/...), initializers,
    nodes in creation order and a value_info per intermediate value."""

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = inputs, outputs
        self.nodes, self.inits, self.vis, self.made = [], [], [], set()

    def const(self, dtype, value):
        name = f"/model/constants/{TensorProto.DataType.Name(dtype)}/{value}"
        if name not in self.made:
            self.made.add(name)
            np_type = {I64: np.int64, I32: np.int32, F32: np.float32}[dtype]
            t = onnx.numpy_helper.from_array(np.array(json.loads(value), dtype=np_type), name=name)
            self.nodes.append(helper.make_node("Constant", [], [name], name=name.replace("constants", "constant_nodes"),
                                               value=t))
        return name

    def node(self, op, inputs, outputs, name, domain=None, **attrs):
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain, **attrs))
        return outputs[0]

    def value(self, name, dtype, shape):
        self.vis.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def op(self, op, name, inputs, dtype, shape, domain=None, **attrs):
        """One node with output NAME/output_0 (the builder's convention)."""
        out = f"{name}/output_0"
        self.node(op, inputs, [out], name, domain, **attrs)
        return self.value(out, dtype, shape)

    def init(self, name, arr):
        self.inits.append(pq.f32(name, arr))
        return name

    def model(self):
        g = helper.make_graph(self.nodes, "main_graph", self.inputs, self.outputs, self.inits, value_info=self.vis)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)],
                              producer_name="onnxruntime-genai")
        m.ir_version = 8
        return m


def pack4_rows(a):
    """pq.pack4 of each row of A [rows, n], concatenated (a row of odd length ends in a padding
    nibble), packed as one array."""
    a = np.asarray(a)
    if a.shape[1] % 2:
        a = np.concatenate([a, np.zeros((a.shape[0], 1), a.dtype)], axis=1)
    return pq.pack4(a)


def quantize_nbits4_packed(w, block, chunk=4096):
    """MatMulNBits' initializers for W [K, N] with make_prequant_onnx's RTN codes (asymmetric, zero
    points): packed codes [N, nb, block / 2], scales [N * nb], packed zero points [N * ceil(nb / 2)]
    (bytes, float32, bytes) and nb. Each output column is quantized on its own, so the columns are done CHUNK at
    a time (the same numbers as one call, in less memory)."""
    K, N = w.shape
    codes, scales, zps = [], [], []
    for n0 in range(0, N, chunk):
        q, scale, zp = pq.quantize_nbits4(w[:, n0:n0 + chunk], block)
        codes.append(pack4_rows(q))
        scales.append(scale.reshape(-1))
        zps.append(pack4_rows(zp))
    return b"".join(codes), np.concatenate(scales), b"".join(zps), (K + block - 1) // block


def genai_decoder(heads=None, kv_heads=None, packed_nbits4=False, window=-1, interleaved=0, rotary_op=False,
                  seqlens_minus="[1]", softcap=0.0, shape=Shape(), weights=None, lm_head_nbits4=False,
                  accuracy_level=None, seqlens_keepdims=False, qkv_bias=False, tied_nbits4=False,
                  embedding_q4_sym=False, longrope=False, moe=None):
    """heads and kv_heads (default: SHAPE's) split the same q/k/v columns (head_dim = dim / heads).
    WEIGHTS maps the names of llama_half_fp32's initializers (tok_embeddings.weight,
    layers.{i}.attention.wq.weight_T [K, N], ..., norm.weight, output.weight_T) to float32 arrays
    of SHAPE (default: that fixture's). lm_head_nbits4 makes the lm_head a MatMulNBits too;
    accuracy_level, when given, is set on every MatMulNBits (4: ONNX Runtime may quantize the
    activations to int8). tied_nbits4 ties the embedding to a MatMulNBits lm_head as the builder's
    int4_tied_embeddings does: GatherBlockQuantized reads the lm_head's codes through a Reshape to
    [vocab, dim / 2] and its [vocab, n_blocks] scales and zero points (the table is then
    dequant(output.weight), not tok_embeddings). embedding_q4_sym makes the (untied) table a
    GatherBlockQuantized of its own: symmetric codes [vocab, dim / 2], no zero points. longrope
    picks the rotary caches as the builder's make_rotary_embedding_multi_cache does: an If on
    total_sequence_length > LONGROPE_ORIGINAL whose branches are Constant nodes, the long caches
    [cache_len, R/2] (long factors, mscale) or the short ones [LONGROPE_ORIGINAL, R/2]. moe (a MoE)
    replaces every layer's MLP with a MoE block of its own seeded weights."""
    W = source_weights() if weights is None else weights
    heads = shape.heads if heads is None else heads
    kv_heads = shape.kv_heads if kv_heads is None else kv_heads
    DIM, HIDDEN, VOCAB, EPS, BLOCK = shape.dim, shape.hidden, shape.vocab, shape.eps, shape.block
    head_dim = DIM // heads
    inputs = [helper.make_tensor_value_info("input_ids", I64, [BS, SEQ]),
              helper.make_tensor_value_info("attention_mask", I64, [BS, TOTAL])]
    if rotary_op:
        inputs.append(helper.make_tensor_value_info("position_ids", I64, [BS, SEQ]))
    outputs = [helper.make_tensor_value_info("logits", F32, [BS, SEQ, VOCAB])]
    for i in range(shape.layers):
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kv}", F32, [BS, kv_heads, PAST, head_dim]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kv}", F32, [BS, kv_heads, TOTAL, head_dim]))
    b = Builder(inputs, outputs)

    # make_attention_mask_standard_reformatting_for_gqa
    mask = "/model/attn_mask_reformat/attn_mask_subgraph"
    # (older builders kept the reduced dim: seqlens_k [batch, 1], which ONNX Runtime reads alike)
    sk = [BS, 1] if seqlens_keepdims else [BS]
    s = b.op("ReduceSum", f"{mask}/ReduceSum", ["attention_mask", b.const(I64, "[1]")], I64, sk,
             keepdims=int(seqlens_keepdims))
    s = b.op("Sub", f"{mask}/Sub", [s, b.const(I64, seqlens_minus)], I64, sk)
    seqlens_k = b.op("Cast", f"{mask}/Sub/Cast", [s], I32, sk, to=I32)
    s = b.op("Shape", f"{mask}/Shape", ["attention_mask"], I64, [2])
    s = b.op("Gather", f"{mask}/Gather", [s, b.const(I64, "1")], I64, [], axis=0)
    total_seq_len = b.op("Cast", f"{mask}/Gather/Cast", [s], I32, None, to=I32)

    if tied_nbits4:
        # The lm_head's MatMulNBits initializers, made first: the embedding reads them too.
        codes, scales, zps, nb = quantize_nbits4_packed(W["output.weight_T"], BLOCK)
        lm = "lm_head.MatMul.weight"
        b.inits += [pq.raw_tensor(lm + "_Q4G32", U8, [VOCAB, nb, BLOCK // 2], codes),
                    pq.f32(lm + "_scales", scales.reshape(VOCAB, nb)),
                    pq.raw_tensor(lm + "_zero_points", U8, [VOCAB, (nb + 1) // 2], zps)]
        table = b.op("Reshape", "/model/embed_tokens/Reshape", [lm + "_Q4G32", b.const(I64, f"[{VOCAB}, {DIM // 2}]")],
                     U8, [VOCAB, DIM // 2])
        x = b.op("GatherBlockQuantized", "/model/embed_tokens/GatherBlockQuantized",
                 [table, "input_ids", lm + "_scales", lm + "_zero_points"], F32, [BS, SEQ, DIM], domain=MS,
                 bits=4, block_size=BLOCK)
    elif embedding_q4_sym:
        e = W["tok_embeddings.weight"]
        blocks = e.reshape(VOCAB, DIM // BLOCK, BLOCK)
        scale = (np.abs(blocks).max(axis=2) / 7).astype(np.float32)
        scale[scale == 0] = 1
        q = np.clip(np.round(blocks / scale[:, :, None]), -8, 7).astype(np.int64) + 8
        b.inits += [pq.raw_tensor("model.embed_tokens.weight_Q4", U8, [VOCAB, DIM // 2], pq.pack4(q)),
                    pq.f32("model.embed_tokens.weight_scales", scale)]
        x = b.op("GatherBlockQuantized", "/model/embed_tokens/GatherBlockQuantized",
                 ["model.embed_tokens.weight_Q4", "input_ids", "model.embed_tokens.weight_scales"], F32,
                 [BS, SEQ, DIM], domain=MS, bits=4, block_size=BLOCK, gather_axis=0, quantize_axis=1)
    else:
        emb = b.init("model.embed_tokens.weight", W["tok_embeddings.weight"])
        x = b.op("Gather", "/model/embed_tokens/Gather", [emb, "input_ids"], F32, [BS, SEQ, DIM])
    root, skip = x, x  # make_layernorm's root_input / skip_input
    cos_cache = sin_cache = None

    def matmul(basename, inp, w, out_dim, quantize, out=None):
        weight = basename[1:].replace("/", ".") + ".weight"
        if not quantize:
            return b.op("MatMul", basename, [inp, b.init(weight, w)], F32, [BS, SEQ, out_dim])
        # MatMulNBitsQuantizer's output, with make_prequant_onnx's RTN codes (asymmetric, zero points)
        K, N = w.shape
        codes, scales, zps, nb = quantize_nbits4_packed(w, BLOCK)
        b.inits += [pq.raw_tensor(weight + "_Q4G32", U8, [N, nb, BLOCK // 2], codes),
                    pq.f32(weight + "_scales", scales),
                    pq.raw_tensor(weight + "_zero_points", U8, [N * ((nb + 1) // 2)], zps)]
        if out is None:
            out = b.value(f"{basename}/output_0", F32, [BS, SEQ, out_dim])  # the quantizer keeps the output name
        attrs = {} if accuracy_level is None else {"accuracy_level": accuracy_level}
        return b.node("MatMulNBits", [inp, weight + "_Q4G32", weight + "_scales", weight + "_zero_points"], [out],
                      basename + "_Q4", domain=MS, K=K, N=N, bits=4, block_size=BLOCK, **attrs)

    def layernorm(layer, location, weight, first=False, last=False):
        nonlocal root
        base = f"/model/layers.{layer}/{location}_layernorm"
        w = b.init(f"model.layers.{layer}.{location}_layernorm.weight", weight)
        out0 = b.value(f"{base}/output_0", F32, [BS, SEQ, DIM])
        if first:
            b.node("SimplifiedLayerNormalization", [root, w], [out0], f"{base}/LayerNorm",
                   epsilon=EPS, axis=-1, stash_type=1)
        elif last:
            b.node("SkipSimplifiedLayerNormalization", [root, skip, w], [out0], f"{base}/SkipLayerNorm",
                   domain=MS, epsilon=EPS)
        else:
            out3 = b.value(f"{base}/output_3", F32, [BS, SEQ, DIM])
            b.node("SkipSimplifiedLayerNormalization", [root, skip, w], [out0, "", "", out3],
                   f"{base}/SkipLayerNorm", domain=MS, epsilon=EPS)
            root = out3
        return out0

    for i in range(shape.layers):
        L, attn = f"layers.{i}.", f"/model/layers.{i}/attn"
        h = layernorm(i, "input", W[L + "attention_norm.weight"], first=(i == 0))
        wq, wk, wv = (W[L + f"attention.{p}.weight_T"] for p in ("wq", "wk", "wv"))
        if packed_nbits4:
            q = matmul(f"{attn}/qkv_proj/MatMul", h, np.concatenate([wq, wk, wv], axis=1),
                       DIM + 2 * kv_heads * head_dim, True)
            if qkv_bias:  # Qwen2: the builder adds the q/k/v biases after the packed MatMulNBits
                n = DIM + 2 * kv_heads * head_dim
                bias = np.random.default_rng(7 + i).standard_normal(n).astype(np.float32) * 0.5
                q = b.op("Add", f"{attn}/qkv_proj/Add", [q, b.init(f"model.layers.{i}.attn.qkv_proj.bias", bias)],
                         F32, [BS, SEQ, n])
            k = v = ""
        else:
            q = matmul(f"{attn}/q_proj/MatMul", h, wq, DIM, False)
            k = matmul(f"{attn}/k_proj/MatMul", h, wk, kv_heads * head_dim, False)
            v = matmul(f"{attn}/v_proj/MatMul", h, wv, kv_heads * head_dim, False)
        del wq, wk, wv
        if cos_cache is None and longrope:
            def branch(name, rows, factors, mscale):
                c, s_ = rotary_caches(head_dim, shape.theta, rows, factors, mscale)
                nodes = [helper.make_node("Constant", [], [f"{k}_cache_{name}"], name=f"/{name}/{k}_cache/Constant",
                                          value=onnx.numpy_helper.from_array(t, f"{k}_cache_{name}"))
                         for k, t in (("cos", c), ("sin", s_))]
                outs = [helper.make_tensor_value_info(f"{k}_cache_{name}", F32, list(c.shape)) for k in ("cos", "sin")]
                return helper.make_graph(nodes, f"{name}_rotemb_caches_graph", [], outs)
            base = "/model/rotemb_caches_subgraph"
            cond = b.op("Greater", f"{base}/Greater", [f"{mask}/Gather/output_0", b.const(I64, str(LONGROPE_ORIGINAL))],
                        TensorProto.BOOL, [])
            cos_cache, sin_cache = "cos_cache", "sin_cache"
            b.node("If", [cond], [cos_cache, sin_cache], f"{base}/If",
                   then_branch=branch("large", shape.cache_len, LONGROPE_LONG, LONGROPE_MSCALE),
                   else_branch=branch("small", LONGROPE_ORIGINAL, LONGROPE_SHORT, 1.0))
            b.value(cos_cache, F32, ["max_sequence_length", head_dim // 2])
            b.value(sin_cache, F32, ["max_sequence_length", head_dim // 2])
        if cos_cache is None:
            c, s_ = rotary_caches(head_dim, shape.theta, shape.cache_len)
            cos_cache, sin_cache = b.init("cos_cache", c), b.init("sin_cache", s_)
        if rotary_op:
            q = b.op("RotaryEmbedding", f"{attn}/q_rotary/RotaryEmbedding", [q, "position_ids", cos_cache, sin_cache],
                     F32, [BS, SEQ, DIM], domain=MS, interleaved=interleaved, num_heads=heads)
            k = b.op("RotaryEmbedding", f"{attn}/k_rotary/RotaryEmbedding", [k, "position_ids", cos_cache, sin_cache],
                     F32, [BS, SEQ, kv_heads * head_dim], domain=MS, interleaved=interleaved, num_heads=kv_heads)
            caches = ["", ""]
        else:
            caches = [cos_cache, sin_cache]
        a = b.value(f"{attn}/GroupQueryAttention/output_0", F32, [BS, SEQ, DIM])
        b.node("GroupQueryAttention",
               [q, k, v, f"past_key_values.{i}.key", f"past_key_values.{i}.value", seqlens_k, total_seq_len] + caches,
               [a, f"present.{i}.key", f"present.{i}.value"], f"{attn}/GroupQueryAttention", domain=MS,
               num_heads=heads, kv_num_heads=kv_heads, scale=float(1 / np.sqrt(head_dim)), local_window_size=window,
               softcap=softcap, do_rotary=0 if rotary_op else 1, rotary_interleaved=interleaved)
        skip = matmul(f"{attn}/o_proj/MatMul", a, W[L + "attention.wo.weight_T"], DIM, packed_nbits4)

        h = layernorm(i, "post_attention", W[L + "ffn_norm.weight"])
        if moe is not None:
            skip = moe_block(b, i, h, moe, DIM)
        else:
            mlp = f"/model/layers.{i}/mlp"
            gate = matmul(f"{mlp}/gate_proj/MatMul", h, W[L + "feed_forward.w1.weight_T"], HIDDEN, packed_nbits4)
            up = matmul(f"{mlp}/up_proj/MatMul", h, W[L + "feed_forward.w3.weight_T"], HIDDEN, packed_nbits4)
            sig = b.op("Sigmoid", f"{mlp}/act_fn/Sigmoid", [gate], F32, [BS, SEQ, HIDDEN])
            act = b.op("Mul", f"{mlp}/act_fn/Mul", [gate, sig], F32, [BS, SEQ, HIDDEN])
            prod = b.op("Mul", f"{mlp}/Mul", [act, up], F32, [BS, SEQ, HIDDEN])
            skip = matmul(f"{mlp}/down_proj/MatMul", prod, W[L + "feed_forward.w2.weight_T"], DIM, packed_nbits4)

    h = layernorm(shape.layers, "final_norm", W["norm.weight"], last=True)
    if tied_nbits4:
        lm = "lm_head.MatMul.weight"
        attrs = {} if accuracy_level is None else {"accuracy_level": accuracy_level}
        b.node("MatMulNBits", [h, lm + "_Q4G32", lm + "_scales", lm + "_zero_points"], ["logits"],
               "/lm_head/MatMul_Q4", domain=MS, K=DIM, N=VOCAB, bits=4, block_size=BLOCK, **attrs)
    elif lm_head_nbits4:
        matmul("/lm_head/MatMul", h, W["output.weight_T"], VOCAB, True, out="logits")
    else:
        b.node("MatMul", [h, b.init("lm_head.MatMul.weight", W["output.weight_T"])], ["logits"], "/lm_head/MatMul")
    return b.model()


def moe_block(b, layer, h, moe, dim):
    """Layer LAYER's MoE block (a MoE) on the norm's output H [batch, seq, dim]; its output
    [batch, seq, dim] (the next norm's skip)."""
    base, name = f"/model/layers.{layer}/moe", f"model.layers.{layer}.moe"
    w = moe_weights(moe, layer, dim)
    E, rows = moe.experts, "batch_size*sequence_length"
    logits = b.op("MatMul", f"{base}/router/MatMul", [h, b.init(f"{name}.router.weight", w["router"])],
                  F32, [BS, SEQ, E])
    if w["router_bias"] is not None:
        logits = b.op("Add", f"{base}/router/Add", [logits, b.init(f"{name}.router.bias", w["router_bias"])],
                      F32, [BS, SEQ, E])
    logits = b.op("Reshape", f"{base}/router/Reshape", [logits, b.const(I64, f"[-1, {E}]")], F32, [rows, E])
    x = h
    if moe.flatten:
        x = b.op("Reshape", f"{base}/input/Reshape", [h, b.const(I64, f"[-1, {dim}]")], F32, [rows, dim])
    activation, alpha, beta, limit = moe.activation, moe.alpha, moe.beta, moe.limit
    fc3 = moe.gated and not moe.fuse_fc3
    if moe.gated and moe.fuse_fc3:
        # silu(g) * l as ONNX Runtime's CPU kernel computes it: interleaved SwiGLU, alpha 1, beta 0.
        assert moe.activation == "silu" and alpha is None and beta is None and limit is None
        w["fc1"] = interleave_rows(w["fc1"], w["fc3"])
        if w["fc1_bias"] is not None:
            w["fc1_bias"] = interleave_rows(w["fc1_bias"], w["fc3_bias"])
        activation, alpha, beta = "swiglu", 1.0, 0.0
    ins = [x, logits, b.init(f"{name}.experts.fc1.weight", w["fc1"]),
           "" if w["fc1_bias"] is None else b.init(f"{name}.experts.fc1.bias", w["fc1_bias"]),
           b.init(f"{name}.experts.fc2.weight", w["fc2"])]
    if w["fc2_bias"] is not None or fc3:
        ins.append("" if w["fc2_bias"] is None else b.init(f"{name}.experts.fc2.bias", w["fc2_bias"]))
    if fc3:
        ins.append(b.init(f"{name}.experts.fc3.weight", w["fc3"]))
        if w["fc3_bias"] is not None:
            ins.append(b.init(f"{name}.experts.fc3.bias", w["fc3_bias"]))
    attrs = {"k": moe.k, "normalize_routing_weights": moe.normalize, "activation_type": activation}
    if activation == "swiglu":
        attrs["swiglu_fusion"] = 1
    for key, v in (("activation_alpha", alpha), ("activation_beta", beta), ("swiglu_limit", limit)):
        if v is not None:
            attrs[key] = float(v)
    y = b.op("MoE", f"{base}/MoE", ins, F32, [rows, dim] if moe.flatten else [BS, SEQ, dim], domain=MS, **attrs)
    if moe.flatten:
        s = b.op("Shape", f"{base}/output/Shape", [h], I64, [3])
        y = b.op("Reshape", f"{base}/output/Reshape", [y, s], F32, [BS, SEQ, dim])
    return y


def save_model(m, path, external_data=False):
    """Write M to PATH; with external_data, every initializer over 1 KiB goes to one file beside it,
    PATH's name + "_data" (the protobuf's 2 GiB limit)."""
    if not external_data:
        with open(path, "wb") as f:
            f.write(m.SerializeToString())
        return
    data = os.path.basename(path) + "_data"
    if os.path.exists(path + "_data"):
        os.remove(path + "_data")  # onnx.save appends to an existing data file
    onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data,
              size_threshold=1024)


# ONNX Runtime's GroupQueryAttention computes the rotary embedding itself (do_rotary, cos/sin caches)
# only for a head_size that is a multiple of 16 (and a cache width that is a multiple of 8): these
# cases split the same q/k/v columns into 2 query heads and 1 KV head of 16 (a GQA group of 2, like
# 4 and 2); genai_gqa_hd8 keeps the source model's 4 x 8 heads, which ORT refuses (no ORT reference).

@case
def genai_gqa():
    """GroupQueryAttention with the rotary embedding inside (do_rotary, cos/sin caches), float q/k/v
    MatMuls; 2 query heads and 1 KV head of 16 (ONNX Runtime's rotary needs head_size % 16 == 0)."""
    return genai_decoder(heads=2, kv_heads=1)


@case
def genai_gqa_nbits4_packed():
    """genai_gqa with every projection a MatMulNBits (4 bits, blocks of 32, zero points), q/k/v packed
    into one of N = 64 whose output is the query of GroupQueryAttention (key and value absent); the
    lm_head stays a float MatMul."""
    return genai_decoder(heads=2, kv_heads=1, packed_nbits4=True)


@case
def genai_gqa_nbits4_packed_bias():
    """genai_gqa_nbits4_packed with Qwen2's q/k/v biases: an Add of the packed [64] bias after the
    packed MatMulNBits, before GroupQueryAttention."""
    return genai_decoder(heads=2, kv_heads=1, packed_nbits4=True, qkv_bias=True)


@case
def genai_gqa_tied_nbits4():
    """genai_gqa_nbits4_packed with the lm_head a MatMulNBits and the embedding tied to it
    (GatherBlockQuantized of a Reshape of the lm_head's codes, its scales and zero points), as the
    builder's int4_tied_embeddings writes it."""
    return genai_decoder(heads=2, kv_heads=1, packed_nbits4=True, tied_nbits4=True)


@case
def genai_gqa_embedding_q4():
    """genai_gqa with a GatherBlockQuantized embedding table of its own: symmetric 4-bit codes
    [vocab, dim / 2] in blocks of 32, no zero points (ONNX Runtime's default 8)."""
    return genai_decoder(heads=2, kv_heads=1, embedding_q4_sym=True)


@case
def genai_gqa_longrope():
    """genai_gqa with LongRoPE's two pairs of rotary caches chosen by an If on the total sequence
    length (Phi-3 as the builder writes it): short factors while it is at most 12, long factors
    and mscale beyond, for the keys and queries of that call (cached keys keep their rotation)."""
    return genai_decoder(heads=2, kv_heads=1, longrope=True)


@case
def genai_gqa_window():
    """genai_gqa with a sliding window (local_window_size 4) and interleaved rotary pairs (rotary_interleaved 1)."""
    return genai_decoder(heads=2, kv_heads=1, window=4, interleaved=1)


@case
def genai_rotary():
    """A position_ids input and one RotaryEmbedding each on q and k, then GroupQueryAttention without
    rotary; the source model's 4 query heads and 2 KV heads of 8, so ONNX Runtime matches
    llama_half_fp32's PyTorch reference."""
    return genai_decoder(rotary_op=True)


@case
def genai_gqa_hd8():
    """genai_gqa with the source model's 4 query heads and 2 KV heads of 8: the same function as
    llama_half_fp32 (whose PyTorch reference is this model's), but ONNX Runtime's CPU
    GroupQueryAttention refuses its rotary (head_size 8)."""
    return genai_decoder()


@case
def genai_gqa_softcap():
    """genai_gqa with Gemma-2's soft-capped attention scores (softcap 0.5, small enough to change
    ONNX Runtime's logits by up to 0.99 against genai_gqa's)."""
    return genai_decoder(heads=2, kv_heads=1, softcap=0.5)


@case
def genai_gqa_seqlens_2d():
    """genai_gqa_hd8 with seqlens_k [batch, 1] (ReduceSum with keepdims, as older model builders wrote
    it); the same function as llama_half_fp32."""
    return genai_decoder(seqlens_keepdims=True)


@case
def bad_genai_seqlens():
    """genai_gqa_hd8 with seqlens_k = attention_mask.sum() - 2 (one key short of the causal mask): the
    attention mask the importer writes from it must fail CodeGen's mask check."""
    return genai_decoder(seqlens_minus="[2]")


# gpt-oss's MoE: 4 experts of intermediate size 48 (not dim 32), 2 per token renormalized, biases
# everywhere, interleaved SwiGLU with gpt-oss's alpha 1.702, beta 1 and limit 7. Over the 23
# positions ONNX Runtime's references compute (the prompt and 7 greedy tokens), in layers 0 and 1:
# the routed experts' fc1 outputs have a standard deviation of about 2.2 and 11 of their 2 x 4416
# gate and linear values pass the limit (up to 9.6), at positions 4, 15, 16, 19 and 0, 1, 2, 4, 5, 7;
# the router logits (std 2.2 and 1.7) send each expert 13, 4, 5, 1 and 5, 7, 5, 6 of the positions
# as their first choice, and the second and third largest logits of a position differ by 0.11 at
# least (the seed was picked for that margin, so that rounding does not change the routing).
GPT_OSS_MOE = MoE(experts=4, k=2, inter=48, alpha=1.702, beta=1.0, limit=7.0, seed=5, fc1_scale=0.38)


@case
def genai_moe():
    """genai_gqa with each layer's MLP ONNX Runtime's MoE as gpt-oss has it: 4 experts of intermediate
    size 48 with biases, the top 2 renormalized, interleaved SwiGLU with gpt-oss's alpha, beta and
    limit. Those are 1.702, 1 and 7; a router MatMul and bias Add make the logits; the norm's output
    and the logits are reshaped to 2-D for the MoE, its output back to [batch, seq, dim]."""
    return genai_decoder(heads=2, kv_heads=1, moe=GPT_OSS_MOE)


@case
def genai_moe_silu():
    """genai_gqa with each layer's MLP ONNX Runtime's MoE of 3 plain SiLU experts of intermediate size
    72, no biases (the router's neither), the top 1 weighted by its softmax probability
    (normalize_routing_weights 0). The MoE's input stays [batch, seq, dim] (so does its output); the
    router logits are reshaped to 2-D (ONNX Runtime 1.30 refuses 3-D router_probs)."""
    # seed 12: the experts are each layer's first choice at 6, 11, 6 and 8, 11, 4 of the 23 positions,
    # the largest router logit 0.18 above the next at least
    return genai_decoder(heads=2, kv_heads=1, moe=MoE(experts=3, k=1, inter=72, activation="silu", normalize=0,
                                                      bias=False, flatten=False, seed=12))


# Mixtral's gated experts in genai_moe's structure: 4 SiLU experts of intermediate size 48, fc1 (the
# gate) and fc3 (the up projection) [E, 48, dim], fc2 [E, dim, 48], biases on all three and on the
# router, the top 2 renormalized. Over the 23 positions of ONNX Runtime's reference (on
# genai_moe_fc3_fused), the router logits send each expert 5, 4, 9, 5 (layer 0) and 11, 2, 6, 4
# (layer 1) of the positions as their first choice, and the second and third largest logits of a
# position differ by 0.15 at least (seed 113 was picked for that margin); the MoE outputs reach 2.4.
FC3_MOE = MoE(experts=4, k=2, inter=48, activation="silu", gated=True, seed=113)


@case
def genai_moe_fc3():
    """genai_moe with Mixtral's gated experts: 4 SiLU experts of intermediate size 48 whose fc1
    (gate) and fc3_experts_weights (up) give silu(fc1 x) * (fc3 x), biases on fc1, fc2 and fc3, the
    top 2 renormalized; genai_moe's flattened 2-D MoE input and router MatMul and bias Add. ONNX
    Runtime's CPU MoE refuses fc3; its reference is ONNX Runtime's on genai_moe_fc3_fused."""
    return genai_decoder(heads=2, kv_heads=1, moe=FC3_MOE)


@case
def genai_moe_fc3_fused():
    """genai_moe_fc3's weights as the MoE ONNX Runtime's CPU kernel runs (for the reference only): fc1
    and fc3 interleaved into one fc1 [E, 96, dim] (gate rows at 2i, fc3's at 2i + 1, the biases the
    same), activation_type swiglu with swiglu_fusion 1, alpha 1, beta 0 and no limit, which is
    silu(gate) * linear, genai_moe_fc3's function. Every other initializer is genai_moe_fc3's, bit for
    bit."""
    # Checked: ONNX Runtime 1.30's MoE outputs on this model (CPU, graph optimizations disabled; the
    # prompt and the 7 greedy tokens, 23 rows, in one call) against numpy's float64 evaluation of the
    # fc3 form, sum over the top 2 of w_e (silu(x W1_e^T + b1_e) * (x W3_e^T + b3_e)) W2_e^T + b2_e,
    # on each MoE's own input and router logits: largest difference 5.1e-7 (layer 0) and 6.5e-7
    # (layer 1), outputs up to 2.4.
    return genai_decoder(heads=2, kv_heads=1, moe=dataclasses.replace(FC3_MOE, fuse_fc3=True))


def with_gather_block_quantized_attrs(m, **attrs):
    """M with ATTRS set on its GatherBlockQuantized node."""
    for n in m.graph.node:
        if n.op_type == "GatherBlockQuantized":
            for a in [a for a in n.attribute if a.name in attrs]:
                n.attribute.remove(a)
            n.attribute.extend(helper.make_attribute(k, v) for k, v in attrs.items())
    return m


@case
def bad_gbq_gather_axis():
    """genai_gqa_embedding_q4 with gather_axis 1 (columns of the table): not an embedding lookup."""
    return with_gather_block_quantized_attrs(CASES["genai_gqa_embedding_q4"](), gather_axis=1)


@case
def bad_gbq_partial_block():
    """genai_gqa_embedding_q4 with block_size 64 over rows of 32: ONNX Runtime reads one short block
    per row, which is not MatMulNBits' layout of the same bytes."""
    return with_gather_block_quantized_attrs(CASES["genai_gqa_embedding_q4"](), block_size=64)


@case
def bad_gbq_bits2():
    """genai_gqa_embedding_q4 claiming 2-bit codes (ONNX Runtime reads uint8 data so too)."""
    return with_gather_block_quantized_attrs(CASES["genai_gqa_embedding_q4"](), bits=2)


def _if_node(m):
    return next(n for n in m.graph.node if n.op_type == "If")


@case
def bad_if_computes():
    """genai_gqa_longrope whose else branch computes its sin cache (Neg of the cos cache): not a
    choice between constants."""
    m = CASES["genai_gqa_longrope"]()
    g = next(a.g for a in _if_node(m).attribute if a.name == "else_branch")
    sin = g.node[1]
    g.node.remove(sin)
    g.node.append(helper.make_node("Neg", [g.node[0].output[0]], [sin.output[0]], name="/small/sin_cache/Neg"))
    return m


@case
def bad_if_widths():
    """genai_gqa_longrope whose short caches are [12, 4] against the long ones' [128, 8]."""
    m = CASES["genai_gqa_longrope"]()
    g = next(a.g for a in _if_node(m).attribute if a.name == "else_branch")
    for n in g.node:
        t = onnx.numpy_helper.to_array(n.attribute[0].t)[:, :4].copy()
        n.attribute[0].t.CopyFrom(onnx.numpy_helper.from_array(t, n.output[0]))
    return m


@case
def bad_longrope_switch():
    """genai_gqa_longrope choosing the long caches while total_sequence_length < 12 (Less for
    Greater): not one switch from the short set to the long one."""
    m = CASES["genai_gqa_longrope"]()
    next(n for n in m.graph.node if n.op_type == "Greater").op_type = "Less"
    return m


def keep_moe_inputs(m):
    """M with each MoE's input also a graph output. ONNX Runtime 1.30's CPU MoE may be given its
    input's buffer for its output (it is registered MayInplace(0, 0)) and zeroes its output before
    it reads its input: where the input is a value no later node reads (genai_moe_silu's norm
    output; genai_moe's is a Reshape's, which ORT leaves alone), it computes the experts of a zero
    input. A graph output keeps the input's buffer its own; logits and cache are the same function."""
    for n in m.graph.node:
        if n.op_type == "MoE" and n.input[0] not in [o.name for o in m.graph.output]:
            m.graph.output.append(helper.make_tensor_value_info(n.input[0], F32, None))
    return m


def genai_config(name, m):
    with open(os.path.join(pq.FIXTURES, "llama_half_fp32.config.json")) as f:
        cfg = json.load(f)
    cfg["name"] = name
    cfg["onnx"] = name + ".onnx"
    cfg["source"]["genai_builder"] = f"make_genai_onnx.py {name}: " + " ".join(CASES[name].__doc__.split(".")[0].split())
    inputs = []
    for vi in m.graph.input:
        n = vi.name
        if n.startswith("past_key_values."):
            n = "past_key_values.{i}." + n.rsplit(".", 1)[1]
        if n not in inputs:
            inputs.append(n)
    cfg["io"]["inputs"] = inputs
    for n in m.graph.node:
        if n.op_type == "GroupQueryAttention":
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            cfg["n_heads"], cfg["n_kv_heads"] = attrs["num_heads"], attrs["kv_num_heads"]
            cfg["head_dim"] = cfg["dim"] // cfg["n_heads"]
            if attrs.get("rotary_interleaved"):
                cfg["rope_convention"] = "interleaved"
            if attrs.get("local_window_size", -1) > 0:
                cfg["sliding_window"] = attrs["local_window_size"]
            break
    for n in m.graph.node:
        if n.op_type == "MoE":
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            w = next(t for t in m.graph.initializer if t.name == n.input[4])  # fc2 [E, dim, inter]
            cfg["n_experts"], cfg["n_experts_per_token"], cfg["hidden_dim"] = w.dims[0], attrs["k"], w.dims[2]
            break
    return json.dumps(cfg, indent=1) + "\n"


def main(argv):
    if argv[1:] == ["--list"]:
        for name, fn in CASES.items():
            print(f"{name}: {' '.join(fn.__doc__.split())}")
        return 0
    ort = argv[1:2] == ["--ort"]
    if ort:
        argv = argv[:1] + argv[2:]
    if len(argv) < 3 or argv[1] != "-o":
        print(__doc__)
        return 2
    out = argv[2]
    os.makedirs(out, exist_ok=True)
    for name in argv[3:] or list(CASES):
        if name not in CASES:
            print(f"make_genai_onnx.py: unknown case {name}", file=sys.stderr)
            return 2
        m = CASES[name]()
        if ort:
            m = keep_moe_inputs(m)
        save_model(m, os.path.join(out, name + ".onnx"))
        with open(os.path.join(out, name + ".config.json"), "w") as f:
            f.write(genai_config(name, m))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
