#!/usr/bin/env node
// Prints the float16 table of notes/i13-closing.md from the JSON written by
// scripts/bench/float16-torch.py (transformers float32 and model.half()) and
// scripts/bench/float16-browser.cjs (ours in Chromium): max |difference| of ITM probability and ITC
// cosine against transformers float32, and how the ranking of the 16 captions changes per image.
// usage: node scripts/bench/float16-compare.cjs TORCH_JSON BROWSER_JSON
const fs = require('fs');

const [torchFile, browserFile] = process.argv.slice(2);
const torch = JSON.parse(fs.readFileSync(torchFile, 'utf8'));
const browser = JSON.parse(fs.readFileSync(browserFile, 'utf8'));

function order(row) {
  return row
    .map((v, i) => [v, i])
    .sort((a, b) => b[0] - a[0])
    .map(([, i]) => i);
}

/** Pairs of captions ordered differently (of 120) and whether the top caption changed, worst image. */
function rankChange(ref, ours) {
  let swapped = 0;
  let top = false;
  ref.forEach((row, r) => {
    const a = order(row);
    const b = order(ours[r]);
    if (a[0] !== b[0]) top = true;
    const pos = new Map(b.map((c, i) => [c, i]));
    let s = 0;
    for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) if (pos.get(a[i]) > pos.get(a[j])) s++;
    swapped = Math.max(swapped, s);
  });
  return `${swapped}/120 pairs${top ? ', top-1 changed' : ', same top-1'}`;
}

function maxDiff(a, b) {
  let m = 0;
  a.forEach((row, r) =>
    row.forEach((v, j) => {
      m = Math.max(m, Math.abs(v - b[r][j]));
    }),
  );
  return m.toExponential(2);
}

const rows = [['transformers model.half() (CPU)', torch.half.probs, torch.half.cosine]];
for (const [name, run] of Object.entries(browser.runs)) rows.push([`ours, ${name} (Chromium)`, run.probs, run.cosine]);
console.log('| vs transformers float32 | max abs diff ITM prob | max abs diff ITC cosine | ranking by ITM prob | ranking by ITC cosine |');
console.log('| --- | --- | --- | --- | --- |');
for (const [name, probs, cosine] of rows) {
  console.log(
    `| ${name} | ${maxDiff(probs, torch.float32.probs)} | ${maxDiff(cosine, torch.float32.cosine)} | ${rankChange(torch.float32.probs, probs)} | ${rankChange(torch.float32.cosine, cosine)} |`,
  );
}
const f16 = Object.entries(browser.runs).find(([k]) => k.includes('float16'));
if (f16) {
  console.log(
    `| ours float16 vs transformers model.half() | ${maxDiff(f16[1].probs, torch.half.probs)} | ${maxDiff(f16[1].cosine, torch.half.cosine)} | ${rankChange(torch.half.probs, f16[1].probs)} | ${rankChange(torch.half.cosine, f16[1].cosine)} |`,
  );
}
