#!/usr/bin/python3
"""Write a Llama model as a GGUF file for llama.cpp: the same weights llmc's ONNX export holds.

Benchmark peer only (bench/suite.py's llama.cpp rows); llmc itself never reads GGUF.

    export_gguf.py --llama2c stories260K.bin --tokenizer tok512.bin --type q4_0 -o m.gguf
    export_gguf.py --random --preset tinyllama-1.1b --type f32 -o m.gguf
    export_gguf.py --random --preset tinyllama-1.1b --type bf16 -o m.gguf

Sources are those of examples/export/export_onnx.py, so both engines run one model: a llama2.c
checkpoint (with its tokenizer's pieces and scores), or the seeded random weights of a preset (the
tensor generator of weightgen.py, same seed; a filler vocabulary of the preset's size: byte tokens
and numbered pieces, enough for llama.cpp to load it; the benchmarks feed token ids).

Types:
  f32   every tensor fp32.
  q4_0  every matmul weight (q/k/v/o, gate/up/down, the lm_head) in ggml's Q4_0: blocks of 32 input
        columns, one fp16 scale d and 16 bytes of 4-bit codes q in [0, 15], w = (q - 8) * d, with
        d = m / -8 where m is the block's value of largest magnitude (ggml's reference rounding).
        That is llmc's `--quant=int4 --group-size 32` storage (symmetric, fp16 scales, 4.5 bits per
        weight) with ggml's rounding. Norms and the token embedding stay fp32, as in llmc; so does a
        matmul whose K is not a multiple of 32 (stories260K's ffn_down), which Q4_0 cannot hold.
  bf16  every matmul weight in bf16 (fp32 rounded to nearest even, as llmc's `--quant=bf16`); norms and
        the token embedding fp32, as in llmc.

RoPE: llama.cpp's llama architecture rotates adjacent pairs (llmc's "interleaved"). A model in the
"half" convention (HF; the TinyLlama and Llama-2 presets) has the rows of wq and wk reordered per head,
row 2i <- row i and row 2i+1 <- row i + hd/2, which is the same attention (the HF -> GGUF conversion
does the same).

GGUF v3 layout: header (magic, version, tensor count, metadata count), metadata key/values, tensor
infos (name, dims innermost first, ggml type, offset), padding to 32 bytes, tensor data (each
tensor's offset a multiple of 32).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from typing import BinaryIO, Dict, List, Tuple

import numpy as np
import torch

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "examples", "export"))
from export_onnx import PRESETS, random_weight_fn, state_dict_weight_fn  # noqa: E402
from llama_model import LlamaConfig  # noqa: E402
from load_llama2c import Llama2cTokenizer, load_llama2c  # noqa: E402

ALIGN = 32
GGML_F32, GGML_Q4_0, GGML_BF16 = 0, 2, 30
# general.file_type: LLAMA_FTYPE_ALL_F32, _MOSTLY_Q4_0, _MOSTLY_BF16
FILE_TYPE = {"f32": 0, "q4_0": 2, "bf16": 32}
QK4_0 = 32
# GGUF metadata value types
T_U32, T_I32, T_F32, T_STR, T_ARR = 4, 5, 6, 8, 9
# llama.cpp token types
TOK_NORMAL, TOK_UNKNOWN, TOK_CONTROL, TOK_BYTE = 1, 2, 3, 6


def gguf_str(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv(key: str, vtype: int, value) -> bytes:
    out = gguf_str(key) + struct.pack("<I", vtype)
    if vtype == T_U32:
        return out + struct.pack("<I", value)
    if vtype == T_F32:
        return out + struct.pack("<f", value)
    if vtype == T_STR:
        return out + gguf_str(value)
    raise ValueError(vtype)


def kv_array(key: str, etype: int, values: List) -> bytes:
    out = gguf_str(key) + struct.pack("<IIQ", T_ARR, etype, len(values))
    if etype == T_STR:
        return out + b"".join(gguf_str(v) for v in values)
    fmt = {T_F32: "<f", T_I32: "<i"}[etype]
    return out + np.asarray(values, dtype=np.dtype(fmt)).tobytes()


def quantize_q4_0(w: np.ndarray) -> np.ndarray:
    """ggml's quantize_row_q4_0_ref on every row of w [N, K] (K % 32 == 0): bytes [N, K/32 * 18]."""
    N, K = w.shape
    if K % QK4_0:
        raise ValueError(f"Q4_0 needs K % 32 == 0 (K = {K})")
    b = w.astype(np.float32).reshape(N, K // QK4_0, QK4_0)
    idx = np.abs(b).argmax(-1)
    m = np.take_along_axis(b, idx[..., None], -1)[..., 0]  # signed value of largest magnitude
    d = m / -8.0
    inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1.0), 0.0).astype(np.float32)
    # (int8_t)(x * id + 8.5): truncation toward zero; the argument is > 0 except past the clamp.
    q = np.trunc(b * inv[..., None] + np.float32(8.5)).astype(np.int32)
    q = np.minimum(q, 15).astype(np.uint8)
    qs = q[..., :16] | (q[..., 16:] << 4)
    out = np.empty((N, K // QK4_0, 18), dtype=np.uint8)
    out[..., :2] = d.astype(np.float16).view(np.uint8).reshape(N, K // QK4_0, 2)
    out[..., 2:] = qs
    return out.reshape(N, -1)


def dequantize_q4_0(raw: np.ndarray, K: int) -> np.ndarray:
    """Inverse of the storage (for the self-check): [N, K/32 * 18] bytes -> fp32 [N, K]."""
    N = raw.shape[0]
    blk = raw.reshape(N, K // QK4_0, 18)
    d = blk[..., :2].copy().view(np.float16).astype(np.float32)
    qs = blk[..., 2:]
    q = np.concatenate([qs & 15, qs >> 4], axis=-1).astype(np.float32)
    return ((q - 8.0) * d).reshape(N, K)


def to_bf16_bits(w: np.ndarray) -> np.ndarray:
    """fp32 -> bf16 bit patterns (little-endian int16), rounded to nearest even as torch does."""
    t = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)).to(torch.bfloat16)
    return np.ascontiguousarray(t.view(torch.int16).numpy(), dtype="<i2")


def interleave_rope_rows(w: np.ndarray, n_heads: int) -> np.ndarray:
    """HF "half" RoPE rows -> adjacent pairs: per head, row 2i <- i, row 2i+1 <- i + hd/2."""
    out_dim, k = w.shape
    hd = out_dim // n_heads
    return w.reshape(n_heads, 2, hd // 2, k).swapaxes(1, 2).reshape(out_dim, k)


def is_matmul(gname: str, shape: Tuple[int, ...]) -> bool:
    """A weight a decode step streams whole (the embedding is read one row a token)."""
    return len(shape) == 2 and gname != "token_embd.weight"


def tensors(cfg: LlamaConfig) -> List[Tuple[str, str, Tuple[int, ...]]]:
    """(GGUF name, state-dict name, torch shape) in file order."""
    D, H, V = cfg.dim, cfg.hidden_dim, cfg.vocab_size
    kvd = cfg.n_kv_heads * cfg.head_dim
    out = [("token_embd.weight", "tok_embeddings.weight", (V, D))]
    for i in range(cfg.n_layers):
        p, b = f"layers.{i}.", f"blk.{i}."
        out += [(b + "attn_norm.weight", p + "attention_norm.weight", (D,)),
                (b + "attn_q.weight", p + "attention.wq.weight", (D, D)),
                (b + "attn_k.weight", p + "attention.wk.weight", (kvd, D)),
                (b + "attn_v.weight", p + "attention.wv.weight", (kvd, D)),
                (b + "attn_output.weight", p + "attention.wo.weight", (D, D)),
                (b + "ffn_norm.weight", p + "ffn_norm.weight", (D,)),
                (b + "ffn_gate.weight", p + "feed_forward.w1.weight", (H, D)),
                (b + "ffn_up.weight", p + "feed_forward.w3.weight", (H, D)),
                (b + "ffn_down.weight", p + "feed_forward.w2.weight", (D, H))]
    out += [("output_norm.weight", "norm.weight", (D,))]
    # A tied model's lm_head is the embedding table; GGUF gets it as its own tensor (llama.cpp also
    # accepts a missing output.weight, but an explicit one keeps both engines' lm_head bytes equal).
    out += [("output.weight", "tok_embeddings.weight" if cfg.tie_embeddings else "output.weight", (V, D))]
    return out


def vocab(cfg: LlamaConfig, tokenizer: str | None) -> Tuple[List[str], List[float], List[int]]:
    if tokenizer:
        tok = Llama2cTokenizer(tokenizer)
        if len(tok.pieces) != cfg.vocab_size:
            raise ValueError(f"{tokenizer}: {len(tok.pieces)} pieces, model vocab {cfg.vocab_size}")
        pieces, scores = [], []
        types = []
        for i, (p, s) in enumerate(zip(tok.pieces, tok.scores)):
            text = p.decode("utf-8", errors="replace").replace(" ", "\u2581")
            pieces.append(text)
            scores.append(float(s))
            types.append(TOK_UNKNOWN if i == 0 else TOK_CONTROL if i in (1, 2)
                         else TOK_BYTE if text.startswith("<0x") and len(text) == 6 else TOK_NORMAL)
        return pieces, scores, types
    V = cfg.vocab_size
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [TOK_UNKNOWN, TOK_CONTROL, TOK_CONTROL] + [TOK_BYTE] * 256
    pieces += [f"\u2581t{i}" for i in range(V - len(pieces))]
    types += [TOK_NORMAL] * (V - len(types))
    return pieces[:V], [-float(i) for i in range(V)], types[:V]


def write_gguf(path: str, cfg: LlamaConfig, weight_fn, qtype: str, name: str,
               tokenizer: str | None) -> Dict[str, int]:
    pieces, scores, types = vocab(cfg, tokenizer)
    meta = [kv("general.architecture", T_STR, "llama"), kv("general.name", T_STR, name),
            kv("general.alignment", T_U32, ALIGN),
            kv("general.file_type", T_U32, FILE_TYPE[qtype]),
            kv("llama.context_length", T_U32, cfg.max_seq_len),
            kv("llama.embedding_length", T_U32, cfg.dim),
            kv("llama.block_count", T_U32, cfg.n_layers),
            kv("llama.feed_forward_length", T_U32, cfg.hidden_dim),
            kv("llama.attention.head_count", T_U32, cfg.n_heads),
            kv("llama.attention.head_count_kv", T_U32, cfg.n_kv_heads),
            kv("llama.rope.dimension_count", T_U32, cfg.head_dim),
            kv("llama.attention.layer_norm_rms_epsilon", T_F32, cfg.norm_eps),
            kv("llama.rope.freq_base", T_F32, cfg.rope_theta),
            kv("llama.vocab_size", T_U32, cfg.vocab_size),
            kv("tokenizer.ggml.model", T_STR, "llama"),
            kv_array("tokenizer.ggml.tokens", T_STR, pieces),
            kv_array("tokenizer.ggml.scores", T_F32, scores),
            kv_array("tokenizer.ggml.token_type", T_I32, types),
            kv("tokenizer.ggml.unknown_token_id", T_U32, 0),
            kv("tokenizer.ggml.bos_token_id", T_U32, 1),
            kv("tokenizer.ggml.eos_token_id", T_U32, 2)]
    specs = tensors(cfg)
    infos, sizes, off = [], [], 0
    for gname, _, shape in specs:
        # A matmul whose K is not a multiple of 32 (stories260K's ffn_down, K = 172) has no Q4_0
        # form: it stays fp32 (llama.cpp's own quantizer falls back to a wider type there too).
        quant = qtype == "q4_0" and is_matmul(gname, shape) and shape[1] % QK4_0 == 0
        half = qtype == "bf16" and is_matmul(gname, shape)
        nbytes = (shape[0] * shape[1] // QK4_0 * 18) if quant else \
            (2 if half else 4) * int(np.prod(shape))
        dims = tuple(reversed(shape))  # GGUF lists the contiguous dimension first
        gtype = GGML_Q4_0 if quant else GGML_BF16 if half else GGML_F32
        infos.append(gguf_str(gname) + struct.pack("<I", len(dims)) +
                     struct.pack(f"<{len(dims)}Q", *dims) +
                     struct.pack("<IQ", gtype, off))
        sizes.append((gtype, nbytes))
        off += (nbytes + ALIGN - 1) // ALIGN * ALIGN
    stats = {"matmul_bytes": 0, "bytes": 0}
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, len(specs), len(meta)))
        for m in meta:
            f.write(m)
        for i in infos:
            f.write(i)
        pad(f)
        for (gname, sd_name, shape), (gtype, nbytes) in zip(specs, sizes):
            w = weight_fn(sd_name, shape).detach().to(torch.float32).numpy()
            if gname.startswith("blk.") and (gname.endswith("attn_q.weight") or gname.endswith("attn_k.weight")) \
                    and cfg.rope_convention == "half":
                heads = cfg.n_heads if gname.endswith("attn_q.weight") else cfg.n_kv_heads
                w = interleave_rope_rows(w, heads)
            if gtype == GGML_Q4_0:
                data = quantize_q4_0(w)
            elif gtype == GGML_BF16:
                data = to_bf16_bits(w)
            else:
                data = np.ascontiguousarray(w, dtype="<f4")
            assert data.nbytes == nbytes, (gname, data.nbytes, nbytes)
            f.write(data.tobytes())
            pad(f)
            stats["bytes"] += nbytes
            if is_matmul(gname, shape):
                stats["matmul_bytes"] += nbytes
    return stats


def pad(f: BinaryIO) -> None:
    n = (-f.tell()) % ALIGN
    f.write(b"\0" * n)


def self_check() -> None:
    """Q4_0 codes round-trip within half a step; the RoPE row order is a permutation pairing i, i+hd/2."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 64)).astype(np.float32)
    deq = dequantize_q4_0(quantize_q4_0(w), 64)
    # Half a step inside the grid; a full step for values clamped at code 15 (the grid is -8..7 steps
    # of d, and the extreme value sits at -8 when negative); 1% for the fp16 rounding of d.
    d = np.abs(w.reshape(5, 2, 32)).max(-1, keepdims=True) / 8.0
    err = np.abs(deq - w).reshape(5, 2, 32)
    assert np.all(err <= 1.01 * d), "Q4_0 round trip"
    assert np.mean(err <= 0.51 * d) > 0.9, "Q4_0 rounds to nearest"
    # bf16: the top 16 bits, ties (1 + 2^-8, 1 + 3 * 2^-8) to the even neighbour.
    b = to_bf16_bits(np.array([1.0, 1 + 2**-8, 1 + 3 * 2**-8, -2.5], dtype=np.float32)).view(np.uint16)
    assert b.tolist() == [0x3F80, 0x3F80, 0x3F82, 0xC020], [hex(x) for x in b]
    r = interleave_rope_rows(np.arange(8, dtype=np.float32)[:, None], 2)[:, 0]
    assert r.tolist() == [0, 2, 1, 3, 4, 6, 5, 7], r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--llama2c", help="llama2.c checkpoint (e.g. stories260K.bin)")
    src.add_argument("--random", action="store_true", help="seeded random weights of --preset")
    ap.add_argument("--tokenizer", help="llama2.c tokenizer.bin for --llama2c (its pieces and scores)")
    ap.add_argument("--preset", choices=sorted(PRESETS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rope", choices=["interleaved", "half"], help="override the preset's convention")
    ap.add_argument("--layers", type=int, help="override the number of layers")
    ap.add_argument("--type", choices=["f32", "q4_0", "bf16"], default="f32")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    self_check()
    if args.llama2c:
        model = load_llama2c(args.llama2c)
        cfg, weight_fn = model.cfg, state_dict_weight_fn(model)
        name = os.path.splitext(os.path.basename(args.llama2c))[0]
    else:
        if not args.preset:
            ap.error("--random needs --preset")
        kw = dict(PRESETS[args.preset])
        if args.rope:
            kw["rope_convention"] = args.rope
        if args.layers:
            kw["n_layers"] = args.layers
        cfg = LlamaConfig(**kw)
        weight_fn, name = random_weight_fn(args.seed), args.preset
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    stats = write_gguf(tmp, cfg, weight_fn, args.type, name, args.tokenizer)
    os.replace(tmp, args.output)
    # Beside the model, written last (its presence means the model is complete): what a decode step
    # streams (bench/suite.py's weight bytes per token).
    with open(args.output + ".json", "w") as f:
        json.dump({"type": args.type, "name": name, **stats}, f)
    print(f"wrote {args.output}: {args.type}, {stats['bytes'] / 2**20:.1f} MiB of tensors, "
          f"{stats['matmul_bytes'] / 2**20:.1f} MiB of matmul weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
