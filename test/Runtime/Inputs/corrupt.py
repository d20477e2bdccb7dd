#!/usr/bin/python3
"""corrupt.py GOOD.llmc OUTDIR: write truncated / wrong-version / flipped-byte
copies of a bundle (see include/llmc/Bundle/BundleFormat.h for the layout)."""
import os
import struct
import sys

good, out = sys.argv[1], sys.argv[2]
d = bytes(open(good, "rb").read())


def write(name, data):
    open(os.path.join(out, name), "wb").write(data)


write("truncated.llmc", d[:4096])
v = bytearray(d)
v[8:12] = struct.pack("<I", 99)
write("version.llmc", bytes(v))
num = struct.unpack_from("<I", d, 12)[0]
table = struct.unpack_from("<Q", d, 16)[0]
for i in range(num):
    e = table + 64 * i
    name = d[e:e + 32].split(b"\0")[0]
    off, size = struct.unpack_from("<QQ", d, e + 32)
    if name == b"manifest":
        f = bytearray(d)
        f[off + size // 2] ^= 0x01
        write("flipped.llmc", bytes(f))
    if name == b"weights":
        f = bytearray(d)
        f[off + size // 2] ^= 0x40
        write("flipped-weights.llmc", bytes(f))
