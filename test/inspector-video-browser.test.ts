import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'puppeteer-core';
import { accessibilityViolations, launch, requireBrowser, watchProblems } from './browser/chromium';
import { cli } from './helpers/cli';
import { TINY, fixture } from './helpers/fixtures';
import { exited, startInspector } from './helpers/inspector-cli';
import { canvasPixels, inPage, redrawsAfter } from './helpers/inspector-page';
import { tempDir } from './helpers/tmp';

const CLIP20 = fixture('video', 'clip20.mkv');
const CLIP7 = fixture('video', 'clip7.mkv');
const CAPTIONS = ['a cat lying on a rug', 'a rocket launching into the sky'];

interface Shown {
  frames: number;
  grid: number;
  map: number[];
  selection: { label: string };
}

/** What the page shows of the selected video: list badges, tab states, the picture's frames. */
function videoState(page: Page) {
  return inPage<{ badges: string[]; disabled: string[]; shown: Shown }>(
    page,
    `({
      badges: [...document.querySelectorAll('#image-list .badge')].map((b) => b.textContent),
      disabled: [...document.querySelectorAll('#tabs button')].filter((b) => b.disabled).map((b) => b.dataset.view),
      shown: window.inspector.shown,
    })`,
  );
}

describe('inspector with a video in a real browser (headless Chromium)', function () {
  this.timeout(180_000);
  let browser: Browser | undefined;
  let server: Awaited<ReturnType<typeof startInspector>> | undefined;

  before(function () {
    requireBrowser(this);
  });

  after(async () => {
    await browser?.close();
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await exited(server.child);
    }
  });

  it('shows a named video as its frames with the scores of `blip-itm score --video`, Grad-CAM per frame, uploads another', async () => {
    const model = ['--model', TINY, '--backend', 'wasm'];
    const textArgs = CAPTIONS.flatMap((t) => ['--text', t]);
    const [started, scored] = await Promise.all([
      startInspector([...model, '--video', CLIP20, ...textArgs, '--port', '0']),
      cli(['score', ...model, '--video', CLIP20, ...textArgs, '--json']),
    ]);
    server = started;
    expect(scored.code, scored.stderr).to.equal(0);
    const expected = (JSON.parse(scored.stdout) as { itm: number[][] }).itm[0].map((p) => p.toFixed(4));

    browser = await launch();
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    const problems = watchProblems(page, { warnings: true });
    await page.goto(server.url);
    await page.waitForFunction('window.inspector && window.inspector.shown', { timeout: 60_000 });
    expect(await accessibilityViolations(page), 'axe on a video in the served inspector').to.deep.equal([]);

    const probs = await inPage<string[]>(page, `[...document.querySelectorAll('#scores td.prob')].map((td) => td.firstChild.textContent)`);
    expect(probs).to.deep.equal(expected);
    const grid = (
      JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8')) as { vision_config: { image_size: number; patch_size: number } }
    ).vision_config;
    const cells = (grid.image_size / grid.patch_size) ** 2;
    let state = await videoState(page);
    expect(state.badges).to.deep.equal(['▶ 8']);
    expect(state.disabled).to.deep.equal(['cross', 'vision', 'text']);
    expect(state.shown.frames).to.equal(8);
    expect(state.shown.map.length).to.equal(8 * cells);
    expect(await inPage(page, `document.querySelectorAll('#thumbs figure canvas').length`)).to.be.greaterThan(0);

    // Another layer and a word redraw every frame's map.
    const pixels = await canvasPixels(page);
    await redrawsAfter(page, () => page.select('#layer', '1'));
    expect(await canvasPixels(page)).not.to.equal(pixels);
    await redrawsAfter(page, () => page.select('#layer', '0'));
    await redrawsAfter(page, async () => (await page.$$('#tokens .chip'))[3].click());
    expect((await videoState(page)).shown.selection.label).to.equal('cat');

    // An uploaded video, 3 frames sampled.
    await page.$eval('#frames', (input) => {
      (input as unknown as { value: string }).value = '3';
    });
    const picker = await page.$('input#file');
    await redrawsAfter(page, () => picker!.uploadFile(CLIP7));
    state = await videoState(page);
    expect(state.badges).to.deep.equal(['▶ 8', '▶ 3']);
    expect(state.shown.frames).to.equal(3);
    expect(state.shown.map.length).to.equal(3 * cells);
    expect(await accessibilityViolations(page), 'axe after a video upload').to.deep.equal([]);

    // Back to the first video, layer 0, "cat" pinned: the picture for the docs when asked.
    await redrawsAfter(page, async () => (await page.$$('#image-list button'))[0].click());
    await page.mouse.move(5, 5);
    await page.waitForFunction(`window.inspector.shown.frames === 8 && document.getElementById('progress').hidden`);
    const shot = process.env.INSPECTOR_VIDEO_SCREENSHOT ?? path.join(tempDir('blip-itm-inspector-'), 'inspector-video.png');
    await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
    expect(problems, problems.join('\n')).to.deep.equal([]);

    await browser.close();
    browser = undefined;
    server.child.kill('SIGTERM');
    expect(await exited(server.child), server.stderr()).to.equal(0);
  });
});
