#!/usr/bin/python3
"""Reference perplexity of a llama2.c model on a text file, computed in PyTorch (llama.cpp-style chunks).

This is the independent number `llmc eval` is checked against.  Protocol (default, as specified for llmc):
  1. Tokenize the whole file once (llama2.c encoding with the sentencepiece dummy-prefix space; no BOS is
     prepended to the stream).
  2. Split it into n_chunks = len(tokens) // ctx non-overlapping chunks of ctx tokens (the tail is
     dropped; at least 2 * ctx tokens are required, as llama.cpp requires).
  3. In each chunk replace the first token by BOS and run the chunk as one sequence (no cache carried
     between chunks).
  4. Score only the second half: with first = ctx // 2, the tokens at chunk positions first .. ctx-1, each
     predicted from the logits of the previous position (ctx/2 tokens per chunk).
  5. perplexity = exp(mean NLL over all scored tokens).

llama.cpp's own perplexity tool differs in two details; --llama-cpp-exact reproduces them:
  * its tokenizer call adds BOS at the start of the stream (shifting every chunk boundary by one token);
  * it scores tokens first+1 .. ctx-1 (ctx/2 - 1 tokens per chunk): the logits at positions
    first .. ctx-2 are used, see `process_logits(..., n_ctx - 1 - first, ...)` in perplexity.cpp.

    /usr/bin/python3 examples/export/perplexity_ref.py /work/shared/data/tinystories_eval.txt [--ctx 256] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import List, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load_llama2c import DEFAULT_MODEL, DEFAULT_TOKENIZER, Llama2cTokenizer, load_llama2c  # noqa: E402


@torch.no_grad()
def perplexity(model, tokens: List[int], ctx: int, bos_id: int, llama_cpp_exact: bool = False,
               batch: int = 4, progress=None) -> dict:
    n_chunks = len(tokens) // ctx
    if len(tokens) < 2 * ctx:
        raise ValueError(f"need at least {2 * ctx} tokens for ctx={ctx}, have {len(tokens)}")
    first = ctx // 2
    # logits at positions lo .. ctx-2 predict the tokens at lo+1 .. ctx-1
    lo = first if llama_cpp_exact else first - 1
    nll_sum = 0.0
    count = 0
    for c0 in range(0, n_chunks, batch):
        cs = range(c0, min(c0 + batch, n_chunks))
        x = torch.tensor([tokens[c * ctx:(c + 1) * ctx] for c in cs], dtype=torch.int64)
        x[:, 0] = bos_id
        logits, _ = model(x)
        logp = torch.log_softmax(logits[:, lo:ctx - 1].double(), dim=-1)
        tgt = x[:, lo + 1:ctx]
        nll = -logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
        nll_sum += float(nll.sum())
        count += nll.numel()
        if progress:
            progress(f"[{cs[-1] + 1}/{n_chunks}] ppl so far {math.exp(nll_sum / count):.4f}")
    return {"perplexity": math.exp(nll_sum / count), "mean_nll": nll_sum / count, "n_tokens_scored": count,
            "n_chunks": n_chunks, "ctx": ctx, "tokens_per_chunk_scored": ctx - 1 - lo,
            "n_tokens_total": len(tokens)}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("text", help="text file (UTF-8)")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="llama2.c checkpoint (default stories260K)")
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--llama-cpp-exact", action="store_true",
                    help="BOS at stream start and ctx/2-1 scored tokens per chunk, as llama.cpp does")
    ap.add_argument("--fp64", action="store_true", help="compute the model in float64")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("-v", "--verbose", action="store_true", help="per-chunk progress on stderr")
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("LLMC_TORCH_THREADS", "1")))

    t0 = time.time()
    model = load_llama2c(args.model)
    if args.fp64:
        model = model.double()
    tok = Llama2cTokenizer(args.tokenizer)
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    tokens = tok.encode(text, bos=args.llama_cpp_exact)
    prog = (lambda s: print(s, file=sys.stderr)) if args.verbose else None
    r = perplexity(model, tokens, args.ctx, tok.bos_id, args.llama_cpp_exact, progress=prog)
    r.update({"model": os.path.abspath(args.model), "text": os.path.abspath(args.text),
              "protocol": "llama.cpp-exact" if args.llama_cpp_exact else "llmc",
              "dtype": "fp64" if args.fp64 else "fp32", "seconds": round(time.time() - t0, 2)})
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(f"chunks {r['n_chunks']} x ctx {r['ctx']}, scored {r['n_tokens_scored']} of "
              f"{r['n_tokens_total']} tokens ({r['protocol']} protocol, {r['dtype']})")
        print(f"perplexity: {r['perplexity']:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
