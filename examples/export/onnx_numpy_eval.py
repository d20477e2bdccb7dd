"""A minimal numpy interpreter for the ONNX ops that export_onnx.py emits (testing only).

There is no onnxruntime on these machines, and onnx 1.12 has no onnx.reference, so this is how the
exported graphs are *run* (with dynamic shapes: prefill, decode with a past, batch > 1) and compared
with PyTorch in selftest.py.  It is a plain, slow, by-the-spec evaluator, not a runtime: about 35 ops,
computing in each tensor's own dtype (so fp16 graphs really compute in fp16 where the graph says so).
Unknown ops raise NotImplementedError naming the op.

    outputs = run_model(model_proto_or_path, {"input_ids": ..., ...})   # dict name -> np.ndarray
"""

from __future__ import annotations

import os
from typing import Dict, Union

import numpy as np
import onnx
from onnx import helper, numpy_helper

_NP = {1: np.float32, 10: np.float16, 11: np.float64, 6: np.int32, 7: np.int64, 9: np.bool_}


def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _axes(x, i, node_inputs, vals):
    """Optional 'axes' input (opset >= 13 Unsqueeze/Squeeze/Slice)."""
    if len(node_inputs) > i and node_inputs[i]:
        return [int(a) for a in vals[node_inputs[i]].reshape(-1)]
    return None


def _slice(x, starts, ends, axes, steps):
    sl = [slice(None)] * x.ndim
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = a % x.ndim
        dim = x.shape[a]
        # ONNX clamps to [0, dim] for positive steps and [-1, dim-1] for negative ones; Python slicing
        # does the same once huge sentinels are clipped.
        s = max(min(s, dim), -dim - 1)
        e = max(min(e, dim), -dim - 1)
        if st < 0 and e < -dim:
            e = None
        sl[a] = slice(s, e, st)
    return x[tuple(sl)]


def _reshape(x, shape):
    shape = [int(d) for d in shape]
    shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]  # allowzero = 0
    return x.reshape(shape)


def _softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def run_node(node, vals: Dict[str, np.ndarray]):
    op = node.op_type
    a = _attrs(node)
    x = [vals[i] if i else None for i in node.input]
    if node.domain not in ("", "ai.onnx"):
        raise NotImplementedError(f"{node.domain}.{op}")
    if op == "Constant":
        return [numpy_helper.to_array(a["value"])]
    if op == "Identity":
        return [x[0]]
    if op in ("Add", "Sub", "Mul", "Div", "Pow"):
        f = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Pow": np.power}[op]
        if op == "Div" and np.issubdtype(x[0].dtype, np.integer):
            return [(x[0] // x[1]).astype(x[0].dtype)]
        return [f(x[0], x[1]).astype(x[0].dtype)]
    if op in ("Equal", "LessOrEqual", "Less", "Greater", "GreaterOrEqual", "And", "Or"):
        f = {"Equal": np.equal, "LessOrEqual": np.less_equal, "Less": np.less, "Greater": np.greater,
             "GreaterOrEqual": np.greater_equal, "And": np.logical_and, "Or": np.logical_or}[op]
        return [f(x[0], x[1])]
    if op == "Not":
        return [np.logical_not(x[0])]
    if op == "Neg":
        return [np.negative(x[0])]
    if op in ("Sqrt", "Cos", "Sin", "Exp", "Reciprocal"):
        f = {"Sqrt": np.sqrt, "Cos": np.cos, "Sin": np.sin, "Exp": np.exp, "Reciprocal": np.reciprocal}[op]
        return [f(x[0]).astype(x[0].dtype)]
    if op == "Sigmoid":
        return [(1 / (1 + np.exp(-x[0]))).astype(x[0].dtype)]
    if op == "Where":
        return [np.where(x[0], x[1], x[2]).astype(np.result_type(x[1], x[2]))]
    if op == "Cast":
        return [x[0].astype(_NP[a["to"]])]
    if op == "Shape":
        shp = np.array(x[0].shape, dtype=np.int64)
        return [shp[a.get("start", 0):a.get("end", None)]]
    if op == "Gather":
        return [np.take(x[0], x[1].astype(np.int64), axis=a.get("axis", 0))]
    if op == "Unsqueeze":
        y = x[0]
        axes = _axes(y, 1, node.input, vals)
        r = y.ndim + len(axes)
        for ax in sorted(ax % r for ax in axes):
            y = np.expand_dims(y, ax)
        return [y]
    if op == "Squeeze":
        axes = _axes(x[0], 1, node.input, vals)
        return [np.squeeze(x[0], axis=tuple(axes) if axes is not None else None)]
    if op == "Concat":
        return [np.concatenate(x, axis=a["axis"])]
    if op == "Reshape":
        return [_reshape(x[0], x[1])]
    if op == "Transpose":
        return [np.transpose(x[0], a.get("perm"))]
    if op == "Slice":
        starts = [int(v) for v in x[1]]
        ends = [int(v) for v in x[2]]
        return [_slice(x[0], starts, ends, _axes(x[0], 3, node.input, vals), _axes(x[0], 4, node.input, vals))]
    if op == "Expand":
        shape = np.broadcast_shapes(x[0].shape, tuple(int(d) for d in x[1]))
        return [np.broadcast_to(x[0], shape).copy()]
    if op == "ConstantOfShape":
        v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return [np.full(tuple(int(d) for d in x[0]), v.reshape(-1)[0], dtype=v.dtype)]
    if op == "Range":
        return [np.arange(x[0], x[1], x[2]).astype(x[0].dtype)]
    if op == "MatMul":
        return [np.matmul(x[0], x[1])]
    if op == "ReduceMean":
        axes = a.get("axes")
        return [np.mean(x[0], axis=tuple(axes) if axes else None, keepdims=bool(a.get("keepdims", 1)))
                .astype(x[0].dtype)]
    if op == "Softmax":
        return [_softmax(x[0], a.get("axis", -1)).astype(x[0].dtype)]
    raise NotImplementedError(op)


def _initializer(t: onnx.TensorProto, base_dir: str) -> np.ndarray:
    """Inline tensors via numpy_helper; external ones are memory-mapped (a 4 GB model is not copied)."""
    if t.data_location != onnx.TensorProto.EXTERNAL:
        return numpy_helper.to_array(t)
    info = {e.key: e.value for e in t.external_data}
    dtype = np.dtype(_NP[t.data_type])
    shape = tuple(t.dims)
    n = int(np.prod(shape)) if shape else 1
    length = int(info.get("length", n * dtype.itemsize))
    if length != n * dtype.itemsize:
        raise ValueError(f"{t.name}: external length {length} != {n} x {dtype.itemsize}")
    return np.memmap(os.path.join(base_dir, info["location"]), dtype=dtype, mode="r",
                     offset=int(info.get("offset", 0)), shape=shape)


def run_model(model: Union[str, onnx.ModelProto], feeds: Dict[str, np.ndarray],
              base_dir: str = ".") -> Dict[str, np.ndarray]:
    if isinstance(model, str):
        base_dir = os.path.dirname(os.path.abspath(model))
        model = onnx.load(model, load_external_data=False)
    g = model.graph
    vals: Dict[str, np.ndarray] = {t.name: _initializer(t, base_dir) for t in g.initializer}
    for i in g.input:
        if i.name not in feeds and i.name not in vals:
            raise KeyError(f"missing input {i.name}")
    vals.update(feeds)
    for node in g.node:
        try:
            outs = run_node(node, vals)
        except Exception as e:  # name the failing node
            raise RuntimeError(f"node {node.name} ({node.op_type}): {e}") from e
        for name, v in zip(node.output, outs):
            vals[name] = np.asarray(v)
    return {o.name: vals[o.name] for o in g.output}
