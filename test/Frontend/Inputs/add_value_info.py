#!/usr/bin/python3
"""Run ONNX shape inference on a model and save it with value_info for every intermediate value.

    add_value_info.py IN.onnx OUT.onnx [IN2.onnx OUT2.onnx ...]

The importer checks each inferred type against value_info (element type, rank, static dims), so
importing OUT.onnx checks that the imported IR's shapes match ONNX's. Prints the number of
value_info entries. External data files stay where they are (OUT must be in IN's directory).
"""

import sys

import onnx


def main(args):
    for src, dst in zip(args[0::2], args[1::2]):
        model = onnx.load(src, load_external_data=False)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        onnx.save(inferred, dst)
        print(f"value_info: {len(inferred.graph.value_info)}")


if __name__ == "__main__":
    main(sys.argv[1:])
