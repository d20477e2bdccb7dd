#!/usr/bin/python3
"""Write docs/BENCHMARKS.md and its plots (docs/bench/*.png) from a results file
of bench/suite.py. Every number in the generated part comes from the results;
bench/BENCHMARKS.notes.md (earlier hand-written measurements) is appended as is.

  /usr/bin/python3 bench/report.py bench/results/full.json [-o docs/BENCHMARKS.md]
"""
from __future__ import annotations

import argparse
import json
import os
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# Engines of a decoder row (bench/suite.py): llmc, ONNX Runtime, and llama.cpp where ggml has the
# format (fp32 and int4 g32 as Q4_0).
ENGINES = ("llmc", "onnxruntime", "llama.cpp")
LABEL = {"llmc": "llmc", "onnxruntime": "ORT", "llama.cpp": "llama.cpp"}


def f1(x):
    return "–" if x is None else (f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}")


def pct(x):
    return "–" if x is None else f"{100 * x:.0f}%"


def ratio(a, b):
    return None if not a or not b else a / b


def decode_ops(cfg, ctx_avg):
    """Matmul ops (2 per MAC) of one token through every layer and the lm_head,
    plus attention (QK^T and PV) over ctx_avg cached positions."""
    d, h, L, V = cfg["dim"], cfg["hidden_dim"], cfg["n_layers"], cfg["vocab_size"]
    H, KV, hd = cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"]
    per_layer = d * H * hd + 2 * d * KV * hd + H * hd * d + 3 * d * h
    return 2 * per_layer * L, 2 * d * V, 4 * L * H * hd * ctx_avg


def prefill_ops(cfg, P):
    """Ops of a P-token prefill from an empty cache, lm_head on the last token only."""
    mm, head, _ = decode_ops(cfg, 0)
    att = 4 * cfg["n_layers"] * cfg["n_heads"] * cfg["head_dim"] * (P * (P + 1) / 2)
    return mm * P + head + att


class Report:
    def __init__(self, res, out_md, img_dir):
        self.r = res
        self.out_md = out_md
        self.img_dir = img_dir
        self.img_rel = os.path.relpath(img_dir, os.path.dirname(out_md))
        # Limits measured at the start and at the end of the run: the higher
        # median bandwidth per thread count (the less disturbed moment).
        self.lim_start = {int(k): v for k, v in res["limits"].items()}
        self.lim_end = {int(k): v for k, v in res.get("limits_end", {}).items()}
        self.lim = {}
        for t, l in self.lim_start.items():
            e = self.lim_end.get(t)
            self.lim[t] = e if e and e["dram_read_gb_s"] > l["dram_read_gb_s"] else l
        self.lines = []

    def w(self, s=""):
        self.lines.append(s)

    def bw(self, t):
        return self.lim.get(t, {}).get("dram_read_gb_s")

    def peak(self, t, fmt):
        l = self.lim.get(t, {})
        return l.get("fp32_peak_gflop_s") if fmt == "fp32" else l.get("int8_peak_gop_s")

    # ---- derived figures ----------------------------------------------------
    def dec_rows(self):
        out = []
        for row in self.r["decoder"]:
            t, fmt, cfg = row["threads"], row["format"], row["config"]
            for eng in ENGINES:
                if eng not in row:
                    continue
                e = row[eng]
                gbs = e["tg128"] * e["decode_weight_bytes"] / 1e9 if e.get("tg128") else None
                e["decode_gb_s"] = gbs
                e["decode_of_limit"] = ratio(gbs, self.bw(t))
                e["in_cache"] = e["decode_weight_bytes"] < 64 * 2 ** 20
                for p in (128, 512):
                    ops = prefill_ops(cfg, p)
                    gops = e[f"pp{p}"] * ops / p / 1e9 if e.get(f"pp{p}") else None
                    e[f"pp{p}_gop_s"] = gops
                    e[f"pp{p}_of_limit"] = ratio(gops, self.peak(t, fmt))
            out.append(row)
        return out

    # ---- plots ----------------------------------------------------------------
    def plot_threads(self, rows):
        models = sorted({r["model"] for r in rows}, key=lambda m: (m != "tinyllama-1.1b", m))
        metrics = [("tg128", "decode tg128 (tok/s)"), ("pp512", "prefill pp512 (tok/s)")]
        fig, axes = plt.subplots(len(models), 2, figsize=(11, 3.6 * len(models)), squeeze=False)
        colors = {"fp32": "tab:blue", "int4_g32": "tab:orange", "int4_g128": "tab:green"}
        for i, m in enumerate(models):
            for j, (key, title) in enumerate(metrics):
                ax = axes[i][j]
                for fmt in colors:
                    sel = sorted([r for r in rows if r["model"] == m and r["format"] == fmt],
                                 key=lambda r: r["threads"])
                    if not sel:
                        continue
                    ts = [r["threads"] for r in sel]
                    ax.plot(ts, [r["llmc"].get(key) or 0 for r in sel], "-o", color=colors[fmt],
                            label=f"llmc {fmt}")
                    ax.plot(ts, [r["onnxruntime"].get(key) or 0 for r in sel], "--s",
                            color=colors[fmt], alpha=0.7, label=f"ORT {fmt}")
                    if all("llama.cpp" in r for r in sel):
                        ax.plot(ts, [r["llama.cpp"].get(key) or 0 for r in sel], ":^",
                                color=colors[fmt], alpha=0.7, label=f"llama.cpp {fmt}")
                ax.set_title(f"{m}: {title}")
                ax.set_xlabel("threads")
                ax.set_xticks(sorted({r["threads"] for r in rows}))
                ax.set_yscale("log")
                ax.grid(alpha=0.3)
                ax.legend(fontsize=7)
        fig.tight_layout()
        p = os.path.join(self.img_dir, "toks_vs_threads.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        return os.path.basename(p)

    def plot_bandwidth(self, rows):
        ths = sorted(self.lim)
        fig, axes = plt.subplots(1, len(ths), figsize=(6 * len(ths), 4.2), squeeze=False)
        for k, t in enumerate(ths):
            ax = axes[0][k]
            labels, llmc_v, ort_v = [], [], []
            for r in rows:
                if r["threads"] != t or r["llmc"].get("in_cache"):
                    continue  # weights that stay in the caches are not a bandwidth figure
                labels.append(f"{r['model']}\n{r['format']}")
                llmc_v.append(r["llmc"]["decode_gb_s"] or 0)
                ort_v.append(r["onnxruntime"]["decode_gb_s"] or 0)
            for L in self.r["layers"]:
                if L["threads"] == t and L["m"] == 1 and L["engine"] == "llmc":
                    o = [x for x in self.r["layers"] if x["engine"] == "onnxruntime" and
                         x["threads"] == t and x["m"] == 1 and x["shape"] == L["shape"] and
                         x["format"] == L["format"]]
                    labels.append(f"layer {L['shape']}\n{L['format']}")
                    llmc_v.append(L["bytes"] / L["ms"] / 1e6)
                    ort_v.append(o[0]["bytes"] / o[0]["ms"] / 1e6 if o else 0)
            x = range(len(labels))
            ax.bar([i - 0.2 for i in x], llmc_v, 0.4, label="llmc")
            ax.bar([i + 0.2 for i in x], ort_v, 0.4, label="ONNX Runtime")
            if self.bw(t):
                ax.axhline(self.bw(t), color="red", ls="--",
                           label=f"DRAM read {self.bw(t):.1f} GB/s (measured)")
            ax.set_xticks(list(x))
            ax.set_xticklabels(labels, fontsize=6, rotation=60, ha="right")
            ax.set_ylabel("decode weight GB/s (M=1)")
            ax.set_title(f"{t} thread{'s' if t > 1 else ''}")
            ax.legend(fontsize=7)
            ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        p = os.path.join(self.img_dir, "gbs_vs_bandwidth.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        return os.path.basename(p)

    def plot_profile(self):
        profs = [p for p in self.r["profile"] if p["threads"] == max(self.lim or [1])]
        if not profs:
            return None
        profs.sort(key=lambda p: (p["model"] != "tinyllama-1.1b", p["model"], p["format"]))
        cats = []
        for p in profs:
            for k in p["decode"]["matmul_kinds"]:
                if short(k["name"]) not in cats:
                    cats.append(short(k["name"]))
        cats += ["attention", "glue"]
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
        cmap = plt.get_cmap("tab10")
        big = [p for p in profs if p["model"] == "tinyllama-1.1b"] or profs
        for ax, norm in zip(axes, (False, True)):
            sel = profs if norm else big  # ms: one model's scale; %: every model
            bottoms = [0.0] * len(sel)
            for ci, c in enumerate(cats):
                vals = []
                for p in sel:
                    d = p["decode"]
                    if c == "attention":
                        v = d["attention_ms"]
                    elif c == "glue":
                        v = d["glue_ms"]
                    else:
                        v = sum(k["ms"] for k in d["matmul_kinds"] if short(k["name"]) == c)
                    vals.append(100 * v / d["total_ms"] if norm else v)
                ax.bar(range(len(sel)), vals, bottom=bottoms, label=c, color=cmap(ci % 10))
                bottoms = [b + v for b, v in zip(bottoms, vals)]
            ax.set_xticks(range(len(sel)))
            ax.set_xticklabels([f"{p['model']}\n{p['format']}" for p in sel], fontsize=7)
            ax.set_ylabel("% of a decode step" if norm else "ms per decode step")
            ax.grid(axis="y", alpha=0.3)
        axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.suptitle(f"llmc decode step breakdown (llmc bench --profile, tg128, "
                     f"{profs[0]['threads']} threads)")
        fig.tight_layout()
        p = os.path.join(self.img_dir, "decode_breakdown.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        return os.path.basename(p)

    # ---- markdown ---------------------------------------------------------------
    def write(self):
        os.makedirs(self.img_dir, exist_ok=True)
        m = self.r["meta"]
        rows = self.dec_rows()
        t2 = max(self.lim) if self.lim else 2
        w = self.w
        w("# Benchmarks")
        w()
        w("<!-- Generated by bench/report.py from " + os.path.relpath(self.src, ROOT) +
          " (bench/run.sh). Do not edit by hand: rerun `bench/run.sh`. -->")
        w()
        w(f"One command, `bench/run.sh`{' --quick' if m['quick'] else ''}, produced every number and plot "
          f"in this generated part (see bench/README.md). Run of {m['date']}, llmc {m['llmc_commit']}, "
          f"onnxruntime-node {m['onnxruntime_node']} (CPU execution provider, its bundled library), "
          + (f"llama.cpp {m['llama_cpp']} (the prebuilt CPU libraries of npm's node-llama-cpp, through their C "
             "API), " if m.get("llama_cpp") else "")
          + f"node {m['node']}. Every figure is the median of {m['reps']} runs (TinyLlama-1.1B decoder rows: "
          f"{min([r.get('reps', m['reps']) for r in self.r['decoder']] or [m['reps']])}).")
        w()
        tgt = dict(l.split(":", 1) for l in m.get("llmc_target", "").splitlines() if ":" in l)
        tdesc = ", ".join(f"{k.strip()} {v.strip()}" for k, v in tgt.items()
                          if k.strip() in ("cpu", "isa tier", "L2", "L3"))
        w(f"**Machine**: `{m['cpu']}` (llmc detects: {tdesc or 'unknown'}), {m['nproc']} vCPUs. "
          "This is the development VM: an AMD Zen 5 (AVX-512 with VNNI and BF16, no AMX), *not* the Ice Lake "
          "server the issues were first written for. Its 2 vCPUs are shared with other engineers' builds "
          f"(load average {' '.join(m['loadavg_start'])} at the start, {' '.join(m.get('loadavg_end', []))} "
          "at the end), so single runs swing widely; quote the medians, and rerun on a quiet machine for "
          "publishable numbers.")
        w()
        # headline
        w(f"## Headline: {t2} threads")
        w()
        w("llmc ÷ ORT > 1 means llmc is faster. The limit of decode is the measured DRAM read bandwidth "
          "(tok/s × weight bytes per token ÷ bandwidth); the limit of prefill is the measured peak of the "
          "instruction the path runs (fp32 FMA for fp32 weights, int8 VNNI for int4 weights with int8 "
          "activations; ops = 2 × MACs of every matmul plus attention).")
        w()
        w("| model | weights | decode tg128 llmc tok/s | ORT tok/s | **llmc ÷ ORT** | **llmc ÷ limit** | ORT ÷ limit "
          "| prefill pp512 llmc tok/s | ORT tok/s | **llmc ÷ ORT** | **llmc ÷ limit** | ORT ÷ limit |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            if r["threads"] != t2:
                continue
            L, O = r["llmc"], r["onnxruntime"]
            w(f"| {r['model']} | {r['format']} | {f1(L['tg128'])} | {f1(O['tg128'])} | "
              f"**{f1(ratio(L['tg128'], O['tg128']))}×** | **{pct(L['decode_of_limit'])}{dag(L)}** | "
              f"{pct(O['decode_of_limit'])}{dag(O)} | {f1(L['pp512'])} | {f1(O['pp512'])} | "
              f"**{f1(ratio(L['pp512'], O['pp512']))}×** | **{pct(L['pp512_of_limit'])}** | "
              f"{pct(O['pp512_of_limit'])} |")
        w()
        behind = decoder_behind(rows, "onnxruntime")
        for L in self.r["layers"]:
            if L["engine"] != "llmc":
                continue
            o = [x for x in self.r["layers"] if x["engine"] == "onnxruntime" and x["shape"] == L["shape"]
                 and x["format"] == L["format"] and x["m"] == L["m"] and x["threads"] == L["threads"]]
            if o and o[0]["ms"] < L["ms"]:
                behind.append(f"layer {L['shape']} {L['format']} M={L['m']} at {L['threads']} thread"
                              f"{'s' if L['threads'] > 1 else ''} ({o[0]['ms'] / L['ms']:.2f}×)")
        if behind:
            w("**Where ONNX Runtime is ahead in this run** (llmc ÷ ORT < 1): " + "; ".join(behind) + ".")
        else:
            w("ONNX Runtime is ahead of llmc in none of the measurements of this run.")
        w()
        lrows = [r for r in rows if r["threads"] == t2 and "llama.cpp" in r]
        if lrows:
            w(f"Against llama.cpp ({t2} threads; fp32 weights, and int4 g32 against ggml's Q4_0, the same "
              "storage: 4-bit codes, groups of 32, one fp16 scale; llmc ÷ llama.cpp > 1 means llmc is faster):")
            w()
            w("| model | weights | decode tg128 llmc tok/s | llama.cpp tok/s | **llmc ÷ llama.cpp** | "
              "llama.cpp ÷ limit | prefill pp512 llmc tok/s | llama.cpp tok/s | **llmc ÷ llama.cpp** | "
              "llama.cpp ÷ limit |")
            w("|---|---|---|---|---|---|---|---|---|---|")
            for r in lrows:
                L, C = r["llmc"], r["llama.cpp"]
                w(f"| {r['model']} | {r['format']} | {f1(L['tg128'])} | {f1(C['tg128'])} | "
                  f"**{f1(ratio(L['tg128'], C['tg128']))}×** | {pct(C['decode_of_limit'])}{dag(C)} | "
                  f"{f1(L['pp512'])} | {f1(C['pp512'])} | **{f1(ratio(L['pp512'], C['pp512']))}×** | "
                  f"{pct(C['pp512_of_limit'])} |")
            w()
            behind = decoder_behind(rows, "llama.cpp")
            w(("**Where llama.cpp is ahead in this run** (llmc ÷ llama.cpp < 1): " + "; ".join(behind) + ".")
              if behind else "llama.cpp is ahead of llmc in none of the decoder measurements of this run.")
            w()
        w("† The weights (≤ a few MiB) stay in the caches between decode steps: DRAM bandwidth is not the limit "
          "of such a model (per-step overheads are), so its fraction of it is shown for completeness only.")
        w()
        # limits
        w("## Machine limits (measured in the same run)")
        w()
        w("| threads | DRAM read GB/s (median, used) | p10 / p90 | median at start / end of run | "
          "int8 peak GOP/s | fp32 peak GFLOP/s |")
        w("|---|---|---|---|---|---|")
        for t in sorted(self.lim):
            l = self.lim[t]
            st = self.lim_start[t]["dram_read_gb_s"]
            en = self.lim_end.get(t, {}).get("dram_read_gb_s")
            w(f"| {t} | **{l['dram_read_gb_s']:.1f}** | {l['dram_read_p10_gb_s']:.1f} / "
              f"{l['dram_read_p90_gb_s']:.1f} | {st:.1f} / {f1(en)} | "
              f"{l['int8_peak_gop_s']:.0f} ({l['int8_peak_instr']}) | "
              f"{l['fp32_peak_gflop_s']:.0f} ({l['fp32_peak_instr']}) |")
        w()
        w("The limits are measured at the start and again at the end of the run; each fraction uses the "
          "measurement with the higher median bandwidth (the less disturbed moment of a shared machine). "
          "A figure above 100% means the machine was quieter while that row ran than during either probe: "
          "the limit is then underestimated, not exceeded."
          + (f" Note: {self.r['meta']['limits_end_note']}." if self.r['meta'].get('limits_end_note') else ""))
        w()
        w("Bandwidth method (one for every tool: `llmc bench --bandwidth`, `llmc-bench-kernels`, this suite; "
          "`measureReadBandwidth` in lib/Runtime/Profile.cpp): a 1 GiB buffer (far over the L3) is written "
          "once, then swept three times in 8 MiB chunks, each chunk read by all threads (AVX2 loads, hardware "
          "prefetch) and timed on its own; the figure is the median chunk rate. Short timed pieces keep "
          "preemption by other tenants out of the median, which a single long read does not. Peaks: 12 "
          "independent accumulator chains of the instruction, best of 5.")
        w()
        # decoder table
        w("## Full decoder: prefill pp128 / pp512, decode tg128 (tok/s, medians)")
        w()
        w("Both engines run the same exported ONNX graph (`examples/export/export_onnx.py`, HF \"decoder with "
          "past\" layout). llmc compiles it (`llmc compile`, fp32 or `--quant=int4 --group-size 32|128`: "
          "symmetric round-to-nearest, fp16 scales, int8 activations); ORT runs it as exported (fp32) or with "
          "every weight MatMul replaced by `com.microsoft.MatMulNBits` (bits 4, same block, symmetric "
          "round-to-nearest, fp32 scales, accuracy_level 4 = int8 activations; `bench/models.py nbits`). "
          "Both compute the logits of the last position only (llmc does this itself; ORT's graph gets a Slice "
          "before the lm_head, `bench/models.py lastlogits`). Prefill: P random tokens from an empty cache. "
          "Decode: 128 single-token steps after a one-token prompt, KV cache carried over (ORT: present.* fed "
          "back as past_key_values.*). Embeddings stay fp32 in both. stories260K is compiled with a "
          "1024-position cache so that pp512 fits (its trained context is 512).")
        w()
        if any("llama.cpp" in r for r in rows):
            w("llama.cpp runs the same weights as GGUF (`bench/llamacpp/export_gguf.py`: fp32, or Q4_0 for "
              "int4 g32 with ggml's own rounding, the lm_head included; stories260K's ffn_down, K = 172, has "
              "no Q4_0 form and stays fp32), driven by `bench/llamacpp/llamacpp_bench.cpp` through "
              "llama.cpp's C API as its own tools run it: the prebuilt library (npm's "
              "@node-llama-cpp/linux-x64) picks its CPU variant for the host, a persistent thread pool of "
              "T threads is attached to the context, one sequence, mmap'ed weights, default fp16 KV cache "
              "(llmc's is fp32), flash attention and weight repacking as llama.cpp decides. Same protocol "
              "(the same random prompt ids in one batch; decode samples greedily in llama.cpp's sampler). "
              "`bench/llamacpp/check_same_model.py` runs first: on small random models in both RoPE "
              "conventions llama.cpp's greedy tokens must equal PyTorch's, so the GGUF holds the model "
              "llmc runs.")
            w()
        w("'decode ÷ adjacent read' (llmc): `llmc bench --bandwidth` reads a 1 GiB buffer right before and "
          "after each tg128 run; the median over runs of the run's GB/s (weights + KV cache) ÷ the mean of its "
          "two probes. It cancels the drift of the shared machine's bandwidth during the suite.")
        w()
        w("| model | weights | threads | engine | pp128 | pp512 | tg128 | decode GB/s | decode ÷ DRAM | "
          "decode ÷ adjacent read | pp512 GOP/s | pp512 ÷ peak | weight bytes / token |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            for eng in ENGINES:
                if eng not in r:
                    continue
                e, lab = r[eng], LABEL[eng]
                w(f"| {r['model']} | {r['format']} | {r['threads']} | {lab} | {f1(e.get('pp128'))} | "
                  f"{f1(e.get('pp512'))} | {f1(e.get('tg128'))} | {f1(e['decode_gb_s'])} | "
                  f"{pct(e['decode_of_limit'])}{dag(e)} | {pct(e.get('decode_of_adjacent_read'))} | "
                  f"{f1(e['pp512_gop_s'])} | {pct(e['pp512_of_limit'])} | "
                  f"{e['decode_weight_bytes'] / 2 ** 20:.1f} MiB |")
        w()
        w("Ratios, llmc ÷ ORT and llmc ÷ llama.cpp (– where llama.cpp has no such format):")
        w()
        w("| model | weights | threads | pp128 ÷ ORT | pp512 ÷ ORT | tg128 ÷ ORT | pp128 ÷ llama.cpp | "
          "pp512 ÷ llama.cpp | tg128 ÷ llama.cpp |")
        w("|---|---|---|---|---|---|---|---|---|")

        def rx(a, b):
            q = ratio(a, b)
            return "–" if q is None else f"{f1(q)}×"
        for r in rows:
            L, O, C = r["llmc"], r["onnxruntime"], r.get("llama.cpp", {})
            w(f"| {r['model']} | {r['format']} | {r['threads']} | " +
              " | ".join(rx(L.get(k), O.get(k)) for k in ("pp128", "pp512", "tg128")) + " | " +
              " | ".join(rx(L.get(k), C.get(k)) for k in ("pp128", "pp512", "tg128")) + " |")
        w()
        w(f"![tok/s vs threads]({self.img_rel}/{self.plot_threads(rows)})")
        w()
        # layers
        w("## Single layers streamed from DRAM")
        w()
        w("One matmul layer Y = X·W, X of M rows. ORT: an ONNX model with C distinct copies of the weight "
          "(MatMul for fp32, MatMulNBits for int4), Y = Σ X·W_i, so that a run streams C weights (≥ the "
          "working set, far over the L3) from DRAM; time per copy = run time ÷ C, median of runs "
          "(`bench/models.py layer`). llmc: `llmc-bench-kernels` with the same shape, format and working set, "
          "its kernels called one copy at a time on cold copies, median of calls. GB/s = weight bytes ÷ time "
          "(llmc int4 stores fp16 scales, ORT fp32 scales: each engine's own bytes).")
        w()
        w("| N×K | weights | M | threads | llmc ms | ORT ms | llmc ÷ ORT | llmc GB/s (M=1) or GOP/s | ORT | "
          "llmc ÷ limit | ORT ÷ limit |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        for L in self.r["layers"]:
            if L["engine"] != "llmc":
                continue
            o = [x for x in self.r["layers"] if x["engine"] == "onnxruntime" and x["shape"] == L["shape"]
                 and x["format"] == L["format"] and x["m"] == L["m"] and x["threads"] == L["threads"]]
            if not o:
                continue
            o = o[0]
            N, K = map(int, L["shape"].split("x"))
            t = L["threads"]
            if L["m"] == 1:
                lv, ov = L["bytes"] / L["ms"] / 1e6, o["bytes"] / o["ms"] / 1e6
                lim = self.bw(t)
                unit = "GB/s"
            else:
                lv, ov = 2 * L["m"] * N * K / L["ms"] / 1e6, 2 * L["m"] * N * K / o["ms"] / 1e6
                lim = self.peak(t, "fp32" if L["format"] == "f32" else "int4")
                unit = "GOP/s"
            w(f"| {L['shape']} | {L['format']} | {L['m']} | {t} | {L['ms']:.3f} | {o['ms']:.3f} | "
              f"{f1(ratio(o['ms'], L['ms']))}× | {f1(lv)} {unit} | {f1(ov)} | {pct(ratio(lv, lim))} | "
              f"{pct(ratio(ov, lim))} |")
        w()
        w(f"![GB/s vs the bandwidth line]({self.img_rel}/{self.plot_bandwidth(rows)})")
        w()
        # profile
        pimg = self.plot_profile()
        w("## Where a decode step goes (`llmc bench --profile`)")
        w()
        w("Per-kernel wall time of the tg128 decode steps, per step: each matmul weight slot (grouped over "
          "layers), attention, and glue = step time − kernels (embedding, norms, RoPE, SwiGLU, residual adds, "
          "the generated program's own loops and the calls). Timed at the kernel ABI trampolines "
          "(lib/Runtime/Model.cpp) and the C++ plan driver (lib/Runtime/Profile.cpp).")
        w()
        w("| model | weights | threads | step ms | matmul | attention | glue | largest matmul slots |")
        w("|---|---|---|---|---|---|---|---|")
        for p in sorted(self.r["profile"], key=lambda p: (p["model"], p["format"], p["threads"])):
            d = p["decode"]
            top = sorted(d["matmul_kinds"], key=lambda k: -k["ms"])[:3]
            tops = ", ".join(f"{short(k['name'])} {100 * k['ms'] / d['total_ms']:.0f}%" for k in top)
            w(f"| {p['model']} | {p['format']} | {p['threads']} | {d['total_ms']:.3f} | "
              f"{100 * d['matmul_ms'] / d['total_ms']:.0f}% | {100 * d['attention_ms'] / d['total_ms']:.0f}% | "
              f"{100 * d['glue_ms'] / d['total_ms']:.0f}% | {tops} |")
        w()
        if pimg:
            w(f"![decode step breakdown]({self.img_rel}/{pimg})")
            w()
        # kernels (issue 5)
        self.kernel_section()
        notes = os.path.join(HERE, "BENCHMARKS.notes.md")
        if os.path.exists(notes):
            w("---")
            w()
            w(open(notes).read().rstrip())
            w()
        with open(self.out_md, "w") as f:
            f.write("\n".join(self.lines))

    def kernel_section(self):
        w = self.w
        ks = [k for k in self.r["kernels"] if k["kind"] != "limits"]
        if not ks:
            return
        w("## Kernel benchmark (`llmc-bench-kernels`, issue #5)")
        w()
        w("Quantized GEMV/GEMM kernels alone (docs/KERNELS.md has the method): decode rows stream distinct "
          "cold copies of the packed weight (working set far over the L3), call by call, and are compared "
          "with the DRAM read bandwidth of the limits table above (same method everywhere); prefill rows are "
          "compared with its int8 VNNI peak. 'Per CPU-s' divides by the process's CPU time instead of wall time "
          "(excludes time the OS gave other tenants). Formats: int4 symmetric, fp16 scales, int8 activations. "
          "'Of the adjacent read': each kernel call follows a plain read of another cold copy of the same bytes "
          "(same threads, a few hundred µs earlier); the median over calls of kernel GB/s ÷ that read's GB/s. The "
          "two are taken at the same moment, so the machine's slow and fast phases (other tenants of the VM's "
          "host change its bandwidth by up to 2× within minutes) cancel: the steadiest measure of how close a "
          "kernel streams to DRAM speed.")
        w()
        w("| N×K | format | threads | kernel GB/s median (p90) | of DRAM read (median) | of the adjacent read (median) |")
        w("|---|---|---|---|---|---|")
        for k in ks:
            if k["kind"] == "decode":
                adj = k.get("fraction_of_adjacent_read")
                w(f"| {k['shape']} | {k['format'].split('_sym')[0]} | {k['threads']} | {k['gb_s_median']:.1f} "
                  f"({k['gb_s_p90']:.1f}) | {pct(ratio(k['gb_s_median'], self.bw(k['threads'])))} | "
                  f"**{pct(adj) if adj is not None else '–'}** |")
        w()
        w("| N×K | format | M | threads | GOP/s median (best) | of int8 peak (median) | GOP/s per CPU-s |")
        w("|---|---|---|---|---|---|---|")
        for k in ks:
            if k["kind"] == "prefill":
                w(f"| {k['shape']} | {k['format'].split('_sym')[0]} | {k['m']} | {k['threads']} | "
                  f"{k['gop_s_median']:.0f} ({k['gop_s_best']:.0f}) | "
                  f"**{pct(ratio(k['gop_s_median'], self.peak(k['threads'], 'int4')))}** | "
                  f"{k['gop_s_cpu']:.0f} |")
        w()


def decoder_behind(rows, peer):
    """'model format key at T threads (ratio×)' for each decoder figure where llmc is slower than peer."""
    out = []
    for r in rows:
        for key in ("pp128", "pp512", "tg128"):
            q = ratio(r["llmc"].get(key), r.get(peer, {}).get(key))
            if q is not None and q < 1:
                out.append(f"{r['model']} {r['format']} {key} at {r['threads']} thread"
                           f"{'s' if r['threads'] > 1 else ''} ({q:.2f}×)")
    return out


def dag(e):
    return "†" if e.get("in_cache") else ""


def short(name):
    n = name.replace("layers.*.", "")
    n = n.replace("attention.", "").replace("feed_forward.", "")
    n = re.sub(r"\.weight(_T)?", "", n)
    return {"tok_embeddings": "lm_head (tied)", "output": "lm_head"}.get(n, n)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("results")
    ap.add_argument("-o", dest="out", default=os.path.join(ROOT, "docs", "BENCHMARKS.md"))
    ap.add_argument("--img-dir", default=os.path.join(ROOT, "docs", "bench"))
    a = ap.parse_args()
    rep = Report(json.load(open(a.results)), a.out, a.img_dir)
    rep.src = os.path.abspath(a.results)
    rep.write()
    print("wrote", a.out)


if __name__ == "__main__":
    main()
