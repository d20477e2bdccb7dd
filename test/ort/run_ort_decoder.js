// Run a decoder exported like examples/export/export_onnx.py (inputs input_ids, attention_mask,
// position_ids, past_key_values.{i}.key/value [1, Hkv, P, D]; outputs logits, present.{i}.key/value;
// only the inputs the model declares are fed, so onnxruntime-genai's models without position_ids
// run too) with ONNX Runtime (npm onnxruntime-node, CPU) and write the reference llmc-check-ref reads:
//
//   node run_ort_decoder.js DIR CASE...   reads DIR/CASE.onnx and DIR/CASE.config.json, writes
//                                         DIR/CASE.ref.json:
//     prompt_ids, prefill_logits {positions, values}   every position of a 16-token prompt, one call
//     greedy {generated_ids, step_logits, ...}         prefill, then 7 single-token steps on the KV cache
//     chunked_prefill {split, last_logits}             the prompt as 12 + 4 tokens
//
// The same prompt and protocol as the PyTorch references (test/fixtures/onnx/*.ref.json). See
// regenerate.sh.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const PROMPT = [1, 49, 49, 57, 16, 59, 5, 42, 36, 39, 31, 38, 19, 22, 50, 37];
const N_NEW = 8;
const SPLIT = 12;

function argmax(a) {
  let best = 0;
  for (let i = 1; i < a.length; ++i) if (a[i] > a[best]) best = i;
  return best;
}

// float32 values, printed with the 9 significant digits that round-trip them.
const round = (a) => Array.from(a, (v) => Number(v.toPrecision(9)));

class Decoder {
  constructor(session, cfg) {
    this.s = session;
    this.layers = cfg.n_layers;
    this.kv = cfg.n_kv_heads;
    this.hd = cfg.head_dim;
    this.V = cfg.vocab_size;
    this.reset();
  }
  reset() {
    this.past = [];
    for (let i = 0; i < this.layers; ++i)
      this.past.push([new ort.Tensor('float32', new Float32Array(0), [1, this.kv, 0, this.hd]),
                      new ort.Tensor('float32', new Float32Array(0), [1, this.kv, 0, this.hd])]);
    this.P = 0;
  }
  // Logits [S][V] of `ids` after the cached positions.
  async step(ids) {
    const S = ids.length, P = this.P;
    const all = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, S]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(P + S).fill(1n), [1, P + S]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(P + i))), [1, S]),
    };
    for (let i = 0; i < this.layers; ++i) {
      all[`past_key_values.${i}.key`] = this.past[i][0];
      all[`past_key_values.${i}.value`] = this.past[i][1];
    }
    // Only the inputs the model declares (onnxruntime-genai's GroupQueryAttention models have no
    // position_ids); one it declares that is not above is ORT's error.
    const feeds = {};
    for (const name of this.s.inputNames) if (name in all) feeds[name] = all[name];
    const out = await this.s.run(feeds);
    for (let i = 0; i < this.layers; ++i)
      this.past[i] = [out[`present.${i}.key`], out[`present.${i}.value`]];
    this.P += S;
    const l = out.logits.data;
    const rows = [];
    for (let s = 0; s < S; ++s) rows.push(l.subarray(s * this.V, (s + 1) * this.V));
    return rows;
  }
}

async function main() {
  const [dir, ...cases] = process.argv.slice(2);
  if (!dir || cases.length === 0) {
    console.error('usage: node run_ort_decoder.js DIR CASE...');
    process.exit(2);
  }
  for (const name of cases) {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, name + '.config.json'), 'utf8'));
    // No graph optimizations: ORT computes every node as the ONNX graph states it.
    const session = await ort.InferenceSession.create(path.join(dir, name + '.onnx'), {
      graphOptimizationLevel: 'disabled', executionProviders: ['cpu'], intraOpNumThreads: 1,
    });
    const d = new Decoder(session, cfg);
    const genai = Boolean(cfg.source && cfg.source.genai_builder);
    const prefill = await d.step(PROMPT);
    const ref = {
      name, onnx: name + '.onnx',
      note: `ONNX Runtime ${ort.env.versions ? ort.env.versions.common : ''} (CPU, graph optimizations ` +
            `disabled, 1 thread) on the ${genai ? 'onnxruntime-genai-form' : 'pre-quantized'} model; ` +
            'written by test/ort/run_ort_decoder.js',
      prompt_ids: PROMPT,
      prefill_logits: { positions: PROMPT.map((_, i) => i), values: prefill.map(round) },
    };
    // Greedy: the prefill's last logits, then one token at a time.
    d.reset();
    let logits = (await d.step(PROMPT))[PROMPT.length - 1];
    const gen = [], steps = [], pastLens = [], inLens = [];
    for (let i = 0; i < N_NEW; ++i) {
      pastLens.push(i === 0 ? 0 : PROMPT.length + i - 1);
      inLens.push(i === 0 ? PROMPT.length : 1);
      steps.push(round(logits));
      gen.push(argmax(logits));
      if (i + 1 < N_NEW) logits = (await d.step([gen[i]]))[0];
    }
    ref.greedy = { n_new: N_NEW, generated_ids: gen, step_past_lengths: pastLens,
                   step_input_lengths: inLens, step_logits: steps };
    d.reset();
    await d.step(PROMPT.slice(0, SPLIT));
    const last = await d.step(PROMPT.slice(SPLIT));
    ref.chunked_prefill = { split: SPLIT, positions: [PROMPT.length - 1],
                            last_logits: round(last[last.length - 1]) };
    fs.writeFileSync(path.join(dir, name + '.ref.json'), JSON.stringify(ref) + '\n');
    console.log(`${name}: ${name}.ref.json written (greedy ${JSON.stringify(gen)})`);
  }
}

main().catch((e) => { console.error('ort: ' + (e && e.message ? e.message : e)); process.exit(1); });
