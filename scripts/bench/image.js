#!/usr/bin/env node
// Times the image preprocessor on one file: decode (+EXIF, RGB) → Pillow-exact bicubic resize →
// pixel values, as ImageProcessor.preprocess does. Twin of scripts/bench/image.py (same file,
// same steps in Pillow + transformers). Needs a build: `npx tsc -p .`.
// usage: node scripts/bench/image.js [IMAGE] [--size N] [--runs N]
'use strict';
const path = require('path');
const { NodeImageProcessor: ImageProcessor, decodeImage } = require('../../dist/src/node/image');
const { resizeBicubic } = require('../../dist/src/image');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args.splice(i, 2)[1]) : dflt;
};
const size = opt('--size', 384);
const runs = opt('--runs', 20);
const file = args[0] || path.join(__dirname, '../../test/fixtures/images-extra/j1411.jpg');
const proc = ImageProcessor.fromConfig({ size: { height: size, width: size } });

function time(fn) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return { r, wall, cpu: (c.user + c.system) / 1000 };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const first = time(() => proc.preprocess([file]));
const total = [],
  cpu = [],
  dec = [],
  rsz = [];
for (let i = 0; i < runs; i++) {
  const t = time(() => proc.preprocess([file]));
  total.push(t.wall);
  cpu.push(t.cpu);
  const d = time(() => decodeImage(file));
  dec.push(d.wall);
  rsz.push(time(() => resizeBicubic(d.r, size, size)).wall);
}
const img = decodeImage(file);
console.log(
  JSON.stringify({
    impl: 'blip-itm (TypeScript)',
    file: path.basename(file),
    image: `${img.width}x${img.height}`,
    size,
    runs,
    first_ms: +first.wall.toFixed(1),
    median_ms: +median(total).toFixed(1),
    median_cpu_ms: +median(cpu).toFixed(1),
    decode_median_ms: +median(dec).toFixed(1),
    resize_median_ms: +median(rsz).toFixed(1),
  }),
);
