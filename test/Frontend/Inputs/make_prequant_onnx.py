#!/usr/bin/python3
"""Pre-quantized ONNX models (MatMulNBits, DequantizeLinear with block_size, quantize_dynamic's
MatMulInteger chain) for the importer's lit tests and the llmc-vs-ONNX Runtime comparison.

    make_prequant_onnx.py -o DIR [CASE...]   write DIR/CASE.onnx (+ DIR/CASE.x.bin, the input) for each
                                             CASE (default: every case)
    make_prequant_onnx.py --list             list the cases

Debian's onnx 1.12 knows neither opset 21 nor the 4-bit tensor types (INT4 = 22, UINT4 = 21, IR
version 10): those fields are set directly on the protobuf classes (data_type and elem_type are plain
int32 fields, raw_data is bytes), so nothing here needs a newer onnx. Everything is deterministic
(numpy's PCG64 with fixed seeds). The valid cases' models, inputs and ONNX Runtime's outputs are
committed in test/fixtures/onnx/prequant/ (regenerate with test/ort/regenerate.sh); bad_* cases are
generated at test time.
"""

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper  # noqa: F401

F32, U8, I8 = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT8
UINT4, INT4 = 21, 22
M = 3  # rows of x
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def raw_tensor(name, dtype, dims, raw):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.raw_data = bytes(raw)
    return t


def f32(name, arr):
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    return raw_tensor(name, F32, arr.shape, arr.tobytes())


def pack4(vals):
    """ONNX's 4-bit packing: flat order, two per byte, the first in the low nibble."""
    v = (np.asarray(vals, dtype=np.int64).reshape(-1) & 0xF).astype(np.uint8)
    if v.size % 2:
        v = np.concatenate([v, np.zeros(1, np.uint8)])
    return (v[0::2] | (v[1::2] << 4)).tobytes()


def model(nodes, K, N, inits, opset=17, ir_version=8, ms=False, out_shape=None):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F32, [M, K])],
                          [helper.make_tensor_value_info("y", F32, out_shape or [M, N])], list(inits))
    ops = [helper.make_opsetid("", opset)]
    if ms:
        ops.append(helper.make_opsetid("com.microsoft", 1))
    m = helper.make_model(g, opset_imports=ops, producer_name="llmc-tests")
    m.ir_version = ir_version
    return m


def x_input(K, seed):
    return np.random.default_rng(seed).standard_normal((M, K)).astype(np.float32)


# --- MatMulNBits -------------------------------------------------------------------------------

def nbits(K, N, bits, block, seed, zp=True, bias=False, g_idx=None, equal_pairs=False):
    rng = np.random.default_rng(seed)
    nb = (K + block - 1) // block
    kp = nb * block
    q = rng.integers(0, 2**bits, size=(N, kp))
    scales = rng.uniform(0.005, 0.05, size=(N, nb)).astype(np.float32)
    zps = rng.integers(0, 2**bits, size=(N, nb)) if zp else np.full((N, nb), 2**(bits - 1))
    if equal_pairs:  # blocks 2j and 2j+1 share scale and zero point: exact as groups of 2*block
        scales[:, 1::2] = scales[:, 0::2][:, : scales[:, 1::2].shape[1]]
        zps[:, 1::2] = zps[:, 0::2][:, : zps[:, 1::2].shape[1]]
    q[:, K:] = np.repeat(zps, block, axis=1)[:, K:]  # padding dequantizes to 0
    if bits == 4:
        B = b"".join(pack4(q[n]) for n in range(N))
    else:
        B = q.astype(np.uint8).tobytes()
    inits = [raw_tensor("B", U8, [N, nb, block * bits // 8], B), f32("scales", scales.reshape(-1))]
    ins = ["x", "B", "scales"]
    if zp:
        if bits == 4:
            Z = b"".join(pack4(zps[n]) for n in range(N))  # rows padded to whole bytes
            inits.append(raw_tensor("zero_points", U8, [N * ((nb + 1) // 2)], Z))
        else:
            inits.append(raw_tensor("zero_points", U8, [N * nb], zps.astype(np.uint8).tobytes()))
        ins.append("zero_points")
    if g_idx is not None:
        ins += [""] * (4 - len(ins)) + ["g_idx"]
        inits.append(raw_tensor("g_idx", TensorProto.INT32, [K], np.asarray(g_idx, np.int32).tobytes()))
    if bias:
        ins += [""] * (5 - len(ins)) + ["bias"]
        inits.append(f32("bias", rng.standard_normal(N) * 0.1))
    node = helper.make_node("MatMulNBits", ins, ["y"], name="mmnb", domain="com.microsoft",
                            K=K, N=N, bits=bits, block_size=block)
    return model([node], K, N, inits, ms=True), x_input(K, seed + 100)


@case
def nbits4_zp():
    """4-bit, blocks of 32, packed zero points, K = 80 (last block partial)."""
    return nbits(80, 24, 4, 32, 1)


@case
def nbits4_sym_bias():
    """4-bit, blocks of 64, no zero points (8 implied), bias."""
    return nbits(128, 20, 4, 64, 2, zp=False, bias=True)


@case
def nbits8_zp():
    """8-bit, blocks of 128, zero points, K = 200 (two blocks, one partial)."""
    return nbits(200, 16, 8, 128, 3)


@case
def nbits4_b16():
    """4-bit, blocks of 16 whose neighbours share scale and zero point: repacked exactly as g32."""
    return nbits(64, 16, 4, 16, 4, equal_pairs=True)


# --- DequantizeLinear (opset 21, block_size) -> MatMul ------------------------------------------

def dq(K, N, code, block, seed, zp=True, axis=None):
    rng = np.random.default_rng(seed)
    bits = 4 if code in (INT4, UINT4) else 8
    lo, hi = (-(2**(bits - 1)), 2**(bits - 1)) if code in (INT4, I8) else (0, 2**bits)
    W = rng.integers(lo, hi, size=(K, N))
    sshape = [(K + block - 1) // block, N] if block else [N]
    scales = rng.uniform(0.005, 0.05, size=sshape).astype(np.float32)
    z = rng.integers(lo, hi, size=sshape)

    def codes(name, arr, dims):
        if bits == 4:
            return raw_tensor(name, code, dims, pack4(arr))
        return raw_tensor(name, code, dims, np.asarray(arr).astype(np.int8 if code == I8 else np.uint8).tobytes())

    inits = [codes("W", W, [K, N]), f32("W_scale", scales)]
    ins = ["W", "W_scale"] + (["W_zero_point"] if zp else [])
    if zp:
        inits.append(codes("W_zero_point", z, sshape))
    attrs = {"axis": 0 if block else 1}
    if axis is not None:
        attrs["axis"] = axis
    if block:
        attrs["block_size"] = block
    nodes = [helper.make_node("DequantizeLinear", ins, ["Wf"], name="dq", **attrs),
             helper.make_node("MatMul", ["x", "Wf"], ["y"], name="mm")]
    return model(nodes, K, N, inits, opset=21, ir_version=10), x_input(K, seed + 100)


@case
def dq_int4_b32():
    """int4 weights, blocks of 32 along K, int4 zero points."""
    return dq(64, 16, INT4, 32, 11)


@case
def dq_uint4_b64_nozp():
    """uint4 weights, blocks of 64, no zero point (0)."""
    return dq(128, 12, UINT4, 64, 12, zp=False)


@case
def dq_int8_percol():
    """int8 weights, one scale and zero point per output column (axis 1)."""
    return dq(48, 10, I8, 0, 13)


# --- quantize_dynamic: DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul --------------------

def mmi(K, N, code, seed, per_column, zp=True):
    rng = np.random.default_rng(seed)
    lo, hi = (-128, 128) if code == I8 else (0, 256)
    W = rng.integers(lo, hi, size=(K, N))
    shape = [N] if per_column else []
    npt = np.int8 if code == I8 else np.uint8
    ws = rng.uniform(0.001, 0.01, size=shape).astype(np.float32)
    inits = [raw_tensor("W_quantized", code, [K, N], W.astype(npt).tobytes()), f32("W_scale", ws)]
    mm_in = ["x_quantized", "W_quantized", "x_zero_point"]
    if zp:
        wz = rng.integers(lo, hi, size=shape) if code == U8 else np.zeros(shape, np.int64)
        inits.append(raw_tensor("W_zero_point", code, shape, np.asarray(wz).astype(npt).tobytes()))
        mm_in.append("W_zero_point")
    # The names and order onnxruntime.quantization.quantize_dynamic gives them.
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["x_quantized", "x_scale", "x_zero_point"],
                         name="x_QuantizeLinear"),
        helper.make_node("MatMulInteger", mm_in, ["y_output_quantized"], name="mm_quant"),
        helper.make_node("Cast", ["y_output_quantized"], ["y_output_quantized_cast_output"],
                         name="y_output_quantized_cast", to=F32),
        helper.make_node("Mul", ["x_scale", "W_scale"], ["mm_quant_scales_mul:0"], name="mm_quant_scales_mul"),
        helper.make_node("Mul", ["y_output_quantized_cast_output", "mm_quant_scales_mul:0"], ["y"],
                         name="mm_quant_output_scale_mul"),
    ]
    return model(nodes, K, N, inits, opset=17), x_input(K, seed + 100)


@case
def mmi_int8_tensor():
    """int8 weights, per-tensor scale, zero point 0 (quantize_dynamic's default)."""
    return mmi(64, 16, I8, 21, per_column=False)


@case
def mmi_uint8_percol():
    """uint8 weights with per-column scales and zero points (per_channel=True)."""
    return mmi(96, 12, U8, 22, per_column=True)


# --- whole decoders: the 2-layer Llama fixture with its projections pre-quantized ---------------
#
# test/fixtures/onnx/llama_half_fp32.onnx (dim 32, hidden 72, 4 heads, 2 KV heads, vocab 64) with each
# MatMul by a weight initializer replaced the way ONNX Runtime's tools rewrite it. These cases write
# CASE.onnx and CASE.config.json (no x.bin); test/ort/run_ort_decoder.js writes ORT's CASE.ref.json.

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "onnx")


def decoder_base():
    m = onnx.load(os.path.join(FIXTURES, "llama_half_fp32.onnx"))
    inits = {t.name: t for t in m.graph.initializer}
    weights = [n for n in m.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    return m, inits, weights


def replace_init(m, name, tensors):
    keep = [t for t in m.graph.initializer if t.name != name]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep + list(tensors))


def replace_node(m, node, new_nodes):
    nodes = list(m.graph.node)
    i = nodes.index(node)
    del m.graph.node[:]
    m.graph.node.extend(nodes[:i] + list(new_nodes) + nodes[i + 1:])


def quantize_nbits4(W, block):
    """MatMulNBitsQuantizer's RTN (asymmetric, range widened to include 0): W [K, N] ->
    codes [N][nb*block] (padding = zero point), scales [N][nb] f32, zero points [N][nb]."""
    K, N = W.shape
    nb = (K + block - 1) // block
    Wt = np.zeros((N, nb * block), np.float32)
    Wt[:, :K] = W.T
    blocks = Wt.reshape(N, nb, block)
    valid = (np.arange(nb * block) < K).reshape(nb, block)
    lo = np.minimum(np.where(valid, blocks, np.inf).min(axis=2), 0)
    hi = np.maximum(np.where(valid, blocks, -np.inf).max(axis=2), 0)
    scale = ((hi - lo) / 15).astype(np.float32)
    scale[scale == 0] = 1
    zp = np.clip(np.round(-lo / scale), 0, 15).astype(np.int64)
    q = np.clip(np.round(blocks / scale[:, :, None]) + zp[:, :, None], 0, 15).astype(np.int64)
    q = np.where(valid[None], q, zp[:, :, None])
    return q.reshape(N, nb * block), scale, zp


@case
def decoder_nbits4():
    """llama_half_fp32 with every projection a MatMulNBits (4-bit, blocks of 32, zero points; the
    K = 72 down projections end in a partial block); the lm_head stays a float MatMul (what llmc
    compile --quant applies to)."""
    return nbits_decoder()


@case
def decoder_nbits4_bias():
    """decoder_nbits4 with a bias input on the q/k/v MatMulNBits (Qwen2-style projections)."""
    return nbits_decoder(bias_on=("wq", "wk", "wv"))


def nbits_decoder(bias_on=()):
    m, inits, weights = decoder_base()
    block = 32
    rng = np.random.default_rng(41)
    for n in weights:
        if n.name == "/output/MatMul":
            continue
        W = onnx.numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        K, N = W.shape
        q, scale, zp = quantize_nbits4(W, block)
        nb = scale.shape[1]
        base = n.input[1]
        B = b"".join(pack4(q[i]) for i in range(N))
        Z = b"".join(pack4(zp[i]) for i in range(N))
        tensors = [raw_tensor(base + "_Q4", U8, [N, nb, block // 2], B),
                   f32(base + "_scales", scale.reshape(-1)),
                   raw_tensor(base + "_zp", U8, [N * ((nb + 1) // 2)], Z)]
        ins = [n.input[0], base + "_Q4", base + "_scales", base + "_zp"]
        if any(f"/{p}/" in n.name for p in bias_on):
            tensors.append(f32(base + "_bias", rng.standard_normal(N) * 0.5))
            ins += ["", base + "_bias"]  # g_idx absent
        replace_init(m, base, tensors)
        replace_node(m, n, [helper.make_node(
            "MatMulNBits", ins, list(n.output),
            name=n.name + "_Q4", domain="com.microsoft", K=K, N=N, bits=4, block_size=block)])
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return m, None


def quantize_int8_tensor(W):
    """quantize_dynamic's int8 weights: symmetric, one scale max|W|/127, zero point 0."""
    scale = np.float32(np.abs(W).max() / 127)
    return np.clip(np.round(W / scale), -127, 127).astype(np.int8), scale


@case
def decoder_qdyn():
    """llama_half_fp32 after onnxruntime's quantize_dynamic (int8 weights, per-tensor symmetric
    scale, zero point 0, one DynamicQuantizeLinear per activation shared by its matmuls), the
    lm_head included."""
    m, inits, weights = decoder_base()
    dql = {}
    for n in weights:
        W = onnx.numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        x, base, y = n.input[0], n.input[1], n.output[0]
        Wq, scale = quantize_int8_tensor(W)
        replace_init(m, base, [raw_tensor(base + "_quantized", I8, list(W.shape), Wq.tobytes()),
                               f32(base + "_scale", np.array(scale)),
                               raw_tensor(base + "_zero_point", I8, [], np.zeros(1, np.int8).tobytes())])
        new = []
        if x not in dql:
            dql[x] = (x + "_quantized", x + "_scale", x + "_zero_point")
            new.append(helper.make_node("DynamicQuantizeLinear", [x], list(dql[x]),
                                        name=x + "_QuantizeLinear"))
        xq, xs, xz = dql[x]
        new += [
            helper.make_node("MatMulInteger", [xq, base + "_quantized", xz, base + "_zero_point"],
                             [y + "_quantized"], name=n.name + "_quant"),
            helper.make_node("Cast", [y + "_quantized"], [y + "_cast"], name=n.name + "_cast", to=F32),
            helper.make_node("Mul", [xs, base + "_scale"], [y + "_scales"], name=n.name + "_scales_mul"),
            helper.make_node("Mul", [y + "_cast", y + "_scales"], [y], name=n.name + "_output_scale_mul"),
        ]
        # DynamicQuantizeLinear goes right before its first reader.
        replace_node(m, n, new)
    return m, None


@case
def decoder_qdyn_deq():
    """decoder_qdyn's int8 weights dequantized (W_quantized * W_scale) into plain float MatMuls: ONNX
    Runtime on it is the fp32-activation reference of decoder_qdyn's weights."""
    m, inits, weights = decoder_base()
    for n in weights:
        W = onnx.numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        Wq, scale = quantize_int8_tensor(W)
        replace_init(m, n.input[1], [f32(n.input[1], Wq.astype(np.float32) * scale)])
    return m, None


def decoder_config(name):
    with open(os.path.join(FIXTURES, "llama_half_fp32.config.json")) as f:
        cfg = json.load(f)
    cfg["name"] = name
    cfg["onnx"] = name + ".onnx"
    cfg["source"]["prequantized"] = CASES[name].__doc__.split(".")[0].strip()
    return json.dumps(cfg, indent=1) + "\n"


# --- inputs the importer must reject ------------------------------------------------------------

@case
def bad_gidx():
    """g_idx (act-order group indices): refused."""
    g = [(k * 7) % 2 for k in range(64)]
    return nbits(64, 8, 4, 32, 31, g_idx=g)


@case
def bad_bits3():
    """bits = 3 (ORT's MatMulNBits allows 2..8; llmc imports 4 and 8)."""
    m, x = nbits(64, 8, 4, 32, 32)
    for a in m.graph.node[0].attribute:
        if a.name == "bits":
            a.i = 3
    return m, x


@case
def nbits4_b16_mixed():
    """4-bit, blocks of 16 whose neighbours differ: imported as 16-k groups."""
    return nbits(64, 16, 4, 16, 33)


@case
def bad_dq_blocks_along_n():
    """DequantizeLinear with blocks along N (axis 1): not a K grouping."""
    m, x = dq(64, 32, INT4, 0, 34)
    # rebuild with scales [K, N/16] blocked on axis 1
    rng = np.random.default_rng(34)
    K, N = 64, 32
    del m.graph.initializer[1:]
    m.graph.initializer.append(f32("W_scale", rng.uniform(0.01, 0.02, size=(K, N // 16))))
    m.graph.initializer.append(raw_tensor("W_zero_point", INT4, [K, N // 16], pack4(np.zeros(K * N // 16))))
    n = m.graph.node[0]
    del n.attribute[:]
    n.attribute.extend([helper.make_attribute("axis", 1), helper.make_attribute("block_size", 16)])
    return m, x


@case
def bad_mmi_no_scale_chain():
    """MatMulInteger whose int32 result is a graph output: not quantize_dynamic's pattern."""
    m, x = mmi(32, 8, I8, 35, per_column=False)
    del m.graph.node[2:]
    m.graph.output[0].name = "y_output_quantized"
    m.graph.output[0].type.tensor_type.elem_type = TensorProto.INT32
    return m, x


def main(argv):
    if argv[1:] == ["--list"]:
        for name, fn in CASES.items():
            print(f"{name}: {fn.__doc__.strip()}")
        return 0
    if len(argv) < 3 or argv[1] != "-o":
        print(__doc__)
        return 2
    out = argv[2]
    os.makedirs(out, exist_ok=True)
    names = argv[3:] or [n for n in CASES if not n.startswith("bad_")]
    if names == ["bad"]:
        names = [n for n in CASES if n.startswith("bad_")]
    for name in names:
        m, x = CASES[name]()
        with open(os.path.join(out, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())
        if x is None:  # a decoder: its config beside it (llmc compile reads <model>.config.json)
            with open(os.path.join(out, name + ".config.json"), "w") as f:
                f.write(decoder_config(name))
        else:
            x.tofile(os.path.join(out, name + ".x.bin"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
