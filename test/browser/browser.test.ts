import { expect } from 'chai';
import * as path from 'path';
import type { Browser, Page } from 'puppeteer-core';
import { compareTensors, formatDiffs } from '../../src/parity/compare';
import { RawTensor } from '../../src/weights/raw-tensor';
import { reference } from '../helpers/fixtures';
import { launch, openHarness, requireBrowser } from './chromium';
import { StaticServer, startServer } from './static-server';

/**
 * The bundle dist/browser/blip-itm.js in real headless Chromium, imported by a page served from
 * a plain static server, on wasm, webgl and webgpu (SwiftShader: slow, so the tiny fixture only).
 * The page returns plain numbers; the comparisons with transformers' reference files run here.
 */

const BUNDLE = path.resolve(__dirname, '../../../dist/browser/blip-itm.js');
const TINY_URL = '/fixtures/blip-itm-tiny/';
const IMAGES = ['chelsea.png', 'rocket.jpg', 'horse.png'].map((f) => `/fixtures/images/${f}`);
const TEXTS = ['a cat lying on a rug', 'A rocket launching into the sky, with smoke!', 'Café au lait — naïve résumé 東京 🚀'];
/** float16 textures on the tiny fixture measured 2.6e-3 (probability) and 4.3e-4 (cosine); bounds with headroom. */
const F16_PROB_BOUND = 5e-3;
const F16_COSINE_BOUND = 2e-3;

interface PlainTensor {
  shape: number[];
  dtype: string;
  data: number[];
}
interface Forward {
  result: Record<string, PlainTensor>;
  ms: number;
  leaked: number;
}
interface Loaded {
  backend: { name: string; dtype: string; threads?: number };
  ms: number;
  unused: string[];
  progress: { file: string; loaded: number; total: number; fromCache: boolean }[];
  f16Textures: boolean;
  renderFloat32: boolean | null;
}
interface Calls {
  match: { probs: number[][]; logits: number[][][] };
  similarity: number[][];
  fromBlob: { probs: number[][] };
  gradcam: { layer: number; grid: number; probability: number; tokens: string[]; maps: number[][] };
  leaks: Record<string, number>;
  timed: Record<string, number>;
}

function toRawMap(result: Record<string, PlainTensor>): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [k, t] of Object.entries(result)) {
    out.set(
      k,
      t.dtype === 'int32'
        ? { dtype: 'int32', shape: t.shape, data: Int32Array.from(t.data) }
        : { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data) },
    );
  }
  return out;
}

function call<T>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    (name, list) => {
      const h = (window as unknown as { harness: Record<string, (...a: unknown[]) => Promise<unknown>> }).harness;
      return h[name](...list);
    },
    fn,
    args,
  ) as Promise<T>;
}

/** Largest |ours - reference| over image-major pairs for images `rows` (indices into the reference's 3 images). */
function maxScoreDiff(ours: number[][], ref: RawTensor, rows: number[]): number {
  let max = 0;
  rows.forEach((img, r) =>
    ours[r].forEach((v, j) => {
      max = Math.max(max, Math.abs(v - ref.data[img * 3 + j]));
    }),
  );
  return max;
}

const timings: string[] = [];

describe('browser: dist/browser/blip-itm.js in headless Chromium', function () {
  this.timeout(240000);
  let server: StaticServer;
  let browser: Browser;

  before(async function () {
    requireBrowser(this, BUNDLE);
    server = await startServer();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    if (timings.length)
      console.log(`      browser timings (SwiftShader = CPU emulation of a GPU, 2 shared cores):\n        ${timings.join('\n        ')}`);
  });

  const backends: [string, number][] = [
    ['wasm', 1e-4],
    ['webgl', 1e-3],
    ['webgpu', 1e-3],
  ];
  for (const [backend, tol] of backends) {
    describe(`on ${backend}`, () => {
      let page: Page;
      let baseline: number;
      let loaded: Loaded;
      before(async () => {
        page = await openHarness(browser, server.url);
        baseline = await call<number>(page, 'numTensors');
        loaded = await call<Loaded>(page, 'load', TINY_URL, { backend });
      });
      after(() => page?.close());

      it('loads the tiny fixture from its URL on that backend, reporting progress in bytes', () => {
        expect(loaded.backend.name).to.equal(backend);
        expect(loaded.unused).to.deep.equal([]);
        const last = loaded.progress[loaded.progress.length - 1];
        expect(last.file).to.equal('model.safetensors');
        expect(last.loaded).to.equal(last.total).and.be.greaterThan(0);
      });

      it(`matches every activation of transformers within ${tol} (reference pixels and ids)`, async () => {
        // SwiftShader compiles every shader on the CPU: Grad-CAM's backward pass is checked on wasm only.
        const gradcam = backend === 'wasm';
        const out = await call<Forward>(
          page,
          'forwardOnReference',
          '/fixtures/reference/tiny-activations.safetensors',
          gradcam ? { gradcamLayer: 1 } : {},
        );
        const ref = reference('tiny-activations.safetensors');
        const diffs = compareTensors(ref, toRawMap(out.result), {
          tol,
          only: [...ref.keys()].filter((k) => gradcam || !k.startsWith('gradcam')),
        });
        expect(
          diffs.filter((d) => !d.ok),
          `\n${formatDiffs(diffs)}`,
        ).to.have.length(0);
        expect(diffs).to.have.length(ref.size - (gradcam ? 0 : 1));
        expect(out.leaked, 'tensors left by forward (after disposing its outputs)').to.equal(0);
        timings.push(`${backend}: forward with activations ${out.ms.toFixed(0)} ms`);
      });

      it('match and similarity (and on wasm gradcam, Blob input, encodeImages) give the reference scores and leak no tensor', async () => {
        // On the SwiftShader GPUs every new shape compiles new shaders on the CPU: there only the
        // calls whose shapes the forward above already compiled. The rest runs on wasm.
        const full = backend === 'wasm';
        const calls = await call<Calls>(page, 'publicCalls', [IMAGES[0], IMAGES[2]], TEXTS, { scoresOnly: !full });
        const ref = reference('tiny-activations.safetensors');
        expect(maxScoreDiff(calls.match.probs, ref.get('itm.probs')!, [0, 2])).to.be.at.most(tol);
        expect(maxScoreDiff(calls.similarity, ref.get('itc.cosine')!, [0, 2])).to.be.at.most(tol);
        if (full) {
          expect(Math.abs(calls.fromBlob.probs[0][0] - ref.get('itm.probs')!.data[0])).to.be.at.most(tol);
          expect(calls.gradcam.tokens[0]).to.equal('[CLS]');
          expect(calls.gradcam.maps).to.have.length(calls.gradcam.tokens.length);
          expect(Math.abs(calls.gradcam.probability - ref.get('itm.probs')!.data[0])).to.be.at.most(tol);
        }
        for (const [name, n] of Object.entries(calls.leaks)) expect(n, `tensors left by ${name}`).to.equal(name === 'encodeImages' ? 1 : 0);
        timings.push(
          `${backend}: load ${loaded.ms.toFixed(0)} ms; ${Object.entries(calls.timed)
            .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
            .join(', ')}`,
        );
      });

      it('frees every tensor on dispose()', async () => {
        expect(await call<number>(page, 'dispose')).to.equal(baseline);
      });
    });
  }

  describe('float16 on webgl', () => {
    let page: Page;
    let loaded: Loaded;
    before(async () => {
      page = await openHarness(browser, server.url);
      loaded = await call<Loaded>(page, 'load', TINY_URL, { backend: 'webgl', dtype: 'float16' });
    });
    after(() => page?.close());

    it('really stores textures as half floats (WEBGL_FORCE_F16_TEXTURES on, float32 rendering off)', () => {
      expect(loaded.backend).to.include({ name: 'webgl', dtype: 'float16' });
      expect(loaded.f16Textures).to.equal(true);
      expect(loaded.renderFloat32).to.equal(false);
    });

    it(`stays within ${F16_PROB_BOUND} (ITM probability) and ${F16_COSINE_BOUND} (ITC cosine) of float32 transformers`, async () => {
      const out = await call<Forward>(page, 'forwardOnReference', '/fixtures/reference/tiny-activations.safetensors', {
        activations: false,
      });
      const raw = toRawMap(out.result);
      const ref = reference('tiny-activations.safetensors');
      const diffs = compareTensors(ref, raw, {
        tol: 1,
        only: ['itm.probs', 'itc.cosine', 'itm.logits', 'itc.image_embeds', 'itc.text_embeds'],
      });
      console.log(
        `      float16 textures vs float32 transformers (max |diff|): ${diffs.map((d) => `${d.name} ${d.maxAbs.toExponential(2)}`).join(', ')}`,
      );
      const byName = new Map(diffs.map((d) => [d.name, d]));
      expect(byName.get('itm.probs')!.maxAbs).to.be.at.most(F16_PROB_BOUND);
      expect(byName.get('itc.cosine')!.maxAbs).to.be.at.most(F16_COSINE_BOUND);
      // It must really differ from float32: half floats cannot reproduce 1e-6 agreement.
      expect(byName.get('itc.image_embeds')!.maxAbs).to.be.greaterThan(1e-6);
      expect(out.leaked).to.equal(0);
    });

    it('refuses to switch webgl to float32 in the same page (its precision is fixed at start)', async () => {
      const err = await call<string | null>(page, 'loadError', TINY_URL, { backend: 'webgl' });
      expect(err).to.match(/webgl already runs in float16/);
    });
  });

  describe('a cross-origin isolated page (COOP/COEP)', () => {
    let isolated: StaticServer;
    let page: Page;
    before(async () => {
      isolated = await startServer({ isolate: true });
      page = await openHarness(browser, isolated.url);
    });
    after(async () => {
      await page?.close();
      await isolated?.close();
    });

    it('runs wasm (its threaded build when isolated), with the same scores', async () => {
      const loaded = await call<Loaded>(page, 'load', TINY_URL, { backend: 'wasm', cache: false });
      expect(loaded.backend.name).to.equal('wasm');
      // Reported, not asserted: on this 2-core machine tfjs's pthread pool reports 1 thread.
      console.log(`      wasm threads in a cross-origin isolated page: ${loaded.backend.threads}`);
      const calls = await call<Calls>(page, 'publicCalls', [IMAGES[0]], TEXTS, { scoresOnly: true });
      expect(maxScoreDiff(calls.match.probs, reference('tiny-activations.safetensors').get('itm.probs')!, [0])).to.be.at.most(1e-4);
    });
  });

  describe('loading and inputs (wasm)', () => {
    let page: Page;
    before(async () => {
      page = await openHarness(browser, server.url);
    });
    after(() => page?.close());

    it('asking float16 on wasm, webgpu or cpu is an error naming webgl', async () => {
      for (const backend of ['wasm', 'webgpu', 'cpu']) {
        const err = await call<string | null>(page, 'loadError', TINY_URL, { backend, dtype: 'float16' });
        expect(err, backend).to.match(new RegExp(`float16 needs the webgl backend.*${backend}`));
      }
    });

    it("the image pipeline gives Pillow's pixels bit for bit (384 px, 4 fixture images)", async () => {
      const rows = await call<{ file: string; maxResized: number; maxPixels: number | null }[]>(
        page,
        'imagePipeline',
        '/fixtures/reference/images-384.safetensors',
        '/fixtures/images/',
        `${TINY_URL}preprocessor_config.json`,
      );
      expect(rows).to.have.length(4);
      for (const r of rows) {
        expect(r.maxResized, r.file).to.equal(0);
        if (r.maxPixels !== null) expect(r.maxPixels, r.file).to.equal(0);
      }
    });

    it('loads a hub id (pytorch_model.bin, as the real main branch) from <endpoint>/<id>/resolve/main/', async () => {
      const loaded = await call<Loaded>(page, 'load', 'Salesforce/blip-itm-tiny-bin', {
        backend: 'wasm',
        endpoint: `${server.url}/hub`,
        cache: false,
      });
      expect(loaded.progress[loaded.progress.length - 1].file).to.equal('pytorch_model.bin');
      const calls = await call<Calls>(page, 'publicCalls', [IMAGES[0]], TEXTS);
      expect(maxScoreDiff(calls.match.probs, reference('tiny-activations.safetensors').get('itm.probs')!, [0])).to.be.at.most(1e-4);
    });

    it('loads F16 safetensors weights (half the download)', async () => {
      await call<Loaded>(page, 'load', '/fixtures/blip-itm-tiny-f16/', { backend: 'wasm', cache: false });
      const out = await call<Forward>(page, 'forwardOnReference', '/fixtures/reference/tiny-f16-scores.safetensors', {
        activations: false,
      });
      const diffs = compareTensors(reference('tiny-f16-scores.safetensors'), toRawMap(out.result), { only: ['itm.', 'itc.'] });
      expect(
        diffs.filter((d) => !d.ok),
        `\n${formatDiffs(diffs)}`,
      ).to.have.length(0);
    });

    it("loads the user's Files (Blob.slice) and scores as from the URL", async () => {
      const probs = await page.evaluate(
        async (dir, image, text) => {
          const names = [
            'config.json',
            'vocab.txt',
            'preprocessor_config.json',
            'tokenizer_config.json',
            'special_tokens_map.json',
            'model.safetensors',
          ];
          const files = await Promise.all(names.map(async (n) => new File([await (await fetch(dir + n)).blob()], n)));
          const h = (
            window as unknown as {
              harness: { load(s: unknown, o: unknown): Promise<unknown>; publicCalls(i: string[], t: string[]): Promise<Calls> };
            }
          ).harness;
          await h.load(files, { backend: 'wasm' });
          return (await h.publicCalls([image], [text])).match.probs;
        },
        TINY_URL,
        IMAGES[0],
        TEXTS[0],
      );
      expect(Math.abs(probs[0][0] - reference('tiny-activations.safetensors').get('itm.probs')!.data[0])).to.be.at.most(1e-4);
    });

    it('a second load of the same URL reads Cache Storage and makes no request', async () => {
      await call<Loaded>(page, 'load', TINY_URL, { backend: 'wasm' });
      const before = server.requests.length;
      const again = await call<Loaded>(page, 'load', TINY_URL, { backend: 'wasm' });
      const modelRequests = server.requests.slice(before).filter((r) => r.startsWith(TINY_URL));
      expect(modelRequests).to.deep.equal([]);
      expect(again.progress.every((e) => e.fromCache)).to.equal(true);
    });

    it('accepts <img>, <canvas>, ImageBitmap and ImageData (decoded by the browser) without leaking', async () => {
      const r = await call<{ probs: number[]; leaked: number }>(page, 'domImage', IMAGES[0], TEXTS[0]);
      const ref = reference('tiny-activations.safetensors').get('itm.probs')!.data[0];
      // A PNG without colour profile decodes to the same pixels in Chromium; all four agree with ours.
      for (const p of r.probs) expect(Math.abs(p - ref)).to.be.at.most(1e-4);
      expect(r.leaked).to.equal(0);
    });
  });
});
