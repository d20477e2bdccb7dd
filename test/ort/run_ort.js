// Run ONNX models with ONNX Runtime (npm onnxruntime-node, CPU) and write their outputs.
//
//   node run_ort.js DIR CASE...   reads DIR/CASE.onnx and DIR/CASE.x.bin (float32 input "x", shape
//                                 [3, K]), writes DIR/CASE.ort.bin (float32 output "y")
//
// Install ORT with `npm install --ignore-scripts` in test/ort (node_modules is gitignored); its CPU
// library is bundled, nothing is downloaded at install time with --ignore-scripts. See regenerate.sh.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const [dir, ...cases] = process.argv.slice(2);
  if (!dir || cases.length === 0) {
    console.error('usage: node run_ort.js DIR CASE...');
    process.exit(2);
  }
  for (const name of cases) {
    const modelPath = path.join(dir, name + '.onnx');
    // Basic optimizations only: no fusions that change the numerics of the ops under test.
    const session = await ort.InferenceSession.create(modelPath, {
      graphOptimizationLevel: 'disabled', executionProviders: ['cpu'], intraOpNumThreads: 1,
    });
    const meta = session.inputMetadata ? null : null;
    const raw = fs.readFileSync(path.join(dir, name + '.x.bin'));
    const x = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const K = x.length / 3;
    const out = await session.run({ x: new ort.Tensor('float32', x, [3, K]) });
    const y = out[session.outputNames[0]];
    fs.writeFileSync(path.join(dir, name + '.ort.bin'), Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
    console.log(`${name}: y ${JSON.stringify(y.dims)} written (onnxruntime-node ${ort.env.versions ? ort.env.versions.common : ''})`);
  }
}

main().catch((e) => { console.error('ort: ' + (e && e.message ? e.message : e)); process.exit(1); });
