#!/usr/bin/env node
// Throughput of `blip-itm filter` (samples/s): the library job on a WebDataset tar, model load
// excluded, one warm-up batch first. Twin of scripts/bench_filter.py (plain PyTorch/transformers
// loop over the same tar: decode, BlipProcessor, batches of 8, ITM). Needs a build: `npx tsc -p .`.
//   node scripts/bench-filter.js --make DIR [--samples N]   writes DIR/bench.tar (fixture images, captions)
//   node scripts/bench-filter.js --model DIR TAR [--batch 8] [--backend wasm] [--decoders N]
// Prints one JSON line: {"impl": "blip-itm", "samples", "seconds", "samples_per_s", ...}.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};

function make(dir, samples) {
  const { tarEntry, TAR_END } = require('../dist/src/filter/tar');
  const fixtures = path.join(__dirname, '../test/fixtures');
  const images = ['images/chelsea.png', 'images/rocket.jpg', 'images/horse.png', 'images/camera.png'].map((f) => path.join(fixtures, f));
  const captions = JSON.parse(fs.readFileSync(path.join(__dirname, '../src/bench/captions.json'), 'utf8')).texts16;
  const parts = [];
  for (let i = 0; i < samples; i++) {
    const key = `sample${String(i).padStart(6, '0')}`;
    const image = images[i % images.length];
    parts.push(...tarEntry(`${key}${path.extname(image)}`, fs.readFileSync(image)));
    parts.push(...tarEntry(`${key}.txt`, Buffer.from(captions[i % captions.length])));
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'bench.tar'), Buffer.concat([...parts, TAR_END]));
  console.log(path.join(dir, 'bench.tar'));
}

async function run() {
  const model = opt('--model');
  const batch = Number(opt('--batch', '8'));
  const backend = opt('--backend', 'wasm');
  const decoders = opt('--decoders');
  const tar = args[0];
  const { BlipItm } = require('../dist/src/index');
  const { runFilter } = require('../dist/src/filter');
  const m = await BlipItm.load(model, { backend });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-filter-'));
  try {
    // Warm-up: one batch (kernel compilation, first allocations), not timed.
    const { readSamples, expandInputs } = require('../dist/src/filter/inputs');
    const warm = [...readSamples(expandInputs([tar]), { maxBytes: 1 << 26 })].slice(0, batch);
    await runFilter(m, warm, { batchSize: batch, decoders: 0 });
    const t0 = process.hrtime.bigint();
    const report = await runFilter(m, tar, { out, batchSize: batch, decoders: decoders === undefined ? undefined : Number(decoders) });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const samples = report.rows;
    console.log(
      JSON.stringify({
        impl: 'blip-itm',
        backend: m.backend,
        batch,
        samples,
        seconds: +seconds.toFixed(2),
        samples_per_s: +(samples / seconds).toFixed(3),
      }),
    );
  } finally {
    m.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
}

const makeDir = opt('--make');
if (makeDir) make(makeDir, Number(opt('--samples', '32')));
else
  run().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
