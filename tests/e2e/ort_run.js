'use strict';
// Runs many ONNX models in ONNX Runtime, one after another in one process
// (tests/onnx/export_suite.py --ort drives it).
//
//   node ort_run.js JOBS.json
//
// JOBS.json is a list of {model, inputs: [{name, type, dims, file}], outdir}:
// each input's raw little-endian elements are in `file`, `type` is
// onnxruntime's type name (float32, int64, bool, ...). For each job this
// creates a CPU session, runs it, and writes its K-th output as
// outdir/out_K.bin (raw elements) and outdir/out_K.json ({name, type, dims}); a
// failure (ORT refusing the model or an input) goes to outdir/error.txt.
// Prints one line per job and exits 0; 3 when onnxruntime-node is missing.
const fs = require('fs');
const path = require('path');

let ort;
try {
  ort = require(path.join(__dirname, '..', '..', 'bench', 'node_modules', 'onnxruntime-node'));
} catch (e) {
  process.stderr.write(`ort_run: onnxruntime-node not available: ${e.message}\n`);
  process.exit(3);
}

const ARRAYS = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array, float16: Uint16Array,
};

function tensorOf(inp) {
  const Arr = ARRAYS[inp.type];
  if (!Arr) throw new Error(`input ${inp.name}: type ${inp.type} not supported here`);
  const buf = fs.readFileSync(inp.file);
  const data = new Arr(buf.length / Arr.BYTES_PER_ELEMENT);
  new Uint8Array(data.buffer).set(buf);
  return new ort.Tensor(inp.type, data, inp.dims);
}

async function runJob(job) {
  fs.mkdirSync(job.outdir, { recursive: true });
  const session = await ort.InferenceSession.create(job.model, {
    executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
  });
  const feeds = {};
  for (const inp of job.inputs) feeds[inp.name] = tensorOf(inp);
  const out = await session.run(feeds);
  session.outputNames.forEach((name, k) => {
    const t = out[name];
    if (!ARRAYS[t.type]) throw new Error(`output ${name}: type ${t.type} not supported here`);
    const d = t.data;
    fs.writeFileSync(path.join(job.outdir, `out_${k}.bin`),
      Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    fs.writeFileSync(path.join(job.outdir, `out_${k}.json`),
      JSON.stringify({ name, type: t.type, dims: t.dims }));
  });
  if (session.release) await session.release();
}

async function main() {
  if (process.argv.length !== 3) {
    process.stderr.write('usage: node ort_run.js JOBS.json\n');
    process.exit(2);
  }
  const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  for (const job of jobs) {
    try {
      await runJob(job);
      process.stdout.write(`ran ${job.model}\n`);
    } catch (e) {
      fs.mkdirSync(job.outdir, { recursive: true });
      fs.writeFileSync(path.join(job.outdir, 'error.txt'), String(e.message || e));
      process.stdout.write(`error ${job.model}: ${String(e.message || e).split('\n')[0]}\n`);
    }
  }
}

main();
