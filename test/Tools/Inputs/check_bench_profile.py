# Checks the JSON of `llmc bench --profile --json` (see bench-profile.test).
import json
import sys

j = json.load(open(sys.argv[1]))
P, G = int(sys.argv[2]), int(sys.argv[3])
assert j["prompt_tokens"] == P and j["gen_tokens"] == G, j
assert len(j["prefill_tok_s_runs"]) >= 1 and len(j["decode_tok_s_runs"]) >= 1
assert j["decode_weight_bytes"] > 0
prof = j["profile"]
for phase, calls in (("prefill", 1), ("decode", G)):
    p = prof[phase]
    for k in ("calls", "total_ms", "matmul_ms", "attention_ms", "glue_ms", "matmul_kinds", "matmuls"):
        assert k in p, (phase, k)
    assert p["calls"] == calls, (phase, p["calls"])
    assert p["total_ms"] > 0 and p["matmul_ms"] > 0 and p["attention_ms"] > 0 and p["glue_ms"] >= 0
    assert p["matmul_ms"] + p["attention_ms"] <= p["total_ms"] * 1.001 + 1e-3, p
    s = sum(m["ms"] for m in p["matmuls"])
    assert abs(s - p["matmul_ms"]) <= 1e-6 * max(1.0, s), (s, p["matmul_ms"])
    for m in p["matmuls"]:
        assert m["calls"] % calls == 0 and m["bytes"] > 0 and m["name"], m
    # every layer's projections are grouped under one "layers.*." name
    kinds = [k["name"] for k in p["matmul_kinds"]]
    assert any(k.startswith("layers.*.") for k in kinds), kinds
    # stories260K has 5 layers: one attention call per layer and call
    assert p["attention_calls"] == 5 * calls, (phase, p["attention_calls"])
    print(f"{phase}: kinds {' '.join(kinds)} attention calls {p['attention_calls']} OK")
