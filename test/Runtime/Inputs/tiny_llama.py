#!/usr/bin/python3
"""Write a tiny random Llama in the fused llmc IR (what llmc-fuse-transformer
emits for an exported Llama) plus its weights file, for runtime/CLI tests that
must not depend on the ONNX frontend.

    tiny_llama.py OUT_DIR [--vocab 64 --dim 32 --layers 2 --heads 4 --kv-heads 2 --hidden 48]
writes OUT_DIR/tiny.mlir, OUT_DIR/tiny.bin (fp32, little endian) and a llama2.c
tokenizer OUT_DIR/tok.bin with byte tokens (vocab >= 259 needed to use it, so
it is only written when --vocab >= 259).
"""
import argparse
import os
import struct

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--vocab", type=int, default=64)
p.add_argument("--dim", type=int, default=32)
p.add_argument("--layers", type=int, default=2)
p.add_argument("--heads", type=int, default=4)
p.add_argument("--kv-heads", type=int, default=2)
p.add_argument("--hidden", type=int, default=48)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
rng = np.random.default_rng(a.seed)
hd = a.dim // a.heads
V, D, H, KV, F = a.vocab, a.dim, a.heads, a.kv_heads, a.hidden
binpath = os.path.join(a.out, "tiny.bin")
lines = []
offset = 0
blob = open(binpath, "wb")


def weight(name, shape, scale=None, ones=False):
    global offset
    if ones:
        arr = (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    else:
        s = scale if scale is not None else 1.0 / np.sqrt(shape[0])
        arr = (s * rng.standard_normal(shape)).astype(np.float32)
    data = arr.tobytes()
    blob.write(data)
    t = "x".join(str(d) for d in shape)
    v = "%" + name.replace(".", "_")
    lines.append(f'    {v} = llmc.weight "{name}" from "tiny.bin" at {offset} length {len(data)} : tensor<{t}xf32>')
    offset += len(data)
    return v


def act(*dims):
    return "tensor<" + "x".join(str(d) for d in dims) + "xf32>"


kvt = act("?", KV, "?", hd)
args = ["%input_ids: tensor<?x?xi64>", "%attention_mask: tensor<?x?xi64>", "%position_ids: tensor<?x?xi64>"]
for i in range(a.layers):
    args += [f"%pk{i}: {kvt}", f"%pv{i}: {kvt}"]
emb = weight("tok_embeddings.weight", (V, D), scale=1.0)
lines.append(f"    %x0 = llmc.gather {emb}, %input_ids : (tensor<{V}x{D}xf32>, tensor<?x?xi64>) -> {act('?', '?', D)}")
lines.append(f"    %cos, %sin = llmc.rope_cos_sin interleaved %position_ids {{dim = {hd} : i64, theta = 1.000000e+04 : f64}} : (tensor<?x?xi64>) -> ({act('?', '?', hd // 2)}, {act('?', '?', hd // 2)})")
x = "%x0"
presents = []
for i in range(a.layers):
    L = f"l{i}"
    an = weight(f"layers.{i}.attention_norm.weight", (D,), ones=True)
    lines.append(f"    %{L}_h = llmc.rms_norm {x}, {an} {{epsilon = 9.99999974E-6 : f32}} : ({act('?', '?', D)}, tensor<{D}xf32>) -> {act('?', '?', D)}")
    wq = weight(f"layers.{i}.wq_T", (D, H * hd))
    wk = weight(f"layers.{i}.wk_T", (D, KV * hd))
    wv = weight(f"layers.{i}.wv_T", (D, KV * hd))
    N = (H + 2 * KV) * hd
    lines.append(f"    %{L}_wqkv = llmc.concat {wq}, {wk}, {wv} {{axis = 1 : i64}} : (tensor<{D}x{H*hd}xf32>, tensor<{D}x{KV*hd}xf32>, tensor<{D}x{KV*hd}xf32>) -> tensor<{D}x{N}xf32>")
    lines.append(f"    %{L}_qkv = llmc.matmul %{L}_h, %{L}_wqkv : ({act('?', '?', D)}, tensor<{D}x{N}xf32>) -> {act('?', '?', N)}")
    lines.append(f"    %{L}_s:3 = llmc.split %{L}_qkv {{axis = 2 : i64, sizes = array<i64: {H*hd}, {KV*hd}, {KV*hd}>}} : ({act('?', '?', N)}) -> ({act('?', '?', H*hd)}, {act('?', '?', KV*hd)}, {act('?', '?', KV*hd)})")
    for j, (nm, nh) in enumerate([("q", H), ("k", KV), ("v", KV)]):
        lines.append(f"    %{L}_{nm}4 = llmc.reshape %{L}_s#{j} {{shape = array<i64: 0, 0, {nh}, {hd}>}} : ({act('?', '?', nh*hd)}) -> {act('?', '?', nh, hd)}")
        lines.append(f"    %{L}_{nm}t = llmc.transpose %{L}_{nm}4 {{perm = array<i64: 0, 2, 1, 3>}} : ({act('?', '?', nh, hd)}) -> {act('?', nh, '?', hd)}")
    lines.append(f"    %{L}_qr = llmc.rope interleaved %{L}_qt, %cos, %sin : ({act('?', H, '?', hd)}, {act('?', '?', hd//2)}, {act('?', '?', hd//2)}) -> {act('?', H, '?', hd)}")
    lines.append(f"    %{L}_kr = llmc.rope interleaved %{L}_kt, %cos, %sin : ({kvt}, {act('?', '?', hd//2)}, {act('?', '?', hd//2)}) -> {kvt}")
    scale = 1.0 / np.sqrt(hd)
    lines.append(f"    %{L}_o, %{L}_pk, %{L}_pv = llmc.attention %{L}_qr, %{L}_kr, %{L}_vt past(%pk{i}, %pv{i}) {{causal = true, num_heads = {H} : i64, num_kv_heads = {KV} : i64, scale = {scale:.9e} : f32}} : ({act('?', H, '?', hd)}, {kvt}, {kvt}, {kvt}, {kvt}) -> ({act('?', H, '?', hd)}, {kvt}, {kvt})")
    presents += [f"%{L}_pk", f"%{L}_pv"]
    lines.append(f"    %{L}_ot = llmc.transpose %{L}_o {{perm = array<i64: 0, 2, 1, 3>}} : ({act('?', H, '?', hd)}) -> {act('?', '?', H, hd)}")
    lines.append(f"    %{L}_o3 = llmc.reshape %{L}_ot {{shape = array<i64: 0, 0, {H*hd}>}} : ({act('?', '?', H, hd)}) -> {act('?', '?', H*hd)}")
    wo = weight(f"layers.{i}.wo_T", (H * hd, D))
    lines.append(f"    %{L}_a = llmc.matmul %{L}_o3, {wo} : ({act('?', '?', H*hd)}, tensor<{H*hd}x{D}xf32>) -> {act('?', '?', D)}")
    lines.append(f"    %{L}_x1 = llmc.add {x}, %{L}_a : ({act('?', '?', D)}, {act('?', '?', D)}) -> {act('?', '?', D)}")
    fn = weight(f"layers.{i}.ffn_norm.weight", (D,), ones=True)
    lines.append(f"    %{L}_h2 = llmc.rms_norm %{L}_x1, {fn} {{epsilon = 9.99999974E-6 : f32}} : ({act('?', '?', D)}, tensor<{D}xf32>) -> {act('?', '?', D)}")
    w1 = weight(f"layers.{i}.w1_T", (D, F))
    w3 = weight(f"layers.{i}.w3_T", (D, F))
    lines.append(f"    %{L}_w13 = llmc.concat {w1}, {w3} {{axis = 1 : i64}} : (tensor<{D}x{F}xf32>, tensor<{D}x{F}xf32>) -> tensor<{D}x{2*F}xf32>")
    lines.append(f"    %{L}_gu = llmc.matmul %{L}_h2, %{L}_w13 : ({act('?', '?', D)}, tensor<{D}x{2*F}xf32>) -> {act('?', '?', 2*F)}")
    lines.append(f"    %{L}_sw = llmc.swiglu %{L}_gu : ({act('?', '?', 2*F)}) -> {act('?', '?', F)}")
    w2 = weight(f"layers.{i}.w2_T", (F, D))
    lines.append(f"    %{L}_d = llmc.matmul %{L}_sw, {w2} : ({act('?', '?', F)}, tensor<{F}x{D}xf32>) -> {act('?', '?', D)}")
    lines.append(f"    %{L}_x2 = llmc.add %{L}_x1, %{L}_d : ({act('?', '?', D)}, {act('?', '?', D)}) -> {act('?', '?', D)}")
    x = f"%{L}_x2"
nw = weight("norm.weight", (D,), ones=True)
lines.append(f"    %hf = llmc.rms_norm {x}, {nw} {{epsilon = 9.99999974E-6 : f32}} : ({act('?', '?', D)}, tensor<{D}xf32>) -> {act('?', '?', D)}")
lines.append(f"    %wout = llmc.transpose {emb} {{perm = array<i64: 1, 0>}} : (tensor<{V}x{D}xf32>) -> tensor<{D}x{V}xf32>")
lines.append(f"    %logits = llmc.matmul %hf, %wout : ({act('?', '?', D)}, tensor<{D}x{V}xf32>) -> {act('?', '?', V)}")
blob.close()
rets = ["%logits"] + presents
rtypes = [act("?", "?", V)] + [kvt] * len(presents)
out = ["module {", "  func.func @main(" + ", ".join(args) + ") -> (" + ", ".join(rtypes) + ") {"]
out += lines
out.append(f"    return {', '.join(rets)} : {', '.join(rtypes)}")
out += ["  }", "}"]
open(os.path.join(a.out, "tiny.mlir"), "w").write("\n".join(out) + "\n")

if V >= 259:
    # llama2.c tokenizer.bin: <unk>, <s>, </s>, 256 byte tokens, then letters.
    toks = [b"<unk>", b"<s>", b"</s>"] + [b"<0x%02X>" % i for i in range(256)]
    extra = [bytes([c]) for c in b" abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?"]
    toks += extra
    while len(toks) < V:
        toks.append(b"t%d" % len(toks))
    toks = toks[:V]
    with open(os.path.join(a.out, "tok.bin"), "wb") as f:
        f.write(struct.pack("<i", max(len(t) for t in toks)))
        for i, t in enumerate(toks):
            f.write(struct.pack("<fi", -float(i) if i >= 259 else 0.0, len(t)))
            f.write(t)
