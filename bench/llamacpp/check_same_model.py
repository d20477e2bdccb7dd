#!/usr/bin/python3
"""Check that export_gguf.py hands llama.cpp the model llmc runs: on small random models in both RoPE
conventions, llama.cpp's greedy continuation of a prompt must equal PyTorch's (export_onnx.py's
reference, the one llmc's own tests compare against).

    check_same_model.py --driver PATH/llamacpp_bench [--work DIR]
        (bench/run.sh runs it before measuring; exit 1 on a mismatch)

The reference is fp32 PyTorch on the exported weights; llama.cpp computes in fp32 with an fp16 KV
cache, so the two agree token for token only while no two logits are closer than that rounding: the
tiny-test preset at seed 0 has no such near-tie in the first 24 tokens (checked in both conventions).
A wrong RoPE row order, tensor name, or transposition changes the continuation within a few tokens.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", required=True, help="llamacpp_bench (bench/llamacpp/build.sh prints its path)")
    ap.add_argument("--work", default=None, help="scratch directory (default: a temporary one)")
    ap.add_argument("--new-tokens", type=int, default=24)
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="llmc-gguf-check-")
    ok = True
    for rope in ("half", "interleaved"):
        d = os.path.join(work, f"tiny-test-{rope}")
        subprocess.run([PY, os.path.join(ROOT, "examples/export/export_onnx.py"), "--random", "--preset",
                        "tiny-test", "--rope", rope, "--reference", "--ref-prompt-len", "16",
                        "--ref-new-tokens", str(a.new_tokens), "-q", "-o", d, "--name", "m"], check=True)
        gguf = os.path.join(d, "m.gguf")
        subprocess.run([PY, os.path.join(HERE, "export_gguf.py"), "--random", "--preset", "tiny-test",
                        "--rope", rope, "--type", "f32", "-o", gguf], check=True, stdout=subprocess.DEVNULL)
        ref = json.load(open(os.path.join(d, "m.ref.json")))
        want = ref["greedy"]["generated_ids"]
        out = subprocess.run([a.driver, "greedy", gguf, "--ids",
                              ",".join(map(str, ref["prompt_ids"])), "--gen", str(len(want))],
                             check=True, capture_output=True, text=True).stdout
        got = json.loads(out.strip().splitlines()[-1])["tokens"]
        same = got == want
        ok &= same
        print(f"llama.cpp vs PyTorch, RoPE {rope}: {'same' if same else 'DIFFERENT'} greedy tokens "
              f"({len(want)}){'' if same else f': {got} against {want}'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
