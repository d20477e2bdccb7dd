#!/usr/bin/python3
"""llmc's benchmark suite: llmc against ONNX Runtime, llama.cpp and the machine's
measured limits, in one run (bench/run.sh calls this; see bench/README.md).

Writes bench/results/<name>.json; bench/report.py turns it into
docs/BENCHMARKS.md and its plots.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
STORIES = "/work/shared/models/stories260K"
# llama.cpp's format holding llmc's storage of each weight format: Q4_0 is int4, groups of 32, symmetric,
# fp16 scales. ggml has no 4-bit format with groups of 128, so int4_g128 has no llama.cpp row.
GGUF_TYPE = {"fp32": "f32", "int4_g32": "q4_0"}
# export_gguf.py's source for each decoder model (the weights export_onnx.py wrote to ONNX).
GGUF_SOURCE = {
    "stories260K": ["--llama2c", os.path.join(STORIES, "stories260K.bin"),
                    "--tokenizer", os.path.join(STORIES, "tok512.bin")],
    "tinyllama-1.1b": ["--random", "--preset", "tinyllama-1.1b"],
}


def log(*a):
    print("==", *a, file=sys.stderr, flush=True)


def run(cmd, env=None, capture=True):
    log(" ".join(str(c) for c in cmd))
    t0 = time.time()
    r = subprocess.run([str(c) for c in cmd], capture_output=capture, text=True, env=env)
    if r.returncode != 0:
        sys.stderr.write((r.stdout or "")[-4000:] + (r.stderr or "")[-4000:])
        raise SystemExit(f"failed ({r.returncode}): {' '.join(str(c) for c in cmd)}")
    log(f"   {time.time() - t0:.1f} s")
    return r.stdout


def last_json(out: str):
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit("no JSON in output:\n" + out[-2000:])


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return []


class Suite:
    def __init__(self, a):
        self.a = a
        self.quick = a.quick
        self.bin = os.path.abspath(a.build) + "/bin"
        self.kbench = os.path.abspath(a.build) + "/bench/kernels/llmc-bench-kernels"
        self.work = os.path.abspath(a.work)
        self.ort_dir = os.path.join(HERE, "ort")
        self.lcpp_dir = os.path.join(HERE, "llamacpp")
        self.threads = [int(t) for t in a.threads.split(",")]
        self.reps = a.reps or (3 if self.quick else 5)
        self.res = {"meta": {}, "limits": {}, "kernels": [], "layers": [], "decoder": [],
                    "profile": []}

    # ---- helpers ----------------------------------------------------------
    def llmc(self, *args):
        return run([self.bin + "/llmc", *args])

    def ort(self, *args):
        return last_json(run(["node", os.path.join(self.ort_dir, "bench_ort.mjs"), *args]))

    def lcpp(self, *args):
        return last_json(run([self.a.llamacpp_driver, *args]))

    def gguf(self, name, fmt):
        """The GGUF file of (model, format) for llama.cpp, and its matmul bytes; None without one."""
        t = GGUF_TYPE.get(fmt)
        if not self.a.llamacpp_driver or t is None or name not in GGUF_SOURCE:
            return None
        path = os.path.join(self.work, "gguf", f"{name}-{t}.gguf")
        self.ensure(path + ".json", lambda: run([PY, os.path.join(self.lcpp_dir, "export_gguf.py"),
                                                 *GGUF_SOURCE[name], "--type", t, "-o", path]))
        return path, json.load(open(path + ".json"))["matmul_bytes"]

    def ensure(self, path, make, newer_than=None):
        """make() unless path exists and, with newer_than, is not older than it."""
        stale = newer_than is not None and os.path.exists(path) and \
            os.path.getmtime(path) < os.path.getmtime(newer_than)
        if stale or not os.path.exists(path):
            make()
        return path

    # ---- machine ----------------------------------------------------------
    def meta(self):
        cpu = ""
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        try:
            host_txt = self.llmc("--print-target=native").strip()
        except SystemExit:
            host_txt = ""
        ortv = json.load(open(os.path.join(self.ort_dir, "node_modules/onnxruntime-node/package.json")))["version"]
        lcppv = ""
        if self.a.llamacpp_driver:
            lcppv = json.load(open(os.path.join(self.lcpp_dir, "node_modules/node-llama-cpp/llama/"
                                                "llama.cpp.info.json")))["tag"]
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        self.res["meta"] = {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "quick": self.quick, "cpu": cpu, "nproc": os.cpu_count(),
            "kernel": platform.release(), "llmc_target": host_txt,
            "llmc_commit": commit, "onnxruntime_node": ortv, "llama_cpp": lcppv,
            "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
            "threads": self.threads, "reps": self.reps, "loadavg_start": loadavg(),
        }

    def limits(self, key="limits"):
        f = os.path.join(self.work, key + ".json")
        run([self.kbench, "--probe", "--threads=" + self.a.threads, "--json=" + f])
        rows = json.load(open(f))["rows"]
        self.res[key] = {}
        for r in rows:
            self.res[key][str(r["threads"])] = r

    def kernels(self):
        f = os.path.join(self.work, "kernels.json")
        args = [self.kbench, "--threads=" + self.a.threads,
                "--formats=int4_g32,int4_g128", "--json=" + f]
        if self.quick:
            args += ["--quick", "--ms=1,128", "--ws-mib=512"]
        out = run(args)
        self.res["kernels"] = json.load(open(f))["rows"]
        self.res["kernels_text"] = out

    # ---- single layers ----------------------------------------------------
    def layers(self):
        shapes = [(4096, 4096)] if self.quick else [(4096, 4096), (2048, 5632)]
        ws_mib = 256 if self.quick else 1024
        fmts = ["f32", "int4_g32", "int4_g128"]
        ms = [1] if self.quick else [1, 128]
        for (N, K) in shapes:
            shape = f"{N}x{K}"
            # llmc: the kernel bench's streaming method (distinct cold copies, call by call).
            f = os.path.join(self.work, f"layer-llmc-{shape}.json")
            run([self.kbench, "--threads=" + self.a.threads,
                 "--formats=" + ",".join(fmts), "--shapes=" + shape, "--ms=" + ",".join(map(str, ms)),
                 f"--ws-mib={ws_mib}", "--json=" + f] + (["--quick"] if self.quick else []))
            for r in json.load(open(f))["rows"]:
                if r["kind"] == "limits":
                    continue
                if self.quick and r["format"].startswith("int4"):
                    self.res["kernels"].append(r)  # --quick: the kernel rows of this run
                fmt = r["format"].split("_sym")[0]
                self.res["layers"].append({
                    "engine": "llmc", "shape": shape, "format": fmt, "m": r["m"],
                    "threads": r["threads"], "ms": r["ms_median"],
                    "bytes": r.get("bytes")})
            # ORT: the same layer as an ONNX model over enough distinct copies.
            for fmt in fmts:
                bpw = 4.0 if fmt == "f32" else 0.5 + 4.0 / int(fmt.split("_g")[1])
                wbytes = N * K * bpw
                copies = max(4, int(ws_mib * 2 ** 20 // wbytes))
                path = os.path.join(self.work, "layers", f"{shape}-{fmt}-{copies}", "layer.onnx")
                self.ensure(path, lambda: run([PY, os.path.join(HERE, "models.py"), "layer",
                                               "--n", N, "--k", K, "--format", fmt,
                                               "--copies", copies, "-o", path]))
                for m in ms:
                    for t in self.threads:
                        r = self.ort("layer", path, "--threads", t, "--m", m, "--k", K,
                                     "--reps", self.reps, "--copies", copies)
                        self.res["layers"].append({
                            "engine": "onnxruntime", "shape": shape, "format": fmt, "m": m,
                            "threads": t, "ms": r["ms_median"], "bytes": int(wbytes),
                            "copies": copies})

    # ---- full decoders ----------------------------------------------------
    def models(self):
        out = []
        d = os.path.join(self.work, "models")
        st = os.path.join(d, "stories260K", "stories260K.onnx")
        self.ensure(st, lambda: run([PY, os.path.join(ROOT, "examples/export/export_onnx.py"),
                                     "--llama2c", os.path.join(STORIES, "stories260K.bin"),
                                     "-q", "-o", os.path.dirname(st)]))
        out.append(("stories260K", st))
        if not self.quick and not self.a.no_tinyllama:
            tl = os.path.join(d, "tinyllama", "tinyllama-1.1b-half-fp32.onnx")
            self.ensure(tl, lambda: run([PY, os.path.join(ROOT, "examples/export/export_onnx.py"),
                                         "--random", "--preset", "tinyllama-1.1b", "--dtype", "fp32",
                                         "-q", "-o", os.path.dirname(tl)]))
            out.append(("tinyllama-1.1b", tl))
        return out

    def decoder(self, name, onnx_path):
        cfg_path = onnx_path[:-len(".onnx")] + ".config.json"
        cfg = json.load(open(cfg_path))
        d = os.path.dirname(onnx_path)
        pp = [128, 512]
        tg = 128
        ctx = max(cfg["max_seq_len"], max(pp) + 1, tg + 2)
        for fmt in ["fp32", "int4_g32", "int4_g128"]:
            # llmc: compile the exported ONNX.
            bundle = os.path.join(self.work, "bundles", f"{name}-{fmt}.llmc")
            os.makedirs(os.path.dirname(bundle), exist_ok=True)
            args = ["compile", onnx_path, "--target=native", "--ctx", ctx, "-o", bundle]
            if fmt != "fp32":
                args += ["--quant=int4", "--group-size", fmt.split("_g")[1]]
            # A bundle holds its generated program: recompile it when llmc changed.
            self.ensure(bundle, lambda: self.llmc(*args), newer_than=self.bin + "/llmc")
            # ORT: the same graph (int4: MatMulNBits), logits of the last position only.
            if fmt == "fp32":
                ort_src = onnx_path
            else:
                ort_src = os.path.join(d + f"-q4g{fmt.split('_g')[1]}", "model.onnx")
                self.ensure(ort_src, lambda: run([PY, os.path.join(HERE, "models.py"), "nbits",
                                                  "--block", fmt.split("_g")[1], onnx_path,
                                                  "-o", ort_src]))
            ort_model = ort_src[:-len(".onnx")] + ".last.onnx"
            self.ensure(ort_model, lambda: run([PY, os.path.join(HERE, "models.py"), "lastlogits",
                                                ort_src, "-o", ort_model]))
            ort_bytes = onnx_matmul_bytes(ort_model)
            gguf = self.gguf(name, fmt)
            if self.a.prepare:
                continue
            reps = self.reps if name == "stories260K" else min(self.reps, self.a.big_reps)
            for t in self.threads:
                row = {"model": name, "format": fmt, "threads": t, "reps": reps, "config": {
                    k: cfg[k] for k in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                                        "vocab_size", "head_dim")}}
                # llmc: pp128, pp512 (prefill from an empty cache), tg128 (after 1 token).
                lr = {"engine": "llmc"}
                for p in pp:
                    j = last_json(self.llmc("bench", bundle, "--prompt", p, "--gen", 0,
                                            "--threads", t, "--reps", reps, "--json"))
                    lr[f"pp{p}"] = j["prefill_tok_s"]
                    lr[f"pp{p}_runs"] = j["prefill_tok_s_runs"]
                j = last_json(self.llmc("bench", bundle, "--prompt", 1, "--gen", tg, "--threads", t,
                                        "--reps", reps, "--profile", "--bandwidth", "--json"))
                lr[f"tg{tg}"] = j["decode_tok_s"]
                lr["decode_of_adjacent_read"] = j.get("decode_fraction_of_adjacent_read")
                lr["adjacent_read_gb_s_runs"] = j.get("adjacent_read_gb_s_runs")
                lr[f"tg{tg}_runs"] = j["decode_tok_s_runs"]
                lr["decode_weight_bytes"] = j["decode_weight_bytes"]
                lr["weight_mb"] = j["weight_mb"]
                lr["load_ms"] = j["load_ms"]
                lr["peak_rss_mb"] = j["peak_rss_mb"]
                self.res["profile"].append({"model": name, "format": fmt, "threads": t,
                                            "decode": j["profile"]["decode"]})
                row["llmc"] = lr
                # ORT: one session load for all (loading the fp32 TinyLlama takes a minute).
                j = self.ort("decoder", ort_model, "--threads", t, "--prompt", ",".join(map(str, pp)),
                             "--gen", tg, "--reps", reps, "--vocab", cfg["vocab_size"])
                row["onnxruntime"] = peer_row("onnxruntime", j, pp, tg, ort_bytes)
                # llama.cpp: the same weights as GGUF, the same protocol.
                if gguf:
                    j = self.lcpp("decoder", gguf[0], "--threads", t, "--prompt", ",".join(map(str, pp)),
                                  "--gen", tg, "--reps", reps, "--vocab", cfg["vocab_size"], "--ctx", ctx)
                    assert j["threads"] == t
                    row["llama.cpp"] = peer_row("llama.cpp", j, pp, tg, gguf[1])
                    row["llama.cpp"]["threadpool"] = j["threadpool"]
                self.res["decoder"].append(row)
                self.save()

    def save(self):
        self.res["meta"]["loadavg_end"] = loadavg()
        os.makedirs(os.path.dirname(self.a.out), exist_ok=True)
        with open(self.a.out, "w") as f:
            json.dump(self.res, f, indent=1)

    def main(self):
        os.makedirs(self.work, exist_ok=True)
        self.meta()
        steps = self.a.only.split(",") if self.a.only else ["limits", "kernels", "layers", "decoder"]
        if self.a.prepare:
            for name, path in self.models():
                self.decoder(name, path)
            return
        if "limits" in steps:
            self.limits()
            self.save()
        if "kernels" in steps and not self.quick:
            self.kernels()
            self.save()
        if "layers" in steps:
            self.layers()
            self.save()
        if "decoder" in steps:
            for name, path in self.models():
                self.decoder(name, path)
        if "limits" in steps:
            # Again at the end: on a shared machine the load changes during a run;
            # the report uses the less disturbed of the two medians.
            self.limits("limits_end")
        self.save()
        log("results:", self.a.out)


def peer_row(engine, j, pp, tg, weight_bytes):
    """A peer's decoder figures from its runner's JSON (bench_ort.mjs and llamacpp_bench print the
    same fields): prefill and decode medians with their runs, load time, weight bytes per token."""
    r = {"engine": engine}
    for p in pp:
        r[f"pp{p}"] = j["prefill"][str(p)]["tok_s"]
        r[f"pp{p}_runs"] = j["prefill"][str(p)]["runs"]
    r[f"tg{tg}"] = j["decode_tok_s"]
    r[f"tg{tg}_runs"] = j["decode_tok_s_runs"]
    r["decode_weight_bytes"] = weight_bytes
    r["load_ms"] = j["load_ms"]
    return r


def onnx_matmul_bytes(path: str) -> int:
    """Bytes of the weights a decode step streams in ORT: every MatMul /
    MatMulNBits weight initializer (the embedding is read one row a token)."""
    import onnx
    m = onnx.load(path, load_external_data=False)
    inits = {t.name: t for t in m.graph.initializer}

    def nbytes(t):
        n = 1
        for d in t.dims:
            n *= d
        return n * {1: 4, 2: 1, 10: 2}.get(t.data_type, 4)
    total = 0
    producers = {o: n for n in m.graph.node for o in n.output}
    for n in m.graph.node:
        if n.op_type == "MatMul":
            b = n.input[1]
            if b in inits:
                total += nbytes(inits[b])
            elif b in producers and producers[b].op_type == "Transpose" and producers[b].input[0] in inits:
                total += nbytes(inits[producers[b].input[0]])
        elif n.op_type == "MatMulNBits":
            total += sum(nbytes(inits[i]) for i in n.input[1:] if i in inits)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--only", default="", help="limits,kernels,layers,decoder")
    ap.add_argument("--no-tinyllama", action="store_true")
    ap.add_argument("--llamacpp-driver", default="",
                    help="llamacpp_bench (bench/llamacpp/build.sh); without it, no llama.cpp rows")
    ap.add_argument("--big-reps", type=int, default=3, help="runs of each TinyLlama measurement")
    ap.add_argument("--prepare", action="store_true",
                    help="only export/convert/compile the decoder models (no measurements)")
    ap.add_argument("-o", dest="out", default=None)
    a = ap.parse_args()
    if not a.out:
        a.out = os.path.join(HERE, "results", "quick.json" if a.quick else "full.json")
    Suite(a).main()


if __name__ == "__main__":
    main()
