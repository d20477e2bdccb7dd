#!/usr/bin/python3
"""Export a GPT-2-family model written the way HuggingFace writes GPT-2, as a new user would.

The structure follows HF transformers' GPT-2 modeling code: Conv1D projections (torch.addmm of a
[in, out] weight and a bias), one c_attn projection split into q/k/v, heads split with view +
permute, the KV cache concatenated along the sequence, scores divided by sqrt(head_dim) with an
additive causal + padding mask (as HF builds it from attention_mask), LayerNorm before attention,
MLP and the logits (ln_1, ln_2, ln_f, with biases), a GELU MLP (c_fc, c_proj, with biases), learned
absolute positions (wte + wpe, indexed by position_ids) and an lm_head tied to wte. It is exported
with plain torch.onnx.export and dynamic axes in the HF/Optimum naming.

    /usr/bin/python3 export_gpt2_style.py OUT.onnx [--opset N] [--gelu tanh|erf] [--causal-buffer]
                                               [--parallel-block] [--neox-qkv] [--no-position-ids] [--reference REF.json] [--layers L] [--vocab V] [--shape gpt2-small]

--gelu tanh is GPT-2's gelu_new written out (0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))),
--gelu erf torch's exact GELU. --reference writes PyTorch outputs in the format of
export_hf_style.py (prefill logits, greedy steps through the KV cache, chunked prefill).
"""

import argparse
import math
import os
import sys

import torch
import torch.nn as nn

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_hf_style import (decoder_io, prepare_4d_causal_attention_mask, reference,  # noqa: E402
                             trace_inputs)


class Config:
    vocab_size = 96
    hidden_size = 48          # n_embd
    num_attention_heads = 4   # n_head
    num_hidden_layers = 2     # n_layer
    max_position_embeddings = 64  # n_positions
    layer_norm_epsilon = 1e-5
    gelu = "tanh"
    causal_buffer = False
    parallel_block = False
    neox_qkv = False

    @property
    def num_key_value_heads(self):
        return self.num_attention_heads


class Conv1D(nn.Module):
    """HF's Conv1D: a linear layer with the weight stored [in, out]."""

    matmul = False  # torch.matmul on the rows plus the bias instead of addmm (MatMul + Add)

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        if Conv1D.matmul:
            x = torch.matmul(x.view(-1, x.size(-1)), self.weight) + self.bias
        else:
            x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.split_size = self.embed_dim
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.neox_qkv = config.neox_qkv
        self.causal_buffer = config.causal_buffer
        if self.causal_buffer:
            n = config.max_position_embeddings
            self.register_buffer("bias", torch.tril(torch.ones((n, n), dtype=torch.bool)).view(1, 1, n, n),
                                 persistent=False)

    def _split_heads(self, tensor):
        new_shape = tensor.size()[:-1] + (self.num_heads, self.head_dim)
        return tensor.view(new_shape).permute(0, 2, 1, 3)

    def _merge_heads(self, tensor):
        tensor = tensor.permute(0, 2, 1, 3).contiguous()
        new_shape = tensor.size()[:-2] + (self.num_heads * self.head_dim,)
        return tensor.view(new_shape)

    def forward(self, hidden_states, layer_past, attention_mask):
        if self.neox_qkv:
            # GPT-NeoX: the fused projection's output per head is [q | k | v].
            qkv = self.c_attn(hidden_states)
            qkv = qkv.view(qkv.size()[:-1] + (self.num_heads, 3 * self.head_dim))
            query, key, value = qkv.split(self.head_dim, dim=-1)
            query, key, value = (t.permute(0, 2, 1, 3) for t in (query, key, value))
        else:
            query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
            query = self._split_heads(query)
            key = self._split_heads(key)
            value = self._split_heads(value)
        past_key, past_value = layer_past
        key = torch.cat((past_key, key), dim=-2)
        value = torch.cat((past_value, value), dim=-2)
        present = (key, value)
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        attn_weights = attn_weights / torch.full([], value.size(-1) ** 0.5, dtype=attn_weights.dtype)
        if self.causal_buffer:
            query_length, key_length = query.size(-2), key.size(-2)
            causal_mask = self.bias[:, :, key_length - query_length: key_length, :key_length]
            mask_value = torch.full([], torch.finfo(attn_weights.dtype).min, dtype=attn_weights.dtype)
            attn_weights = torch.where(causal_mask, attn_weights, mask_value)
        attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_output = torch.matmul(attn_weights, value)
        return self.c_proj(self._merge_heads(attn_output)), present


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        inner = 4 * config.hidden_size
        self.c_fc = Conv1D(inner, config.hidden_size)
        self.c_proj = Conv1D(config.hidden_size, inner)
        self.act = gelu_new if config.gelu == "tanh" else nn.functional.gelu

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.attn = Attention(config)
        self.ln_2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.mlp = MLP(config)
        self.parallel = config.parallel_block

    def forward(self, hidden_states, layer_past, attention_mask):
        if self.parallel:
            # GPT-J / Phi: attention and MLP both read one LayerNorm of the block's input.
            h = self.ln_1(hidden_states)
            attn_output, present = self.attn(h, layer_past, attention_mask)
            return hidden_states + attn_output + self.mlp(h), present
        attn_output, present = self.attn(self.ln_1(hidden_states), layer_past, attention_mask)
        hidden_states = attn_output + hidden_states
        hidden_states = hidden_states + self.mlp(self.ln_2(hidden_states))
        return hidden_states, present


class GPT2LMHeadModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.hidden_size)
        self.wpe = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.h = nn.ModuleList([Block(config) for _ in range(config.num_hidden_layers)])
        self.ln_f = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        self.causal_buffer = config.causal_buffer

    def forward(self, input_ids, attention_mask, position_ids, *past):
        hidden_states = self.wte(input_ids) + self.wpe(position_ids)
        past_len = past[0].shape[2]
        if self.causal_buffer:
            # transformers 4.2x-4.3x GPT-2: the padding mask only; the causal part is each attention's
            # slice of its tril buffer.
            mask = attention_mask.view(input_ids.shape[0], -1)[:, None, None, :].to(hidden_states.dtype)
            mask = (1.0 - mask) * torch.finfo(hidden_states.dtype).min
        else:
            mask = prepare_4d_causal_attention_mask(attention_mask, input_ids.shape, hidden_states.dtype,
                                                    past_len)
        presents = []
        for i, block in enumerate(self.h):
            hidden_states, present = block(hidden_states, (past[2 * i], past[2 * i + 1]), mask)
            presents += list(present)
        logits = self.lm_head(self.ln_f(hidden_states))
        return (logits, *presents)


class PositionsFromPast(nn.Module):
    """The model without a position_ids input: positions past_length .. past_length + S - 1, as HF's
    GPT-2 makes them when none are given (`torch.arange(past_length, input_shape[-1] + past_length)`)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, *past):
        past_length = past[0].size(-2)
        position_ids = torch.arange(past_length, input_ids.shape[-1] + past_length, dtype=torch.long)
        return self.model(input_ids, attention_mask, position_ids.unsqueeze(0), *past)


def randomize(model):
    """Weights of a trained model's magnitudes: every parameter matters to the logits (HF's
    0.02-std init would leave the norms' shifts and the MLP nearly silent)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith(("wte", "wpe")):
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
            elif "ln_" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--opset", type=int, default=None)
    ap.add_argument("--gelu", choices=["tanh", "erf"], default="tanh")
    ap.add_argument("--reference")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=48,
                    help="the tiny shape's width (a multiple of its 4 heads)")
    ap.add_argument("--vocab", type=int, default=Config.vocab_size,
                    help="the tiny shape's vocabulary (a byte-level BPE tokenizer needs 257 tokens or more)")
    ap.add_argument("--shape", choices=["tiny", "gpt2-small"], default="tiny",
                    help="gpt2-small: GPT-2's 124M shape (768 wide, 12 layers and heads, 50257 tokens, 1024 "
                         "positions; random weights, for benchmarks; --layers is ignored)")
    ap.add_argument("--parallel-block", action="store_true",
                    help="GPT-J/Phi blocks: x + attn(ln(x)) + mlp(ln(x)) with one LayerNorm")
    ap.add_argument("--neox-qkv", action="store_true",
                    help="GPT-NeoX's fused q/k/v layout: per head [q | k | v] in the projection's output")
    ap.add_argument("--no-position-ids", action="store_true",
                    help="no position_ids input: the graph computes the positions from the past length")
    ap.add_argument("--conv1d-matmul", action="store_true",
                    help="Conv1D as torch.matmul on the flattened rows plus the bias (MatMul + Add) "
                         "instead of addmm (Gemm)")
    ap.add_argument("--causal-buffer", action="store_true",
                    help="the causal mask as transformers 4.2x-4.3x GPT-2 builds it: a registered tril "
                         "buffer sliced to [T - S, T) x [0, T) and applied with torch.where")
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = Config()
    cfg.num_hidden_layers = args.layers
    cfg.hidden_size = args.hidden
    cfg.vocab_size = args.vocab
    if args.shape == "gpt2-small":
        cfg.vocab_size, cfg.hidden_size, cfg.num_attention_heads = 50257, 768, 12
        cfg.num_hidden_layers, cfg.max_position_embeddings = 12, 1024
    cfg.gelu = args.gelu
    cfg.causal_buffer = args.causal_buffer
    cfg.parallel_block = args.parallel_block
    cfg.neox_qkv = args.neox_qkv
    Conv1D.matmul = args.conv1d_matmul
    model = GPT2LMHeadModel(cfg).eval()
    randomize(model)
    inputs = trace_inputs(cfg)
    in_names, out_names, axes = decoder_io(cfg.num_hidden_layers)
    if args.reference:
        reference(model, cfg, args.reference)
    kwargs = {} if args.opset is None else {"opset_version": args.opset}
    if args.no_position_ids:
        model = PositionsFromPast(model)
        inputs = inputs[:2] + inputs[3:]
        in_names.remove("position_ids")
        del axes["position_ids"]
    with torch.no_grad():
        torch.onnx.export(model, inputs, args.out, input_names=in_names, output_names=out_names,
                          dynamic_axes=axes, **kwargs)


if __name__ == "__main__":
    main()
