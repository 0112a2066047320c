#!/usr/bin/env node
// Measures scores and timings of dist/browser/blip-itm.js in headless Chromium for one model
// directory (e.g. a base-size checkpoint kept outside the repo), per backend/dtype, images x the
// 16 benchmark captions. Used for the float16 table in notes/i13-closing.md.
// usage: node scripts/bench/float16-browser.cjs MODEL_DIR OUT_JSON backend[:float16] ... (after npm run build)
const path = require('path');
const fs = require('fs');
const root = path.resolve(__dirname, '../..');
const { startServer } = require(path.join(root, 'dist/test/browser/static-server.js'));
const { launch, openHarness } = require(path.join(root, 'dist/test/browser/chromium.js'));

async function main() {
  const [modelDir, outFile, ...runs] = process.argv.slice(2);
  const texts = JSON.parse(fs.readFileSync(path.join(root, 'src/bench/captions.json'), 'utf8')).texts16;
  const images = ['/fixtures/images/chelsea.png', '/fixtures/images/rocket.jpg'];
  const server = await startServer({ mounts: [['/model/', path.resolve(modelDir)]] });
  const browser = await launch({ protocolTimeout: 0 });
  const out = { texts, images, runs: {} };
  try {
    for (const run of runs) {
      const [backend, dtype = 'float32'] = run.split(':');
      const page = await openHarness(browser, server.url);
      const result = await page.evaluate(
        async (b, d, imgs, caps) => {
          const h = window.harness; // eslint-disable-line no-undef -- this function runs in the page
          const loaded = await h.load('/model/', { backend: b, dtype: d, cache: false });
          const blip = await import('/dist/browser/blip-itm.js');
          const bytes = await Promise.all(imgs.map(async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer())));
          const model = h.current();
          const t0 = performance.now();
          const match = await model.match(bytes, caps);
          const t1 = performance.now();
          const sim = await model.similarity(bytes, caps);
          const t2 = performance.now();
          return {
            backend: loaded.backend,
            loadMs: loaded.ms,
            matchMs: t1 - t0,
            similarityMs: t2 - t1,
            probs: match.probs,
            cosine: sim,
            tensors: blip.tf.memory().numTensors,
          };
        },
        backend,
        dtype,
        images,
        texts,
      );
      out.runs[run] = result;
      console.log(
        `${run}: load ${(result.loadMs / 1000).toFixed(1)} s, match ${(result.matchMs / 1000).toFixed(1)} s, similarity ${(result.similarityMs / 1000).toFixed(1)} s`,
      );
      await page.close();
    }
  } finally {
    fs.writeFileSync(outFile, JSON.stringify(out));
    await browser.close();
    await server.close();
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
