// ONNX Runtime side of llmc's benchmark suite (onnxruntime-node, CPU EP).
//
//   node bench_ort.mjs decoder MODEL.onnx --threads T --prompt P[,P2...] --gen G --reps R
//       Prefill: P random tokens from an empty cache (one run), median tok/s of R runs,
//       for each length given (one session load).
//       Decode: a 1-token prompt, then G single-token steps feeding present.* back
//       as past_key_values.* (HF "decoder with past" layout), median tok/s of R runs.
//       Either part is skipped when P or G is 0.
//   node bench_ort.mjs layer MODEL.onnx --threads T --m M --reps R --copies C
//       One run of the layer model (C weight copies) per rep; median ms per copy.
//
// Prints one JSON object. Sessions: intra-op threads T, inter-op 1, sequential
// execution, all graph optimizations, no spinning limits changed.
import ort from 'onnxruntime-node';

function args() {
  const a = process.argv.slice(2);
  const o = { mode: a[0], model: a[1], threads: 1, prompt: '0', gen: 0, reps: 3, m: 1, copies: 1 };
  for (let i = 2; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, '');
    o[k] = k === 'prompt' ? a[i + 1] : Number(a[i + 1]);
  }
  // --prompt 128,512: one prefill measurement per length, one session load.
  o.prompts = String(o.prompt).split(',').map(Number).filter((p) => p > 0);
  return o;
}

const median = (v) => {
  const s = [...v].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
};
const now = () => Number(process.hrtime.bigint()) / 1e9;

async function makeSession(o) {
  const t0 = now();
  const s = await ort.InferenceSession.create(o.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  return { s, loadMs: (now() - t0) * 1e3 };
}

function decoderShape(s) {
  // past_key_values.N.key: [batch, kv_heads, past, head_dim]
  const names = s.inputNames.filter((n) => n.startsWith('past_key_values.'));
  const meta = s.inputMetadata ? s.inputMetadata : null;
  let kvHeads = 0, headDim = 0, valueDim = 0;
  if (meta) {
    const md = Array.isArray(meta) ? Object.fromEntries(meta.map((m) => [m.name, m])) : meta;
    const k = md[names.find((n) => n.endsWith('.key'))];
    const v = md[names.find((n) => n.endsWith('.value'))];
    if (k && k.shape) { kvHeads = Number(k.shape[1]); headDim = Number(k.shape[3]); }
    if (v && v.shape) valueDim = Number(v.shape[3]);
  }
  return { names, kvHeads, headDim, valueDim: valueDim || headDim };
}

async function decoder(o) {
  const { s, loadMs } = await makeSession(o);
  const { names, kvHeads, headDim, valueDim } = decoderShape(s);
  if (!(kvHeads > 0 && headDim > 0)) throw new Error('cannot read the KV-cache shape from the inputs');
  const vocab = Number(o.vocab || 0) || 256;
  let seed = 1234;
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
  const i64 = (arr) => new ort.Tensor('int64', BigInt64Array.from(arr.map(BigInt)), [1, arr.length]);
  const emptyPast = () => {
    const f = {};
    for (const n of names) {
      const d = n.endsWith('.key') ? headDim : valueDim;
      f[n] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, d]);
    }
    return f;
  };
  const step = async (tokens, pos, past) => {
    const all = {
      input_ids: i64(tokens),
      attention_mask: i64(Array(pos + tokens.length).fill(1)),
      position_ids: i64(tokens.map((_, i) => pos + i)),
      ...past,
    };
    // Only the inputs the model declares (ONNX Runtime GenAI's GroupQueryAttention models have no
    // position_ids: the rotary positions come from attention_mask).
    const feeds = Object.fromEntries(Object.entries(all).filter(([n]) => s.inputNames.includes(n)));
    const out = await s.run(feeds);
    const next = {};
    for (const n of names) next[n] = out[n.replace('past_key_values.', 'present.')];
    return { out, past: next };
  };
  const argmaxLast = (logits) => {
    const v = logits.dims[logits.dims.length - 1];
    const d = logits.data, off = d.length - v;
    let b = 0;
    for (let i = 1; i < v; ++i) if (d[off + i] > d[off + b]) b = i;
    return b;
  };
  const prompt = Array.from({ length: Math.max(1, ...o.prompts) }, () => 3 + (rnd() % (vocab - 3)));
  // Warm-up: one token (pages the weights in, builds the kernels).
  const tw = now();
  await step([prompt[0]], 0, emptyPast());
  const warmMs = (now() - tw) * 1e3;
  const res = { engine: 'onnxruntime', version: ort.env.versions ? ort.env.versions.common : '',
                threads: o.threads, load_ms: loadMs, first_token_ms: warmMs,
                prompt_tokens: o.prompts, gen_tokens: o.gen, prefill: {} };
  for (const P of o.prompts) {
    const runs = [];
    for (let r = 0; r < o.reps; ++r) {
      const t0 = now();
      await step(prompt.slice(0, P), 0, emptyPast());
      runs.push(P / (now() - t0));
    }
    res.prefill[P] = { tok_s: median(runs), runs };
    res.prefill_tok_s = median(runs); // the last length's
    res.prefill_tok_s_runs = runs;
  }
  if (o.gen > 0) {
    const runs = [];
    for (let r = 0; r < o.reps; ++r) {
      let { out, past } = await step([prompt[0]], 0, emptyPast());
      let tok = argmaxLast(out.logits);
      const t0 = now();
      for (let i = 0; i < o.gen; ++i) {
        ({ out, past } = await step([tok], 1 + i, past));
        tok = argmaxLast(out.logits);
      }
      runs.push(o.gen / (now() - t0));
    }
    res.decode_tok_s = median(runs);
    res.decode_tok_s_runs = runs;
  }
  return res;
}

async function layer(o) {
  const { s, loadMs } = await makeSession(o);
  const K = Number(o.k);
  const x = new Float32Array(o.m * K);
  for (let i = 0; i < x.length; ++i) x[i] = Math.sin(i) * 0.5;
  const feeds = { X: new ort.Tensor('float32', x, [o.m, K]) };
  await s.run(feeds); // warm-up: pages the weights in
  const ms = [];
  for (let r = 0; r < o.reps; ++r) {
    const t0 = now();
    await s.run(feeds);
    ms.push((now() - t0) * 1e3 / o.copies);
  }
  return { engine: 'onnxruntime', threads: o.threads, m: o.m, copies: o.copies, load_ms: loadMs,
           ms_median: median(ms), ms_runs: ms };
}

const o = args();
const r = o.mode === 'decoder' ? await decoder(o) : await layer(o);
process.stdout.write(JSON.stringify(r) + '\n');
