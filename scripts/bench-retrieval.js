#!/usr/bin/env node
'use strict';
/**
 * Measures the image index at scale (numbers for docs/retrieval-scale.md). Build first: npx tsc -p .
 *
 *   node scripts/bench-retrieval.js [--images 3200] [--work /tmp/blip-itm-bench]
 *        [--tiny test/fixtures/blip-itm-tiny] [--base /tmp/ck/base] [--base-images 24]
 *        [--skip-tiny] [--skip-scan] [--skip-base] [--skip-f16] [--json FILE]
 *
 * 1. generates --images variants (crops, flips, tints; half PNG, half JPEG via cjpeg if installed) of the fixture images;
 * 2. tiny checkpoint: builds indexes of 100, 1000 and all images (time, size, memory), a no-op
 *    update, search latency (ITC only, and re-ranking 16);
 * 3. the ITC scan alone at base-model width (256) over synthetic indexes of 100 to 100,000 rows;
 * 4. base-size checkpoint (if present): indexes --base-images images (the vision encoder is the
 *    slow part: seconds per image on a small CPU), re-ranking cost per candidate, and what float16
 *    states do to ITM probabilities. Larger collections are extrapolated from these per-image costs.
 * Times are wall clock and process CPU (both, since a busy machine inflates wall time).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { PNG } = require('pngjs');

const DIST = path.resolve(__dirname, '../dist/src');
const tf = require('@tensorflow/tfjs');
const { useBackend } = require(`${DIST}/backend`);
const { BlipItm } = require(`${DIST}/model/blip-itm`);
const { decodeImage } = require(`${DIST}/image`);
const { ImageIndex, buildIndex, topIndices, embeddingFromStates } = require(`${DIST}/retrieval`);
const { toFloat16, fromFloat16Bytes } = require(`${DIST}/retrieval/float16`);
const { writeManifest } = require(`${DIST}/retrieval/index-format`);

const FIXTURES = path.resolve(__dirname, '../test/fixtures');
const QUERIES = ['a cat lying on a rug', 'A rocket launching into the sky, with smoke!', 'a man holding a camera',
  'a horse standing in a field', 'Café au lait — naïve résumé 東京 🚀'];

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
}
const flag = (name) => process.argv.includes(`--${name}`);

const results = { machine: `${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`, loadavg: os.loadavg() };
const log = (s) => process.stdout.write(s + '\n');
const mb = (b) => (b / 1e6).toFixed(2);

/** Wall and CPU milliseconds of fn (awaited). */
async function timed(fn) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const value = await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return { value, wall, cpu: (c.user + c.system) / 1000 };
}

function median(xs) { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; }

function dirBytes(dir) {
  return fs.readdirSync(dir).reduce((s, n) => s + fs.statSync(path.join(dir, n)).size, 0);
}

// ---- 1. images --------------------------------------------------------------------------------

function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** JPEG bytes by libjpeg's cjpeg (quality 85) when installed; null without it (then PNG only). */
function toJpeg(rgba, w, h) {
  const rgb = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) rgba.copy(rgb, i * 3, i * 4, i * 4 + 3);
  const ppm = Buffer.concat([Buffer.from(`P6\n${w} ${h}\n255\n`), rgb]);
  const r = spawnSync('cjpeg', ['-quality', '85'], { input: ppm, maxBuffer: 1 << 28 });
  return r.status === 0 ? r.stdout : null;
}

function generate(dir, n) {
  const marker = path.join(dir, `.generated-${n}`);
  if (fs.existsSync(marker)) return;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const sources = ['chelsea.png', 'rocket.jpg', 'horse.png', 'camera.png'].map((f) => decodeImage(path.join(FIXTURES, 'images', f)));
  const rand = rng(42);
  for (let i = 0; i < n; i++) {
    const src = sources[i % sources.length];
    const w = Math.max(16, Math.floor(src.width * (0.5 + 0.5 * rand())));
    const h = Math.max(16, Math.floor(src.height * (0.5 + 0.5 * rand())));
    const x0 = Math.floor(rand() * (src.width - w + 1));
    const y0 = Math.floor(rand() * (src.height - h + 1));
    const flip = rand() < 0.5;
    const tint = [0.8 + 0.4 * rand(), 0.8 + 0.4 * rand(), 0.8 + 0.4 * rand()];
    const rgba = Buffer.alloc(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sx = x0 + (flip ? w - 1 - x : x);
        const si = ((y0 + y) * src.width + sx) * 3;
        const di = (y * w + x) * 4;
        for (let c = 0; c < 3; c++) rgba[di + c] = Math.min(255, Math.round(src.data[si + c] * tint[c]));
        rgba[di + 3] = 255;
      }
    }
    const name = path.join(dir, `img-${String(i).padStart(5, '0')}`);
    const jpg = i % 2 === 1 ? toJpeg(rgba, w, h) : null;
    if (jpg) {
      fs.writeFileSync(`${name}.jpg`, jpg);
    } else {
      const png = new PNG({ width: w, height: h });
      rgba.copy(png.data);
      fs.writeFileSync(`${name}.png`, PNG.sync.write(png));
    }
  }
  fs.writeFileSync(marker, '');
}

// ---- 2. tiny -----------------------------------------------------------------------------------

async function measureIndex(model, files, dir, opts = {}) {
  fs.rmSync(dir, { recursive: true, force: true });
  let peakRss = process.memoryUsage().rss;
  const build = await timed(() => buildIndex(model, dir, files, {
    ...opts, onProgress: () => { peakRss = Math.max(peakRss, process.memoryUsage().rss); },
  }));
  const noop = await timed(() => buildIndex(model, dir, files));
  return { report: build.value, wall: build.wall, cpu: build.cpu, noopWall: noop.wall, bytes: dirBytes(dir), peakRss };
}

async function measureSearch(model, dir, rerank) {
  const index = (await timed(() => ImageIndex.open(dir)));
  const idx = index.value;
  const text = [];
  const scan = [];
  const total0 = [];
  const totalK = [];
  const cpuK = [];
  for (const q of QUERIES) {
    const t = await timed(() => model.encodeTexts([q]));
    text.push(t.wall);
    const s = await timed(() => topIndices(idx.itcScores(t.value[0]), rerank));
    scan.push(s.wall);
    total0.push((await timed(() => idx.search(model, q, { rerank: 0 }))).wall);
    const tk = await timed(() => idx.search(model, q, { rerank }));
    totalK.push(tk.wall);
    cpuK.push(tk.cpu);
  }
  idx.close();
  const k = Math.min(rerank, idx.size);
  return {
    openMs: index.wall, textMs: median(text), scanMs: median(scan), searchItcOnlyMs: median(total0),
    searchRerankMs: median(totalK), rerankPerCandidateMs: (median(totalK) - median(total0)) / k, rerankCpuMs: median(cpuK),
  };
}

async function tiny(images, work, tinyDir) {
  log(`\n## tiny checkpoint (${tinyDir})`);
  const model = BlipItm.fromDir(tinyDir);
  const out = [];
  const sizes = [100, 1000, images.length].filter((n, i, a) => n <= images.length && a.indexOf(n) === i);
  for (const n of sizes) {
    const m = await measureIndex(model, images.slice(0, n), path.join(work, `tiny-${n}`));
    const s = await measureSearch(model, path.join(work, `tiny-${n}`), 16);
    const row = { images: n, ...m, ...s, report: undefined, encoded: m.report.encoded, skipped: m.report.skipped.length };
    out.push(row);
    log(`${n} images: index ${(m.wall / 1000).toFixed(1)} s wall (${(m.wall / n).toFixed(1)} ms/image, cpu ${(m.cpu / n).toFixed(1)} ms/image), `
      + `no-op update ${m.noopWall.toFixed(0)} ms, ${mb(m.bytes)} MB on disk (${(m.bytes / n / 1000).toFixed(2)} kB/image), peak RSS ${mb(m.peakRss)} MB; `
      + `search: open ${s.openMs.toFixed(1)} ms, text ${s.textMs.toFixed(1)} ms, ITC scan+top16 ${s.scanMs.toFixed(2)} ms, `
      + `search ITC-only ${s.searchItcOnlyMs.toFixed(1)} ms, with rerank 16 ${s.searchRerankMs.toFixed(1)} ms (${s.rerankPerCandidateMs.toFixed(2)} ms/candidate)`);
  }
  model.dispose();
  results.tiny = out;
}

// ---- 3. the ITC scan at base width ------------------------------------------------------------

async function itcScan(work) {
  log('\n## ITC scan + top-16 at base width (embed 256), synthetic index');
  const embed = 256;
  const out = [];
  const rand = rng(7);
  for (const n of [100, 1000, 3000, 10000, 100000]) {
    const dir = path.join(work, `scan-${n}`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const itc = new Float32Array(n * embed).map(() => rand() - 0.5);
    fs.writeFileSync(path.join(dir, 'data-00000000.itc'), Buffer.from(itc.buffer));
    writeManifest(dir, {
      format: 'blip-itm-image-index', version: 1, model: { fingerprint: 'synthetic', dir: '', files: [] },
      dims: { embed, tokens: 577, hidden: 768 }, states: 'none', data: 'data-00000000', rows: n,
      entries: Array.from({ length: n }, (_, i) => ({ path: `/synthetic/${i}.jpg`, size: 0, mtimeMs: 0, sha256: String(i), row: i })),
      updated: new Date().toISOString(),
    });
    const open = await timed(() => ImageIndex.open(dir));
    const q = new Float32Array(embed).map(() => rand() - 0.5);
    const times = [];
    for (let r = 0; r < 15; r++) times.push((await timed(() => topIndices(open.value.itcScores(q), 16))).wall);
    open.value.close();
    const row = { images: n, openMs: open.wall, scanMs: median(times), manifestBytes: fs.statSync(path.join(dir, 'manifest.json')).size, itcBytes: n * embed * 4 };
    out.push(row);
    log(`${n} images: scan+top16 ${row.scanMs.toFixed(2)} ms, open ${row.openMs.toFixed(0)} ms (manifest ${mb(row.manifestBytes)} MB, ITC matrix ${mb(row.itcBytes)} MB)`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  results.itcScan = out;
}

// ---- 4. base -----------------------------------------------------------------------------------

async function base(images, work, baseDir, count) {
  log(`\n## base-size checkpoint (${baseDir}), ${count} images`);
  const load = await timed(() => BlipItm.fromDir(baseDir));
  const model = load.value;
  log(`model load ${(load.wall / 1000).toFixed(1)} s, RSS ${mb(process.memoryUsage().rss)} MB`);
  // Spread over the sources and both formats.
  const files = images.slice(0, count);
  const dir = path.join(work, 'base');
  const m = await measureIndex(model, files, dir);
  const perImage = m.wall / count;
  log(`index: ${(perImage / 1000).toFixed(2)} s/image wall, ${(m.cpu / count / 1000).toFixed(2)} s/image cpu; no-op update ${m.noopWall.toFixed(0)} ms; `
    + `${mb(m.bytes)} MB on disk = ${mb(m.bytes / count)} MB/image; peak RSS ${mb(m.peakRss)} MB`);

  const index = ImageIndex.open(dir);
  const readT = [];
  for (let i = 0; i < index.size; i++) readT.push((await timed(() => index['reader'].states(index.entries[i].row))).wall);
  const s = await measureSearch(model, dir, count);
  log(`search over ${count}: text ${s.textMs.toFixed(0)} ms, ITC-only search ${s.searchItcOnlyMs.toFixed(0)} ms, `
    + `rerank all ${count}: ${(s.searchRerankMs / 1000).toFixed(2)} s = ${s.rerankPerCandidateMs.toFixed(0)} ms/candidate, cpu ${(s.rerankCpuMs / count).toFixed(0)} ms/candidate (states row read ${median(readT).toFixed(1)} ms)`);

  results.base = {
    images: count, loadMs: load.wall, indexWallMsPerImage: perImage, indexCpuMsPerImage: m.cpu / count, noopUpdateMs: m.noopWall,
    bytesPerImage: m.bytes / count, peakRss: m.peakRss, ...s, statesRowReadMs: median(readT),
  };
  if (flag('skip-f16')) { index.close(); model.dispose(); return; }
  // float16 states: ITM probabilities from float32 states vs the same states through float16.
  let maxDiff = 0;
  let sumDiff = 0;
  let pairs = 0;
  let orderChanges = 0;
  const f16Times = [];
  for (const q of QUERIES.slice(0, 3)) {
    const p32 = [];
    const p16 = [];
    for (let i = 0; i < index.size; i++) {
      const row = index.entries[i].row;
      const states = index['reader'].states(row);
      const itc = index['reader'].itcRow(row).slice();
      const half = fromFloat16Bytes(new Uint8Array(toFloat16(states).buffer), states.length, 'f16');
      for (const [st, out] of [[states, p32], [half, p16]]) {
        const emb = embeddingFromStates(model, st, itc);
        const t = await timed(() => model.match([emb], [q]));
        if (out === p16) f16Times.push(t.wall);
        out.push(t.value.probs[0][0]);
        emb.dispose();
      }
      const d = Math.abs(p32[i] - p16[i]);
      maxDiff = Math.max(maxDiff, d);
      sumDiff += d;
      pairs++;
    }
    const o32 = p32.map((_, i) => i).sort((a, b) => p32[b] - p32[a]);
    const o16 = p16.map((_, i) => i).sort((a, b) => p16[b] - p16[a]);
    if (o32.some((v, i) => v !== o16[i])) orderChanges++;
  }
  index.close();
  log(`float16 states: ITM probability |diff| max ${maxDiff.toExponential(2)}, mean ${(sumDiff / pairs).toExponential(2)} over ${pairs} pairs; `
    + `order changed for ${orderChanges} of 3 queries`);
  results.base.float16 = { maxAbsDiff: maxDiff, meanAbsDiff: sumDiff / pairs, pairs, orderChanges };
  model.dispose();
}

(async () => {
  await useBackend(arg('backend', 'wasm'));
  const work = arg('work', '/tmp/blip-itm-bench');
  const n = Number(arg('images', '3200'));
  const imagesDir = path.join(work, 'images');
  const gen = await timed(() => generate(imagesDir, n));
  const images = fs.readdirSync(imagesDir).filter((f) => !f.startsWith('.')).sort().map((f) => path.join(imagesDir, f));
  results.backend = tf.getBackend();
  log(`# bench-retrieval on ${results.machine}, backend ${tf.getBackend()}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  log(`${images.length} images in ${imagesDir} (${mb(dirBytes(imagesDir))} MB; generated in ${(gen.wall / 1000).toFixed(1)} s)`);
  if (!flag('skip-tiny')) await tiny(images, work, arg('tiny', path.join(FIXTURES, 'blip-itm-tiny')));
  if (!flag('skip-scan')) await itcScan(work);
  const baseDir = arg('base', '/tmp/ck/base');
  if (!flag('skip-base') && fs.existsSync(path.join(baseDir, 'config.json'))) await base(images, work, baseDir, Number(arg('base-images', '24')));
  const json = arg('json');
  results.loadavgEnd = os.loadavg();
  log(`load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  if (json) fs.writeFileSync(json, JSON.stringify(results, null, 1));
})().catch((e) => { console.error(e); process.exit(1); });
