// ort_resnet18.js - the ONNX Runtime side of the resnet18 section of make bench (resnet18.py):
// times torchvision's resnet18, exported to ONNX by resnet18.py, on ONNX Runtime's CPU
// execution provider (npm's onnxruntime-node, installed by resnet18.py under build/), on
// the same images as tric and PyTorch, and dumps the logits of the last call for resnet18.py
// to check against PyTorch's.
//
//   node ort_resnet18.js ORT_DIR version
//   node ort_resnet18.js ORT_DIR run MODEL THREADS REPS WARMUP B X DUMP
//
// ORT_DIR is the folder npm installed onnxruntime-node into (its node_modules is not on
// node's search path from here). `version` loads the binding and prints
// {"onnxruntime": VERSION}, which resnet18.py uses to tell whether ORT can run at all.
// `run` makes a session with THREADS intra-op threads and 1 inter-op thread, all graph
// optimisations (batch norm folded into the convolutions, fused activations), runs WARMUP
// calls then REPS timed ones on the first B images of X (float32, 3x224x224 each), and
// prints one JSON line: the version, the thread counts, every sample's seconds and their
// median. The input tensor is made once, outside the timed calls, as tric's driver does.
"use strict";
const fs = require("fs");
const path = require("path");

function usage() {
  process.stderr.write("usage: ort_resnet18.js ORT_DIR version | ORT_DIR run MODEL THREADS REPS WARMUP B X DUMP\n");
  process.exit(2);
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function run(ort, version, argv) {
  if (argv.length !== 7) usage();
  const [model, threads, reps, warmup, b, xpath, dump] = [argv[0], +argv[1], +argv[2], +argv[3], +argv[4], argv[5], argv[6]];
  if (!(threads >= 1 && reps >= 1 && warmup >= 0 && b >= 1)) usage();
  const n = b * 3 * 224 * 224;
  const buf = fs.readFileSync(xpath);
  if (buf.length < n * 4) throw new Error(`${xpath}: ${buf.length} bytes, fewer than ${b} images`);
  // a copy: the Buffer's offset into its ArrayBuffer need not be a multiple of 4
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + n * 4));
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ["cpu"],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, [b, 3, 224, 224]) };
  const out = session.outputNames[0];
  let res;
  for (let k = 0; k < warmup; k++) res = await session.run(feeds);
  const samples = [];
  for (let k = 0; k < reps; k++) {
    const t0 = process.hrtime.bigint();
    res = await session.run(feeds);
    samples.push(Number(process.hrtime.bigint() - t0) * 1e-9);
  }
  const y = res[out];
  if (y.type !== "float32" || y.dims.length !== 2 || y.dims[0] !== b || y.dims[1] !== 1000)
    throw new Error(`unexpected output ${y.type} [${y.dims}]`);
  fs.writeFileSync(dump, Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
  console.log(JSON.stringify({
    onnxruntime: version, intra_op_threads: threads, inter_op_threads: 1, batch: b,
    warmup, samples_s: samples, median_s: median(samples),
  }));
  await session.release();
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length < 2) usage();
  const dir = path.join(path.resolve(argv[0]), "node_modules", "onnxruntime-node");
  const ort = require(dir);
  // the version npm installed, from the package itself (any version has its package.json)
  const version = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
  if (argv[1] === "version" && argv.length === 2) console.log(JSON.stringify({ onnxruntime: version }));
  else if (argv[1] === "run") await run(ort, version, argv.slice(2));
  else usage();
}

main().catch((e) => {
  process.stderr.write(`ort_resnet18.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
