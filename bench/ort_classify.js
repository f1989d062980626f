// ONNX Runtime's side of bench/ort-agreement.sh: runs a classifier on ONNX Runtime's CPU build (npm package
// onnxruntime-node) over images given as one float32 .npy file [N, C, H, W], in batches of --batch (the model's
// symbolic batch set per run), and prints the predicted class of every image as a JSON array.
// Usage: node ort_classify.js MODEL --images x.npy [--batch 100] [--threads 2]
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function parseArguments(argv) {
  const options = { model: argv[0], images: null, batch: 100, threads: 2 };
  for (let i = 1; i < argv.length; i += 2) {
    if (argv[i] === '--images') options.images = argv[i + 1];
    else if (argv[i] === '--batch') options.batch = Number(argv[i + 1]);
    else if (argv[i] === '--threads') options.threads = Number(argv[i + 1]);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  if (!options.images) throw new Error('expected --images x.npy');
  return options;
}

// A little-endian float32, C-order .npy file: { shape, data }.
function readNpy(path) {
  const bytes = fs.readFileSync(path);
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  if (!header.includes("'<f4'")) throw new Error(`${path}: expected float32 data`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const start = 10 + headerLength;
  return { shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length)) };
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const images = readNpy(options.images);
  const session = await ort.InferenceSession.create(options.model, {
    intraOpNumThreads: options.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const [count, ...sample] = images.shape;
  const sampleSize = sample.reduce((a, b) => a * b, 1);
  const classes = [];
  for (let first = 0; first < count; first += options.batch) {
    const batch = Math.min(options.batch, count - first);
    const data = images.data.subarray(first * sampleSize, (first + batch) * sampleSize);
    const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, ...sample]) });
    const scores = result[session.outputNames[0]];
    const width = scores.dims[1];
    for (let n = 0; n < batch; ++n) {
      let best = 0;
      for (let c = 1; c < width; ++c) if (scores.data[n * width + c] > scores.data[n * width + best]) best = c;
      classes.push(best);
    }
  }
  console.log(JSON.stringify(classes));
}

main().catch((error) => {
  console.error(`ort_classify: ${error.message}`);
  process.exit(1);
});
