#!/usr/bin/env node
// What `blip-itm convert` changes: ITM probability and ITC cosine of every image x caption with
// the float32 checkpoint and with its float16 and bfloat16 conversions (float16/bfloat16 weights,
// float32 compute), on the wasm backend; with the JSON of scripts/reference/convert_precision.py
// it also prints transformers' own model.half() and bfloat16 beside ours (docs/convert.md).
// usage: node scripts/bench/convert-precision.cjs F32_DIR F16_DIR BF16_DIR CAPTIONS_JSON OUT_JSON [TORCH_JSON] -- IMAGE...
const fs = require('fs');
const { BlipItm, useBackend } = require('../../dist/src');

function order(row) {
  return row
    .map((v, i) => [v, i])
    .sort((a, b) => b[0] - a[0])
    .map(([, i]) => i);
}

/** Caption pairs ordered differently, summed over images, and the images whose top caption changed. */
function rankChange(ref, got) {
  let swapped = 0;
  let top = 0;
  ref.forEach((row, r) => {
    const a = order(row);
    const pos = new Map(order(got[r]).map((c, i) => [c, i]));
    if (a[0] !== order(got[r])[0]) top++;
    for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) if (pos.get(a[i]) > pos.get(a[j])) swapped++;
  });
  return { swapped, top };
}

function maxDiff(a, b) {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

function compare(name, ref, got) {
  const n = ref.probs.length * ref.probs[0].length;
  const pairs = (ref.probs[0].length * (ref.probs[0].length - 1)) / 2;
  const itm = rankChange(ref.probs, got.probs);
  const itc = rankChange(ref.itc, got.itc);
  return (
    `| ${name} | ${maxDiff(ref.probs, got.probs).toExponential(2)} | ${maxDiff(ref.itc, got.itc).toExponential(2)} | ` +
    `${itm.swapped}/${pairs * ref.probs.length} (top ${itm.top}/${ref.probs.length}) | ${itc.swapped}/${pairs * ref.probs.length} (top ${itc.top}/${ref.probs.length}) | ${n} |`
  );
}

async function main() {
  const dash = process.argv.indexOf('--');
  const [f32, f16, bf16, captionsFile, outFile, torchFile] = process.argv.slice(2, dash);
  const images = process.argv.slice(dash + 1);
  const texts = JSON.parse(fs.readFileSync(captionsFile, 'utf8'));
  await useBackend('wasm');
  const ours = {};
  for (const [name, dir] of [
    ['float32', f32],
    ['float16', f16],
    ['bfloat16', bf16],
  ]) {
    const model = BlipItm.fromDir(dir);
    const s = await model.score(images, texts);
    ours[name] = { probs: s.probs, itc: s.itc };
    model.dispose();
    process.stderr.write(`${name} done\n`);
  }
  fs.writeFileSync(outFile, JSON.stringify({ texts, images, ...ours }));
  const rows = [
    '| against float32 of the same implementation | max abs ITM prob diff | max abs ITC diff | ITM ranking: caption pairs swapped | ITC ranking | pairs |',
    '| --- | --- | --- | --- | --- | --- |',
    compare('blip-itm, float16 weights (convert --dtype float16)', ours.float32, ours.float16),
    compare('blip-itm, bfloat16 weights (convert --dtype bfloat16)', ours.float32, ours.bfloat16),
  ];
  if (torchFile) {
    const torch = JSON.parse(fs.readFileSync(torchFile, 'utf8'));
    rows.push(
      compare('transformers model.half() (float16 compute)', torch.float32, torch.half),
      compare('transformers .to(bfloat16) (bfloat16 compute)', torch.float32, torch.bfloat16),
      compare('transformers float32 on our converted float16 dir', torch.float32, torch.converted_f16_weights),
      compare('blip-itm float32 vs transformers float32', torch.float32, ours.float32),
      compare('blip-itm float16 weights vs transformers on the same dir', torch.converted_f16_weights, ours.float16),
    );
  }
  process.stdout.write(rows.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
