#!/usr/bin/python3
"""llmc against ONNX Runtime on the model format ONNX Runtime GenAI's model builder writes for CPU
int4, at TinyLlama-1.1B's shape (dim 2048, 22 layers, 32 query heads and 4 KV heads of 64, hidden
5632, vocab 32000, rms eps 1e-5, rope theta 10000) with seeded random weights:

    every projection and the lm_head a com.microsoft MatMulNBits (4 bits, blocks of 32, zero points,
    accuracy_level 4: ONNX Runtime may quantize the activations to int8), q/k/v packed into one;
    GroupQueryAttention with do_rotary=1 and cos/sin caches; SimplifiedLayerNormalization and
    SkipSimplifiedLayerNormalization; Sigmoid * Mul SiLU; a float embedding table.

ONNX Runtime runs its own fused attention and int4 kernels on it. The model is built by
test/Frontend/Inputs/make_genai_onnx.py (genai_decoder with a Shape and a weight dict) into
bench/work/genai/ (gitignored; never commit models) unless it is there.

    bench/genai.py [--threads 1,2] [--reps 3] [--decode-reps 3] [--out bench/results/genai-tinyllama.json]

Steps: build the model (if absent); llmc compile it (default int8 activations; the MatMulNBits
weights are repacked, not re-quantized); check that both engines agree (greedy tokens on an 8-token
prompt, and test/ort/run_ort_decoder.js's reference logits through llmc-check-ref); then the timings,
one measurement per process, one process at a time, engines interleaved (the engine that goes first
alternates), each after the 1-minute load average is at most --max-load (polled every 30 s, for up
to 10 minutes; the load measured under is recorded):
    prefill ppP: a P-token prompt from an empty cache (P = 128, 512)
    decode tg128: a 1-token prompt, then 128 single-token greedy steps (the steps are timed)
(bench/suite.py's decoder protocol: llmc bench --prompt P --gen 0 / --prompt 1 --gen 128, and
bench/ort/bench_ort.mjs decoder). Medians of the runs. Writes --out (every run with its load
average, the medians, llmc's profile, git commit, ONNX Runtime's version) and prints a markdown table.
"""

import argparse
import collections
import collections.abc
import dataclasses
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
_spec = importlib.util.spec_from_file_location(
    "make_genai_onnx", os.path.join(ROOT, "test", "Frontend", "Inputs", "make_genai_onnx.py"))
g = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(g)

NAME = "tinyllama_genai_int4"
SHAPE = g.Shape(layers=22, dim=2048, heads=32, kv_heads=4, hidden=5632, vocab=32000, eps=1e-5,
                theta=10000.0, cache_len=2048, block=32)
PROMPT8 = [1, 450, 4996, 17354, 1701, 29916, 432, 17204]  # token ids for the agreement check
PP, TG = [128, 512], 128


def log(*a):
    print(f"[genai {time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


class RandomWeights(collections.abc.Mapping):
    """llama_half_fp32's weight names at SHAPE, made on access (a few hundred MB at a time, not
    4.4 GB): normal * SCALE from a generator seeded by (SEED, crc32(name)); norm weights are 1."""

    def __init__(self, shape, seed=0, scale=0.02):
        self.s, self.seed, self.scale = shape, seed, scale
        hd = shape.dim // shape.heads
        D, F, V, q, kv = shape.dim, shape.hidden, shape.vocab, shape.heads * hd, shape.kv_heads * hd
        self.shapes = {"tok_embeddings.weight": (V, D), "norm.weight": (D,), "output.weight_T": (D, V)}
        for i in range(shape.layers):
            L = f"layers.{i}."
            self.shapes.update({L + "attention_norm.weight": (D,), L + "ffn_norm.weight": (D,),
                                L + "attention.wq.weight_T": (D, q), L + "attention.wk.weight_T": (D, kv),
                                L + "attention.wv.weight_T": (D, kv), L + "attention.wo.weight_T": (q, D),
                                L + "feed_forward.w1.weight_T": (D, F), L + "feed_forward.w3.weight_T": (D, F),
                                L + "feed_forward.w2.weight_T": (F, D)})

    def __getitem__(self, name):
        shape = self.shapes[name]
        if name.endswith("norm.weight"):
            return np.ones(shape, np.float32)
        rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        w = rng.standard_normal(shape, dtype=np.float32)
        w *= np.float32(self.scale)
        return w

    def __iter__(self):
        return iter(self.shapes)

    def __len__(self):
        return len(self.shapes)


def model_config(shape, onnx_name):
    """The config.json beside the model (what llmc compile and test/ort/run_ort_decoder.js read)."""
    hd = shape.dim // shape.heads
    return {
        "name": NAME, "architecture": "llama", "format": "onnx", "opset": 17, "onnx": onnx_name,
        "external_data": onnx_name + "_data", "dtype": "int4 MatMulNBits (block 32, zero points), fp32 rest",
        "dim": shape.dim, "hidden_dim": shape.hidden, "n_layers": shape.layers, "n_heads": shape.heads,
        "n_kv_heads": shape.kv_heads, "vocab_size": shape.vocab, "max_seq_len": shape.cache_len,
        "norm_eps": shape.eps, "rope_theta": shape.theta, "rope_convention": "half", "tie_embeddings": False,
        "head_dim": hd, "bos_id": 1, "eos_id": 2, "tokenizer": None,
        "source": {"kind": "random", "preset": "tinyllama-1.1b", "seed": 0,
                   "generator": "bench/genai.py RandomWeights (normal * 0.02, norms 1)",
                   "genai_builder": "make_genai_onnx.py genai_decoder: packed q/k/v, every projection and the "
                                    "lm_head a MatMulNBits (4 bits, blocks of 32, zero points, accuracy_level 4), "
                                    "GroupQueryAttention with do_rotary"},
        "io": {"inputs": ["input_ids", "attention_mask", "past_key_values.{i}.key", "past_key_values.{i}.value"],
               "outputs": ["logits", "present.{i}.key", "present.{i}.value"],
               "kv_layout": "[batch, n_kv_heads, seq, head_dim]", "rope_applied_in_cache": True},
    }


def build_model(work):
    path = os.path.join(work, NAME + ".onnx")
    info_path = os.path.join(work, NAME + ".gen.json")
    if os.path.exists(path) and os.path.exists(path + "_data") and os.path.exists(info_path):
        return path, json.load(open(info_path))
    os.makedirs(work, exist_ok=True)
    log("building", path)
    t0 = time.time()
    m = g.genai_decoder(shape=SHAPE, weights=RandomWeights(SHAPE), packed_nbits4=True, lm_head_nbits4=True,
                        accuracy_level=4)
    t1 = time.time()
    g.save_model(m, path, external_data=True)
    del m
    t2 = time.time()
    with open(os.path.join(work, NAME + ".config.json"), "w") as f:
        json.dump(model_config(SHAPE, NAME + ".onnx"), f, indent=1)
        f.write("\n")
    info = {"build_s": round(t1 - t0, 1), "save_s": round(t2 - t1, 1),
            "onnx_bytes": os.path.getsize(path), "data_bytes": os.path.getsize(path + "_data")}
    with open(info_path, "w") as f:
        json.dump(info, f)
    log(f"built in {info['build_s']} s, saved in {info['save_s']} s ({info['data_bytes'] / 2**20:.0f} MiB of data)")
    return path, info


def run(cmd, cwd=None):
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    if p.returncode:
        sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
        raise SystemExit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}")
    return p.stdout, p.stderr


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON in output:\n" + text[-2000:])


def loadavg():
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def wait_quiet(max_load, poll=30, limit=600):
    """Wait until the 1-minute load average is at most MAX_LOAD (polling every POLL s, LIMIT s at
    most); returns the load averages measured under and the seconds waited."""
    t0 = time.time()
    la = loadavg()
    while la[0] > max_load and time.time() - t0 < limit:
        log(f"load {la[0]:.2f} > {max_load}: waiting")
        time.sleep(poll)
        la = loadavg()
    return la, round(time.time() - t0)


def ort_version(ort_dir):
    return json.load(open(os.path.join(ort_dir, "node_modules", "onnxruntime-node", "package.json")))["version"]


ORT_GREEDY = r"""
const ort = require('onnxruntime-node');
const [model, threads, ids, n, layers, kv, hd] = process.argv.slice(1);
(async () => {
  const s = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: +threads,
    interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  let past = {};
  for (let i = 0; i < +layers; ++i) for (const k of ['key', 'value'])
    past[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, +kv, 0, +hd]);
  let toks = ids.split(',').map(Number), P = 0;
  const gen = [], top = [];
  for (let step = 0; step < +n; ++step) {
    const all = { input_ids: new ort.Tensor('int64', BigInt64Array.from(toks.map(BigInt)), [1, toks.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(P + toks.length).fill(1n), [1, P + toks.length]),
      ...past };
    const feeds = Object.fromEntries(Object.entries(all).filter(([k]) => s.inputNames.includes(k)));
    const out = await s.run(feeds);
    const V = out.logits.dims[2], d = out.logits.data, off = d.length - V;
    const idx = Array.from({ length: V }, (_, i) => i).sort((a, b) => d[off + b] - d[off + a]).slice(0, 3);
    top.push(idx.map((i) => [i, d[off + i]]));
    gen.push(idx[0]);
    P += toks.length; toks = [idx[0]];
    past = {};
    for (const k of Object.keys(out)) if (k.startsWith('present.')) past[k.replace('present.', 'past_key_values.')] = out[k];
  }
  console.log(JSON.stringify({ generated_ids: gen, top3: top }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def ort_ref(work, name):
    """test/ort/run_ort_decoder.js's reference for WORK/NAME.onnx (ORT, graph optimizations
    disabled, 1 thread): a 16-token prompt's logits at every position, 8 greedy steps, a chunked
    prefill."""
    ref = os.path.join(work, name + ".ref.json")
    if not os.path.exists(ref) or os.path.getmtime(ref) < os.path.getmtime(os.path.join(work, name + ".onnx")):
        run(["node", "run_ort_decoder.js", work, name], cwd=os.path.join(ROOT, "test", "ort"))
    return ref


def check_ref(a, bundle, ref):
    """llmc-check-ref's max |logit difference| lines (no tolerance: reported, not judged)."""
    p = subprocess.run([a.llmc + "-check-ref", bundle, ref, "--tol", "1e9", "--check-tokens=false",
                        "--num-threads", "1"], capture_output=True, text=True)
    return {"rc": p.returncode, "output": (p.stdout + p.stderr).strip()[-3000:]}


def llmc_ids(a, bundle, ids, n):
    out, _ = run([a.llmc, "run", bundle, "--prompt-ids", ",".join(map(str, ids)), "-n", n, "--quiet", "--threads", 1])
    return [int(x) for x in out.replace(",", " ").split()]


def ort_greedy(a, model, ids, n):
    hd = SHAPE.dim // SHAPE.heads
    out, _ = run(["node", "-e", ORT_GREEDY, model, 1, ",".join(map(str, ids)), n, SHAPE.layers, SHAPE.kv_heads, hd],
                 cwd=a.ort_dir)
    o = last_json(out)
    return o["generated_ids"], [[[i, round(v, 4)] for i, v in t] for t in o["top3"]]


ORT_PROFILE = r"""
const ort = require('onnxruntime-node');
const [model, threads, P, G, layers, kv, hd, prefix] = process.argv.slice(1).map((x, i) => (i && i < 7 ? +x : x));
(async () => {
  const s = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: threads,
    interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', enableProfiling: true,
    profileFilePrefix: prefix });
  let past = {};
  for (let i = 0; i < layers; ++i) for (const k of ['key', 'value'])
    past[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, kv, 0, hd]);
  const run = async (ids, P0) => {
    const out = await s.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(P0 + ids.length).fill(1n), [1, P0 + ids.length]), ...past });
    past = {};
    for (const k of Object.keys(out)) if (k.startsWith('present.')) past[k.replace('present.', 'past_key_values.')] = out[k];
  };
  await run(Array.from({ length: P }, (_, i) => 3 + (i * 7919) % 31990), 0);
  for (let i = 0; i < G; ++i) await run([5], P + i);
  console.log(JSON.stringify({ file: s.endProfiling() }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def ort_profile(a, model, t, P, G):
    """ONNX Runtime's own profile (enableProfiling) of a P-token prefill (G = 0) or of G decode
    steps after a P-token prompt: kernel time per op type (the lm_head's MatMulNBits apart) over the
    timed runs, and the runs' wall time."""
    import glob
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        run(["node", "-e", ORT_PROFILE, model, t, P, G, SHAPE.layers, SHAPE.kv_heads, SHAPE.dim // SHAPE.heads,
             os.path.join(tmp, "ort")], cwd=a.ort_dir)
        ev = json.load(open(glob.glob(os.path.join(tmp, "ort*.json"))[0]))
    runs = [e for e in ev if e.get("cat") == "Session" and e["name"] == "model_run"]
    runs = runs if G == 0 else runs[1:]
    spans = [(r["ts"], r["ts"] + r["dur"]) for r in runs]
    ops = collections.Counter()
    for e in ev:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and any(a0 <= e["ts"] <= b0 for a0, b0 in spans):
            op = e["args"].get("op_name", "?")
            ops[op + " (lm_head)" if e["name"].startswith("/lm_head/") else op] += e["dur"] / 1e3
    wall = sum(r["dur"] for r in runs) / 1e3
    return {"runs": len(runs), "wall_ms": round(wall, 1), "wall_ms_per_run": round(wall / len(runs), 2),
            "kernel_ms_by_op": {k: round(v, 1) for k, v in ops.most_common()}}


def check(a, model, bundle, work):
    """The engines' agreement.
    greedy: 8 tokens after PROMPT8, ORT (the benchmark's session options, 1 thread) and llmc run;
      teacher_forced: llmc's next token after PROMPT8 + ORT's first k tokens, k = 0..7.
    ref_int8: llmc-check-ref's logit differences against ORT's run_ort_decoder.js reference.
    fp32 control: the same model with accuracy_level 0 (ORT: float activations; the copy shares the
      data file) against llmc compiled with --activations=fp32: the same function up to float
      rounding; and llmc's default (int8) bundle against that float reference."""
    res = {"prompt_ids": PROMPT8}
    res["ort_greedy"], res["ort_top3"] = ort_greedy(a, model, PROMPT8, 8)
    res["llmc_greedy"] = llmc_ids(a, bundle, PROMPT8, 8)
    res["greedy_agree_steps"] = next((i for i, (x, y) in enumerate(zip(res["ort_greedy"], res["llmc_greedy"]))
                                      if x != y), 8)
    res["teacher_forced_llmc"] = [llmc_ids(a, bundle, PROMPT8 + res["ort_greedy"][:k], 1)[0] for k in range(8)]
    res["teacher_forced_agree"] = sum(x == y for x, y in zip(res["teacher_forced_llmc"], res["ort_greedy"]))
    log(f"greedy on {PROMPT8}: ORT {res['ort_greedy']}, llmc {res['llmc_greedy']} "
        f"(first {res['greedy_agree_steps']} agree); ORT top-3 of the prefill: {res['ort_top3'][0]}; "
        f"llmc teacher-forced on ORT's tokens: {res['teacher_forced_agree']}/8 agree")
    ref = ort_ref(work, NAME)
    res["ref_int8"] = check_ref(a, bundle, ref)
    r = json.load(open(ref))
    res["ref_prompt_ids"] = r["prompt_ids"]
    res["ref_greedy_ort"] = r["greedy"]["generated_ids"]
    res["ref_greedy_llmc"] = llmc_ids(a, bundle, r["prompt_ids"], 8)
    log("llmc-check-ref (llmc int8 vs ORT accuracy_level 4):", res["ref_int8"]["output"].replace("\n", "; "))
    log(f"greedy on the reference's 16-token prompt: ORT {res['ref_greedy_ort']}, llmc {res['ref_greedy_llmc']}")
    # The float-activation control.
    import onnx
    acc0 = NAME + "_acc0"
    m = onnx.load(model, load_external_data=False)
    for n in m.graph.node:
        for at in n.attribute:
            if at.name == "accuracy_level":
                at.i = 0
    with open(os.path.join(work, acc0 + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())
    cfg = json.load(open(os.path.join(work, NAME + ".config.json")))
    cfg["name"], cfg["onnx"] = acc0, acc0 + ".onnx"
    with open(os.path.join(work, acc0 + ".config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    ref0 = ort_ref(work, acc0)
    fp32_bundle = os.path.join(work, NAME + "-fp32act.llmc")
    if not os.path.exists(fp32_bundle) or os.path.getmtime(fp32_bundle) < os.path.getmtime(a.llmc):
        run([a.llmc, "compile", model, "--target=native", "--activations=fp32", "-o", fp32_bundle])
    res["ref_fp32_vs_llmc_fp32act"] = check_ref(a, fp32_bundle, ref0)
    res["ref_fp32_vs_llmc_int8"] = check_ref(a, bundle, ref0)
    r0 = json.load(open(ref0))
    d = np.abs(np.array(r["prefill_logits"]["values"]) - np.array(r0["prefill_logits"]["values"])).max()
    res["ort_int8_vs_ort_fp32_prefill_max_diff"] = round(float(d), 4)
    res["ort_fp32_greedy_8tok"], res["ort_fp32_top3_8tok"] = ort_greedy(a, os.path.join(work, acc0 + ".onnx"), PROMPT8, 8)
    log("llmc --activations=fp32 vs ORT accuracy_level 0:", res["ref_fp32_vs_llmc_fp32act"]["output"].replace("\n", "; "))
    log("llmc int8 vs ORT accuracy_level 0:", res["ref_fp32_vs_llmc_int8"]["output"].replace("\n", "; "))
    log(f"ORT accuracy_level 4 vs 0, prefill logits: max |diff| {res['ort_int8_vs_ort_fp32_prefill_max_diff']}")
    log(f"ORT accuracy_level 0 greedy on {PROMPT8}: {res['ort_fp32_greedy_8tok']}, top-3 {res['ort_fp32_top3_8tok'][0]}")
    return res


def measure(a, engine, kind, t, model, bundle):
    """One measurement in one process: returns tok/s, load ms and the raw JSON."""
    if engine == "onnxruntime":
        args = ["node", os.path.join(a.ort_dir, "bench_ort.mjs"), "decoder", model, "--threads", t,
                "--reps", 1, "--vocab", SHAPE.vocab]
        args += ["--prompt", kind[2:], "--gen", 0] if kind.startswith("pp") else ["--prompt", 0, "--gen", TG]
        j = last_json(run(args)[0])
        tok_s = j["prefill"][kind[2:]]["tok_s"] if kind.startswith("pp") else j["decode_tok_s"]
    else:
        args = [a.llmc, "bench", bundle, "--threads", t, "--reps", 1, "--json"]
        args += ["--prompt", kind[2:], "--gen", 0] if kind.startswith("pp") else ["--prompt", 1, "--gen", TG]
        j = last_json(run(args)[0])
        tok_s = j["prefill_tok_s"] if kind.startswith("pp") else j["decode_tok_s"]
    return tok_s, j["load_ms"], j


def fmt(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def table(med, threads, kinds):
    lines = ["| engine | threads | " + " | ".join(f"{k} tok/s" for k in kinds) + " | load ms |",
             "|---|---|" + "---|" * (len(kinds) + 1)]
    for e in ("llmc", "onnxruntime"):
        for t in threads:
            m = med[e][str(t)]
            cells = [f"{fmt(m[k]['median'])} ({', '.join(fmt(x) for x in m[k]['runs'])})" for k in kinds]
            lines.append(f"| {e} | {t} | " + " | ".join(cells) + f" | {m['load_ms']['median']:.0f} |")
    for t in threads:
        cells = [f"{med['llmc'][str(t)][k]['median'] / med['onnxruntime'][str(t)][k]['median']:.2f}x"
                 for k in kinds]
        lines.append(f"| llmc/ORT | {t} | " + " | ".join(cells) + " | |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3, help="prefill runs per (engine, threads, length)")
    ap.add_argument("--decode-reps", type=int, default=3, help="decode runs per (engine, threads)")
    ap.add_argument("--work", default=os.path.join(HERE, "work", "genai"))
    ap.add_argument("--out", default=os.path.join(HERE, "results", "genai-tinyllama.json"))
    ap.add_argument("--llmc", default=os.path.join(ROOT, "build-lead", "bin", "llmc"))
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--skip-check", action="store_true")
    ap.add_argument("--prepare", action="store_true", help="build, compile and check; no timings")
    a = ap.parse_args()
    a.ort_dir = os.path.join(HERE, "ort")
    a.work = os.path.abspath(a.work)
    threads = [int(t) for t in a.threads.split(",")]
    if not os.path.isdir(os.path.join(a.ort_dir, "node_modules", "onnxruntime-node")):
        run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=a.ort_dir)

    started = datetime.datetime.now().astimezone()
    commit = run(["git", "rev-parse", "HEAD"], cwd=ROOT)[0].strip()
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT)[0].split("\n")
    res = {"meta": {"started": started.isoformat(timespec="seconds"), "git_commit": commit,
                    "git_modified": [l[3:] for l in dirty if l.strip()],
                    "onnxruntime_node": ort_version(a.ort_dir), "llmc": a.llmc, "host": platform.node(),
                    "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                 if l.startswith("model name")), ""), "nproc": os.cpu_count(),
                    "command": " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
                    "shape": dataclasses.asdict(SHAPE),
                    "format": "ONNX Runtime GenAI builder form: packed q/k/v, every projection and the lm_head "
                              "MatMulNBits (bits 4, block 32, zero points, accuracy_level 4), GroupQueryAttention "
                              "do_rotary=1, (Skip)SimplifiedLayerNormalization, float embedding; logits of every "
                              "position",
                    "protocol": "one measurement per process (--reps 1), engines interleaved, first engine "
                                "alternating; ppP: P random tokens from an empty cache; tg128: 1-token prompt, "
                                "then 128 timed greedy steps; medians of the runs"}}
    model, gen_info = build_model(a.work)
    res["meta"]["model"] = os.path.relpath(model, ROOT)
    res["meta"]["generation"] = gen_info

    bundle = os.path.join(a.work, NAME + ".llmc")
    if not os.path.exists(bundle) or os.path.getmtime(bundle) < max(os.path.getmtime(a.llmc),
                                                                     os.path.getmtime(model + "_data")):
        wait_quiet(a.max_load)
        log("llmc compile")
        t0 = time.time()
        _, err = run([a.llmc, "compile", model, "--target=native", "-o", bundle])
        compile_s = round(time.time() - t0, 1)
        with open(bundle + ".compile.json", "w") as f:
            json.dump({"compile_s": compile_s, "stderr_tail": err.strip().splitlines()[-2:]}, f)
        log(f"compiled in {compile_s} s")
    res["meta"]["compile"] = json.load(open(bundle + ".compile.json"))
    res["meta"]["bundle_bytes"] = os.path.getsize(bundle)

    if not a.skip_check:
        t0 = time.time()
        res["check"] = check(a, model, bundle, a.work)
        res["check"]["seconds"] = round(time.time() - t0, 1)
    if a.prepare:
        print(json.dumps(res, indent=1))
        return 0

    kinds = [f"pp{p}" for p in PP] + [f"tg{TG}"]
    runs = []
    res["runs"] = runs
    t_meas = time.time()
    for t in threads:
        for kind in kinds:
            reps = a.decode_reps if kind.startswith("tg") else a.reps
            for r in range(reps):
                order = ["onnxruntime", "llmc"] if (r + kinds.index(kind)) % 2 == 0 else ["llmc", "onnxruntime"]
                for engine in order:
                    la, waited = wait_quiet(a.max_load)
                    t0 = time.time()
                    tok_s, load_ms, raw = measure(a, engine, kind, t, model, bundle)
                    runs.append({"engine": engine, "threads": t, "kind": kind, "rep": r, "loadavg_before": la,
                                 "waited_s": waited, "tok_s": tok_s, "load_ms": load_ms,
                                 "process_s": round(time.time() - t0, 1), "loadavg_after": loadavg(), "raw": raw})
                    log(f"{engine:11s} t={t} {kind:6s} rep {r}: {tok_s:8.2f} tok/s (load before {la[0]:.2f})")
                    with open(a.out, "w") as f:
                        json.dump(res, f, indent=1)
    res["meta"]["measurement_s"] = round(time.time() - t_meas)

    med = {}
    for e in ("llmc", "onnxruntime"):
        med[e] = {}
        for t in threads:
            m = {}
            for kind in kinds:
                v = [x["tok_s"] for x in runs if x["engine"] == e and x["threads"] == t and x["kind"] == kind]
                la = [x["loadavg_before"][0] for x in runs if x["engine"] == e and x["threads"] == t
                      and x["kind"] == kind]
                m[kind] = {"median": statistics.median(v), "runs": v, "loadavg_1min_before": la}
            lm = [x["load_ms"] for x in runs if x["engine"] == e and x["threads"] == t]
            m["load_ms"] = {"median": statistics.median(lm), "runs": lm}
            med[e][str(t)] = m
    res["medians"] = med
    res["ratio_llmc_over_ort"] = {str(t): {k: med["llmc"][str(t)][k]["median"] / med["onnxruntime"][str(t)][k]["median"]
                                           for k in kinds} for t in threads}

    # Where each engine's time goes (llmc bench --profile; ONNX Runtime's enableProfiling): one
    # extra run each, not in the medians.
    prof = {}
    for t in threads:
        for kind in ("pp512", f"tg{TG}"):
            la, waited = wait_quiet(a.max_load)
            args = ["--prompt", 512, "--gen", 0] if kind == "pp512" else ["--prompt", 1, "--gen", TG]
            j = last_json(run([a.llmc, "bench", bundle, "--threads", t, "--reps", 1, "--json", "--profile", *args])[0])
            p = j["profile"]["prefill" if kind == "pp512" else "decode"]
            prof[f"t{t}_{kind}"] = {"loadavg_before": la, "tok_s": j["prefill_tok_s" if kind == "pp512" else "decode_tok_s"],
                                    "profile": {k: v for k, v in p.items() if k != "matmuls"}}
    res["llmc_profile"] = prof
    oprof = {}
    for t in threads:
        for kind, P, G in (("pp512", 512, 0), (f"tg{TG}", 1, TG)):
            la, waited = wait_quiet(a.max_load)
            oprof[f"t{t}_{kind}"] = {"loadavg_before": la, **ort_profile(a, model, t, P, G)}
    res["ort_profile"] = oprof
    res["table_md"] = table(med, threads, kinds)
    res["meta"]["finished"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(res["table_md"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
