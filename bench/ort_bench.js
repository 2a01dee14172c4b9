'use strict';
// ONNX Runtime side of nncc's benchmark (bench/bench.py runs it).
//
//   node ort_bench.js MODEL.onnx INPUT.npy [--runs N] [--warmup W] [--threads T] [--dump OUT.bin]
//   node ort_bench.js --version
//
// Creates one CPU session (intraOpNumThreads T, interOpNumThreads 1,
// sequential execution, all graph optimizations), feeds INPUT.npy (float32,
// C order) to the model's first input, runs it W times untimed and N times
// timed (process.hrtime around each `await session.run`), and prints one line:
//   {"engine": "ort", "version": "...", "median_ms": X, "min_ms": Y, "runs": N}
// --dump writes the first output of the last run as raw little-endian float32.
// Exit status: 0 ok, 1 error, 3 onnxruntime-node is not installed.

const fs = require('fs');

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  process.stderr.write(`ort_bench: onnxruntime-node not available: ${e.message}\n`);
  process.exit(3);
}

function die(msg) {
  process.stderr.write(`ort_bench: ${msg}\n`);
  process.exit(1);
}

// A float32 .npy file (format 1.0, 2.0 or 3.0) -> {data: Float32Array, dims: number[]}.
function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 10 || buf[0] !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    die(`${path}: not a .npy file`);
  }
  const major = buf[6];
  let hlen, off;
  if (major === 1) { hlen = buf.readUInt16LE(8); off = 10; } else { hlen = buf.readUInt32LE(8); off = 12; }
  const header = buf.toString('latin1', off, off + hlen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) die(`${path}: malformed .npy header`);
  if (descr[1] !== '<f4' || fortran[1] !== 'False') {
    die(`${path}: need a C-order little-endian float32 array, got ${descr[1]} fortran_order=${fortran[1]}`);
  }
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const start = off + hlen;
  if (buf.length - start !== 4 * count) die(`${path}: ${buf.length - start} data bytes, expected ${4 * count}`);
  const data = new Float32Array(count);  // a copy: aligned, independent of buf's pool
  new Uint8Array(data.buffer).set(buf.subarray(start, start + 4 * count));
  return { data, dims };
}

function parseArgs(argv) {
  const a = { runs: 50, warmup: 3, threads: 1, dump: null, pos: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) die(`${k} needs a non-negative integer`);
      return v;
    };
    if (k === '--runs') a.runs = num();
    else if (k === '--warmup') a.warmup = num();
    else if (k === '--threads') a.threads = num();
    else if (k === '--dump') a.dump = argv[++i];
    else if (k.startsWith('--')) die(`unknown option ${k}`);
    else a.pos.push(k);
  }
  if (a.pos.length !== 2 || a.runs < 1 || a.threads < 1) {
    die('usage: node ort_bench.js MODEL.onnx INPUT.npy [--runs N>=1] [--warmup W] [--threads T>=1] [--dump OUT.bin]');
  }
  return a;
}

function median(xs) {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && argv[0] === '--version') {
    console.log(ort.env.versions.node || ort.env.versions.common);
    return;
  }
  const a = parseArgs(argv);
  const session = await ort.InferenceSession.create(a.pos[0], {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const x = readNpy(a.pos[1]);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.dims) };
  let out;
  for (let i = 0; i < a.warmup; i++) out = await session.run(feeds);
  const times = [];
  for (let i = 0; i < a.runs; i++) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (a.dump) {
    const y = out[session.outputNames[0]];
    if (y.type !== 'float32') die(`output '${session.outputNames[0]}' is ${y.type}, not float32`);
    fs.writeFileSync(a.dump, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
  }
  console.log(JSON.stringify({
    engine: 'ort',
    version: ort.env.versions.node || ort.env.versions.common,
    median_ms: median(times),
    min_ms: Math.min(...times),
    runs: a.runs,
  }));
  if (session.release) await session.release();
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
