#!/usr/bin/python3
"""Feed llmc compile damaged copies of a model: it must fail cleanly, never crash.

    fuzz_import.py MODEL.onnx WORKDIR [--cuts N] [--flips N] [--seed S]

Writes truncations of MODEL at N evenly spaced lengths and copies with random bytes
overwritten, runs `llmc compile --emit=mlir` on each, and checks that every run exits
with 0 or 1 (never a signal or another code) and that a failure prints one
"llmc: error:" message. Prints a summary line.
"""

import argparse
import os
import random
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("workdir")
    ap.add_argument("--cuts", type=int, default=24)
    ap.add_argument("--flips", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = open(args.model, "rb").read()
    rng = random.Random(args.seed)
    cases = []
    for i in range(args.cuts):
        cases.append(("cut", data[: len(data) * i // args.cuts]))
    for _ in range(args.flips):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            # Damage the structure (the first bytes of the file and its graph) more often than
            # weight payloads, where a changed byte is just another weight value.
            pos = rng.randrange(min(len(b), 4096)) if rng.random() < 0.7 else rng.randrange(len(b))
            b[pos] = rng.randrange(256)
        cases.append(("flip", bytes(b)))
    failures, accepted, rejected = [], 0, 0
    path = os.path.join(args.workdir, "fuzz.onnx")
    for kind, blob in cases:
        with open(path, "wb") as f:
            f.write(blob)
        p = subprocess.run(["llmc", "compile", path, "--emit=mlir", "--stop-after=import", "-o", os.devnull],
                           capture_output=True, text=True, errors="replace")
        if p.returncode == 0:
            accepted += 1
        elif p.returncode == 1 and p.stderr.startswith("llmc: error: ") and \
                p.stderr.count("llmc: error:") == 1:
            rejected += 1
        else:
            failures.append((kind, len(blob), p.returncode, p.stderr[-300:]))
    for f in failures:
        print("BAD RUN:", f)
    print(f"fuzz: {len(cases)} runs, {rejected} rejected cleanly, {accepted} accepted, "
          f"{len(failures)} bad")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
