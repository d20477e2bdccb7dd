#!/usr/bin/python3
"""llmc against ONNX Runtime on a mixture-of-experts decoder in ONNX Runtime GenAI's CPU form, with
seeded random weights at a shape between TinyLlama's and gpt-oss's:

    8 layers of dim 2048 (32 query heads and 4 KV heads of 64, GroupQueryAttention with do_rotary),
    vocab 32000; each MLP a com.microsoft MoE of 8 experts of width 1408, the top 2 per token
    renormalized, gpt-oss's interleaved SwiGLU (alpha 1.702, beta 1, limit 7) with biases, the
    router a MatMul + bias Add; every matrix fp32 (ONNX Runtime's CPU MoE takes float experts only).

The model is built by test/Frontend/Inputs/make_genai_onnx.py (genai_decoder with a Shape, the
attention weights of bench/genai.py's RandomWeights and an MoE of its own seeded weights) into
bench/work/genai_moe/ (gitignored; never commit models) unless it is there.

    bench/genai_moe.py [--threads 1,2] [--reps 3] [--out bench/results/genai-moe.json]

Engines: ONNX Runtime (fp32), llmc on the same model in fp32 (weights and activations: the same
function up to float rounding), and llmc with the experts and projections rounded to int4 g32
(`--quant=int4:g32`, int8 activations; ONNX Runtime's CPU MoE has no int4 counterpart: compared with
the DRAM bandwidth instead). Check first: llmc-check-ref of the fp32 bundle against
test/ort/run_ort_decoder.js's reference logits, and the greedy tokens of both engines. Timings as
bench/genai.py takes them (one measurement per process, engines interleaved, after the load average
settles): ppP a P-token prompt from an empty cache, tgG a 1-token prompt then G timed greedy steps;
medians. A decode step reads the attention projections, the lm_head, the routers and 2 of the 8
experts per layer: llmc bench --bandwidth reports that per-token byte count and the step's share of
the DRAM read bandwidth measured around each run. Writes --out and prints a markdown table.
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
_spec = importlib.util.spec_from_file_location("genai_bench", os.path.join(HERE, "genai.py"))
gb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gb)
g = gb.g  # make_genai_onnx

NAME = "genai_moe_8x1408"
SHAPE = g.Shape(layers=8, dim=2048, heads=32, kv_heads=4, hidden=1408, vocab=32000, eps=1e-5,
                theta=10000.0, cache_len=2048, block=32)
MOE = g.MoE(experts=8, k=2, inter=1408, alpha=1.702, beta=1.0, limit=7.0, seed=3,
            router_scale=0.05, fc1_scale=0.02, fc2_scale=0.02)
PP, TG = [128], 64
# genai.py's helpers read its module globals: the timings, the ORT greedy run and the reference use
# this model's shape and decode length.
gb.NAME, gb.SHAPE, gb.TG = NAME, SHAPE, TG


def log(*a):
    print(f"[genai_moe {time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def model_config(onnx_name):
    c = gb.model_config(SHAPE, onnx_name)
    c.update({"dtype": "fp32", "hidden_dim": MOE.inter, "n_experts": MOE.experts,
              "n_experts_per_token": MOE.k})
    c["source"] = {"kind": "random", "preset": "moe-8x1408", "seed": 0,
                   "generator": "bench/genai.py RandomWeights (attention, embedding, lm_head) and "
                                "make_genai_onnx.py moe_weights (router, experts)",
                   "genai_builder": "make_genai_onnx.py genai_decoder with an MoE per layer: " + repr(MOE)}
    return c


def build_model(work):
    path = os.path.join(work, NAME + ".onnx")
    if os.path.exists(path) and os.path.exists(path + "_data"):
        return path
    os.makedirs(work, exist_ok=True)
    log("building", path)
    m = g.genai_decoder(shape=SHAPE, weights=gb.RandomWeights(SHAPE), moe=MOE)
    g.save_model(m, path, external_data=True)
    del m
    with open(os.path.join(work, NAME + ".config.json"), "w") as f:
        json.dump(model_config(NAME + ".onnx"), f, indent=1)
        f.write("\n")
    log(f"built ({os.path.getsize(path + '_data') / 2**20:.0f} MiB of data)")
    return path


def compile_bundle(a, model, bundle, flags):
    if os.path.exists(bundle) and os.path.getmtime(bundle) >= max(os.path.getmtime(a.llmc),
                                                                  os.path.getmtime(model + "_data")):
        return
    gb.wait_quiet(a.max_load)
    log("llmc compile", *flags)
    t0 = time.time()
    gb.run([a.llmc, "compile", model, "--target=native", *flags, "-o", bundle])
    log(f"compiled in {time.time() - t0:.1f} s")


def check(a, model, bundles):
    res = {"prompt_ids": gb.PROMPT8}
    res["ort_greedy"], _ = gb.ort_greedy(a, model, gb.PROMPT8, 8)
    ref = gb.ort_ref(a.work, NAME)
    for name, bundle in bundles.items():
        res[name] = {"greedy": gb.llmc_ids(a, bundle, gb.PROMPT8, 8), "check_ref": gb.check_ref(a, bundle, ref)}
        log(f"{name}: greedy {res[name]['greedy']} (ORT {res['ort_greedy']}); "
            + res[name]["check_ref"]["output"].replace("\n", "; "))
    return res


def measure(a, engine, kind, t, model, bundles):
    """One measurement in one process: tok/s, load ms and the raw JSON (llmc: with --bandwidth for
    decode, so the run's share of the DRAM read bandwidth is recorded)."""
    if engine == "onnxruntime":
        return gb.measure(a, engine, kind, t, model, None)
    args = [a.llmc, "bench", bundles[engine], "--threads", t, "--reps", 1, "--json"]
    args += ["--prompt", kind[2:], "--gen", 0] if kind.startswith("pp") else ["--prompt", 1, "--gen", TG,
                                                                              "--bandwidth"]
    j = gb.last_json(gb.run(args)[0])
    return (j["prefill_tok_s"] if kind.startswith("pp") else j["decode_tok_s"]), j["load_ms"], j


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=3, help="runs per (engine, threads, kind)")
    ap.add_argument("--work", default=os.path.join(HERE, "work", "genai_moe"))
    ap.add_argument("--out", default=os.path.join(HERE, "results", "genai-moe.json"))
    ap.add_argument("--llmc", default=os.path.join(ROOT, "build-lead", "bin", "llmc"))
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--prepare", action="store_true", help="build, compile and check; no timings")
    a = ap.parse_args()
    a.ort_dir = os.path.join(HERE, "ort")
    a.work = os.path.abspath(a.work)
    threads = [int(t) for t in a.threads.split(",")]
    if not os.path.isdir(os.path.join(a.ort_dir, "node_modules", "onnxruntime-node")):
        gb.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=a.ort_dir)

    started = datetime.datetime.now().astimezone()
    commit = gb.run(["git", "rev-parse", "HEAD"], cwd=ROOT)[0].strip()
    res = {"meta": {"started": started.isoformat(timespec="seconds"), "git_commit": commit,
                    "onnxruntime_node": gb.ort_version(a.ort_dir), "host": platform.node(),
                    "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                 if l.startswith("model name")), ""), "nproc": os.cpu_count(),
                    "command": " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
                    "shape": repr(SHAPE), "moe": repr(MOE),
                    "protocol": "one measurement per process (--reps 1), engines interleaved, first engine "
                                "rotating; ppP: P random tokens from an empty cache; tgG: 1-token prompt, "
                                "then G timed greedy steps; medians of the runs"}}
    model = build_model(a.work)
    bundles = {"llmc": os.path.join(a.work, NAME + "-fp32.llmc"),
               "llmc-int4": os.path.join(a.work, NAME + "-int4.llmc")}
    compile_bundle(a, model, bundles["llmc"], ["--activations=fp32"])
    compile_bundle(a, model, bundles["llmc-int4"], ["--quant=int4:g32"])
    res["check"] = check(a, model, bundles)
    if a.prepare:
        print(json.dumps(res, indent=1))
        return 0

    engines = ["onnxruntime", "llmc", "llmc-int4"]
    kinds = [f"pp{p}" for p in PP] + [f"tg{TG}"]
    runs = res["runs"] = []
    for t in threads:
        for kind in kinds:
            for r in range(a.reps):
                order = engines[r % 3:] + engines[:r % 3]
                for engine in order:
                    la, waited = gb.wait_quiet(a.max_load)
                    tok_s, load_ms, raw = measure(a, engine, kind, t, model, bundles)
                    runs.append({"engine": engine, "threads": t, "kind": kind, "rep": r, "loadavg_before": la,
                                 "waited_s": waited, "tok_s": tok_s, "load_ms": load_ms, "raw": raw})
                    log(f"{engine:11s} t={t} {kind:6s} rep {r}: {tok_s:8.2f} tok/s (load before {la[0]:.2f})")
                    with open(a.out, "w") as f:
                        json.dump(res, f, indent=1)

    def pick(e, t, kind, key="tok_s"):
        return [x[key] if key in x else x["raw"][key] for x in runs
                if x["engine"] == e and x["threads"] == t and x["kind"] == kind]
    lines = ["| engine | threads | " + " | ".join(f"{k} tok/s" for k in kinds) +
             f" | tg{TG} GB/s | tg{TG} ÷ adjacent DRAM read |", "|---|---|" + "---|" * (len(kinds) + 2)]
    med = {}
    for e in engines:
        for t in threads:
            m = {k: statistics.median(pick(e, t, k)) for k in kinds}
            med[(e, t)] = m
            cells = [f"{gb.fmt(m[k])} ({', '.join(gb.fmt(x) for x in pick(e, t, k))})" for k in kinds]
            if e == "onnxruntime":
                # The bytes a step reads are the fp32 model's: llmc's fp32 runs report them.
                bytes_tok = pick("llmc", t, f"tg{TG}", "decode_weight_bytes")[0]
                bw = [f"{m[f'tg{TG}'] * bytes_tok / 1e9:.1f}", ""]
            else:
                bw = [f"{statistics.median(pick(e, t, f'tg{TG}', 'decode_gb_s')):.1f}",
                      f"{100 * statistics.median(pick(e, t, f'tg{TG}', 'decode_fraction_of_adjacent_read')):.0f}%"]
            lines.append(f"| {e} | {t} | " + " | ".join(cells) + " | " + " | ".join(bw) + " |")
    for t in threads:
        lines.append(f"| llmc fp32 ÷ ORT | {t} | " + " | ".join(
            f"{med[('llmc', t)][k] / med[('onnxruntime', t)][k]:.2f}x" for k in kinds) + " | | |")
    res["table_md"] = "\n".join(lines)
    res["meta"]["finished"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(res["table_md"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
