#!/usr/bin/python3
"""Check the llmc.weight references of imported IR against the ONNX model's initializers.

    check_weights.py MODEL.onnx IR.mlir

For every `llmc.weight "NAME" from "FILE" at OFFSET length LENGTH : tensor<...>` in the IR, reads
LENGTH bytes of FILE at OFFSET and compares them with the initializer NAME of the model (external
data loaded by onnx), and checks the tensor type's shape and element type. Prints
"checked N weights (B bytes)" and exits 1 on the first mismatch.
"""

import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

ELEM = {"f32": np.float32, "f16": np.float16, "f64": np.float64, "i64": np.int64, "i32": np.int32,
        "i8": np.int8, "ui8": np.uint8, "bf16": None}
WEIGHT = re.compile(r'llmc\.weight "([^"]*)" from "([^"]*)" at (\d+) length (\d+)\s*:\s*tensor<([^>]*)>')


def main(model_path, ir_path):
    model = onnx.load(model_path, load_external_data=True)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    ir = open(ir_path).read()
    count, total = 0, 0
    for name, path, offset, length, type_str in WEIGHT.findall(ir):
        offset, length = int(offset), int(length)
        if name not in inits:
            sys.exit(f"weight '{name}' is not an initializer of {model_path}")
        ref = inits[name]
        *dims, elem = type_str.split("x")
        dims = [int(d) for d in dims]
        if list(ref.shape) != dims or ref.dtype != ELEM.get(elem):
            sys.exit(f"weight '{name}': IR type tensor<{type_str}>, model {ref.shape} {ref.dtype}")
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        if length != ref.nbytes or data != ref.tobytes():
            sys.exit(f"weight '{name}': bytes at {path}:{offset}+{length} differ from the initializer")
        count += 1
        total += length
    print(f"checked {count} weights ({total} bytes)")


if __name__ == "__main__":
    main(*sys.argv[1:])
