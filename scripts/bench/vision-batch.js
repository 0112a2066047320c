#!/usr/bin/env node
'use strict';
/**
 * encodeImages of N images, two builds (or two visionBatch settings) interleaved: numbers for
 * docs/performance.md. Each measurement is a fresh child process (a wasm heap never shrinks, so
 * peak RSS is only comparable per process) that loads the model, encodes the images once, and
 * reports the encode time and its peak RSS. Builds first: npx tsc -p . (in each checkout).
 *
 *   node scripts/bench/vision-batch.js --model DIR [--images 8] [--reps 3] [--backends wasm,cpu]
 *        [--builds before=/path/to/old/checkout,after=.] [--batch after=8] [--json FILE]
 *
 * --batch NAME=K passes visionBatch K to that build's encodeImages (a build without the option
 * ignores it). Per backend: each build's median time and peak RSS, and the medians of the
 * per-round ratios against the first build. Rounds alternate which build runs first.
 *
 *   node scripts/bench/vision-batch.js --alternate --model DIR [--images 8] [--reps 3] [--backend wasm] [--batch 8] [--warmup 0]
 *
 * One process, one model: per round, encodeImages of the images with visionBatch 1 (image by
 * image, the code path of one image) and with --batch, in alternating order; prints each time
 * and the median ratio batched / per-image. Both run in a heap already grown by a first untimed
 * batched call (unless --warmup 0), so the ratio is arithmetic, not heap growth.
 *
 *   node scripts/bench/vision-batch.js --profile --model DIR [--backend cpu] [--batches 1,2,4,8]
 *
 * tf.profile's peak tracked bytes of encodeImages at each batch size, over the bytes held before
 * (on a one-layer copy of a checkpoint this is one layer's peak: what visionBytesPerImage models).
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
}

/** "a=x,b=y" → [[a, x], [b, y]]. */
function pairs(text) {
  return text ? text.split(',').map((p) => p.split('=')) : [];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Child: one model load, one timed encodeImages. Prints one JSON line. */
async function child() {
  const [root, model, backend, n, batch] = process.argv.slice(3);
  const { BlipItm } = require(path.join(path.resolve(root), 'dist/src/index.js'));
  const images = ['chelsea.png', 'rocket.jpg', 'horse.png', 'camera.png'].map((f) => path.resolve(root, 'test/fixtures/images', f));
  const list = Array.from({ length: Number(n) }, (_, i) => images[i % images.length]);
  const m = await BlipItm.load(model, { backend });
  const opts = batch === '-' ? {} : { visionBatch: Number(batch) };
  const rssBefore = process.resourceUsage().maxRSS;
  const t0 = process.hrtime.bigint();
  const embeddings = await m.encodeImages(list, opts);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  embeddings.forEach((e) => e.dispose());
  m.dispose();
  const kib = process.resourceUsage().maxRSS;
  console.log(JSON.stringify({ ms, peakRssMiB: kib / 1024, loadRssMiB: rssBefore / 1024 }));
}

function main() {
  const model = arg('model');
  if (!model) throw new Error('--model DIR is required');
  const n = arg('images', '8');
  const reps = Number(arg('reps', '3'));
  const backends = arg('backends', 'wasm,cpu').split(',');
  const builds = pairs(arg('builds', `before=${path.resolve(__dirname, '../..')},after=${path.resolve(__dirname, '../..')}`));
  const batches = new Map(pairs(arg('batch', '')));
  const runs = [];
  for (let r = 0; r < reps; r++) {
    for (const backend of backends) {
      const order = r % 2 ? [...builds].reverse() : builds;
      for (const [name, root] of order) {
        const out = execFileSync(process.execPath, [__filename, '--child', root, model, backend, n, batches.get(name) ?? '-'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const run = { round: r, backend, build: name, ...JSON.parse(out.trim().split('\n').pop()) };
        runs.push(run);
        console.error(JSON.stringify(run));
      }
    }
  }
  const summary = backends.map((backend) => {
    const of = (name, r) => runs.find((x) => x.backend === backend && x.build === name && x.round === r);
    const [first] = builds[0];
    return {
      backend,
      builds: builds.map(([name]) => {
        const mine = runs.filter((x) => x.backend === backend && x.build === name);
        const rounds = [...Array(reps).keys()];
        return {
          build: name,
          medianMs: median(mine.map((x) => x.ms)),
          medianPeakRssMiB: median(mine.map((x) => x.peakRssMiB)),
          medianTimeRatio: median(rounds.map((r) => of(name, r).ms / of(first, r).ms)),
          medianRssRatio: median(rounds.map((r) => of(name, r).peakRssMiB / of(first, r).peakRssMiB)),
        };
      }),
    };
  });
  console.log(JSON.stringify(summary, null, 1));
  const json = arg('json');
  if (json) fs.writeFileSync(json, JSON.stringify({ images: Number(n), reps, runs, summary }, null, 1));
}

/** --alternate: both settings in one process, interleaved. */
async function alternate() {
  const root = path.resolve(__dirname, '../..');
  const { BlipItm } = require(path.join(root, 'dist/src/index.js'));
  const n = Number(arg('images', '8'));
  const reps = Number(arg('reps', '3'));
  const batch = Number(arg('batch', '8'));
  const images = ['chelsea.png', 'rocket.jpg', 'horse.png', 'camera.png'].map((f) => path.join(root, 'test/fixtures/images', f));
  const list = Array.from({ length: n }, (_, i) => images[i % images.length]);
  const m = await BlipItm.load(arg('model'), { backend: arg('backend', 'wasm') });
  const time = async (visionBatch) => {
    const t0 = process.hrtime.bigint();
    (await m.encodeImages(list, { visionBatch })).forEach((e) => e.dispose());
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  if (arg('warmup', '1') !== '0') await time(batch); // untimed: grows the heap to the batched peak, warms the kernels
  const ratios = [];
  for (let r = 0; r < reps; r++) {
    const order = r % 2 ? [batch, 1] : [1, batch];
    const ms = {};
    for (const b of order) ms[b] = await time(b);
    ratios.push(ms[batch] / ms[1]);
    console.error(JSON.stringify({ round: r, perImageMs: ms[1], batchedMs: ms[batch], ratio: ms[batch] / ms[1] }));
  }
  m.dispose();
  console.log(
    JSON.stringify({
      backend: arg('backend', 'wasm'),
      images: n,
      batch,
      medianRatio: median(ratios),
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

/** --profile: peak bytes per batch size. */
async function profile() {
  const root = path.resolve(__dirname, '../..');
  const { BlipItm } = require(path.join(root, 'dist/src/index.js'));
  const tf = require(require.resolve('@tensorflow/tfjs-core', { paths: [root] }));
  const image = path.join(root, 'test/fixtures/images/chelsea.png');
  const m = await BlipItm.load(arg('model'), { backend: arg('backend', 'cpu') });
  for (const b of arg('batches', '1,2,4,8').split(',').map(Number)) {
    let embeddings = [];
    const start = tf.memory().numBytes;
    const info = await tf.profile(async () => {
      embeddings = await m.encodeImages(Array(b).fill(image), { visionBatch: b });
    });
    embeddings.forEach((e) => e.dispose());
    console.log(JSON.stringify({ backend: arg('backend', 'cpu'), batch: b, peakMiB: (info.peakBytes - start) / 2 ** 20 }));
  }
  m.dispose();
}

if (process.argv.includes('--profile')) {
  profile().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (process.argv.includes('--alternate')) {
  alternate().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (process.argv[2] === '--child') {
  child().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main();
}
