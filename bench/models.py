#!/usr/bin/python3
"""ONNX models for llmc's benchmark suite (run with Debian's /usr/bin/python3).

  models.py layer  --n N --k K --format f32|int4_g32|int4_g128 --copies C -o layer.onnx
      One layer Y = X @ W (X: [M, K], M dynamic) repeated over C distinct weight
      copies (Y = sum_i X @ W_i), so that a run streams C weights from DRAM.
      f32: ONNX MatMul with W [K, N]; int4: com.microsoft MatMulNBits.

  models.py nbits  --block 32|128 SRC.onnx -o DST.onnx
      The exported fp32 decoder with every MatMul whose weight is an initializer
      (or a Transpose of one: tied lm_head), and every Gemm that is a linear layer
      with an [N] bias (GPT-2's Conv1D; the bias becomes MatMulNBits' bias input),
      replaced by MatMulNBits (4 bits,
      symmetric round-to-nearest, fp32 scale per block, no zero_points input =
      the op's default zero point 8), the embedding (Gather) kept fp32: the
      format llmc's `--quant=int4 --group-size B` compiles the same graph to.

  models.py lastlogits SRC.onnx -o DST.onnx
      The same graph with logits computed for the last position only (a Slice
      before the final MatMul), what llmc's own pipeline does: ORT then does not
      pay a [tokens x vocab] lm_head and copy that llmc skips. The weights stay
      in SRC's external data file (DST is written beside SRC).

MatMulNBits (ONNX Runtime contrib op spec): B uint8 [N, n_blocks, block/2],
element k of column n in byte (k % block) / 2 of block k / block, low nibble
first; scales float [N * n_blocks]; dequantized (q - 8) * scale.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import load_external_data_for_tensor

ACCURACY_LEVEL = 4  # int8 activations in ORT's MatMulNBits, as llmc's int4 kernels


def quant_int4(w_kn: np.ndarray, block: int):
    """w [K, N] fp32 -> (B uint8 [N, nb, block/2], scales fp32 [N*nb])."""
    K, N = w_kn.shape
    nb = (K + block - 1) // block
    wt = np.zeros((N, nb * block), dtype=np.float32)
    wt[:, :K] = w_kn.T
    g = wt.reshape(N, nb, block)
    amax = np.abs(g).max(axis=2)
    scale = amax / 7.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(g / scale[:, :, None]), -8, 7).astype(np.int16) + 8
    q = q.astype(np.uint8)
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
    return packed, scale.reshape(-1).astype(np.float32)


def nbits_node(a: str, y: str, name: str, K: int, N: int, block: int, bname: str, sname: str,
               bias: str = ""):
    inputs = [a, bname, sname] + (["", "", bias] if bias else [])
    return helper.make_node("MatMulNBits", inputs, [y], name=name,
                            domain="com.microsoft", K=K, N=N, bits=4, block_size=block,
                            accuracy_level=ACCURACY_LEVEL)


def gemm_weight(n, inits, src_dir):
    """A Gemm that is a linear layer (GPT-2's Conv1D): y = A W + b with W an initializer (transB
    either way), alpha = beta = 1, b absent or an [N] initializer. Returns (W [K, N], bias name)."""
    attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        return None, ""
    b = n.input[1]
    if b not in inits or len(inits[b].dims) != 2:
        return None, ""
    w = tensor_array(inits[b], src_dir)
    if attrs.get("transB", 0):
        w = np.ascontiguousarray(w.T)
    bias = n.input[2] if len(n.input) > 2 else ""
    if bias and (bias not in inits or list(inits[bias].dims) != [w.shape[1]]):
        return None, ""
    return w, bias


def save(model: onnx.ModelProto, out: str):
    os.makedirs(os.path.dirname(os.path.abspath(out)) or ".", exist_ok=True)
    data = os.path.basename(out) + ".data"
    if os.path.exists(os.path.join(os.path.dirname(os.path.abspath(out)), data)):
        os.remove(os.path.join(os.path.dirname(os.path.abspath(out)), data))
    onnx.save_model(model, out, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data, size_threshold=1024)


def cmd_layer(a):
    rng = np.random.default_rng(1234)
    K, N, C = a.k, a.n, a.copies
    base = rng.uniform(-1, 1, size=(K, N)).astype(np.float32)
    nodes, inits, ys = [], [], []
    if a.format != "f32":
        block = int(a.format.split("_g")[1])
        qb, qs = quant_int4(base, block)
    for c in range(C):
        y = f"y{c}"
        ys.append(y)
        if a.format == "f32":
            w = base.copy()
            w[0, 0] = float(c)  # distinct copies
            inits.append(numpy_helper.from_array(w, f"W{c}"))
            nodes.append(helper.make_node("MatMul", ["X", f"W{c}"], [y], name=f"mm{c}"))
        else:
            b = qb.copy()
            b[0, 0, 0] = c & 0xFF
            s = qs.copy()
            s[0] = 1.0 + c
            inits.append(numpy_helper.from_array(b, f"B{c}"))
            inits.append(numpy_helper.from_array(s, f"S{c}"))
            nodes.append(nbits_node("X", y, f"mm{c}", K, N, block, f"B{c}", f"S{c}"))
    nodes.append(helper.make_node("Sum", ys, ["Y"], name="sum"))
    g = helper.make_graph(nodes, "layer",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["M", K])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", N])],
                          inits)
    opsets = [helper.make_opsetid("", 17)]
    if a.format != "f32":
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    m = helper.make_model(g, opset_imports=opsets, producer_name="llmc-bench")
    m.ir_version = 8
    save(m, a.out)


def tensor_array(t: onnx.TensorProto, base_dir: str) -> np.ndarray:
    """The tensor's values (external data read from base_dir; t is left as is)."""
    if t.data_location == TensorProto.EXTERNAL:
        c = onnx.TensorProto()
        c.CopyFrom(t)
        load_external_data_for_tensor(c, base_dir)
        del c.external_data[:]
        c.data_location = TensorProto.DEFAULT
        return numpy_helper.to_array(c)
    return numpy_helper.to_array(t)


def cmd_nbits(a):
    src_dir = os.path.dirname(os.path.abspath(a.src))
    m = onnx.load(a.src, load_external_data=False)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    new_nodes, drop, new_inits = [], set(), []
    for n in g.node:
        w_name, w, bias = None, None, ""
        if n.op_type == "Gemm":
            w, bias = gemm_weight(n, inits, src_dir)
            w_name = n.input[1] if w is not None else None
        elif n.op_type == "MatMul":
            b = n.input[1]
            if b in inits and len(inits[b].dims) == 2:
                w_name, w = b, tensor_array(inits[b], src_dir)
            elif b in producers and producers[b].op_type == "Transpose" and \
                    producers[b].input[0] in inits:
                t = inits[producers[b].input[0]]
                if len(t.dims) == 2:
                    w_name, w = b, np.ascontiguousarray(tensor_array(t, src_dir).T)
        if w is None:
            new_nodes.append(n)
            continue
        K, N = w.shape
        qb, qs = quant_int4(w.astype(np.float32), a.block)
        bname, sname = w_name + "_q4", w_name + "_scales"
        new_inits += [numpy_helper.from_array(qb, bname), numpy_helper.from_array(qs, sname)]
        new_nodes.append(nbits_node(n.input[0], n.output[0], n.name + "_q4", K, N, a.block,
                                    bname, sname, bias))
        if w_name in inits:
            drop.add(w_name)
        print(f"  {n.name}: {K}x{N} -> MatMulNBits block {a.block}", file=sys.stderr)
    # Tied lm_head: the Transpose may now be dead; drop dead nodes.
    used = {i for n in new_nodes for i in n.input} | {o.name for o in g.output}
    changed = True
    while changed:
        changed = False
        keep = []
        for n in new_nodes:
            if n.op_type != "MatMulNBits" and not any(o in used for o in n.output):
                changed = True
                continue
            keep.append(n)
        new_nodes = keep
        used = {i for n in new_nodes for i in n.input} | {o.name for o in g.output}
    kept = []
    for t in g.initializer:
        if t.name in drop or t.name not in used:
            continue
        if t.data_location == TensorProto.EXTERNAL:
            load_external_data_for_tensor(t, src_dir)
            del t.external_data[:]
            t.data_location = TensorProto.DEFAULT
        kept.append(t)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    del g.node[:]
    g.node.extend(new_nodes)
    if not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    save(m, a.out)


def cmd_lastlogits(a):
    m = onnx.load(a.src, load_external_data=False)
    g = m.graph
    prod = [n for n in g.node if "logits" in n.output]
    if not prod or prod[0].op_type not in ("MatMul", "MatMulNBits"):
        sys.exit("lastlogits: 'logits' is not produced by a MatMul")
    n = prod[0]
    x = n.input[0]
    consts = [numpy_helper.from_array(np.array(v, dtype=np.int64), nm) for nm, v in
              (("lastlogits_starts", [-1]), ("lastlogits_ends", [2 ** 62]),
               ("lastlogits_axes", [1]))]
    g.initializer.extend(consts)
    sl = helper.make_node("Slice", [x, "lastlogits_starts", "lastlogits_ends", "lastlogits_axes"],
                          [x + "_last"], name="lastlogits_slice")
    n.input[0] = x + "_last"
    idx = list(g.node).index(n)
    g.node.insert(idx, sl)
    out = a.out
    if os.path.dirname(os.path.abspath(out)) != os.path.dirname(os.path.abspath(a.src)):
        sys.exit("lastlogits: write DST beside SRC (it shares SRC's external data)")
    onnx.save_model(m, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("layer")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--k", type=int, required=True)
    p.add_argument("--format", choices=["f32", "int4_g32", "int4_g128"], required=True)
    p.add_argument("--copies", type=int, required=True)
    p.add_argument("-o", dest="out", required=True)
    p = sub.add_parser("nbits")
    p.add_argument("--block", type=int, choices=[32, 128], required=True)
    p.add_argument("src")
    p.add_argument("-o", dest="out", required=True)
    p = sub.add_parser("lastlogits")
    p.add_argument("src")
    p.add_argument("-o", dest="out", required=True)
    a = ap.parse_args()
    {"layer": cmd_layer, "nbits": cmd_nbits, "lastlogits": cmd_lastlogits}[a.cmd](a)


if __name__ == "__main__":
    main()
