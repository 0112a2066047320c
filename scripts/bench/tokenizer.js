#!/usr/bin/env node
// Throughput of the TypeScript BertTokenizer on 10,000 caption-like strings (two sets: "mixed",
// words of the fixture's 85 hand-written texts, some with accents, CJK, emoji, odd spaces;
// "ascii", only their printable-ASCII words). Best of several runs, since the machine may be busy.
// usage: npx tsc -p . && node scripts/bench/tokenizer.js [CKPT_DIR] [--dump DIR]
//   --dump writes DIR/mixed.jsonl and DIR/ascii.jsonl (one JSON string a line) for
//   scripts/bench/tokenizer.py, the transformers twin.
'use strict';
const fs = require('fs');
const path = require('path');
const { NodeBertTokenizer: BertTokenizer } = require('../../dist/src/node/tokenizer');

const root = path.resolve(__dirname, '../..');
const args = process.argv.slice(2);
const dumpAt = args.indexOf('--dump');
const dump = dumpAt >= 0 ? args.splice(dumpAt, 2)[1] : undefined;
const ckpt = args[0] || path.join(root, 'test/fixtures/blip-itm-tiny');
const N = 10000;
const RUNS = 7;

function captions(n, asciiOnly) {
  const cases = fs
    .readFileSync(path.join(root, 'test/fixtures/reference/tokenizer-cases.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, 85)
    .map((l) => JSON.parse(l).text);
  const words = cases
    .join(' ')
    .split(/\s+/)
    .filter((w) => w && w.length < 30 && (!asciiOnly || /^[\x21-\x7e]+$/.test(w)));
  let seed = 12345; // fixed LCG: the same strings every run
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const out = [];
  for (let i = 0; i < n; i++) {
    const ws = Array.from({ length: 6 + Math.floor(rand() * 15) }, () => words[Math.floor(rand() * words.length)]);
    ws[0] = ws[0][0].toUpperCase() + ws[0].slice(1);
    out.push(ws.join(' ') + '.');
  }
  return out;
}

function best(fn) {
  let bestS = Infinity;
  let tokens = 0;
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint();
    tokens = fn();
    bestS = Math.min(bestS, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { s: bestS, tokens };
}

function report(label, n, { s, tokens }) {
  console.log(
    `${label.padEnd(48)} ${(n / s).toFixed(0).padStart(8)} strings/s ${(tokens / s).toFixed(0).padStart(9)} tokens/s (${(s * 1000).toFixed(1)} ms)`,
  );
}

const t0 = process.hrtime.bigint();
BertTokenizer.fromDir(ckpt);
console.log(
  `load (vocab + tables): ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms; node ${process.version}; ${N} strings per set, best of ${RUNS}`,
);
for (const set of ['mixed', 'ascii']) {
  const texts = captions(N, set === 'ascii');
  if (dump) fs.writeFileSync(path.join(dump, `${set}.jsonl`), texts.map((t) => JSON.stringify(t)).join('\n') + '\n');
  const encodeAll = (tok) => texts.reduce((n, s) => n + tok.encode(s).length, 0);
  // Cold: a fresh tokenizer each run, so its word cache starts empty.
  report(
    `${set}: encode one by one, cold word cache`,
    N,
    best(() => encodeAll(BertTokenizer.fromDir(ckpt))),
  );
  const tok = BertTokenizer.fromDir(ckpt);
  report(
    `${set}: encode one by one, warm`,
    N,
    best(() => encodeAll(tok)),
  );
  report(
    `${set}: encodeBatch maxLength 35, padded`,
    N,
    best(() => {
      const e = tok.encodeBatch(texts, { maxLength: 35, padding: 'max_length' });
      return e.attentionMask.reduce((n, m) => n + m.reduce((a, b) => a + b, 0), 0);
    }),
  );
}
