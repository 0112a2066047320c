import { expect } from 'chai';
import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'puppeteer-core';
import { accessibilityViolations, launch, requireBrowser, watchProblems } from './browser/chromium';
import { cli } from './helpers/cli';
import { TINY, fixture } from './helpers/fixtures';
import { canvasPixels, inPage, redrawsAfter } from './helpers/inspector-page';
import { tempDir } from './helpers/tmp';
const BIN = path.resolve(__dirname, '../../bin/blip-itm.js');
const IMAGE = fixture('images', 'chelsea.png');
const CAPTIONS = ['a cat lying on a rug', 'a rocket launching into the sky', 'a tabby cat with green eyes'];
const CLIP20 = fixture('video', 'clip20.mkv');
const CLIP7 = fixture('video', 'clip7.mkv');

/** Starts `blip-itm inspect` and resolves with the URL it prints first. */
function startInspector(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, 'inspect', ...args], { env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const newline = out.indexOf('\n');
      if (newline >= 0) resolve({ child, url: out.slice(0, newline), stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`inspect exited with ${code} before printing its URL: ${err}`)));
  });
}

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

function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

describe('inspector in a real browser (headless Chromium)', function () {
  this.timeout(120_000);
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

  /**
   * Starts `inspect` on `items` (--image/--video arguments) and the captions, and `score` on the
   * same for the expected probabilities; opens the page once it has drawn, checked by axe.
   */
  async function openInspector(items: string[], captions: string[], what: string) {
    const model = ['--model', TINY, '--backend', 'wasm'];
    const textArgs = captions.flatMap((t) => ['--text', t]);
    const [started, scored] = await Promise.all([
      startInspector([...model, ...items, ...textArgs, '--port', '0']),
      cli(['score', ...model, ...items, ...textArgs, '--json']),
    ]);
    server = started;
    expect(started.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(scored.code, scored.stderr).to.equal(0);
    const expected = (JSON.parse(scored.stdout) as { itm: number[][] }).itm[0].map((p) => p.toFixed(4));
    const opened = await launch();
    browser = opened;
    const page = await opened.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    const problems = watchProblems(page, { warnings: true });
    await page.goto(started.url);
    await page.waitForFunction('window.inspector && window.inspector.redraws > 0', { timeout: 60_000 });
    expect(await accessibilityViolations(page), `axe on ${what}`).to.deep.equal([]);
    return { started, expected, opened, page, problems };
  }

  it('shows the image and the captions with the probabilities of `blip-itm score`, redraws on layer and head, shuts down cleanly', async () => {
    const { started, expected, opened, page, problems } = await openInspector(['--image', IMAGE], CAPTIONS, 'the served inspector');

    // The preloaded image, and each caption's probability in input order.
    expect(await inPage(page, `document.getElementById('preview').naturalWidth`)).to.equal(451);
    const rows = await inPage<{ text: string; prob: string }[]>(
      page,
      `[...document.querySelectorAll('#scores tbody tr')]
      .map((tr) => ({ text: tr.children[1].textContent, prob: tr.querySelector('td.prob').firstChild.textContent }))`,
    );
    expect(rows.map((r) => r.text)).to.deep.equal(CAPTIONS);
    expect(rows.map((r) => r.prob)).to.deep.equal(expected);

    // Sorting by probability reorders the table.
    await page.click('th[data-key=prob]');
    const sorted = await inPage(page, `[...document.querySelectorAll('#scores tbody td.prob')].map((td) => td.firstChild.textContent)`);
    expect(sorted).to.deep.equal([...expected].sort().reverse());

    // Grad-CAM: another layer redraws with other pixels; hovering a word shows its map.
    let pixels = await canvasPixels(page);
    await redrawsAfter(page, () => page.select('#layer', '1'));
    expect(await canvasPixels(page)).not.to.equal(pixels);
    const chips = await page.$$('#tokens .chip');
    await redrawsAfter(page, () => chips[3].hover());
    expect(await inPage(page, 'window.inspector.shown.selection.label')).to.equal('cat');
    await redrawsAfter(page, () => page.mouse.move(5, 5));
    expect(await inPage(page, 'window.inspector.shown.selection.label')).to.equal('whole caption');

    // Cross-attention: the layer x head grid, then switching layer and head redraws.
    await redrawsAfter(page, () => page.click('button[data-view=cross]'));
    const config = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8')) as {
      text_config: { num_hidden_layers: number; num_attention_heads: number };
    };
    const { num_hidden_layers: textLayers, num_attention_heads: textHeads } = config.text_config;
    expect(await inPage(page, `document.querySelectorAll('#thumbs canvas').length`)).to.equal(textLayers * (textHeads + 1));
    pixels = await canvasPixels(page);
    await redrawsAfter(page, () => page.select('#layer', '1'));
    const afterLayer = await canvasPixels(page);
    expect(afterLayer).not.to.equal(pixels);
    await redrawsAfter(page, () => page.select('#head', '2'));
    expect(await canvasPixels(page)).not.to.equal(afterLayer);
    await redrawsAfter(page, async () => (await page.$$('#thumbs canvas'))[1].click()); // layer 0, head 1: enlarged
    expect(await inPage(page, `document.getElementById('layer').value`)).to.equal('0');
    expect(await inPage(page, `document.getElementById('head').value`)).to.equal('1');

    // Vision attention with rollout, and the text matrix.
    await redrawsAfter(page, () => page.click('button[data-view=vision]'));
    pixels = await canvasPixels(page);
    await redrawsAfter(page, () => page.select('#head', 'rollout'));
    expect(await canvasPixels(page)).not.to.equal(pixels);
    await redrawsAfter(page, () => page.click('button[data-view=text]'));
    pixels = await canvasPixels(page);
    await redrawsAfter(page, () => page.select('#head', '3'));
    expect(await canvasPixels(page)).not.to.equal(pixels);

    // Captions typed one per line, an image uploaded through the file picker; exports raise no error.
    await page.$eval('#captions', (t) => {
      (t as unknown as { value: string }).value = 'a red rocket\n\n  a small cat  ';
    });
    await redrawsAfter(page, () => page.click('#score-button'));
    expect(
      await inPage(page, `[...document.querySelectorAll('#scores tbody tr')].map((tr) => tr.children[1].textContent).sort()`),
    ).to.deep.equal(['a red rocket', 'a small cat']); // blank lines dropped, spaces trimmed; still sorted by ITM p
    const picker = await page.$('input#file');
    await redrawsAfter(page, () => picker!.uploadFile(fixture('images', 'rocket.jpg')));
    expect(await inPage(page, `document.querySelectorAll('#image-list button').length`)).to.equal(2);
    expect(await inPage(page, `document.getElementById('preview').naturalWidth`)).to.equal(640);
    await page.click('#export-json');
    await page.click('#export-png');
    await redrawsAfter(page, async () => (await page.$$('#image-list button'))[0].click());
    await page.$eval(
      '#captions',
      (t, value) => {
        (t as unknown as { value: string }).value = value;
      },
      CAPTIONS.join('\n'),
    );
    await redrawsAfter(page, () => page.click('#score-button'));

    const shot = process.env.INSPECTOR_SCREENSHOT ?? path.join(tempDir('blip-itm-inspector-'), 'inspector.png');
    await redrawsAfter(page, () => page.click('button[data-view=gradcam]'));
    await redrawsAfter(page, () => page.select('#layer', '0'));
    await redrawsAfter(page, async () => (await page.$$('#tokens .chip'))[3].click()); // pin "cat"
    await page.mouse.move(5, 5);
    await page.waitForFunction(`document.querySelectorAll('#thumbs figure').length > 0`);
    await page.screenshot({ path: shot as `${string}.png`, fullPage: true });
    expect(fs.statSync(shot).size).to.be.greaterThan(10_000);
    expect(problems, problems.join('\n')).to.deep.equal([]);

    await opened.close();
    browser = undefined;
    started.child.kill('SIGTERM');
    expect(await exited(started.child), started.stderr()).to.equal(0);
  });

  it('shows a named video as its frames with the scores of `blip-itm score --video`, Grad-CAM per frame, uploads another', async () => {
    const videoCaptions = CAPTIONS.slice(0, 2);
    const { started, expected, opened, page, problems } = await openInspector(
      ['--video', CLIP20],
      videoCaptions,
      'a video in the served inspector',
    );

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

    await opened.close();
    browser = undefined;
    started.child.kill('SIGTERM');
    expect(await exited(started.child), started.stderr()).to.equal(0);
  });
});
