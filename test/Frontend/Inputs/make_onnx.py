#!/usr/bin/python3
"""Small ONNX models for the importer's lit tests, one per case.

    make_onnx.py CASE OUT.onnx         write the model of CASE (and any data file beside it)
    make_onnx.py -o DIR CASE [CASE...]  write DIR/CASE.onnx for each CASE ("bad" = every bad_* case)
    make_onnx.py --list                list the cases

Valid cases exercise the op importers and the shape folding; bad_* cases are inputs the importer must
reject with one clear message.  Everything is deterministic and tiny (generated at test time).
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32, F16, I64, BOOL = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT64, TensorProto.BOOL
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def model(nodes, inputs, outputs, inits=(), opset=17, value_info=(), extra_opsets=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits), value_info=list(value_info))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    return helper.make_model(g, opset_imports=ops, producer_name="llmc-tests")


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def const(name, value, dtype=np.int64):
    return helper.make_node("Constant", [], [name], name=name,
                            value=numpy_helper.from_array(np.array(value, dtype=dtype), name))


def weight(name, shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(dtype), name)


# --- valid models -------------------------------------------------------------------------------------

@case
def plumbing(out):
    """The exporter's shape plumbing: it must fold into static attributes (no shape_of left)."""
    n = [
        # q = x @ Wq viewed as [b, s, 4, 8] via Shape -> Gather -> Unsqueeze -> Concat -> Reshape
        helper.make_node("MatMul", ["x", "Wq"], ["q"], name="wq"),
        helper.make_node("Shape", ["x"], ["xs"], name="shape"),
        const("i0", 0), const("i1", 1), const("ax0", [0]),
        helper.make_node("Gather", ["xs", "i0"], ["b"], name="gather_b", axis=0),
        helper.make_node("Gather", ["xs", "i1"], ["s"], name="gather_s", axis=0),
        helper.make_node("Unsqueeze", ["b", "ax0"], ["b1"], name="unsq_b"),
        helper.make_node("Unsqueeze", ["s", "ax0"], ["s1"], name="unsq_s"),
        const("heads", [4]), const("hd", [8]),
        helper.make_node("Concat", ["b1", "s1", "heads", "hd"], ["qshape"], name="concat", axis=0),
        helper.make_node("Reshape", ["q", "qshape"], ["q4"], name="reshape_q"),
        helper.make_node("Transpose", ["q4"], ["qt"], name="transpose_q", perm=[0, 2, 1, 3]),
        # RoPE half split: half = Shape(qt)[3] / 2, computed in the graph
        helper.make_node("Shape", ["qt"], ["qts"], name="shape_qt"), const("i3", 3), const("two", 2),
        helper.make_node("Gather", ["qts", "i3"], ["d"], name="gather_d", axis=0),
        helper.make_node("Div", ["d", "two"], ["half"], name="half"),
        helper.make_node("Unsqueeze", ["half", "ax0"], ["half1"], name="unsq_half"),
        const("zero1", [0]), const("big", [2**63 - 1]), const("ax3", [3]), const("one1", [1]),
        helper.make_node("Slice", ["qt", "zero1", "half1", "ax3", "one1"], ["x1"], name="slice_lo"),
        helper.make_node("Slice", ["qt", "half1", "big", "ax3", "one1"], ["x2"], name="slice_hi"),
        helper.make_node("Neg", ["x2"], ["nx2"], name="neg"),
        helper.make_node("Concat", ["nx2", "x1"], ["rot"], name="rotate_half", axis=-1),
        # GQA repeat_kv: Unsqueeze -> Expand(Where(Equal(shape, -1*ones), ones, shape)) -> Reshape
        helper.make_node("Unsqueeze", ["kv", "ax2"], ["kv5"], name="unsq_kv"), const("ax2", [2]),
        helper.make_node("Shape", ["kv"], ["kvs"], name="shape_kv"), const("i2", 2),
        helper.make_node("Gather", ["kvs", "i0"], ["kb"], name="gather_kb", axis=0),
        helper.make_node("Gather", ["kvs", "i1"], ["kh"], name="gather_kh", axis=0),
        helper.make_node("Gather", ["kvs", "i2"], ["kt"], name="gather_kt", axis=0),
        helper.make_node("Gather", ["kvs", "i3"], ["kd"], name="gather_kd", axis=0),
        helper.make_node("Unsqueeze", ["kb", "ax0"], ["kb1"], name="unsq_kb"),
        helper.make_node("Unsqueeze", ["kh", "ax0"], ["kh1"], name="unsq_kh"),
        helper.make_node("Unsqueeze", ["kt", "ax0"], ["kt1"], name="unsq_kt"),
        helper.make_node("Unsqueeze", ["kd", "ax0"], ["kd1"], name="unsq_kd"), const("rep", [2]),
        helper.make_node("Concat", ["kb1", "kh1", "rep", "kt1", "kd1"], ["eshape0"], name="concat_e", axis=0),
        helper.make_node("ConstantOfShape", ["fivev"], ["ones"], name="ones",
                         value=numpy_helper.from_array(np.array([1], np.int64))), const("fivev", [5]),
        const("m1", -1),
        helper.make_node("Mul", ["ones", "m1"], ["negones"], name="negones"),
        helper.make_node("Equal", ["eshape0", "negones"], ["isneg"], name="isneg"),
        helper.make_node("Where", ["isneg", "ones", "eshape0"], ["eshape"], name="where"),
        helper.make_node("Expand", ["kv5", "eshape"], ["kvx"], name="expand_kv"),
        helper.make_node("Mul", ["kh", "two"], ["kh2"], name="mul_heads"),
        helper.make_node("Unsqueeze", ["kh2", "ax0"], ["kh21"], name="unsq_kh2"),
        helper.make_node("Concat", ["kb1", "kh21", "kt1", "kd1"], ["rshape"], name="concat_r", axis=0),
        helper.make_node("Reshape", ["kvx", "rshape"], ["kvr"], name="reshape_kv"),
    ]
    # Constants first (the graph must be topologically sorted).
    n.sort(key=lambda node: node.op_type != "Constant")
    m = model(n, [vi("x", F32, ["batch", "seq", 32]), vi("kv", F32, ["batch", 2, "total", 8])],
              [vi("rot", F32, ["batch", 4, "seq", 8]), vi("kvr", F32, ["batch", 4, "total", 8])],
              [weight("Wq", (32, 32))])
    onnx.save(m, out)


@case
def elementwise(out):
    binary = ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"]
    unary = ["Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log", "Tanh", "Sigmoid", "Erf", "Cos", "Sin",
             "Relu", "Identity"]
    cmp = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]
    n, outs = [], []
    for op in binary:
        n.append(helper.make_node(op, ["a", "b"], [op.lower()], name=op.lower()))
        outs.append(vi(op.lower(), F32, ["n", 4]))
    for op in unary:
        n.append(helper.make_node(op, ["a"], [op.lower()], name=op.lower()))
        outs.append(vi(op.lower(), F32, ["n", 4]))
    for op in cmp:
        n.append(helper.make_node(op, ["a", "b"], [op.lower()], name=op.lower()))
        outs.append(vi(op.lower(), BOOL, ["n", 4]))
    n += [helper.make_node("And", ["equal", "less"], ["and"], name="and"),
          helper.make_node("Or", ["equal", "less"], ["or"], name="or"),
          helper.make_node("Not", ["or"], ["not"], name="not"),
          helper.make_node("Where", ["not", "a", "b"], ["where"], name="where"),
          helper.make_node("Cast", ["a"], ["cast_f16"], name="cast_f16", to=F16),
          helper.make_node("Cast", ["a"], ["cast_same"], name="cast_same", to=F32),
          helper.make_node("Dropout", ["a"], ["dropout"], name="dropout"),
          helper.make_node("Max", ["a", "b", "c"], ["max3"], name="max3")]
    outs += [vi("and", BOOL, ["n", 4]), vi("or", BOOL, ["n", 4]), vi("not", BOOL, ["n", 4]),
             vi("where", F32, ["n", 4]), vi("cast_f16", F16, ["n", 4]), vi("cast_same", F32, ["n", 4]),
             vi("dropout", F32, ["n", 4]), vi("max3", F32, ["n", 4])]
    m = model(n, [vi("a", F32, ["n", 4]), vi("b", F32, [4]), vi("c", F32, [])], outs)
    onnx.save(m, out)


@case
def nn(out):
    n = [helper.make_node("MatMul", ["x", "W"], ["mm"], name="matmul"),
         helper.make_node("MatMul", ["q", "k"], ["bmm"], name="batched_matmul"),
         helper.make_node("Gemm", ["x2", "Wt", "bias"], ["gemm"], name="gemm", transB=1, alpha=0.5,
                          beta=2.0),
         helper.make_node("Softmax", ["bmm"], ["sm"], name="softmax", axis=-1),
         helper.make_node("ReduceMean", ["x"], ["mean"], name="mean", axes=[-1], keepdims=1),
         helper.make_node("ReduceMax", ["x"], ["max"], name="max", axes=[0, 2], keepdims=0),
         helper.make_node("ReduceSum", ["x", "axes"], ["sum"], name="sum", keepdims=0),
         helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["ln"], name="layernorm",
                          axis=-1, epsilon=1e-6)]
    m = model([const("axes", [1])] + n,
              [vi("x", F32, ["b", "s", 8]), vi("q", F32, ["b", 2, "s", 4]), vi("k", F32, ["b", 2, 4, "t"]),
               vi("x2", F32, ["m", 8])],
              [vi("mm", F32, ["b", "s", 6]), vi("bmm", F32, ["b", 2, "s", "t"]), vi("gemm", F32, ["m", 6]),
               vi("sm", F32, ["b", 2, "s", "t"]), vi("mean", F32, ["b", "s", 1]), vi("max", F32, ["s"]),
               vi("sum", F32, ["b", 8]), vi("ln", F32, ["b", "s", 8])],
              [weight("W", (8, 6)), weight("Wt", (6, 8), 1), weight("bias", (6,), 2), weight("gamma", (8,), 3),
               weight("beta", (8,), 4)])
    onnx.save(m, out)


@case
def opset18(out):
    """Opset 18 moved ReduceMean's axes to an input and added Split's num_outputs."""
    n = [const("axes", [-1]),
         helper.make_node("ReduceMean", ["x", "axes"], ["mean"], name="mean", keepdims=1),
         helper.make_node("Split", ["x"], ["p0", "p1"], name="split", axis=2, num_outputs=2)]
    m = model(n, [vi("x", F32, ["b", "s", 8])],
              [vi("mean", F32, ["b", "s", 1]), vi("p0", F32, ["b", "s", 4]), vi("p1", F32, ["b", "s", 4])],
              opset=18)
    onnx.save(m, out)


@case
def tensor(out):
    n = [const("sizes", [2, 6]), const("ax0", [0]), const("ax1", [1]), const("st", [1]), const("en", [-1]),
         const("stp", [2]), const("zero", 0), const("lim", 5), const("one", 1), const("k", 1),
         helper.make_node("Gather", ["E", "ids"], ["emb"], name="embedding"),
         helper.make_node("Gather", ["emb", "zero"], ["first"], name="gather_scalar", axis=1),
         helper.make_node("Concat", ["x", "x"], ["cat"], name="concat", axis=-1),
         helper.make_node("Split", ["x", "sizes"], ["sp0", "sp1"], name="split", axis=2),
         helper.make_node("Slice", ["x", "st", "en", "ax1", "stp"], ["sl"], name="slice"),
         helper.make_node("Transpose", ["x"], ["tr"], name="transpose", perm=[2, 0, 1]),
         helper.make_node("Trilu", ["sq", "k"], ["tri"], name="trilu", upper=0),
         helper.make_node("Range", ["zero", "lim", "one"], ["rng"], name="range_const"),
         helper.make_node("Shape", ["x"], ["xs"], name="shape"),
         helper.make_node("ConstantOfShape", ["xs"], ["zeros"], name="zeros",
                          value=numpy_helper.from_array(np.array([0.5], np.float32))),
         helper.make_node("Squeeze", ["y", "ax1"], ["sqz"], name="squeeze"),
         helper.make_node("Unsqueeze", ["mask", "ax0"], ["unsq"], name="unsqueeze_front"),
         helper.make_node("Flatten", ["x"], ["flat"], name="flatten", axis=2),
         helper.make_node("Shape", ["y"], ["ys"], name="shape_y"),
         helper.make_node("Expand", ["row", "ys"], ["exp"], name="expand_dynamic")]
    m = model(n, [vi("ids", I64, ["b", "s"]), vi("x", F32, ["b", "s", 8]), vi("sq", F32, [4, 4]),
                  vi("y", F32, ["b", 1, "t"]), vi("mask", BOOL, ["s", "t"]), vi("row", F32, [1, 1, 1])],
              [vi("emb", F32, ["b", "s", 16]), vi("first", F32, ["b", 16]), vi("cat", F32, ["b", "s", 16]),
               vi("sp0", F32, ["b", "s", 2]), vi("sp1", F32, ["b", "s", 6]), vi("sl", F32, ["b", None, 8]),
               vi("tr", F32, [8, "b", "s"]), vi("tri", F32, [4, 4]), vi("rng", I64, [5]),
               vi("zeros", F32, ["b", "s", 8]), vi("sqz", F32, ["b", "t"]), vi("unsq", BOOL, [1, "s", "t"]),
               vi("flat", F32, [None, 8]), vi("exp", F32, ["b", 1, "t"])],
              [weight("E", (10, 16))])
    onnx.save(m, out)


@case
def weights(out):
    """Inline raw_data (f32 and f16), tiny and typed-field initializers, and external data."""
    d = os.path.dirname(os.path.abspath(out))
    data_name = os.path.splitext(os.path.basename(out))[0] + ".weights.bin"
    w_ext = weight("W_ext", (8, 8), 5)
    raw = w_ext.raw_data
    pad = b"\0" * 64  # the tensor starts at offset 64 of the data file
    with open(os.path.join(d, data_name), "wb") as f:
        f.write(pad + raw)
    w_ext.ClearField("raw_data")
    w_ext.data_location = TensorProto.EXTERNAL
    for k, v in (("location", data_name), ("offset", "64"), ("length", str(len(raw)))):
        e = w_ext.external_data.add()
        e.key, e.value = k, v
    typed = helper.make_tensor("W_typed", F32, [2, 4], [float(i) for i in range(8)])  # float_data
    tiny = numpy_helper.from_array(np.array([1, -1, 4], np.int64), "tiny")
    n = [helper.make_node("MatMul", ["x", "W_f32"], ["a"], name="mm_f32"),
         helper.make_node("MatMul", ["a", "W_ext"], ["b"], name="mm_ext"),
         helper.make_node("MatMul", ["xh", "W_f16"], ["h"], name="mm_f16"),
         helper.make_node("MatMul", ["t", "W_typed"], ["tt"], name="mm_typed"),
         helper.make_node("Reshape", ["b", "tiny"], ["r"], name="reshape_tiny")]
    m = model(n, [vi("x", F32, ["n", 8]), vi("xh", F16, ["n", 8]), vi("t", F32, ["n", 2])],
              [vi("r", F32, [1, None, 4]), vi("h", F16, ["n", 8]), vi("tt", F32, ["n", 4])],
              [weight("W_f32", (8, 8), 1), w_ext, weight("W_f16", (8, 8), 2, np.float16), typed, tiny])
    onnx.save(m, out)


@case
def extra_ops(out):
    """Clip, Sum, Tile and onnxruntime's fused RMSNorm ops (optimized exports)."""
    n = [const("lo", 0.0, np.float32), const("hi", 6.0, np.float32), const("reps", [1, 2, 1]),
         helper.make_node("Clip", ["x", "lo", "hi"], ["clip"], name="clip"),
         helper.make_node("Sum", ["x", "x", "x"], ["sum"], name="sum"),
         helper.make_node("Tile", ["kv", "reps"], ["tile"], name="tile"),
         helper.make_node("SimplifiedLayerNormalization", ["x", "g"], ["rms"], name="rms", axis=-1,
                          epsilon=1e-6),
         helper.make_node("SkipSimplifiedLayerNormalization", ["x", "res", "g"], ["srms", "", "", "resid"],
                          name="skip_rms", domain="com.microsoft", epsilon=1e-5)]
    m = model(n, [vi("x", F32, ["b", "s", 32]), vi("res", F32, ["b", "s", 32]), vi("kv", F32, ["b", 2, 8])],
              [vi("clip", F32, ["b", "s", 32]), vi("sum", F32, ["b", "s", 32]), vi("tile", F32, ["b", 4, 8]),
               vi("rms", F32, ["b", "s", 32]), vi("srms", F32, ["b", "s", 32]), vi("resid", F32, ["b", "s", 32])],
              [weight("g", (32,), 7)], extra_opsets=[("com.microsoft", 1)])
    onnx.save(m, out)


@case
def value_info_refine(out):
    """value_info gives a static dim that the importer cannot infer (a data-dependent Range)."""
    n = [helper.make_node("Range", ["s", "l", "d"], ["r"], name="range")]
    m = model(n, [vi("s", I64, []), vi("l", I64, []), vi("d", I64, [])], [vi("r", I64, [7])])
    onnx.save(m, out)


def _rotary_caches(rotary_dim):
    """cos_cache and sin_cache [16, rotary_dim / 2] of theta 10000, as ONNX Runtime's ops read them."""
    inv = 1.0 / (10000.0 ** (np.arange(0, rotary_dim, 2, dtype=np.float32) / rotary_dim))
    ang = np.outer(np.arange(16, dtype=np.float32), inv).astype(np.float32)
    return [numpy_helper.from_array(np.cos(ang), "cos_cache"), numpy_helper.from_array(np.sin(ang), "sin_cache")]


def _gqa(out, attrs=None, packed=False, extra_inputs=(), outputs=3, rotary_dim=8, keepdims=0):
    """One com.microsoft GroupQueryAttention (4 query heads, 2 KV heads, head size 8) with ONNX
    Runtime GenAI's seqlens_k / total_sequence_length plumbing from attention_mask and rotary caches
    [16, 4] of theta 10000."""
    attrs = dict(dict(num_heads=4, kv_num_heads=2, do_rotary=1), **(attrs or {}))
    n = [const("one", 1), const("axes1", [1]), const("i1", 1),
         helper.make_node("ReduceSum", ["attention_mask", "axes1"], ["msum"], name="msum", keepdims=keepdims),
         helper.make_node("Sub", ["msum", "one"], ["msub"], name="msub"),
         helper.make_node("Cast", ["msub"], ["seqlens_k"], name="seqlens_k", to=TensorProto.INT32),
         helper.make_node("Shape", ["attention_mask"], ["mshape"], name="mshape"),
         helper.make_node("Gather", ["mshape", "i1"], ["mtotal"], name="mtotal", axis=0),
         helper.make_node("Cast", ["mtotal"], ["total_seq"], name="total_seq", to=TensorProto.INT32)]
    qkv = ["q", "", ""] if packed else ["q", "k", "v"]
    ins = qkv + ["past_key", "past_value", "seqlens_k", "total_seq", "cos_cache", "sin_cache"]
    ins += list(extra_inputs)
    outs = ["out", "present_key", "present_value", "qk"][:outputs]
    n.append(helper.make_node("GroupQueryAttention", ins, outs, name="gqa", domain="com.microsoft",
                              **attrs))
    qw = 64 if packed else 32
    inputs = [vi("q", F32, ["batch", "seq", qw])] + ([] if packed else [
        vi("k", F32, ["batch", "seq", 16]), vi("v", F32, ["batch", "seq", 16])]) + [
        vi("past_key", F32, ["batch", 2, "past", 8]), vi("past_value", F32, ["batch", 2, "past", 8]),
        vi("attention_mask", I64, ["batch", "total"]), vi("ids", I64, ["batch", "seq"])]
    inputs += [vi(x, I64, ["batch", "seq"]) for x in extra_inputs if x == "position_ids"]
    inputs += [vi(x, F32, ["batch", 4, "seq", "total"]) for x in extra_inputs if x == "attention_bias"]
    outputs = [vi("out", F32, ["batch", "seq", 32]), vi("present_key", F32, ["batch", 2, "total", 8]),
               vi("present_value", F32, ["batch", 2, "total", 8]),
               vi("qk", F32, ["batch", 4, "seq", "total"])][:outputs]
    onnx.save(model(n, inputs, outputs, _rotary_caches(rotary_dim), extra_opsets=[("com.microsoft", 1)]), out)


@case
def gqa(out):
    """GroupQueryAttention with rotary caches, as ONNX Runtime GenAI's builder writes it."""
    _gqa(out)


@case
def gqa_packed_window(out):
    """GroupQueryAttention on packed QKV with interleaved rotary and a local window of 3."""
    _gqa(out, dict(rotary_interleaved=1, local_window_size=3, scale=0.25), packed=True)


@case
def rotary_embedding(out):
    """com.microsoft RotaryEmbedding on token-major [b, s, 32] (4 heads) and [b, 2, s, 8] inputs."""
    n = [helper.make_node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
                          name="rope_3d", domain="com.microsoft", num_heads=4),
         helper.make_node("RotaryEmbedding", ["h", "position_ids", "cos_cache", "sin_cache"], ["z"],
                          name="rope_4d", domain="com.microsoft", interleaved=1)]
    m = model(n, [vi("x", F32, ["batch", "seq", 32]), vi("h", F32, ["batch", 2, "seq", 8]),
                  vi("position_ids", I64, ["batch", "seq"])],
              [vi("y", F32, ["batch", "seq", 32]), vi("z", F32, ["batch", 2, "seq", 8])],
              _rotary_caches(8), extra_opsets=[("com.microsoft", 1)])
    onnx.save(m, out)


@case
def gqa_seqlens_2d(out):
    """seqlens_k [batch, 1], as older model builders wrote it (ReduceSum with keepdims)."""
    _gqa(out, keepdims=1)


@case
def gqa_softcap(out):
    """GroupQueryAttention with Gemma-2's soft-capped scores."""
    _gqa(out, dict(softcap=30.0))


def _rotary(out, positions_shape, **attrs):
    """One com.microsoft RotaryEmbedding of x [b, s, 32] (4 heads of 8)."""
    n = [helper.make_node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
                          name="rope", domain="com.microsoft", num_heads=4, **attrs)]
    m = model(n, [vi("x", F32, ["batch", "seq", 32]), vi("position_ids", I64, positions_shape)],
              [vi("y", F32, ["batch", "seq", 32])], _rotary_caches(8), extra_opsets=[("com.microsoft", 1)])
    onnx.save(m, out)


@case
def bad_rotary_offset_positions(out):
    """position_ids as one offset [1] (RotaryEmbedding's other form)."""
    _rotary(out, [1])


@case
def bad_rotary_packed_batching(out):
    _rotary(out, ["batch", "seq"], is_packed_batching=1)


@case
def bad_gqa_softcap(out):
    _gqa(out, dict(softcap=-1.0))


@case
def bad_gqa_smooth_softmax(out):
    _gqa(out, dict(smooth_softmax=1))


@case
def bad_gqa_attention_bias(out):
    _gqa(out, extra_inputs=["", "attention_bias"])


@case
def bad_gqa_qk_output(out):
    _gqa(out, outputs=4)


@case
def bad_gqa_heads(out):
    _gqa(out, dict(num_heads=3))


@case
def bad_gqa_rotary_too_wide(out):
    """Rotary caches wider than half a head (8 / 2 = 4 columns)."""
    _gqa(out, rotary_dim=16)


# --- bad inputs ---------------------------------------------------------------------------------------

def _mm(opset=17, **kw):
    return model([helper.make_node("MatMul", ["x", "W"], ["y"], name="matmul")], [vi("x", F32, ["n", 4])],
                 [vi("y", F32, ["n", 3])], [weight("W", (4, 3))], opset=opset, **kw)


@case
def bad_empty(out):
    open(out, "wb").close()


@case
def bad_not_protobuf(out):
    with open(out, "w") as f:
        f.write("this is not an ONNX model\n")


@case
def bad_truncated(out):
    data = _mm().SerializeToString()
    with open(out, "wb") as f:
        f.write(data[: len(data) * 2 // 3])


@case
def bad_no_graph(out):
    with open(out, "wb") as f:
        f.write(onnx.ModelProto(ir_version=8, producer_name="x").SerializeToString())


@case
def bad_opset_12(out):
    onnx.save(_mm(opset=12), out)


@case
def bad_opset_22(out):
    onnx.save(_mm(opset=22), out)


@case
def bad_no_opset(out):
    m = _mm()
    del m.opset_import[:]
    onnx.save(m, out)


def _external(out, data_bytes, length=None, offset=0, write_file=True):
    m = _mm()
    w = m.graph.initializer[0]
    raw = w.raw_data
    name = os.path.basename(out) + ".data"
    if write_file:
        with open(os.path.join(os.path.dirname(os.path.abspath(out)), name), "wb") as f:
            f.write(raw[:data_bytes])
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    kv = [("location", name), ("offset", str(offset))] + ([("length", str(length))] if length is not None else [])
    for k, v in kv:
        e = w.external_data.add()
        e.key, e.value = k, v
    onnx.save(m, out)


@case
def bad_external_missing(out):
    _external(out, 48, write_file=False)


@case
def bad_external_short(out):
    _external(out, 40)  # W needs 48 bytes


@case
def bad_external_offset(out):
    _external(out, 48, offset=8)


@case
def bad_external_length(out):
    _external(out, 48, length=44)


@case
def bad_raw_data_size(out):
    m = _mm()
    m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:40]
    onnx.save(m, out)


@case
def bad_typed_data_size(out):
    m = _mm()
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.float_data.extend([1.0] * 11)  # 12 needed
    onnx.save(m, out)


@case
def bad_string_initializer(out):
    m = _mm()
    m.graph.initializer.append(helper.make_tensor("names", TensorProto.STRING, [1], [b"a"]))
    onnx.save(m, out)


@case
def bad_unsupported_ops(out):
    n = [helper.make_node("MatMul", ["x", "W"], ["a"], name="matmul"),
         helper.make_node("CumSum", ["a", "axis"], ["b"], name="cumsum_1"),
         helper.make_node("CumSum", ["b", "axis"], ["c"], name="cumsum_2"),
         helper.make_node("MatMulNBits", ["c", "W"], ["d"], name="mmnbits", domain="com.microsoft"),
         helper.make_node("Frobnicate", ["d"], ["e"], name="frob", domain="org.unknown"),
         helper.make_node("TopK", ["e", "kk"], ["f", "g"], name="")]
    m = model([const("axis", 1), const("kk", [1])] + n, [vi("x", F32, ["n", 4])], [vi("f", F32, ["n", 1])],
              [weight("W", (4, 4))], extra_opsets=[("com.microsoft", 1)])
    onnx.save(m, out)


@case
def bad_not_sorted(out):
    n = [helper.make_node("Relu", ["a"], ["y"], name="relu"),
         helper.make_node("MatMul", ["x", "W"], ["a"], name="matmul")]
    onnx.save(model(n, [vi("x", F32, ["n", 4])], [vi("y", F32, ["n", 3])], [weight("W", (4, 3))]), out)


@case
def bad_runtime_reshape(out):
    """A Reshape whose shape is a graph input cannot become an attribute."""
    n = [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape_runtime")]
    onnx.save(model(n, [vi("x", F32, ["n", 4]), vi("shape", I64, [2])], [vi("y", F32, [None, None])]), out)


@case
def bad_input_no_shape(out):
    x = helper.make_tensor_value_info("x", F32, None)
    n = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    onnx.save(model(n, [x], [vi("y", F32, None)]), out)


@case
def bad_value_info(out):
    """value_info that contradicts the graph: the MatMul result has 3 columns, not 5."""
    m = _mm(value_info=[])
    m.graph.output[0].CopyFrom(vi("y", F32, ["n", 5]))
    onnx.save(m, out)


@case
def bad_broadcast(out):
    n = [helper.make_node("Add", ["a", "b"], ["y"], name="add_bad")]
    onnx.save(model(n, [vi("a", F32, ["n", 4]), vi("b", F32, [3])], [vi("y", F32, ["n", 4])]), out)


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        print("\n".join(CASES))
        return 0
    if len(argv) >= 4 and argv[1] == "-o":
        names = []
        for name in argv[3:]:
            names += [c for c in CASES if c.startswith("bad_")] if name == "bad" else [name]
        for name in names:
            if name not in CASES:
                print(f"unknown case {name}", file=sys.stderr)
                return 2
            CASES[name](os.path.join(argv[2], name + ".onnx"))
        return 0
    if len(argv) != 3 or argv[1] not in CASES:
        print(__doc__, file=sys.stderr)
        return 2
    CASES[argv[1]](argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
