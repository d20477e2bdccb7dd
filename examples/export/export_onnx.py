#!/usr/bin/python3
"""Export Llama-family decoders to ONNX (opset 17) in the HuggingFace/Optimum "decoder with past" layout.

    inputs : input_ids [batch_size, sequence_length] int64
             attention_mask [batch_size, total_sequence_length] int64
             position_ids [batch_size, sequence_length] int64
             past_key_values.N.key / .value [batch_size, n_kv_heads, past_sequence_length, head_dim]
    outputs: logits [batch_size, sequence_length, vocab]
             present.N.key / .value [batch_size, n_kv_heads, total_sequence_length, head_dim]
(total_sequence_length = past_sequence_length + sequence_length; the first call passes past length 0.)

Models:
    --llama2c PATH.bin                 a llama2.c checkpoint (stories260K), rope interleaved
    --random --preset NAME             seeded random weights of a real model's shape
         presets: tiny-test, fixture, tinyllama-1.1b, llama2-7b

How big models are exported without 2x their size in RAM
--------------------------------------------------------
torch.onnx.export serializes every parameter into the protobuf, which needs the whole model in memory
(plus copies: the tracer clones its inputs and parameters, shape inference converts them) and breaks the
2 GB protobuf limit.  Instead:
  1. The module tree is built on the "meta" device (no storage).  Every parameter is then replaced by a
     0-dim scalar, and a torch parametrization (ExpandTo) makes `module.weight` return that scalar
     expanded to the full shape.  The trace thus records `Expand(scalar_input, shape)` per weight, and
     only one weight at a time is ever materialized (transiently, for its matmul).  Each scalar has a
     distinct value because the exporter merges equal-valued parameters.  (Tracing on the meta device
     itself does not work in torch 1.13: scalar constants become meta tensors the exporter cannot read.)
  2. The graph is exported with export_params=False (the scalars become graph inputs, no weight bytes
     are written) and without constant folding, so that nothing renames the parameters.
  3. Post-processing (finalize_graph) replaces each Expand by an initializer named by its state-dict
     name; folds Transpose(W, perm=[1,0]) -> MatMul by storing that initializer already transposed
     ([in, out], named "<param>_T"), as an Optimum export does; removes dead shape logic; folds
     constant subexpressions; for fp16 (traced in bf16, as PyTorch cannot run fp16 matmuls on CPU)
     rewrites every bf16 type and constant to fp16.
  4. Weights are written one tensor at a time (generated from (seed, name) for random models, see
     weightgen.py) and appended to ONE external data file "<name>.onnx_data", each at an aligned offset
     (4096 bytes for tensors >= 1 MiB, else 64) recorded in the initializer's external_data
     (location/offset/length).  Peak memory is a few tensors, not the model (TinyLlama-1.1B fp32,
     4.1 GiB of weights: 1.6 GB peak RSS).
Small models (weights < 64 MiB, unless --external-data) keep their weights inline as raw_data.

--reference writes <name>.ref.json with PyTorch outputs (fp32 compute) for a fixed 64-token prompt:
prefill logits (all positions for small models, the last one for big ones), a greedy continuation with
its per-step logits from the KV-cache path (prefill + single-token decode steps), a chunked prefill
(prompt split in two calls) and, for small models, a left-padded batch of two.  Always written:
<name>.config.json (shapes, rope convention, theta, eps, vocab, bos/eos, tokenizer).

Examples:
    /usr/bin/python3 examples/export/export_onnx.py --llama2c /work/shared/models/stories260K/stories260K.bin \\
        --reference -o build/models/stories260K
    /usr/bin/python3 examples/export/export_onnx.py --random --preset tinyllama-1.1b --dtype fp32 \\
        -o build/models/tinyllama-1.1b-fp32
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import types
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.parametrize as parametrize

import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_model import LlamaConfig, LlamaModel, greedy_generate  # noqa: E402
from weightgen import generate_param, random_prompt  # noqa: E402

OPSET = 17
INLINE_LIMIT_BYTES = 64 << 20

PRESETS: Dict[str, dict] = {
    # Unit-test size: GQA (8 heads / 2 kv heads), hidden 176 (not a multiple of 64), head_dim 8.
    "tiny-test": dict(dim=64, hidden_dim=176, n_layers=2, n_heads=8, n_kv_heads=2, vocab_size=256,
                      max_seq_len=512, rope_convention="interleaved"),
    # Smaller still, so that an fp32 model file stays well < 200 KB for test/fixtures/onnx
    # (hidden 72 = 2*32 + 8 keeps a partial quantization group).
    "fixture": dict(dim=32, hidden_dim=72, n_layers=2, n_heads=4, n_kv_heads=2, vocab_size=64,
                    max_seq_len=128, rope_convention="interleaved"),
    # TinyLlama-1.1B (HF config): 2048/5632/22 layers/32 heads/4 kv heads/32000, theta 1e4, eps 1e-5.
    "tinyllama-1.1b": dict(dim=2048, hidden_dim=5632, n_layers=22, n_heads=32, n_kv_heads=4,
                           vocab_size=32000, max_seq_len=2048, rope_convention="half"),
    # Llama-2-7B (HF config): 4096/11008/32 layers/32 heads/32 kv heads (MHA)/32000, eps 1e-5.
    "llama2-7b": dict(dim=4096, hidden_dim=11008, n_layers=32, n_heads=32, n_kv_heads=32,
                      vocab_size=32000, max_seq_len=4096, rope_convention="half"),
}

ONNX_DTYPE = {"fp32": TensorProto.FLOAT, "fp16": TensorProto.FLOAT16}
NP_DTYPE = {"fp32": np.float32, "fp16": np.float16}
TORCH_DTYPE = {"fp32": torch.float32, "fp16": torch.float16}

WeightFn = Callable[[str, Tuple[int, ...]], torch.Tensor]  # (state-dict name, shape) -> fp32 tensor


# ----------------------------------------------------------------------------------------------------
# 1-2: trace the graph without weights


def io_names(cfg: LlamaConfig) -> Tuple[List[str], List[str], dict]:
    past = [f"past_key_values.{i}.{kv}" for i in range(cfg.n_layers) for kv in ("key", "value")]
    present = [f"present.{i}.{kv}" for i in range(cfg.n_layers) for kv in ("key", "value")]
    inputs = ["input_ids", "attention_mask", "position_ids"] + past
    outputs = ["logits"] + present
    dyn = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for n in past:
        dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in present:
        dyn[n] = {0: "batch_size", 2: "total_sequence_length"}
    return inputs, outputs, dyn


PARAM_SUFFIX = ".parametrizations.weight.original"


class ExpandTo(nn.Module):
    """Parametrization: the module's weight is its 0-dim "original" broadcast to the full shape."""

    def __init__(self, shape: Tuple[int, ...]):
        super().__init__()
        self.shape = shape

    def forward(self, scalar: torch.Tensor) -> torch.Tensor:
        # .contiguous(): the matmul during tracing then runs on a dense (transient) copy at BLAS speed
        # instead of a slow stride-0 path; it is not recorded in the ONNX graph.
        return scalar.expand(self.shape).contiguous()


def skeleton_model(cfg: LlamaConfig, dtype: torch.dtype) -> Tuple[LlamaModel, Dict[str, Tuple[int, ...]]]:
    """Full-shape model whose parameters are 0-dim scalars expanded on use (see step 1).

    Returns the model and {state-dict name: shape} of its real parameters.
    """
    model = LlamaModel(cfg, device="meta")
    shapes: Dict[str, Tuple[int, ...]] = {}
    k = 0
    for mname, mod in list(model.named_modules()):
        for pname, p in list(mod._parameters.items()):
            if p is None or (cfg.tie_embeddings and mname == "output"):
                continue
            k += 1
            shapes[f"{mname}.{pname}"] = tuple(p.shape)
            # (1 + m/128) * 2^e is exact in bf16/fp16/fp32, so the k-th value is distinct in every dtype
            # (equal-valued parameters would be merged into one input by the exporter).
            value = (1 + (k % 128) / 128) * 2.0 ** (k // 128 - 4)
            mod._parameters[pname] = nn.Parameter(torch.full((), value, dtype=dtype), requires_grad=False)
            parametrize.register_parametrization(mod, pname, ExpandTo(tuple(p.shape)), unsafe=True)
    if cfg.tie_embeddings:
        # The classifier reuses the (parametrized) embedding matrix: one input, Gather + Transpose/MatMul.
        emb = model.tok_embeddings
        del model.output._parameters["weight"]
        model.output.forward = lambda x: F.linear(x, emb.weight)
    return model.eval(), shapes


def trace_graph(cfg: LlamaConfig, dtype: str) -> Tuple[onnx.ModelProto, Dict[str, Tuple[int, ...]]]:
    """torch.onnx.export of the skeleton: weights appear as Expand(<scalar input>) in the graph."""
    # fp16 matmuls do not run on CPU in PyTorch, so fp16 graphs are traced in bf16 and retyped later.
    tdtype = torch.float32 if dtype == "fp32" else torch.bfloat16
    model, shapes = skeleton_model(cfg, tdtype)
    # Distinct, non-trivial dummy sizes (B=2, S=3, P=4) so that no dynamic dim is confused with another
    # or specialised as 0/1 by the tracer.
    B, S, P = 2, 3, 4
    ids = torch.zeros(B, S, dtype=torch.int64)
    mask = torch.ones(B, P + S, dtype=torch.int64)
    pos = torch.arange(P, P + S, dtype=torch.int64).unsqueeze(0).expand(B, S).contiguous()
    kv = (B, cfg.n_kv_heads, P, cfg.head_dim)
    past = [(torch.zeros(kv, dtype=tdtype), torch.zeros(kv, dtype=tdtype)) for _ in range(cfg.n_layers)]
    inputs, outputs, dyn = io_names(cfg)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(model, (ids, mask, pos, past), buf, input_names=inputs, output_names=outputs,
                          dynamic_axes=dyn, opset_version=OPSET, export_params=False,
                          do_constant_folding=False)
    return onnx.load_model_from_string(buf.getvalue()), shapes


# ----------------------------------------------------------------------------------------------------
# 3: graph post-processing


def _consumers(graph: onnx.GraphProto) -> Dict[str, List[onnx.NodeProto]]:
    use: Dict[str, List[onnx.NodeProto]] = {}
    for n in graph.node:
        for i in n.input:
            use.setdefault(i, []).append(n)
    return use


def _fold_constants(graph: onnx.GraphProto, max_elems: int = 4096) -> None:
    """Replace nodes whose inputs are all Constant nodes by a Constant (small outputs only).

    This is what torch's do_constant_folding would do (it is off, see step 2): Unsqueezes of scalars
    for Reshape targets, the inv_freq = theta^(-2i/hd) chain, ...  Evaluated with the numpy reference
    interpreter; weights are initializers, never folded here.
    """
    from onnx_numpy_eval import run_node
    const: Dict[str, np.ndarray] = {}
    out = []
    for n in graph.node:
        if n.op_type == "Constant":
            const[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
            out.append(n)
            continue
        if n.input and all((not i) or i in const for i in n.input) and len(n.output) == 1:
            try:
                (y,) = run_node(n, const)
            except NotImplementedError:
                y = None
            if y is not None and np.asarray(y).size <= max_elems:
                y = np.asarray(y)
                c = helper.make_node("Constant", [], [n.output[0]], name=n.name + "_folded",
                                     value=numpy_helper.from_array(y))
                const[n.output[0]] = y
                out.append(c)
                continue
        out.append(n)
    del graph.node[:]
    graph.node.extend(out)


def _bf16_to_fp16_tensor(t: onnx.TensorProto) -> None:
    """Rewrite a bf16 TensorProto in place as fp16.  fp16 holds every bf16 mantissa (8 vs 11 bits), so
    only range can be lost; overflow is checked.  (In these graphs the only such constant is the
    attention scale sqrt(hd), e.g. sqrt(8) -> 2.828125, which is also its nearest fp16 value.)"""
    if t.raw_data:
        u16 = np.frombuffer(t.raw_data, dtype=np.uint16)
    else:
        u16 = np.array(t.int32_data, dtype=np.uint16)
    f32 = (u16.astype(np.uint32) << 16).view(np.float32)
    f16 = f32.astype(np.float16)
    if not np.all(np.isfinite(f16) == np.isfinite(f32)):
        raise ValueError(f"bf16 constant {t.name} does not fit in fp16")
    t.data_type = TensorProto.FLOAT16
    t.ClearField("int32_data")
    t.raw_data = f16.tobytes()


def _retype_bf16_to_fp16(graph: onnx.GraphProto) -> None:
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        if vi.type.tensor_type.elem_type == TensorProto.BFLOAT16:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    for n in graph.node:
        for a in n.attribute:
            if a.name == "to" and a.i == TensorProto.BFLOAT16:
                a.i = TensorProto.FLOAT16
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.BFLOAT16:
                _bf16_to_fp16_tensor(a.t)
    for t in graph.initializer:
        if t.data_type == TensorProto.BFLOAT16:
            _bf16_to_fp16_tensor(t)


class ParamSlot:
    """One initializer to write: which parameter it holds and whether it is stored transposed."""

    def __init__(self, init_name: str, param: str, shape: Tuple[int, ...], transposed: bool):
        self.init_name, self.param, self.shape, self.transposed = init_name, param, shape, transposed


def _dead_code_elimination(graph: onnx.GraphProto) -> None:
    """Drop nodes none of whose outputs reach a graph output (e.g. the shape logic of removed Expands)."""
    needed = {o.name for o in graph.output}
    keep = []
    for n in reversed(graph.node):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    del graph.node[:]
    graph.node.extend(reversed(keep))


def finalize_graph(model: onnx.ModelProto, cfg: LlamaConfig, dtype: str,
                   shapes: Dict[str, Tuple[int, ...]]) -> List[ParamSlot]:
    """Turn the traced skeleton into the final graph (step 3); returns the initializers to fill."""
    g = model.graph
    user_inputs = set(io_names(cfg)[0])
    use = _consumers(g)
    rename: Dict[str, str] = {}  # tensor name -> initializer name
    drop = set()

    # (a) Expand(<name>.parametrizations.weight.original, shape) -> initializer <name>.weight
    scalar_inputs = [i.name for i in g.input if i.name not in user_inputs]
    for sname in scalar_inputs:
        if not sname.endswith(PARAM_SUFFIX):
            raise ValueError(f"unexpected graph input {sname}")
        pname = sname[: -len(PARAM_SUFFIX)] + ".weight"
        users = use.get(sname, [])
        if len(users) != 1 or users[0].op_type != "Expand":
            raise ValueError(f"parameter {pname}: expected a single Expand use, got "
                             f"{[n.op_type for n in users]}")
        drop.add(id(users[0]))
        rename[users[0].output[0]] = pname
    if set(rename.values()) != set(shapes):
        raise ValueError("traced parameters do not match the model's parameters")
    keep = [n for n in g.node if id(n) not in drop]
    for n in keep:
        n.input[:] = [rename.get(i, i) for i in n.input]
    del g.node[:]
    g.node.extend(keep)

    # (b) Transpose(W, perm=[1,0]) -> W^T stored as initializer "<name>_T" ([in, out]) feeding MatMul
    #     directly, as an Optimum export (with constant folding) has it.  A weight with any other use
    #     (the tied embedding: Gather + Transpose) keeps its Transpose, so its data is stored once.
    use = _consumers(g)
    slots: List[ParamSlot] = []
    rename = {}
    drop = set()
    for pname, shape in shapes.items():
        users = use.get(pname, [])
        is_t = [n.op_type == "Transpose" and [list(a.ints) for a in n.attribute if a.name == "perm"] == [[1, 0]]
                for n in users]
        if users and all(is_t):
            t_name = pname + "_T"
            for n in users:
                drop.add(id(n))
                rename[n.output[0]] = t_name
            slots.append(ParamSlot(t_name, pname, shape[::-1], True))
        else:
            slots.append(ParamSlot(pname, pname, shape, False))
    keep = [n for n in g.node if id(n) not in drop]
    for n in keep:
        n.input[:] = [rename.get(i, i) for i in n.input]
    del g.node[:]
    g.node.extend(keep)

    # (c) parameter inputs go away; dead shape logic and constant Unsqueezes are cleaned up.
    user = [i for i in g.input if i.name in user_inputs]
    del g.input[:]
    g.input.extend(user)
    # (d) fp16: the graph was traced in bf16 (done before folding: numpy has no bf16).
    if dtype == "fp16":
        _retype_bf16_to_fp16(g)
    _fold_constants(g)
    _dead_code_elimination(g)
    # (e) empty initializers with the right type/shape; write_weights fills in data or external refs.
    for s in slots:
        t = TensorProto()
        t.name = s.init_name
        t.data_type = ONNX_DTYPE[dtype]
        t.dims.extend(s.shape)
        g.initializer.append(t)
    return slots


# ----------------------------------------------------------------------------------------------------
# 4: weights


def _tensor_bytes(slot: ParamSlot, weight_fn: WeightFn, dtype: str) -> np.ndarray:
    pshape = slot.shape[::-1] if slot.transposed else slot.shape
    w = weight_fn(slot.param, pshape)
    if tuple(w.shape) != tuple(pshape):
        raise ValueError(f"weight {slot.param}: got shape {tuple(w.shape)}, expected {pshape}")
    # Cast and transpose in torch (vectorized, cache-blocked), not numpy (slow fp16 casts, strided copies).
    w = w.detach().to(TORCH_DTYPE[dtype])
    if slot.transposed:
        w = w.t()
    return w.contiguous().numpy()


def write_weights(model: onnx.ModelProto, slots: List[ParamSlot], weight_fn: WeightFn, dtype: str,
                  onnx_path: str, external: bool, log: Callable[[str], None] = lambda s: None,
                  data_name: Optional[str] = None) -> int:
    """Fill the initializers: inline raw_data, or streamed into one <name>.onnx_data file."""
    inits = {t.name: t for t in model.graph.initializer}
    total = 0
    if not external:
        for s in slots:
            a = _tensor_bytes(s, weight_fn, dtype)
            inits[s.init_name].raw_data = a.tobytes()
            total += a.nbytes
        return total
    data_name = data_name or os.path.basename(onnx_path) + "_data"
    with open(os.path.join(os.path.dirname(onnx_path) or ".", data_name), "wb") as f:
        t0 = time.time()
        for k, s in enumerate(slots):
            a = _tensor_bytes(s, weight_fn, dtype)
            align = 4096 if a.nbytes >= (1 << 20) else 64
            off = f.tell()
            pad = (-off) % align
            if pad:
                f.write(b"\0" * pad)
                off += pad
            a.tofile(f)  # no intermediate bytes copy
            t = inits[s.init_name]
            t.data_location = TensorProto.EXTERNAL
            del t.external_data[:]
            for key, val in (("location", data_name), ("offset", str(off)), ("length", str(a.nbytes))):
                e = t.external_data.add()
                e.key, e.value = key, val
            total += a.nbytes
            del a
            if (k + 1) % 20 == 0 or k + 1 == len(slots):
                log(f"  weights {k + 1}/{len(slots)}  {total / 2**30:.2f} GiB  {time.time() - t0:.1f}s")
    return total


def export_onnx(cfg: LlamaConfig, dtype: str, weight_fn: WeightFn, onnx_path: str,
                external: Optional[bool] = None, metadata: Optional[dict] = None,
                log: Callable[[str], None] = print, data_name: Optional[str] = None) -> onnx.ModelProto:
    """Trace, post-process and write <onnx_path> (+ <onnx_path>_data if external). Returns the proto."""
    t0 = time.time()
    model, shapes = trace_graph(cfg, dtype)
    slots = finalize_graph(model, cfg, dtype, shapes)
    n_bytes = sum(int(np.prod(s.shape)) for s in slots) * np.dtype(NP_DTYPE[dtype]).itemsize
    if external is None:
        external = n_bytes > INLINE_LIMIT_BYTES
    log(f"traced graph: {len(model.graph.node)} nodes, {len(slots)} weights "
        f"({n_bytes / 2**20:.1f} MiB {dtype}), {time.time() - t0:.1f}s; external data: {external}")
    model.producer_name = "llmc-export"
    model.producer_version = "0.1"
    model.doc_string = f"Llama-family decoder exported by llmc examples/export ({cfg.rope_convention} RoPE)"
    for k, v in (metadata or {}).items():
        e = model.metadata_props.add()
        e.key, e.value = k, v if isinstance(v, str) else json.dumps(v)
    os.makedirs(os.path.dirname(onnx_path) or ".", exist_ok=True)
    write_weights(model, slots, weight_fn, dtype, onnx_path, external, log, data_name)
    onnx.save_model(model, onnx_path)
    onnx.checker.check_model(onnx_path)  # path form: also validates external data references
    log(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes) in {time.time() - t0:.1f}s; checker ok")
    return model


# ----------------------------------------------------------------------------------------------------
# models and weights


def random_weight_fn(seed: int) -> WeightFn:
    return lambda name, shape: generate_param(name, shape, seed)


def state_dict_weight_fn(model: nn.Module) -> WeightFn:
    sd = dict(model.named_parameters())
    return lambda name, shape: sd[name].detach()


def reference_model(cfg: LlamaConfig, weight_fn: WeightFn) -> LlamaModel:
    """PyTorch model for reference outputs, computing in fp32.

    Models up to 6 GiB of fp32 weights (TinyLlama-1.1B: 4.4 GB) hold fp32 weights.  Bigger ones
    (Llama-2-7B) hold them in fp16 -- lossless, because weightgen produces fp16-representable values --
    and every Linear/Embedding upcasts its weight to fp32 for the call: half the memory (13.5 GB for 7B),
    but each call converts every weight, so it is slow.
    """
    model = LlamaModel(cfg, device="meta")
    n_params = sum(p.numel() for p in model.parameters())
    store = torch.float16 if n_params * 4 > (6 << 30) else torch.float32
    for mname, mod in model.named_modules():
        for pname, p in list(mod._parameters.items()):
            if p is None:
                continue
            full = f"{mname}.{pname}" if mname else pname
            if cfg.tie_embeddings and full == "output.weight":
                continue
            w = weight_fn(full, tuple(p.shape))
            keep = store if w.dim() == 2 else torch.float32
            mod._parameters[pname] = nn.Parameter(w.to(keep), requires_grad=False)
    if cfg.tie_embeddings:
        model.output.weight = model.tok_embeddings.weight
    if store != torch.float32:
        for mod in model.modules():
            if isinstance(mod, nn.Linear):
                mod.forward = types.MethodType(lambda self, x: F.linear(x, self.weight.float()), mod)
            elif isinstance(mod, nn.Embedding):
                mod.forward = types.MethodType(lambda self, i: F.embedding(i, self.weight).float(), mod)
        model.cache_dtype = torch.float32
    return model.eval()


def _f32_list(t: torch.Tensor):
    """Nested lists of floats that round-trip to the same float32 values (9 significant digits)."""
    a = t.detach().to(torch.float32).numpy()
    flat = [float(f"{x:.9g}") for x in a.reshape(-1).tolist()]
    return np.array(flat, dtype=object).reshape(a.shape).tolist() if a.ndim > 1 else flat


@torch.no_grad()
def compute_reference(model: LlamaModel, prompt: List[int], n_new: int, full_logits: bool,
                      tokenizer=None, padded_batch: bool = True) -> dict:
    """PyTorch reference outputs for a runtime to match, on both the prefill and the KV-cache paths."""
    S = len(prompt)
    ref: dict = {"prompt_ids": prompt, "compute_dtype": "fp32"}

    # (1) prefill: one call, empty cache, all positions.
    x = torch.tensor([prompt])
    logits, _ = model(x, torch.ones(1, S, dtype=torch.int64), torch.arange(S).unsqueeze(0),
                      model.empty_cache(1))
    logits = logits[0].float()
    if full_logits:
        ref["prefill_logits"] = {"positions": list(range(S)), "values": _f32_list(logits)}
    else:
        ref["prefill_logits"] = {"positions": [S - 1], "values": _f32_list(logits[-1:])}

    # (2) greedy continuation through the cache: step 0 = the prefill call (last position), then
    #     one call per token with sequence_length 1, past_sequence_length S, S+1, ...
    ids, steps = greedy_generate(model, prompt, n_new)
    ref["greedy"] = {"n_new": n_new, "generated_ids": ids[S:],
                     "step_past_lengths": [0] + [S + k for k in range(len(steps) - 1)],
                     "step_input_lengths": [S] + [1] * (len(steps) - 1),
                     "step_logits": _f32_list(torch.stack(steps))}
    if tokenizer is not None:
        ref["greedy"]["text"] = tokenizer.decode(ids)

    # (3) chunked prefill: the prompt in two calls (S1 then S-S1 tokens with a past of S1).
    s1 = (3 * S) // 4
    past = model.empty_cache(1)
    _, past = model(x[:, :s1], torch.ones(1, s1, dtype=torch.int64), torch.arange(s1).unsqueeze(0), past)
    l2, _ = model(x[:, s1:], torch.ones(1, S, dtype=torch.int64), torch.arange(s1, S).unsqueeze(0), past)
    ref["chunked_prefill"] = {"split": s1, "positions": [S - 1], "last_logits": _f32_list(l2[0, -1])}

    # (4) batch of two, the second left-padded (pad id 0, mask 0, HF-style position_ids
    #     cumsum(mask) - 1, clamped at 0): exercises the padding part of attention_mask.
    if padded_batch:
        short = prompt[: S // 2]
        pad = S - len(short)
        ids2 = torch.tensor([prompt, [0] * pad + short])
        mask2 = torch.tensor([[1] * S, [0] * pad + [1] * len(short)])
        pos2 = (mask2.cumsum(-1) - 1).clamp(min=0)
        lb, _ = model(ids2, mask2, pos2, model.empty_cache(2))
        ref["padded_batch"] = {"input_ids": ids2.tolist(), "attention_mask": mask2.tolist(),
                               "position_ids": pos2.tolist(), "positions": [S - 1],
                               "last_logits": _f32_list(lb[:, -1])}
    return ref


# ----------------------------------------------------------------------------------------------------
# CLI

STORIES_PROMPT_TEXT = (  # written for this script; 64 tokens of it are the stories260K reference prompt
    "Once upon a time, in a small town near the sea, there lived a kind old man named Tom. Every "
    "morning he walked to the beach with his dog, Max, to look for pretty shells. One day they found a "
    "big blue box in the sand. Tom opened it slowly and saw a shiny key inside.")


def config_json(cfg: LlamaConfig, name: str, dtype: str, onnx_file: str, data_file: Optional[str],
                source: dict, tokenizer: Optional[dict]) -> dict:
    return {
        "name": name, "architecture": "llama", "format": "onnx", "opset": OPSET,
        "onnx": onnx_file, "external_data": data_file,
        "dtype": dtype, **cfg.to_dict(),
        "bos_id": 1, "eos_id": 2, "tokenizer": tokenizer, "source": source,
        "io": {"inputs": io_names(cfg)[0][:3] + ["past_key_values.{i}.key", "past_key_values.{i}.value"],
               "outputs": ["logits", "present.{i}.key", "present.{i}.value"],
               "kv_layout": "[batch, n_kv_heads, seq, head_dim]", "rope_applied_in_cache": True},
    }


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--llama2c", metavar="PATH.bin", help="llama2.c legacy-v0 checkpoint")
    src.add_argument("--random", action="store_true", help="seeded random weights (needs --preset)")
    ap.add_argument("--tokenizer", help="llama2.c tokenizer.bin (default: tok512.bin beside the model)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny-test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rope", choices=["interleaved", "half"], help="override the preset's convention")
    ap.add_argument("--layers", type=int, help="override the number of layers")
    ap.add_argument("--tie-embeddings", action="store_true", help="random models: share embed/output")
    ap.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    ap.add_argument("--name", help="file stem (default derived from the model)")
    ap.add_argument("-o", "--out-dir", help="output directory (default build/models/<name>)")
    ap.add_argument("--external-data", choices=["auto", "always", "never"], default="auto",
                    help=f"auto: external when weights > {INLINE_LIMIT_BYTES >> 20} MiB")
    ap.add_argument("--external-data-name", help="external data file name (default <name>.onnx_data)")
    ap.add_argument("--reference", action="store_true", help="also write <name>.ref.json")
    ap.add_argument("--ref-prompt-len", type=int, default=64)
    ap.add_argument("--ref-new-tokens", type=int, help="greedy tokens (default 32 small, 8 big)")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("LLMC_TORCH_THREADS", "1")))
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))

    tok = None
    tok_info = None
    if args.llama2c:
        from load_llama2c import Llama2cTokenizer, load_llama2c
        torch_model = load_llama2c(args.llama2c)
        cfg = torch_model.cfg
        weight_fn = state_dict_weight_fn(torch_model)
        name = args.name or os.path.splitext(os.path.basename(args.llama2c))[0]
        tok_path = args.tokenizer or os.path.join(os.path.dirname(args.llama2c), "tok512.bin")
        if os.path.exists(tok_path):
            tok = Llama2cTokenizer(tok_path)
            tok_info = {"kind": "llama2c", "path": os.path.abspath(tok_path), "vocab_size": tok.vocab_size}
        source = {"kind": "llama2c", "path": os.path.abspath(args.llama2c),
                  "attribution": "karpathy/tinyllamas (TinyStories, arXiv 2305.07759), MIT license (llama2.c)"}
        if args.dtype == "fp16":
            # fp16 export of a trained model rounds its weights; the reference then uses the rounded ones.
            rounded = {k: v.detach().half().float() for k, v in torch_model.named_parameters()}
            weight_fn = lambda n, s: rounded[n]  # noqa: E731
    else:
        kw = dict(PRESETS[args.preset])
        if args.rope:
            kw["rope_convention"] = args.rope
        if args.layers:
            kw["n_layers"] = args.layers
        kw["tie_embeddings"] = args.tie_embeddings
        cfg = LlamaConfig(**kw)
        weight_fn = random_weight_fn(args.seed)
        name = args.name or "-".join([args.preset] + ([f"{args.layers}l"] if args.layers else [])
                                     + [cfg.rope_convention, args.dtype] + ([f"s{args.seed}"] if args.seed else []))
        source = {"kind": "random", "preset": args.preset, "seed": args.seed,
                  "generator": "examples/export/weightgen.py (fp16-representable values)"}
    if args.llama2c and args.dtype != "fp32":
        name = args.name or f"{name}-{args.dtype}"

    out_dir = args.out_dir or os.path.join("build", "models", name)
    onnx_path = os.path.join(out_dir, name + ".onnx")
    external = {"auto": None, "always": True, "never": False}[args.external_data]
    meta = {"llmc.rope_convention": cfg.rope_convention, "llmc.config": cfg.to_dict()}
    proto = export_onnx(cfg, args.dtype, weight_fn, onnx_path, external, meta, log, args.external_data_name)
    locations = {e.value for t in proto.graph.initializer for e in t.external_data if e.key == "location"}
    data_file = sorted(locations)[0] if locations else None

    cj = config_json(cfg, name, args.dtype, name + ".onnx", data_file, source, tok_info)
    with open(os.path.join(out_dir, name + ".config.json"), "w") as f:
        json.dump(cj, f, indent=2)
        f.write("\n")

    if args.reference:
        t0 = time.time()
        n_params = sum(p.numel() for p in LlamaModel(cfg, device="meta").parameters())
        small = n_params * 4 <= (256 << 20)
        n_new = args.ref_new_tokens or (32 if small else 8)
        if tok is not None:
            prompt = tok.encode(STORIES_PROMPT_TEXT)[: args.ref_prompt_len]
            if len(prompt) < args.ref_prompt_len:
                raise SystemExit("reference prompt text too short")
        else:
            prompt = random_prompt(args.ref_prompt_len, cfg.vocab_size, args.seed)
        rmodel = reference_model(cfg, weight_fn)
        ref = {"name": name, "onnx": name + ".onnx", "model_dtype": args.dtype,
               "note": ("PyTorch reference, fp32 compute on the exported weights"
                        + (" (fp16-rounded)" if args.dtype == "fp16" else "")
                        + "; an fp16 runtime should match within fp16 tolerance."),
               **compute_reference(rmodel, prompt, n_new, full_logits=small, tokenizer=tok,
                                   padded_batch=small)}
        if tok is not None:
            from load_llama2c import EXPECTED_PROMPT
            ids = tok.encode(EXPECTED_PROMPT)
            out, _ = greedy_generate(rmodel, ids, 30, stop_ids=(tok.bos_id,))
            ref["text_check"] = {"prompt": EXPECTED_PROMPT, "prompt_ids": ids, "n_new": 30,
                                 "ids": out, "text": tok.decode(out)}
        ref_path = os.path.join(out_dir, name + ".ref.json")
        with open(ref_path, "w") as f:
            json.dump(ref, f, separators=(",", ":"))
            f.write("\n")
        log(f"wrote {ref_path} in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
