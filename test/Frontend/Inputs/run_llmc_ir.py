#!/usr/bin/python3
"""A numpy interpreter for imported llmc graph IR, to check an import end to end.

    run_llmc_ir.py IR.mlir REF.json [--tol T]

IR.mlir is `llmc compile --emit=mlir` output (custom assembly of the llmc graph ops the importer
emits); REF.json is a PyTorch reference written by examples/export (prompt, prefill logits, greedy
steps through the KV cache, chunked prefill, padded batch). The IR is run for each case and its
logits compared with the reference. Prints the max abs error per case; exits 1 above --tol.

Only for tests: slow, tiny models, no attempt at efficiency. Op semantics follow the llmc dialect
documentation (dialects/llmc/*.td), which follows ONNX.
"""

import argparse
import ast
import json
import math
import re
import sys

import numpy as np

np.seterr(all="ignore")  # e.g. finfo.min + finfo.min in HF-style masks, as in PyTorch

DTYPES = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "bf16": None, "i64": np.int64,
          "i32": np.int32, "i16": np.int16, "i8": np.int8, "ui8": np.uint8, "i1": np.bool_}


def parse_type(t):
    """tensor<?x4x8xf32> -> (dims with None for ?, numpy dtype)"""
    m = re.fullmatch(r"tensor<(.*)>", t.strip())
    parts = m.group(1).split("x")
    dims = [None if d == "?" else int(d) for d in parts[:-1]]
    return dims, DTYPES[parts[-1]]


def split_top(s, sep=","):
    """Split on `sep` outside brackets and quotes."""
    out, depth, cur, quote = [], 0, "", False
    for ch in s:
        if ch == '"':
            quote = not quote
        if not quote:
            if ch in "([{<":
                depth += 1
            elif ch in ")]}>":
                depth -= 1
            elif ch == sep and depth == 0:
                out.append(cur.strip())
                cur = ""
                continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_attr_value(v):
    v = v.strip()
    if v.startswith("array<"):
        body = v[len("array<"):-1]
        _, _, vals = body.partition(":")
        return [int(x) for x in vals.split(",") if x.strip()]
    if v in ("true", "false"):
        return v == "true"
    if v.startswith('"'):
        return v[1:-1]
    num, _, ty = v.partition(":")
    ty = ty.strip()
    if ty.startswith("f") or ty.startswith("bf"):
        return float(num)
    return int(num)


def parse_dense(body, type_str):
    dims, dtype = parse_type(type_str)
    shape = tuple(dims)
    body = body.strip()
    if body.startswith('"0x'):
        data = bytes.fromhex(body[3:-1])
        if np.dtype(dtype) == np.bool_ and len(data) * 8 >= int(np.prod(shape)) > len(data):
            # MLIR stores i1 elements one bit each, the lowest bit first.
            bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
            return bits[:int(np.prod(shape))].astype(bool).reshape(shape)
        arr = np.frombuffer(data, dtype=dtype)
        return arr.reshape(shape) if arr.size == int(np.prod(shape)) else np.broadcast_to(arr, shape).copy()
    lit = ast.literal_eval(body.replace("true", "True").replace("false", "False"))
    arr = np.array(lit, dtype=dtype)
    return np.broadcast_to(arr, shape).copy() if arr.ndim == 0 else arr.reshape(shape)


LINE = re.compile(r"^\s*(%[\w]+)(?::(\d+))?\s*=\s*llmc\.(\w+)\s*(.*)$")


def parse(text):
    func = re.search(r"func\.func @\w+\((.*?)\)\s*->\s*\((.*?)\)\s*\{\n", text, re.S)
    args = [a.split(":")[0].strip() for a in split_top(func.group(1))]
    arg_names = re.findall(r'llmc\.onnx_name = "([^"]*)"', func.group(1))
    out_names = re.findall(r'llmc\.onnx_name = "([^"]*)"', func.group(2))
    ops, ret = [], None
    for line in text[func.end():].splitlines():
        line = line.strip()
        if line.startswith("return"):
            ret = [r.strip() for r in line[len("return"):].split(":")[0].split(",")]
            break
        m = LINE.match(line)
        if not m:
            continue
        result, nres, op, rest = m.group(1), m.group(2), m.group(3), m.group(4)
        ops.append((result, int(nres or 1), op, rest))
    return args, arg_names, out_names, ops, ret


def parse_operands_attrs_types(rest):
    """'%a, %b {attrs} : (types) -> types' -> operands, attrs, result types"""
    head, types = rest, ""
    # the type signature follows the last top-level ' : '
    parts = split_top(rest, ":")
    head, types = parts[0], ":".join(parts[1:])
    attrs = {}
    if "{" in head:
        i = head.index("{")
        for kv in split_top(head[i + 1:head.rindex("}")]):
            k, _, v = kv.partition("=")
            attrs[k.strip()] = parse_attr_value(v)
        head = head[:i]
    operands = [o.strip() for o in head.split(",") if o.strip()]
    res_types = types.split("->")[-1].strip()
    if res_types.startswith("("):
        res_types = split_top(res_types[1:-1])
    else:
        res_types = [res_types]
    return operands, attrs, [parse_type(t) for t in res_types]


def onnx_reshape(x, shape):
    shape = list(shape)
    for i, s in enumerate(shape):
        if s == 0:
            shape[i] = x.shape[i]
    return x.reshape(shape)


def onnx_slice(x, starts, ends, axes, steps):
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    sl = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        d = x.shape[a]
        s = s + d if s < 0 else s
        e = e + d if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
        sl[a] = slice(s, e if e >= 0 else None, st)
    return x[tuple(sl)]


def run(text, feeds, files_cache={}):
    args, arg_names, out_names, ops, ret = parse(text)
    env = {a: feeds[n] for a, n in zip(args, arg_names)}

    def get(name):
        if "#" in name:
            base, idx = name.split("#")
            return env[base][int(idx)]
        return env[name]

    for result, nres, op, rest in ops:
        if op == "constant":
            body, _, ty = rest.rpartition(":")
            env[result] = parse_dense(body.strip()[len("dense<"):-1], ty)
            continue
        if op == "weight":
            m = re.match(r'"([^"]*)" from "([^"]*)" at (\d+) length (\d+)\s*:\s*(.*)$', rest)
            path, off, length = m.group(2), int(m.group(3)), int(m.group(4))
            dims, dtype = parse_type(m.group(5))
            if path not in files_cache:
                files_cache[path] = open(path, "rb").read()
            env[result] = np.frombuffer(files_cache[path][off:off + length], dtype=dtype).reshape(dims)
            continue
        operands, attrs, rtypes = parse_operands_attrs_types(rest)
        x = [get(o) for o in operands]
        rdtype = rtypes[0][1]
        if op in ("add", "sub", "mul", "max", "min", "pow"):
            f = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum,
                 "min": np.minimum, "pow": np.power}[op]
            r = f(x[0], x[1])
        elif op == "div":
            r = np.trunc(x[0] / x[1]).astype(rdtype) if np.issubdtype(rdtype, np.integer) else x[0] / x[1]
        elif op in ("equal", "greater", "less", "less_equal", "greater_equal", "and", "or"):
            f = {"equal": np.equal, "greater": np.greater, "less": np.less, "less_equal": np.less_equal,
                 "greater_equal": np.greater_equal, "and": np.logical_and, "or": np.logical_or}[op]
            r = f(x[0], x[1])
        elif op == "where":
            r = np.where(x[0], x[1], x[2])
        elif op in ("neg", "abs", "sqrt", "exp", "log", "tanh", "cos", "sin", "not"):
            f = {"neg": np.negative, "abs": np.abs, "sqrt": np.sqrt, "exp": np.exp, "log": np.log,
                 "tanh": np.tanh, "cos": np.cos, "sin": np.sin, "not": np.logical_not}[op]
            r = f(x[0])
        elif op == "rsqrt":
            r = 1 / np.sqrt(x[0])
        elif op == "reciprocal":
            r = 1 / x[0]
        elif op == "sigmoid":
            r = 1 / (1 + np.exp(-x[0]))
        elif op == "silu":
            r = x[0] / (1 + np.exp(-x[0]))
        elif op == "erf":
            r = np.vectorize(math.erf)(x[0])
        elif op == "cast":
            r = (x[0] != 0) if rdtype == np.bool_ else x[0].astype(rdtype)
        elif op in ("reduce_mean", "reduce_sum", "reduce_max"):
            f = {"reduce_mean": np.mean, "reduce_sum": np.sum, "reduce_max": np.max}[op]
            axes = tuple(attrs.get("axes") or range(x[0].ndim))
            r = f(x[0], axis=axes, keepdims=attrs.get("keepdims", True))
        elif op == "matmul":
            r = np.matmul(x[0], x[1])
        elif op == "softmax":
            a = attrs.get("axis", -1)
            e = np.exp(x[0] - np.max(x[0], axis=a, keepdims=True))
            r = e / np.sum(e, axis=a, keepdims=True)
        elif op == "reshape":
            r = onnx_reshape(x[0], attrs["shape"])
        elif op == "transpose":
            r = np.transpose(x[0], attrs["perm"])
        elif op == "concat":
            r = np.concatenate(x, axis=attrs["axis"])
        elif op == "slice":
            r = onnx_slice(x[0], attrs["starts"], attrs["ends"], attrs.get("axes"), attrs.get("steps"))
        elif op == "split":
            sizes = attrs.get("sizes")
            a = attrs["axis"]
            if sizes is None:
                r = tuple(np.split(x[0], nres, axis=a))
            else:
                r = tuple(np.split(x[0], np.cumsum(sizes)[:-1], axis=a))
        elif op == "expand":
            if len(x) == 2:
                target = np.broadcast_shapes(x[0].shape, tuple(int(v) for v in x[1]))
            else:
                dims = rtypes[0][0]
                off = len(dims) - x[0].ndim
                target = tuple(d if d is not None else x[0].shape[i - off] for i, d in enumerate(dims))
            r = np.broadcast_to(x[0], target)
        elif op == "gather":
            r = np.take(x[0], x[1], axis=attrs.get("axis", 0))
        elif op == "range":
            r = np.arange(x[0], x[1], x[2], dtype=rdtype)
        elif op == "trilu":
            k = attrs.get("k", 0)
            r = np.triu(x[0], k) if attrs.get("upper", True) else np.tril(x[0], k)
        elif op == "shape_of":
            r = np.array(x[0].shape, dtype=np.int64)
        elif op == "constant_of_shape":
            r = np.full(tuple(int(v) for v in x[0]), attrs["value"], dtype=rdtype)
        elif op == "rms_norm":
            ms = np.mean(np.square(x[0]), axis=-1, keepdims=True)
            r = x[0] / np.sqrt(ms + attrs["epsilon"]) * x[1]
        elif op == "gelu":
            if attrs.get("approximate") == "tanh":
                r = 0.5 * x[0] * (1 + np.tanh(math.sqrt(2 / math.pi) * (x[0] + 0.044715 * x[0] ** 3)))
            else:
                r = 0.5 * x[0] * (1 + np.vectorize(math.erf)(x[0] / math.sqrt(2)))
        elif op == "layer_norm":
            a = attrs.get("axis", -1)
            axes = tuple(range(a if a >= 0 else a + x[0].ndim, x[0].ndim))
            mu = x[0].mean(axis=axes, keepdims=True)
            var = ((x[0] - mu) ** 2).mean(axis=axes, keepdims=True)
            r = (x[0] - mu) / np.sqrt(var + attrs["epsilon"]) * x[1] + (x[2] if len(x) > 2 else 0)
        else:
            sys.exit(f"run_llmc_ir.py: no semantics for llmc.{op}")
        if nres == 1:
            r = np.asarray(r)
            if r.dtype != rdtype:
                r = r.astype(rdtype)
            # Check the IR's static dims against the computed shape.
            dims = rtypes[0][0]
            if len(dims) != r.ndim or any(d is not None and d != s for d, s in zip(dims, r.shape)):
                sys.exit(f"llmc.{op} -> {result}: computed shape {r.shape}, IR type says {dims}")
        env[result] = r
    return {n: get(v) for n, v in zip(out_names, ret)}


def model_call(text, cfg, ids, mask, pos, past):
    feeds = {"input_ids": np.array(ids, np.int64), "attention_mask": np.array(mask, np.int64),
             "position_ids": np.array(pos, np.int64)}
    for i, (k, v) in enumerate(past):
        feeds[f"past_key_values.{i}.key"], feeds[f"past_key_values.{i}.value"] = k, v
    out = run(text, feeds)
    present = [(out[f"present.{i}.key"], out[f"present.{i}.value"]) for i in range(len(past))]
    return out["logits"].astype(np.float64), present


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ir")
    ap.add_argument("ref")
    ap.add_argument("--tol", type=float, default=1e-4)
    args = ap.parse_args()
    text = open(args.ir).read()
    ref = json.load(open(args.ref))
    n_layers = len(re.findall(r'llmc\.onnx_name = "past_key_values\.\d+\.key"', text))
    kv_type = re.search(r'tensor<\?x(\d+)x\?x(\d+)x(\w+)> \{[^}]*"past_key_values\.0\.key"', text)
    n_kv, hd, dt = int(kv_type.group(1)), int(kv_type.group(2)), DTYPES[kv_type.group(3)]

    def empty(b):
        return [(np.zeros((b, n_kv, 0, hd), dt), np.zeros((b, n_kv, 0, hd), dt)) for _ in range(n_layers)]

    errors = {}
    prompt = ref["prompt_ids"]
    n = len(prompt)
    logits, _ = model_call(text, None, [prompt], [[1] * n], [list(range(n))], empty(1))
    errors["prefill"] = np.abs(logits[0] - np.array(ref["prefill_logits"]["values"])).max()

    g = ref["greedy"]
    past, ids = empty(1), list(prompt)
    step_err = 0.0
    for step, (p, s) in enumerate(zip(g["step_past_lengths"], g["step_input_lengths"])):
        x = ids[p:p + s]
        logits, past = model_call(text, None, [x], [[1] * (p + s)], [list(range(p, p + s))], past)
        step_err = max(step_err, np.abs(logits[0, -1] - np.array(g["step_logits"][step])).max())
        ids.append(g["generated_ids"][step])
    errors["greedy"] = step_err

    c = ref["chunked_prefill"]
    k = c["split"]
    _, past = model_call(text, None, [prompt[:k]], [[1] * k], [list(range(k))], empty(1))
    logits, _ = model_call(text, None, [prompt[k:]], [[1] * n], [list(range(k, n))], past)
    errors["chunked"] = np.abs(logits[0, -1] - np.array(c["last_logits"])).max()

    pb = ref["padded_batch"]
    logits, _ = model_call(text, None, pb["input_ids"], pb["attention_mask"], pb["position_ids"], empty(2))
    errors["padded"] = np.abs(logits[:, -1] - np.array(pb["last_logits"])).max()

    ok = True
    for name, e in errors.items():
        good = e <= args.tol
        ok &= good
        print(f"{name}: max abs error {e:.3g} {'ok' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
