"""Deterministic, per-tensor random weights for random-weight Llama models of realistic shapes.

Every tensor is generated independently from (seed, parameter name), so a 7B model can be produced one
tensor at a time -- streamed to disk during export, or regenerated later for the PyTorch reference --
without ever holding the whole model, and the result does not depend on generation order.

Distributions (chosen so activations stay O(1) through any depth, not to imitate a trained model):
  * linear weights [out, in]:  N(0, 1) / sqrt(in)   -> each output has ~ the RMS of the input
  * token embedding [V, D]:    N(0, 1)              -> residual stream starts at RMS ~1
  * RMSNorm weights [D]:       N(1, 0.1)            -> not all ones, so a runtime that ignores them fails

All values are rounded to fp16-representable numbers (then held as fp32).  Consequences:
  * the fp32 and fp16 exports of one seed are the *same* model, so an fp16 runtime can be compared
    against the fp32 one and against the same PyTorch reference;
  * the PyTorch reference of a big model can keep its weights in fp16 (half the RAM) losslessly.
"""

from __future__ import annotations

import hashlib
from typing import Tuple

import torch


def tensor_seed(seed: int, name: str) -> int:
    """A stable 63-bit seed for one tensor (Python's hash() is salted per process, so use sha256)."""
    h = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def generate_param(name: str, shape: Tuple[int, ...], seed: int) -> torch.Tensor:
    """fp32 tensor of `shape` for parameter `name` (a LlamaModel state-dict name), fp16-exact values."""
    g = torch.Generator().manual_seed(tensor_seed(seed, name))
    x = torch.randn(shape, generator=g, dtype=torch.float32)
    if name.endswith("norm.weight"):
        x.mul_(0.1).add_(1.0)
    elif name == "tok_embeddings.weight":
        pass
    elif len(shape) == 2:
        x.mul_(shape[1] ** -0.5)
    else:
        raise ValueError(f"no init rule for parameter {name} {shape}")
    return x.half().float()


def random_prompt(n: int, vocab_size: int, seed: int, bos_id: int = 1) -> list:
    """BOS followed by n-1 seeded token ids in [3, V) (ids 0..2 are unk/bos/eos by llama convention)."""
    g = torch.Generator().manual_seed(tensor_seed(seed, "prompt"))
    lo = 3 if vocab_size > 3 else 0
    rest = torch.randint(lo, vocab_size, (n - 1,), generator=g).tolist()
    return [bos_id] + rest
