import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as path from 'path';
import type { Browser } from 'puppeteer-core';
import { attentionSet } from '../src/inspector/analysis';
import { decodeImage } from '../src/image';
import { BROWSER_DIST, StaticServer, startStaticServer } from '../src/inspector/static-server';
import { BlipItm } from '../src/model/blip-itm';
import { accessibilityViolations, launch, requireBrowser, watchProblems } from './browser/chromium';
import { TINY, fixture } from './helpers/fixtures';
import { canvasPixels, inPage, redrawsAfter } from './helpers/inspector-page';
import { tempDir } from './helpers/tmp';

const BUNDLE = path.join(BROWSER_DIST, 'blip-itm.js');
const PAGE = path.join(BROWSER_DIST, 'inspector/index.html');
const IMAGE = fixture('images', 'chelsea.png');
const CAPTIONS = ['a cat lying on a rug', 'a rocket launching into the sky', 'a tabby cat with green eyes'];

/** The page as `npm run demo` serves it: the build at /, the test fixtures as its models folder. */
const INSPECTOR = '/inspector/index.html';
const TINY_URL = '/models/blip-itm-tiny/';

/** A VP9 WebM of the 20 test frames (a codec every Chromium decodes), made once. */
function webm(dir: string): string {
  const out = path.join(dir, 'clip20.webm');
  const frames = fixture('video', 'frames', '%02d.png');
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-framerate',
    '10',
    '-i',
    frames,
    '-c:v',
    'libvpx-vp9',
    '-lossless',
    '1',
    '-pix_fmt',
    'yuv444p',
    out,
  ]);
  return out;
}

describe('inspector without a server (the browser demo: static page, model in the browser)', function () {
  this.timeout(180_000);
  let browser: Browser | undefined;
  let server: StaticServer | undefined;

  before(function () {
    requireBrowser(this, BUNDLE, PAGE);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads the tiny model from the picker, scores an uploaded image as match(), redraws on layer, no console error', async () => {
    const model = BlipItm.fromDir(TINY);
    const image = { ...decodeImage(IMAGE), channels: 3 as const };
    const expected = (await model.match([image], CAPTIONS)).probs[0].map((p) => p.toFixed(4));
    const nodeMaps = await attentionSet(model, image, CAPTIONS[0], false);
    model.dispose();

    server = await startStaticServer({
      mounts: [
        ['/models/', fixture()],
        ['/', BROWSER_DIST],
      ],
    });
    browser = await launch();
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    const problems = watchProblems(page);

    // No inspector server behind the page: it asks for a model. The picker is readable and labelled.
    await page.goto(`${server.url}${INSPECTOR}`);
    await page.waitForSelector('#picker-form:not([hidden])', { timeout: 20_000 });
    expect(await accessibilityViolations(page), 'axe on the model picker').to.deep.equal([]);
    // Load with nothing chosen says what to do.
    await page.click('#picker-load');
    expect(await inPage<string>(page, `document.getElementById('picker-error').textContent`)).to.match(/^Type a hub id .* then Load\.$/);
    expect(await inPage(page, `document.getElementById('picker-error').hidden`)).to.equal(false);
    await page.type('#picker-source', TINY_URL);
    await page.select('#picker-backend', 'wasm');
    await page.click('#picker-load');
    await page.waitForFunction(`document.getElementById('model-info').textContent.includes('wasm')`, { timeout: 30_000 });
    expect(await inPage(page, `document.getElementById('model-picker').hidden`)).to.equal(true);
    expect(await inPage<string>(page, `document.getElementById('picker-bytes').textContent`)).to.match(/ MB$/);

    // An image from the file picker (our decoders), then captions typed one per line.
    const picker = await page.$('input#file');
    await picker!.uploadFile(IMAGE);
    // With no captions yet the page shows the plain image (no map to redraw).
    await page.waitForFunction(`document.getElementById('preview').naturalWidth === 451`, { timeout: 10_000 });
    await page.$eval(
      '#captions',
      (t, value) => {
        (t as unknown as { value: string }).value = value;
      },
      CAPTIONS.join('\n'),
    );
    await redrawsAfter(page, () => page.click('#score-button'), 30_000);
    const rows = await inPage<{ text: string; prob: string }[]>(
      page,
      `[...document.querySelectorAll('#scores tbody tr')]
      .map((tr) => ({ text: tr.children[1].textContent, prob: tr.querySelector('td.prob').firstChild.textContent }))`,
    );
    expect(rows.map((r) => r.text)).to.deep.equal(CAPTIONS);
    expect(rows.map((r) => r.prob)).to.deep.equal(expected);

    // Grad-CAM and cross-attention: another layer redraws with other pixels.
    let pixels = await canvasPixels(page);
    await redrawsAfter(page, () => page.select('#layer', '1'), 30_000);
    expect(await canvasPixels(page)).not.to.equal(pixels);
    await redrawsAfter(page, () => page.click('button[data-view=cross]'), 30_000);
    pixels = await canvasPixels(page);
    await redrawsAfter(page, () => page.select('#layer', '1'), 30_000);
    expect(await canvasPixels(page)).not.to.equal(pixels);

    // The maps are the server's analysis run in the page: same numbers as in Node (wasm vs Node's cpu backend).
    const browserMaps = await inPage<{ tokens: string[]; cross: number[][][][]; rollout: number[][] }>(
      page,
      `import('./api.js').then((api) => api.attention(0, ${JSON.stringify(CAPTIONS[0])}, false))`,
    );
    expect(browserMaps.tokens).to.deep.equal(nodeMaps.tokens);
    const flat = (x: unknown): number[] => (Array.isArray(x) ? x.flatMap(flat) : [x as number]);
    const [got, want] = [flat([browserMaps.cross, browserMaps.rollout]), flat([nodeMaps.cross, nodeMaps.rollout])];
    expect(got.length).to.equal(want.length);
    const worst = got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
    expect(worst).to.be.lessThan(1e-4);
    expect(await accessibilityViolations(page), 'axe on the loaded inspector').to.deep.equal([]);
    const shot = process.env.INSPECTOR_SCREENSHOT_SERVERLESS;
    if (shot) await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });

  it('opens straight on ?model=&backend=&image=&text= with the probabilities of match()', async () => {
    const model = BlipItm.fromDir(TINY);
    const expected = (await model.match([{ ...decodeImage(IMAGE), channels: 3 }], CAPTIONS.slice(0, 2))).probs[0].map((p) => p.toFixed(4));
    model.dispose();
    const page = await browser!.newPage();
    const problems = watchProblems(page);
    const query = new URLSearchParams([
      ['model', TINY_URL],
      ['backend', 'wasm'],
      ['image', '/models/images/chelsea.png'],
      ...CAPTIONS.slice(0, 2).map((t) => ['text', t]),
    ]);
    await page.goto(`${server!.url}${INSPECTOR}?${query}`);
    await page.waitForFunction('window.inspector && window.inspector.redraws > 0', { timeout: 30_000 });
    const probs = await inPage<string[]>(
      page,
      `[...document.querySelectorAll('#scores tbody tr')].map((tr) => tr.querySelector('td.prob').firstChild.textContent)`,
    );
    expect(probs).to.deep.equal(expected);
    expect(problems, problems.join('\n')).to.deep.equal([]);
    await page.close();
  });

  it('says why a model did not load and asks again', async () => {
    const page = await browser!.newPage();
    await page.goto(`${server!.url}${INSPECTOR}`);
    await page.waitForSelector('#picker-form:not([hidden])', { timeout: 20_000 });
    await page.type('#picker-source', '/models/no-such-model/');
    await page.select('#picker-backend', 'wasm');
    await page.click('#picker-load');
    await page.waitForSelector('#picker-error:not([hidden])', { timeout: 20_000 });
    expect(await inPage<string>(page, `document.getElementById('picker-error').textContent`)).to.match(
      /^Could not load the model: .*config\.json/,
    );
    expect(await inPage(page, `document.getElementById('picker-form').hidden`)).to.equal(false);
    await page.close();
  });

  it('opens ?video=&frames=, scores it as encodeVideos in the page, shows Grad-CAM per frame, uploads another; axe and console clean', async () => {
    const videos = tempDir('blip-itm-inspector-video-');
    webm(videos);
    await server?.close(); // the other tests' server has no /videos/
    server = await startStaticServer({
      mounts: [
        ['/models/', fixture()],
        ['/videos/', videos],
        ['/', BROWSER_DIST],
      ],
    });
    browser ??= await launch();
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    const problems = watchProblems(page);
    const query = new URLSearchParams([
      ['model', TINY_URL],
      ['backend', 'wasm'],
      ['video', '/videos/clip20.webm'],
      ['frames', '4'],
      ...CAPTIONS.map((t) => ['text', t]),
    ]);
    await page.goto(`${server.url}/inspector/index.html?${query}`);
    await page.waitForFunction('window.inspector && window.inspector.shown', { timeout: 60_000 });

    const shown = await inPage<{ frames: number; map: number[]; grid: number }>(page, 'window.inspector.shown');
    expect(shown.frames).to.equal(4);
    expect(shown.map.length).to.equal(4 * shown.grid * shown.grid);
    expect(await inPage(page, `[...document.querySelectorAll('#image-list .badge')].map((b) => b.textContent)`)).to.deep.equal(['▶ 4']);
    expect(await inPage(page, `[...document.querySelectorAll('#tabs button')].filter((b) => b.disabled).length`)).to.equal(3);

    // The table shows what the library gives for the same file in the same browser.
    const probs = await inPage<string[]>(page, `[...document.querySelectorAll('#scores td.prob')].map((td) => td.firstChild.textContent)`);
    const expected = await inPage<string[]>(
      page,
      `(async () => {
        const blip = await import('/blip-itm.js');
        const model = await blip.BlipItm.load(${JSON.stringify(TINY_URL)}, { backend: 'wasm' });
        const blob = await (await fetch('/videos/clip20.webm')).blob();
        const [video] = await model.encodeVideos([blob], { frames: 4 });
        const { probs } = await model.match([video], ${JSON.stringify(CAPTIONS)});
        video.dispose();
        model.dispose();
        return probs[0].map((p) => p.toFixed(4));
      })()`,
    );
    expect(probs).to.deep.equal(expected);
    expect(await accessibilityViolations(page), 'axe on a video in the serverless inspector').to.deep.equal([]);

    // A video from the file picker, 2 frames.
    await page.$eval('#frames', (input) => {
      (input as unknown as { value: string }).value = '2';
    });
    const picker = await page.$('input#file');
    await redrawsAfter(page, () => picker!.uploadFile(path.join(videos, 'clip20.webm')), 60_000);
    expect(await inPage(page, 'window.inspector.shown.frames')).to.equal(2);
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });
});
