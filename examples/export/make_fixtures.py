#!/usr/bin/python3
"""Generate the small ONNX fixtures of test/fixtures/onnx (each file < 200 KB), deterministically.

Valid models: the "fixture" preset of export_onnx.py (2 layers, dim 32, 4 heads / 2 kv heads (GQA),
head_dim 8, hidden 72, vocab 64; seed 0), with the full KV-cache interface:
    llama_interleaved_fp32.onnx   llama_half_fp32.onnx     RoPE on (x[2i], x[2i+1]) / on half-split dims
    llama_interleaved_fp16.onnx   llama_half_fp16.onnx     the same weights in fp16 (they are fp16-exact)
    llama_external.onnx + llama_external.weights           interleaved fp32, weights as external data
                                                           (one file; not .onnx_data, which .gitignore hides)
  each with <name>.config.json; the fp32 ones also with <name>.ref.json (PyTorch reference outputs for a
  16-token prompt: prefill logits, 8 greedy steps through the KV cache, chunked prefill, padded batch).
  The fp16 models hold the same weights as the fp32 ones, so the fp32 references apply to them too
  (within fp16 tolerance).  (tiny-test itself, dim 64 / hidden 176 / vocab 256, is ~480 KB in fp32,
  too big for a fixture; export_onnx.py --random --preset tiny-test builds it on demand.)

Bad inputs, each of which an importer must reject with a clear error (and no crash):
    bad_truncated.onnx               the first 60% of llama_interleaved_fp32.onnx (protobuf parse error)
    bad_not_protobuf.onnx            a text file, not a protobuf
    bad_missing_external_data.onnx   initializers point into bad_missing_external_data.onnx_data, absent
    bad_raw_data_size.onnx           layers.0.attention.wq.weight_T is [32, 32] fp32 (4096 bytes) but its
                                     raw_data holds 4000 bytes
    bad_opset_3.onnx / bad_opset_99.onnx   a valid MatMul+Add graph importing ai.onnx opset 3 / 99
    bad_unsupported_ops.onnx         MatMul -> com.example.FooOp ("foo_1", "foo_2") -> NonMaxSuppression
                                     ("nms_1"): three unsupported nodes to be listed at once

    /usr/bin/python3 examples/export/make_fixtures.py [-o test/fixtures/onnx] [--check]
--check regenerates into a temporary directory and fails if any byte differs from the checked-in files.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_onnx  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUT = os.path.join(REPO, "test", "fixtures", "onnx")
MAX_BYTES = 200 * 1024


def _export(out: str, name: str, rope: str, dtype: str, reference: bool, external: str = "never") -> None:
    argv = ["--random", "--preset", "fixture", "--seed", "0", "--rope", rope, "--dtype", dtype,
            "--name", name, "-o", out, "--external-data", external, "-q"]
    if external == "always":
        # Not "<name>.onnx_data": the repository's .gitignore ignores *.onnx_data (generated big models).
        argv += ["--external-data-name", name + ".weights"]
    if reference:
        argv += ["--reference", "--ref-prompt-len", "16", "--ref-new-tokens", "8"]
    export_onnx.main(argv)


def _small_graph(opset: int) -> onnx.ModelProto:
    """y = x @ W + b with deterministic weights; valid except possibly for its opset."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "W")
    b = numpy_helper.from_array(rng.standard_normal((3,)).astype(np.float32), "b")
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"], name="matmul_1"),
         helper.make_node("Add", ["xw", "b"], ["y"], name="add_1")],
        "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])], [w, b])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="llmc-fixtures")


def _unsupported_ops() -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "W")
    nodes = [
        helper.make_node("MatMul", ["boxes_in", "W"], ["h"], name="matmul_1"),
        helper.make_node("FooOp", ["h"], ["f1"], name="foo_1", domain="com.example", alpha=0.5),
        helper.make_node("FooOp", ["f1"], ["f2"], name="foo_2", domain="com.example", alpha=2.0),
        helper.make_node("Unsqueeze", ["f2", "axes"], ["boxes"], name="unsqueeze_1"),
        helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["selected"], name="nms_1"),
    ]
    axes = numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")
    g = helper.make_graph(
        nodes, "unsupported_ops",
        [helper.make_tensor_value_info("boxes_in", TensorProto.FLOAT, ["n", 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, "n"])],
        [helper.make_tensor_value_info("selected", TensorProto.INT64, ["k", 3])], [w, axes])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
                             producer_name="llmc-fixtures")


def _save(model: onnx.ModelProto, path: str) -> None:
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def generate(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    for rope in ("interleaved", "half"):
        _export(out, f"llama_{rope}_fp32", rope, "fp32", reference=True)
        _export(out, f"llama_{rope}_fp16", rope, "fp16", reference=False)
    _export(out, "llama_external", "interleaved", "fp32", reference=False, external="always")

    good = os.path.join(out, "llama_interleaved_fp32.onnx")
    blob = open(good, "rb").read()

    # Truncated: cut inside a weight's raw_data, so that parsing must fail.
    cut = int(len(blob) * 0.6)
    with open(os.path.join(out, "bad_truncated.onnx"), "wb") as f:
        f.write(blob[:cut])
    with open(os.path.join(out, "bad_not_protobuf.onnx"), "w") as f:
        f.write("this is not an ONNX model, just text\n")

    # Missing external data: the external model, pointing at a data file that is not shipped.
    m = onnx.load(os.path.join(out, "llama_external.onnx"), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "bad_missing_external_data.onnx_data"
    _save(m, os.path.join(out, "bad_missing_external_data.onnx"))

    # raw_data byte count disagrees with dims x element size.
    m = onnx.load_model_from_string(blob)
    t = next(t for t in m.graph.initializer if t.name == "layers.0.attention.wq.weight_T")
    assert list(t.dims) == [32, 32] and t.data_type == TensorProto.FLOAT and len(t.raw_data) == 4096
    t.raw_data = t.raw_data[:4000]
    _save(m, os.path.join(out, "bad_raw_data_size.onnx"))

    _save(_small_graph(3), os.path.join(out, "bad_opset_3.onnx"))
    _save(_small_graph(99), os.path.join(out, "bad_opset_99.onnx"))
    _save(_unsupported_ops(), os.path.join(out, "bad_unsupported_ops.onnx"))


def verify(out: str) -> None:
    """Sanity: sizes, good files pass onnx.checker, bad files fail the way they are meant to."""
    for f in sorted(os.listdir(out)):
        size = os.path.getsize(os.path.join(out, f))
        if size >= MAX_BYTES:
            raise SystemExit(f"fixture {f} is {size} bytes (limit {MAX_BYTES})")
    for name in ("llama_interleaved_fp32", "llama_half_fp32", "llama_interleaved_fp16", "llama_half_fp16",
                 "llama_external"):
        onnx.checker.check_model(os.path.join(out, name + ".onnx"))
    onnx.checker.check_model(os.path.join(out, "bad_unsupported_ops.onnx"))  # valid ONNX, unsupported ops
    for bad in ("bad_truncated.onnx", "bad_not_protobuf.onnx"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                onnx.load(os.path.join(out, bad))
        except Exception:
            continue
        raise SystemExit(f"{bad} unexpectedly parses")
    try:
        onnx.load(os.path.join(out, "bad_missing_external_data.onnx"))
        raise SystemExit("bad_missing_external_data.onnx unexpectedly loads")
    except (FileNotFoundError, OSError):
        pass
    m = onnx.load(os.path.join(out, "bad_raw_data_size.onnx"))
    try:
        numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == "layers.0.attention.wq.weight_T"))
        raise SystemExit("bad_raw_data_size.onnx: tensor unexpectedly converts")
    except ValueError:
        pass
    # bad_opset_3/99 are well-formed protobufs (onnx 1.12's checker even accepts both); they are "bad"
    # only because llmc supports neither opset.
    for opset in (3, 99):
        m = onnx.load(os.path.join(out, f"bad_opset_{opset}.onnx"))
        assert m.opset_import[0].version == opset


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out-dir", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temp dir and compare byte for byte with --out-dir")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    if not args.check:
        generate(args.out_dir)
        verify(args.out_dir)
        for f in sorted(os.listdir(args.out_dir)):
            print(f"{os.path.getsize(os.path.join(args.out_dir, f)):>8}  {f}")
        return 0
    tmp = tempfile.mkdtemp(prefix="llmc-fixtures-")
    try:
        generate(tmp)
        verify(tmp)
        a, b = sorted(os.listdir(tmp)), sorted(f for f in os.listdir(args.out_dir) if f != "README.md")
        bad = [f for f in a if f not in b or not filecmp.cmp(os.path.join(tmp, f), os.path.join(args.out_dir, f),
                                                             shallow=False)]
        bad += [f for f in b if f not in a]
        if bad:
            print("fixtures differ from a fresh generation: " + ", ".join(bad))
            return 1
        print(f"{len(a)} fixtures reproduce byte for byte")
        return 0
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
