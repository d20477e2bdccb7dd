#!/usr/bin/python3
"""Small models of one com.microsoft MoE node (ONNX Runtime's contrib op) for the importer's lit
tests (test/Frontend/moe-errors.test).

    make_moe_onnx.py -o DIR [CASE...]   write DIR/CASE.onnx for each CASE (default: every case)
    make_moe_onnx.py --list             list the cases
    make_moe_onnx.py --check MODEL IR   check IR's llmc.weight "NAME.E" slices against MODEL's
                                        initializer NAME's expert E; print "checked N slices"

Each model: x [n, H] and the router's logits [n, E] are graph inputs, the experts' stacked
weights fc1 [E, F1, H] and fc2 [E, H, I] (and biases [E, F1], [E, H]; Mixtral's gated experts'
fc3 [E, I, H] and its bias [E, I]) are initializers in raw_data, and the MoE node 'moe' writes
y [n, H]. The bad_* cases change one thing each, so the
importer must refuse them with one message; moe_* import (moe_external with its initializers in
an external data file; moe_flatten a GenAI-style export's [B, S, H] flattened to [B * S, H]
around the MoE and restored through Shape after it).

Deterministic (numpy's PCG64, fixed seed); only onnx 1.12's helper API is used.
"""

import os
import re
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32, I64 = TensorProto.FLOAT, TensorProto.INT64
MS = "com.microsoft"
E, H, I = 4, 8, 6  # experts, hidden, intermediate (the experts' fc2 K)
CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


DTYPE = {np.dtype(np.float32): F32, np.dtype(np.float16): TensorProto.FLOAT16,
         np.dtype(np.int64): I64}


def raw(name, arr):
    """An initializer holding ARR in raw_data."""
    arr = np.ascontiguousarray(arr)
    t = TensorProto()
    t.name = name
    t.data_type = DTYPE[arr.dtype]
    t.dims.extend(arr.shape)
    t.raw_data = arr.tobytes()
    return t


def weights(rng, f1, h=H, i=I, e=E, bias=True):
    """fc1 [e, f1, h], fc1 bias [e, f1], fc2 [e, h, i], fc2 bias [e, h]."""
    w = {"fc1": rng.standard_normal((e, f1, h)).astype(np.float32),
         "fc2": rng.standard_normal((e, h, i)).astype(np.float32)}
    if bias:
        w["fc1_bias"] = rng.standard_normal((e, f1)).astype(np.float32)
        w["fc2_bias"] = rng.standard_normal((e, h)).astype(np.float32)
    return w


def moe_model(attrs, f1=I, w=None, bias=True, x_dims=("n", H), router_dims=("n", E),
              router_type=F32, fc3=False, fc3_bias=False, float_data=False, graph_inputs=None,
              ins=None):
    """x X_DIMS and logits ROUTER_DIMS graph inputs -> MoE 'moe' -> y X_DIMS. W: the weights
    (default: weights(F1), with biases if BIAS); FC3: an fc3_experts_weights input [E, I, H] too
    (I: fc2's K); FC3_BIAS: an fc3_experts_bias [E, I] too; FLOAT_DATA: fc1 in float_data rather than raw_data; GRAPH_INPUTS: {weight: dims} of weights
    that are graph inputs rather than initializers; INS: the node's inputs (default: x, logits and
    the weights in the schema's order)."""
    rng = np.random.default_rng(7)
    w = w or weights(rng, f1, bias=bias)
    e, _, i = w["fc2"].shape
    if fc3:
        w["fc3"] = rng.standard_normal((e, i, w["fc1"].shape[2])).astype(np.float32)
    if fc3_bias:
        w["fc3_bias"] = rng.standard_normal((e, i)).astype(np.float32)
    graph_inputs = graph_inputs or {}
    order = ("fc1", "fc1_bias", "fc2", "fc2_bias", "fc3", "fc3_bias")
    names = {k: f"experts.{k}" for k in order}
    if ins is None:
        ins = ["x", "logits"] + [names[k] if k in w else "" for k in order]
        while not ins[-1]:
            ins.pop()
    inputs = [helper.make_tensor_value_info("x", F32, list(x_dims)),
              helper.make_tensor_value_info("logits", router_type, list(router_dims))]
    inits = []
    for k, arr in w.items():
        if k in graph_inputs:
            inputs.append(helper.make_tensor_value_info(names[k], DTYPE[arr.dtype],
                                                        list(graph_inputs[k])))
        elif k == "fc1" and float_data:
            inits.append(helper.make_tensor(names[k], F32, arr.shape, arr.reshape(-1).tolist()))
        else:
            inits.append(raw(names[k], arr))
    node = helper.make_node("MoE", ins, ["y"], "moe", domain=MS, **attrs)
    g = helper.make_graph([node], "moe", inputs,
                          [helper.make_tensor_value_info("y", F32, list(x_dims))], inits)
    return make(g)


def make(g):
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)],
                          producer_name="llmc-tests")
    m.ir_version = 8
    return m


# --- refused: one message each ------------------------------------------------------------------

@case
def bad_fc3_swiglu():
    # fc3 gates an elementwise activation; swiglu has its own gate.
    return moe_model({"k": 2, "activation_type": "swiglu", "swiglu_fusion": 1}, f1=2 * I, fc3=True)


@case
def bad_fc3_bias_alone():
    return moe_model({"k": 2, "activation_type": "silu"}, fc3_bias=True)


@case
def bad_fc3_shape():
    # fc3 [E, I + 1, H]: its N must be fc2's K.
    w = weights(np.random.default_rng(10), I)
    w["fc3"] = np.zeros((E, I + 1, H), np.float32)
    return moe_model({"k": 2, "activation_type": "silu"}, w=w)


@case
def bad_sparse_mixer():
    return moe_model({"k": 2, "use_sparse_mixer": 1})


@case
def bad_swiglu_no_fusion():
    return moe_model({"k": 2, "activation_type": "swiglu", "swiglu_fusion": 0}, f1=2 * I)


@case
def bad_fusion_silu():
    return moe_model({"k": 2, "activation_type": "silu", "swiglu_fusion": 1})


@case
def bad_activation():
    return moe_model({"k": 2, "activation_type": "gelu_erf"})


@case
def bad_k0():
    return moe_model({"k": 0})


@case
def bad_k_big():
    return moe_model({"k": E + 1})


@case
def bad_hidden():
    return moe_model({"k": 2}, w=weights(np.random.default_rng(1), I, h=H + 2))


@case
def bad_router_experts():
    return moe_model({"k": 2}, router_dims=("n", E + 1))


@case
def bad_swiglu_n():
    # fc1's N is 2I + 2 for fc2's K = I.
    return moe_model({"k": 2, "activation_type": "swiglu", "swiglu_fusion": 1}, f1=2 * I + 2)


@case
def bad_bias_shape():
    w = weights(np.random.default_rng(2), I)
    w["fc1_bias"] = np.zeros((E, I + 1), np.float32)
    return moe_model({"k": 2}, w=w)


@case
def bad_float_data():
    return moe_model({"k": 2}, float_data=True)


@case
def bad_swiglu_limit():
    return moe_model({"k": 2, "activation_type": "swiglu", "swiglu_fusion": 1,
                      "swiglu_limit": 0.0}, f1=2 * I)


@case
def bad_swiglu_limit_negative():
    return moe_model({"k": 2, "activation_type": "swiglu", "swiglu_fusion": 2,
                      "swiglu_limit": -7.0}, f1=2 * I)


@case
def bad_swiglu_limit_neginf():
    return moe_model({"k": 2, "activation_type": "swiglu", "swiglu_fusion": 1,
                      "swiglu_limit": float("-inf")}, f1=2 * I)


@case
def bad_weights_input():
    return moe_model({"k": 2}, graph_inputs={"fc1": (E, I, H)})


@case
def bad_bias_input():
    return moe_model({"k": 2}, graph_inputs={"fc2_bias": (E, H)})


@case
def bad_too_many_inputs():
    return moe_model({"k": 2}, ins=["x", "logits", "experts.fc1", "experts.fc1_bias", "experts.fc2",
                                    "experts.fc2_bias", "", "", "x"])


@case
def bad_no_fc2():
    return moe_model({"k": 2}, ins=["x", "logits", "experts.fc1", "experts.fc1_bias", "",
                                    "experts.fc2_bias"])


@case
def bad_input_rank():
    return moe_model({"k": 2}, x_dims=(1, 1, "n", H))


@case
def bad_router_rank():
    return moe_model({"k": 2}, router_dims=(1, "n", E))


@case
def bad_router_type():
    return moe_model({"k": 2}, router_type=TensorProto.FLOAT16)


@case
def bad_rows():
    return moe_model({"k": 2}, router_dims=("m", E))


@case
def bad_fc1_dynamic():
    return moe_model({"k": 2}, graph_inputs={"fc1": ("e", I, H)})


@case
def bad_fc1_rank():
    w = weights(np.random.default_rng(4), I)
    w["fc1"] = w["fc1"].reshape(E * I, H)
    return moe_model({"k": 2}, w=w)


@case
def bad_fc2_shape():
    w = weights(np.random.default_rng(5), I)
    w["fc2"] = np.zeros((E, H + 1, I), np.float32)
    return moe_model({"k": 2}, w=w)


@case
def bad_relu_n():
    # relu: fc1's N must be fc2's K.
    w = weights(np.random.default_rng(6), I + 1)
    w["fc2"] = np.zeros((E, H, I), np.float32)
    return moe_model({"k": 2}, w=w)


@case
def bad_fc2_bias_shape():
    w = weights(np.random.default_rng(8), I)
    w["fc2_bias"] = np.zeros((E, 1, H), np.float32)
    return moe_model({"k": 2}, w=w)


@case
def bad_weight_type():
    w = weights(np.random.default_rng(9), I)
    w["fc2"] = w["fc2"].astype(np.float16)
    return moe_model({"k": 2}, w=w)


@case
def bad_k_type():
    return moe_model({"k": 2.0})


# --- imported -----------------------------------------------------------------------------------

@case
def moe_ok():
    """gpt-oss's experts: swiglu interleaved, alpha 1.702, beta 1, limit 7, k 2, normalized,
    both biases."""
    return moe_model({"k": 2, "normalize_routing_weights": 1, "activation_type": "swiglu",
                      "swiglu_fusion": 1, "activation_alpha": 1.702, "activation_beta": 1.0,
                      "swiglu_limit": 7.0}, f1=2 * I)


@case
def moe_relu_nobias():
    """The schema's defaults (relu, k 1, no normalization), no biases."""
    return moe_model({}, bias=False)


@case
def moe_external():
    """gelu, k 3, no biases, every initializer in moe_external.onnx.data."""
    return moe_model({"k": 3, "activation_type": "gelu"}, bias=False)


@case
def moe_fc3():
    """Mixtral's gated experts: silu(fc1 x) * (fc3 x), k 2, normalized, biases on fc1, fc2 and
    fc3."""
    return moe_model({"k": 2, "normalize_routing_weights": 1, "activation_type": "silu"},
                     fc3=True, fc3_bias=True)


@case
def moe_fc3_nobias():
    """relu(fc1 x) * (fc3 x), k 1, no biases."""
    return moe_model({"activation_type": "relu"}, bias=False, fc3=True)


EXTERNAL = {"moe_external"}


@case
def moe_flatten():
    """x [B, S, H] -> Reshape [-1, H]; logits [B, S, E] -> Reshape [-1, E]; MoE (halves swiglu);
    Reshape back to Shape(x)."""
    w = weights(np.random.default_rng(3), 2 * I)
    inits = [raw(f"experts.{k}", a) for k, a in w.items()]
    inits += [raw("shape_h", np.array([-1, H], np.int64)),
              raw("shape_e", np.array([-1, E], np.int64))]
    nodes = [
        helper.make_node("Reshape", ["x", "shape_h"], ["x2"], "flatten_x"),
        helper.make_node("Reshape", ["logits", "shape_e"], ["logits2"], "flatten_logits"),
        helper.make_node("MoE", ["x2", "logits2", "experts.fc1", "experts.fc1_bias", "experts.fc2",
                                 "experts.fc2_bias"], ["y2"], "moe", domain=MS, k=2,
                         activation_type="swiglu", swiglu_fusion=2),
        helper.make_node("Shape", ["x"], ["xs"], "shape_x"),
        helper.make_node("Reshape", ["y2", "xs"], ["y"], "restore"),
    ]
    g = helper.make_graph(
        nodes, "moe_flatten",
        [helper.make_tensor_value_info("x", F32, ["batch", "seq", H]),
         helper.make_tensor_value_info("logits", F32, ["batch", "seq", E])],
        [helper.make_tensor_value_info("y", F32, ["batch", "seq", H])], inits)
    return make(g)


WEIGHT = re.compile(r'llmc\.weight "([^"]*)\.(\d+)" from "([^"]*)" at (\d+) length (\d+)\s*:\s*'
                    r'tensor<([^>]*)>')


def check(model_path, ir_path):
    """Every `llmc.weight "NAME.E" from FILE at OFFSET length LENGTH : tensor<SHAPE>` of the IR
    reads expert E of initializer NAME [E, SHAPE]: its bytes, shape and element type."""
    model = onnx.load(model_path, load_external_data=True)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    count = 0
    for name, e, path, offset, length, type_str in WEIGHT.findall(open(ir_path).read()):
        if name not in inits:
            sys.exit(f"weight '{name}.{e}': no initializer '{name}' in {model_path}")
        ref = inits[name][int(e)]
        *dims, elem = type_str.split("x")
        if [int(d) for d in dims] != list(ref.shape) or elem != {"float32": "f32", "float16": "f16"}[
                ref.dtype.name]:
            sys.exit(f"weight '{name}.{e}': IR type tensor<{type_str}>, model {ref.shape} {ref.dtype}")
        with open(path, "rb") as f:
            f.seek(int(offset))
            data = f.read(int(length))
        if data != ref.tobytes():
            sys.exit(f"weight '{name}.{e}': the bytes at {offset} of {path} are not expert {e} of "
                     f"'{name}'")
        count += 1
    print(f"checked {count} slices")
    return 0


def main(argv):
    if argv[1:] == ["--list"]:
        print("\n".join(CASES))
        return 0
    if len(argv) == 4 and argv[1] == "--check":
        return check(argv[2], argv[3])
    if len(argv) < 3 or argv[1] != "-o":
        sys.exit(__doc__)
    out, names = argv[2], argv[3:] or list(CASES)
    os.makedirs(out, exist_ok=True)
    for name in names:
        if name not in CASES:
            sys.exit(f"make_moe_onnx.py: unknown case '{name}'")
        path = os.path.join(out, name + ".onnx")
        if name in EXTERNAL:
            onnx.save(CASES[name](), path, save_as_external_data=True, all_tensors_to_one_file=True,
                      location=name + ".onnx.data", size_threshold=0)
        else:
            onnx.save(CASES[name](), path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
