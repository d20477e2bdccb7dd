"""Load a llama2.c checkpoint (legacy "v0" format) and its tokenizer.bin into the PyTorch LlamaModel.

stories260K (karpathy/tinyllamas, trained on TinyStories, arXiv 2305.07759; MIT license, llama2.c) is the
only real trained model available here; this loader is how every accuracy claim gets its PyTorch side.

Checkpoint layout (all little-endian):
    int32 header[7]: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
                     (vocab_size < 0 means the classifier is NOT shared with the embedding)
    fp32 arrays:     tok_emb[V,D], rms_att[L,D], wq[L,D,D], wk[L,KV*hs,D], wv[L,KV*hs,D], wo[L,D,D],
                     rms_ffn[L,D], w1[L,H,D], w2[L,D,H], w3[L,H,D], rms_final[D],
                     freq_cis_real[S,hs/2], freq_cis_imag[S,hs/2], (wcls[V,D] if unshared)
Linear weights are stored [out, in], i.e. nn.Linear layout.  run.c rotates interleaved pairs
(x[2i], x[2i+1]) with theta 10000, so the model is built with rope_convention="interleaved"; the stored
freq_cis tables are checked against our own cos/sin to prove it.

Tokenizer layout: int32 max_token_length, then per token: float32 score, int32 len, len bytes.

Run as a script to verify the loader end to end:
    /usr/bin/python3 examples/export/load_llama2c.py [--model PATH.bin] [--tokenizer tok512.bin]
"""

from __future__ import annotations

import argparse
import heapq
import os
import struct
import sys
from typing import Dict, List, Optional

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_model import LlamaConfig, LlamaModel, greedy_generate, rope_cos_sin  # noqa: E402

def _find_shared() -> str:
    """The project's shared data dir: $LLMC_SHARED, else shared/ in or beside the repository."""
    if os.environ.get("LLMC_SHARED"):
        return os.environ["LLMC_SHARED"]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for cand in (os.path.join(repo, "shared"), os.path.join(os.path.dirname(repo), "shared"), "/work/shared"):
        if os.path.isdir(os.path.join(cand, "models")):
            return cand
    return "/work/shared"


SHARED = _find_shared()
DEFAULT_MODEL = os.path.join(SHARED, "models/stories260K/stories260K.bin")
DEFAULT_TOKENIZER = os.path.join(SHARED, "models/stories260K/tok512.bin")

BOS_ID = 1
EOS_ID = 2
BYTE_FALLBACK_OFFSET = 3  # <0x00> is id 3 ... <0xFF> is id 258


# ----------------------------------------------------------------------------------------------------
# checkpoint


def read_llama2c_config(path: str) -> tuple:
    with open(path, "rb") as f:
        dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", f.read(28))
    shared = vocab > 0
    cfg = LlamaConfig(dim=dim, hidden_dim=hidden, n_layers=n_layers, n_heads=n_heads, n_kv_heads=n_kv,
                      vocab_size=abs(vocab), max_seq_len=seq_len, norm_eps=1e-5, rope_theta=10000.0,
                      rope_convention="interleaved", tie_embeddings=shared)
    return cfg, shared


def load_llama2c(path: str) -> LlamaModel:
    """Build a LlamaModel (fp32) holding the weights of a llama2.c legacy-v0 checkpoint."""
    cfg, shared = read_llama2c_config(path)
    data = np.fromfile(path, dtype="<f4", offset=28)
    D, H, L, V, S = cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.vocab_size, cfg.max_seq_len
    KVD = cfg.n_kv_heads * cfg.head_dim
    hs2 = cfg.head_dim // 2
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        if pos + n > data.size:
            raise ValueError(f"{path}: truncated checkpoint (need {pos + n} floats, have {data.size})")
        t = torch.from_numpy(data[pos:pos + n].reshape(shape).copy())
        pos += n
        return t

    tok_emb = take(V, D)
    rms_att = take(L, D)
    wq = take(L, D, D)
    wk = take(L, KVD, D)
    wv = take(L, KVD, D)
    wo = take(L, D, D)
    rms_ffn = take(L, D)
    w1 = take(L, H, D)
    w2 = take(L, D, H)
    w3 = take(L, H, D)
    rms_final = take(D)
    freq_real = take(S, hs2)
    freq_imag = take(S, hs2)
    wcls = tok_emb if shared else take(V, D)
    if pos != data.size:
        raise ValueError(f"{path}: {data.size - pos} unexpected trailing floats")

    # The stored RoPE tables must equal cos/sin(pos * theta^(-2i/hs)) -- this pins down theta and
    # shows which frequency each interleaved pair uses.
    cos, sin = rope_cos_sin(torch.arange(S).unsqueeze(0), cfg.head_dim, cfg.rope_theta, "interleaved",
                            torch.float32)
    if not (torch.allclose(cos[0, 0, :, 0::2], freq_real, atol=1e-5)
            and torch.allclose(sin[0, 0, :, 0::2], freq_imag, atol=1e-5)):
        raise ValueError(f"{path}: freq_cis tables do not match theta={cfg.rope_theta}")

    model = LlamaModel(cfg)
    sd = {"tok_embeddings.weight": tok_emb, "norm.weight": rms_final, "output.weight": wcls}
    for i in range(L):
        p = f"layers.{i}."
        sd[p + "attention_norm.weight"] = rms_att[i]
        sd[p + "attention.wq.weight"] = wq[i]
        sd[p + "attention.wk.weight"] = wk[i]
        sd[p + "attention.wv.weight"] = wv[i]
        sd[p + "attention.wo.weight"] = wo[i]
        sd[p + "ffn_norm.weight"] = rms_ffn[i]
        sd[p + "feed_forward.w1.weight"] = w1[i]
        sd[p + "feed_forward.w2.weight"] = w2[i]
        sd[p + "feed_forward.w3.weight"] = w3[i]
    model.load_state_dict(sd, strict=True)
    return model.eval()


# ----------------------------------------------------------------------------------------------------
# tokenizer


class Llama2cTokenizer:
    """llama2.c tokenizer.bin: encode exactly as run.c's encode(), decode as run.c's decode()."""

    kind = "llama2c"

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            blob = f.read()
        (self.max_token_length,) = struct.unpack_from("<i", blob, 0)
        off = 4
        self.pieces: List[bytes] = []
        self.scores: List[float] = []
        while off < len(blob):
            score, n = struct.unpack_from("<fi", blob, off)
            off += 8
            self.pieces.append(blob[off:off + n])
            self.scores.append(score)
            off += n
        self.vocab_size = len(self.pieces)
        # run.c looks strings up by binary search in a sorted copy; with unique strings that is a dict.
        self.lookup: Dict[bytes, int] = {}
        for i, p in enumerate(self.pieces):
            self.lookup.setdefault(p, i)
        self.bos_id, self.eos_id = BOS_ID, EOS_ID

    def encode(self, text: str, bos: bool = True, eos: bool = False) -> List[int]:
        """run.c encode(): [BOS] + dummy-prefix " " + per-codepoint tokens (byte fallback), then merges.

        Merging: repeatedly merge the adjacent pair whose concatenation is a vocab entry with the
        highest score, the leftmost one on ties, until no pair merges.  run.c rescans the whole list
        after each merge (O(n^2)); here a heap keyed by (-score, position) with lazy invalidation picks
        the same pair each time (positions of surviving symbols keep their left-to-right order), so whole
        files can be tokenized.
        """
        data = text.encode("utf-8")
        ids: List[int] = []
        if bos:
            ids.append(BOS_ID)
        sym: List[int] = []
        if data:
            sym.append(self.lookup[b" "])  # the dummy prefix, as sentencepiece's add_dummy_prefix
        # Split into UTF-8 codepoints: a leading byte plus its continuation bytes (at most 4 bytes).
        i = 0
        while i < len(data):
            j = i + 1
            while j < len(data) and (data[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            cp = data[i:j]
            if cp in self.lookup:
                sym.append(self.lookup[cp])
            else:
                sym.extend(b + BYTE_FALLBACK_OFFSET for b in cp)
            i = j

        n = len(sym)
        nxt = list(range(1, n + 1))
        prv = list(range(-1, n - 1))
        alive = [True] * n
        ver = [0] * n
        heap: list = []

        def push(a: int) -> None:
            b = nxt[a]
            if b < n:
                mid = self.lookup.get(self.pieces[sym[a]] + self.pieces[sym[b]])
                if mid is not None:
                    heapq.heappush(heap, (-self.scores[mid], a, ver[a], b, ver[b], mid))

        for a in range(n - 1):
            push(a)
        while heap:
            _, a, va, b, vb, mid = heapq.heappop(heap)
            if not (alive[a] and alive[b] and ver[a] == va and ver[b] == vb and nxt[a] == b):
                continue  # stale entry: one side was merged away or changed since it was pushed
            sym[a] = mid
            ver[a] += 1
            alive[b] = False
            nxt[a] = nxt[b]
            if nxt[b] < n:
                prv[nxt[b]] = a
            if prv[a] >= 0:
                push(prv[a])
            push(a)
        a = 0
        while a < n:
            ids.append(sym[a])
            a = nxt[a]
        if eos:
            ids.append(EOS_ID)
        return ids

    def piece_bytes(self, prev: int, tok: int) -> bytes:
        """run.c decode(): strip the leading space after BOS; <0xNN> pieces are raw bytes."""
        piece = self.pieces[tok]
        if prev == BOS_ID and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            try:
                return bytes([int(piece[3:5], 16)])
            except ValueError:
                pass
        return piece

    def decode(self, ids: List[int]) -> str:
        """Text of a token sequence (special tokens unk/BOS/EOS print nothing)."""
        out = bytearray()
        prev = -1
        for t in ids:
            if t not in (0, BOS_ID, EOS_ID):
                out += self.piece_bytes(prev, t)
            prev = t
        return out.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------------------------------
# verification

EXPECTED_PROMPT = "Once upon a time"
EXPECTED_PROMPT_IDS = [1, 403, 407, 261, 378]
# Known-good output of stories260K (from an independent numpy reference; see the model's README).
EXPECTED_TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                 "One day,")


def check_greedy_text(model: LlamaModel, tok: Llama2cTokenizer, verbose: bool = True) -> bool:
    ids = tok.encode(EXPECTED_PROMPT, bos=True)
    out_ids, _ = greedy_generate(model, ids, 30, stop_ids=(BOS_ID,))
    text = tok.decode(out_ids)
    ok = ids == EXPECTED_PROMPT_IDS and text == EXPECTED_TEXT
    if verbose:
        print(f"prompt ids   : {ids} ({'ok' if ids == EXPECTED_PROMPT_IDS else 'MISMATCH'})")
        print(f"greedy 30    : {text!r}")
        print(f"greedy check : {'PASS' if ok else 'FAIL'}")
    return ok


@torch.no_grad()
def kv_cache_max_diff(model: LlamaModel, prompt: List[int], n_new: int) -> float:
    """Max |logits| difference between incremental decoding with the KV cache and one full forward.

    Greedy-decode n_new tokens from the prompt (prefill + n_new-1 single-token steps, each with the
    cache of the previous calls), then run the whole resulting sequence in one call without a cache and
    compare the logits that predict each generated token.
    """
    ids, step_logits = greedy_generate(model, prompt, n_new)
    full, _ = model(torch.tensor([ids[:-1]]))
    full = full[0, len(prompt) - 1:].float()  # positions that produced step_logits
    inc = torch.stack(step_logits)
    return float((full - inc).abs().max())


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    ap.add_argument("-p", "--prompt", default=None, help="also print a greedy continuation of this")
    ap.add_argument("-n", "--steps", type=int, default=30)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    model = load_llama2c(args.model)
    tok = Llama2cTokenizer(args.tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"loaded {args.model}: {model.cfg.to_dict()} params={n_params}")
    ok = check_greedy_text(model, tok)
    # In fp64 the two paths agree exactly (the check of the cache logic); in fp32 they differ by BLAS
    # summation-order noise (~1e-5 on logits of magnitude ~20), reported for information.
    d64 = kv_cache_max_diff(model.double(), EXPECTED_PROMPT_IDS, 30)
    d32 = kv_cache_max_diff(model.float(), EXPECTED_PROMPT_IDS, 30)
    kv_ok = d64 < 1e-5
    print(f"kv-cache vs full forward: max |dlogits| fp64 {d64:.3g} ({'PASS' if kv_ok else 'FAIL'}), "
          f"fp32 {d32:.3g}")
    if args.prompt is not None:
        ids, _ = greedy_generate(model, tok.encode(args.prompt), args.steps, stop_ids=(BOS_ID,))
        print(tok.decode(ids))
    return 0 if ok and kv_ok else 1


if __name__ == "__main__":
    sys.exit(main())
