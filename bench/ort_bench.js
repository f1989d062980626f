// The peer's side of bench/compare-ort.sh: runs an ONNX model on ONNX Runtime's CPU build (npm package
// onnxruntime-node) back to back for a duration and prints one JSON line with throughput and latency percentiles.
// Usage: node ort_bench.js MODEL --threads T --duration-ms D [--seed S] [--sessions N] [--batch B]
//        (--batch B: the batch of a model whose batch dimension is symbolic, as nacc's QDQ exports; default 1)
//        (--sessions N: N sessions of T threads each, in N worker threads, run back to back at the same time:
//        ONNX Runtime's way of running several inferences at once; throughput counts them all)
//        node ort_bench.js MODEL --threads T --input x.npy --output y.f32   (one run on given data: raw float32 out;
//        a symbolic batch takes the data's)
'use strict';
const ort = require('onnxruntime-node');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

function parseArguments(argv) {
  const options = { model: argv[0], threads: 2, durationMs: 10000, seed: 1, input: null, output: null, sessions: 1,
    batch: 1 };
  for (let i = 1; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (argv[i] === '--threads') options.threads = Number(value);
    else if (argv[i] === '--duration-ms') options.durationMs = Number(value);
    else if (argv[i] === '--seed') options.seed = Number(value);
    else if (argv[i] === '--sessions') options.sessions = Number(value);
    else if (argv[i] === '--input') options.input = value;
    else if (argv[i] === '--output') options.output = value;
    else if (argv[i] === '--batch') options.batch = Number(value);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return options;
}

// A little-endian float32, C-order .npy file.
function readNpy(path) {
  const bytes = require('fs').readFileSync(path);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  if (!header.includes("'<f4'")) throw new Error(`${path}: expected float32 data`);
  const start = 10 + headerLength;
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length));
  return data;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

// A warm session and its input: { run, batch }, or, with options.input, one run whose output is written out.
async function prepare(options) {
  const session = await ort.InferenceSession.create(options.model, {
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inputName = session.inputNames[0];
  const metadata = session.inputMetadata ? session.inputMetadata[0] : undefined;
  // A symbolic batch is --batch, or with --input the data's; other symbolic dimensions are 1.
  const symbolic = metadata && metadata.shape ? metadata.shape.map((d) => typeof d !== 'number') : null;
  const dims = symbolic ? metadata.shape.map((d, i) => (symbolic[i] ? (i === 0 ? options.batch : 1) : d)) : null;
  if (!dims) throw new Error('cannot read the input shape from the model');
  let count = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  let state = options.seed >>> 0;
  for (let i = 0; i < count; ++i) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 4294967296 - 0.5;
  }
  if (options.input) {
    const given = readNpy(options.input);
    if (symbolic[0] && given.length % (count / dims[0]) === 0) {
      dims[0] = given.length / (count / dims[0]);
      count = given.length;
    }
    if (given.length !== count) throw new Error(`${options.input}: expected ${count} values, found ${given.length}`);
    const result = await session.run({ [inputName]: new ort.Tensor('float32', given, dims) });
    const output = result[session.outputNames[0]].data;
    require('fs').writeFileSync(options.output, Buffer.from(output.buffer, output.byteOffset, output.byteLength));
    return;
  }
  const feeds = { [inputName]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 3; ++i) await session.run(feeds);  // warm-up
  return { run: () => session.run(feeds), batch: dims[0] };
}

// Runs `run` back to back for durationMs; the latencies in ms.
async function timedRuns(run, durationMs) {
  const latencies = [];
  const start = process.hrtime.bigint();
  let elapsedMs = 0;
  while (elapsedMs < durationMs) {
    const t0 = process.hrtime.bigint();
    await run();
    const t1 = process.hrtime.bigint();
    latencies.push(Number(t1 - t0) / 1e6);
    elapsedMs = Number(t1 - start) / 1e6;
  }
  return latencies;
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  if (options.input) return prepare(options);
  let results;
  if (options.sessions === 1) {
    const prepared = await prepare(options);
    results = [{ latencies: await timedRuns(prepared.run, options.durationMs), batch: prepared.batch }];
  } else {
    // Each session in its own worker thread; they start timing together once all are warm.
    const workers = Array.from({ length: options.sessions }, () => new Worker(__filename, { workerData: options }));
    const next = (worker) => new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await Promise.all(workers.map(next));  // 'ready'
    const finished = workers.map(next);
    for (const worker of workers) worker.postMessage('go');
    results = await Promise.all(finished);
  }
  const latencies = results.flatMap((result) => result.latencies).sort((a, b) => a - b);
  const batch = results[0].batch;
  const busyMs = Math.max(...results.map((result) => result.latencies.reduce((a, b) => a + b, 0)));
  console.log(JSON.stringify({
    runtime: `onnxruntime-node ${require('onnxruntime-node/package.json').version}`,
    batch,
    sessions: options.sessions,
    runs: latencies.length,
    // Images over the longest session's time spent in runs (warm-up and session creation excluded).
    throughput_ips: (latencies.length * batch) / (busyMs / 1000),
    p50_ms: percentile(latencies, 0.5),
    p90_ms: percentile(latencies, 0.9),
  }));
}

if (isMainThread) {
  main().catch((error) => {
    console.error(`ort_bench: ${error.message}`);
    process.exit(1);
  });
} else {
  prepare(workerData).then((prepared) => {
    parentPort.postMessage('ready');
    parentPort.once('message', async () => {
      const latencies = await timedRuns(prepared.run, workerData.durationMs);
      parentPort.postMessage({ latencies, batch: prepared.batch });
      parentPort.close();
    });
  });
}
