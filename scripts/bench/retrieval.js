#!/usr/bin/env node
'use strict';
/**
 * The image index at scale (numbers for docs/retrieval-scale.md), on synthetic clustered ITC
 * vectors at the base model's width (256). No states are written (zero-width states rows): this
 * measures the shortlist, which is what grows with the collection. Build first: npx tsc -p .
 *
 *   node scripts/bench/retrieval.js [--rows 100000,1000000] [--work /tmp/blip-itm-scale]
 *        [--queries 100] [--clusters 1000] [--json FILE]
 *
 * Per size: write time (batches of 10,000 rows, one commit each), IVF-PQ build time, size on
 * disk; exact shortlist (all vectors in memory, first query loads and verifies them) and ANN
 * shortlist latency; recall@16 and @100 of the ANN shortlist against exact search, for a few
 * nprobes / refine settings. Vectors: unit vectors around --clusters random centres (noise 0.5
 * per coordinate relative to the centre's), queries: perturbed rows.
 */
const fs = require('fs');
const path = require('path');

const DIST = path.resolve(__dirname, '../../dist/src');
const { ImageIndex } = require(`${DIST}/retrieval`);
const { Dataset, makeRow } = require(`${DIST}/retrieval/dataset`);
const { FORMAT_NAME, FORMAT_VERSION } = require(`${DIST}/retrieval/schema`);

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : process.argv[i + 1];
}

const SIZES = arg('rows', '100000,1000000').split(',').map(Number);
const WORK = arg('work', '/tmp/blip-itm-scale');
const QUERIES = Number(arg('queries', '100'));
const CLUSTERS = Number(arg('clusters', '1000'));
const DIM = 256;
const SETTINGS = [
  { nprobes: 20, refineFactor: 10 },
  { nprobes: 50, refineFactor: 10 },
  { nprobes: 20, refineFactor: 1 },
  { nprobes: 20, refineFactor: 50 },
  { nprobes: 50, refineFactor: 100 },
];

let seed = 1;
function rand() {
  seed = (seed * 1103515245 + 12345) >>> 0;
  return seed / 2 ** 32 - 0.5;
}
function gauss() {
  return (rand() + rand() + rand() + rand()) * 1.2;
}
function unit(v) {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  return Float32Array.from(v, (x) => x / n);
}

function duSize(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? duSize(p) : fs.statSync(p).size;
  }
  return total;
}

async function timed(fn) {
  const t = process.hrtime.bigint();
  const r = await fn();
  return { r, s: Number(process.hrtime.bigint() - t) / 1e9 };
}

async function one(rows) {
  const uri = path.join(WORK, `rows-${rows}`);
  fs.rmSync(uri, { recursive: true, force: true });
  const centres = Array.from({ length: CLUSTERS }, () => unit(Array.from({ length: DIM }, gauss)));
  const meta = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    model: { fingerprint: 'synthetic', dir: '', files: [] },
    dims: { embed: DIM, tokens: 0, hidden: 0 },
    states: 'float32',
  };
  const ds = await Dataset.openOrCreate(uri, meta);
  const noStates = new Float32Array(0);
  const queries = [];
  const write = await timed(async () => {
    for (let start = 0; start < rows; start += 10000) {
      const batch = [];
      for (let i = start; i < Math.min(rows, start + 10000); i++) {
        const c = centres[Math.floor((rand() + 0.5) * CLUSTERS) % CLUSTERS];
        const v = unit(Array.from(c, (x) => x + (0.5 * gauss()) / Math.sqrt(DIM)));
        if (queries.length < QUERIES && i % Math.floor(rows / QUERIES) === 0)
          queries.push(unit(Array.from(v, (x) => x + (0.3 * gauss()) / Math.sqrt(DIM))));
        batch.push(
          makeRow(
            { path: `/synthetic/${String(i).padStart(8, '0')}.jpg`, size: 1, mtimeMs: 0, sha256: String(i), run: 'bench' },
            v,
            noStates,
            'float32',
          ),
        );
      }
      await ds.add(batch);
    }
    await ds.optimize();
  });
  const dataBytes = duSize(uri);
  // Exact: every vector in memory (an index opened before the vector index exists stays exact).
  const exactIx = await ImageIndex.open(uri);
  const load = await timed(() => exactIx.shortlist(queries[0], 16));
  const exact = [];
  const exactTimes = [];
  for (const q of queries) {
    const t = await timed(() => exactIx.shortlist(q, 100));
    exactTimes.push(t.s);
    exact.push(t.r.map((c) => c.entry.path));
  }
  exactIx.close();
  const build = await timed(() => ds.createVectorIndex(rows));
  ds.close();
  const indexBytes = duSize(uri) - dataBytes;
  const annIx = await ImageIndex.open(uri);
  const ann = [];
  for (const s of SETTINGS) {
    const times = [];
    let hit16 = 0;
    let hit100 = 0;
    await annIx.shortlist(queries[0], 100, s); // warm: opens the index files
    for (let k = 0; k < queries.length; k++) {
      const t16 = await timed(() => annIx.shortlist(queries[k], 16, s));
      times.push(t16.s);
      const got16 = new Set(t16.r.map((c) => c.entry.path));
      hit16 += exact[k].slice(0, 16).filter((p) => got16.has(p)).length;
      const got100 = new Set((await annIx.shortlist(queries[k], 100, s)).map((c) => c.entry.path));
      hit100 += exact[k].filter((p) => got100.has(p)).length;
    }
    ann.push({ ...s, recall16: hit16 / (16 * queries.length), recall100: hit100 / (100 * queries.length), medianMs: median(times) * 1000 });
  }
  annIx.close();
  return {
    rows,
    writeSeconds: write.s,
    dataMB: dataBytes / 1e6,
    indexBuildSeconds: build.s,
    indexMB: indexBytes / 1e6,
    exactFirstQuerySeconds: load.s,
    exactMedianMs: median(exactTimes) * 1000,
    ann,
  };
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

(async () => {
  fs.mkdirSync(WORK, { recursive: true });
  const results = [];
  for (const rows of SIZES) {
    const r = await one(rows);
    console.log(JSON.stringify(r));
    results.push(r);
    fs.rmSync(path.join(WORK, `rows-${rows}`), { recursive: true, force: true });
  }
  const out = arg('json');
  if (out) fs.writeFileSync(out, JSON.stringify(results, null, 1));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
