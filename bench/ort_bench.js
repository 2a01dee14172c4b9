'use strict';
// ONNX Runtime side of nncc's benchmark (bench/bench.py runs it).
//
//   node ort_bench.js MODEL.onnx [NAME=]INPUT.npy... [--runs N] [--warmup W] [--threads T] [--dump DIR]
//                     [--profile PREFIX]
//   node ort_bench.js --version
//
// Creates one CPU session (intraOpNumThreads T, interOpNumThreads 1,
// sequential execution, all graph optimizations), feeds each INPUT.npy
// (float32 or int64, C order) to the graph input NAME (without NAME=: the
// model's inputs in order), runs it W times untimed and N times timed
// (process.hrtime around each `await session.run`), and prints one line:
//   {"engine": "ort", "version": "...", "median_ms": X, "min_ms": Y, "runs": N}
// --dump writes every output of the last run to DIR/OUTPUT.npy (float32).
// --profile turns on ONNX Runtime's own profiler (every node's time in
// every run, to PREFIX_<date>.json, named in the line's "profile"; the
// timed runs are then slower): bench/ort_profile.py sums it per node.
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

// A float32 or int64 .npy file (format 1.0, 2.0 or 3.0) -> {type, data, dims}.
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
  const kinds = { '<f4': ['float32', Float32Array], '<i8': ['int64', BigInt64Array] };
  if (!kinds[descr[1]] || fortran[1] !== 'False') {
    die(`${path}: need a C-order little-endian float32 or int64 array, got ${descr[1]} fortran_order=${fortran[1]}`);
  }
  const [type, Arr] = kinds[descr[1]];
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const size = Arr.BYTES_PER_ELEMENT * count;
  const start = off + hlen;
  if (buf.length - start !== size) die(`${path}: ${buf.length - start} data bytes, expected ${size}`);
  const data = new Arr(count);  // a copy: aligned, independent of buf's pool
  new Uint8Array(data.buffer).set(buf.subarray(start, start + size));
  return { type, data, dims };
}

// Writes a float32 tensor as a .npy file (format 1.0).
function writeNpy(path, y) {
  const shape = y.dims.length === 1 ? `(${y.dims[0]},)` : `(${y.dims.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(pre);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength)]));
}

function parseArgs(argv) {
  const a = { runs: 50, warmup: 3, threads: 1, dump: null, profile: null, pos: [] };
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
    else if (k === '--profile') a.profile = argv[++i];
    else if (k.startsWith('--')) die(`unknown option ${k}`);
    else a.pos.push(k);
  }
  if (a.pos.length < 2 || a.runs < 1 || a.threads < 1) {
    die('usage: node ort_bench.js MODEL.onnx [NAME=]INPUT.npy... [--runs N>=1] [--warmup W] [--threads T>=1] [--dump DIR] [--profile PREFIX]');
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
    ...(a.profile ? { enableProfiling: true, profileFilePrefix: a.profile } : {}),
  });
  const feeds = {};
  a.pos.slice(1).forEach((arg, i) => {
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : session.inputNames[i];
    if (!session.inputNames.includes(name)) {
      die(`the model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
    }
    const x = readNpy(eq > 0 ? arg.slice(eq + 1) : arg);
    feeds[name] = new ort.Tensor(x.type, x.data, x.dims);
  });
  let out;
  for (let i = 0; i < a.warmup; i++) out = await session.run(feeds);
  const times = [];
  for (let i = 0; i < a.runs; i++) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (a.dump) {
    fs.mkdirSync(a.dump, { recursive: true });
    for (const name of session.outputNames) {
      const y = out[name];
      if (y.type !== 'float32') die(`output '${name}' is ${y.type}, not float32`);
      writeNpy(`${a.dump}/${name}.npy`, y);
    }
  }
  const line = {
    engine: 'ort',
    version: ort.env.versions.node || ort.env.versions.common,
    median_ms: median(times),
    min_ms: Math.min(...times),
    runs: a.runs,
  };
  if (a.profile && session.endProfiling) session.endProfiling();
  if (session.release) await session.release();
  if (a.profile) line.profile = newestProfile(a.profile);
  console.log(JSON.stringify(line));
}

// The newest PREFIX_*.json (ONNX Runtime appends the date to the prefix).
function newestProfile(prefix) {
  const path = require('path');
  const dir = path.dirname(prefix), base = path.basename(prefix) + '_';
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json'))
    .map((f) => path.join(dir, f));
  if (!files.length) die(`no profile ${prefix}_*.json was written`);
  return files.reduce((p, q) => (fs.statSync(q).mtimeMs > fs.statSync(p).mtimeMs ? q : p));
}

main().catch((e) => die(e && e.stack ? e.stack : String(e)));
