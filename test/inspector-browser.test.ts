import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser } from 'puppeteer-core';
import { accessibilityViolations, launch, requireBrowser, watchProblems } from './browser/chromium';
import { cli } from './helpers/cli';
import { TINY, fixture } from './helpers/fixtures';
import { canvasPixels, inPage, redrawsAfter } from './helpers/inspector-page';
import { exited, startInspector } from './helpers/inspector-cli';
import { tempDir } from './helpers/tmp';
const IMAGE = fixture('images', 'chelsea.png');
const CAPTIONS = ['a cat lying on a rug', 'a rocket launching into the sky', 'a tabby cat with green eyes'];

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

  it('shows the image and the captions with the probabilities of `blip-itm score`, redraws on layer and head, shuts down cleanly', async () => {
    const model = ['--model', TINY, '--backend', 'wasm'];
    const textArgs = CAPTIONS.flatMap((t) => ['--text', t]);
    const [started, scored] = await Promise.all([
      startInspector([...model, '--image', IMAGE, ...textArgs, '--port', '0']),
      cli(['score', ...model, '--image', IMAGE, ...textArgs, '--json']),
    ]);
    server = started;
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(scored.code, scored.stderr).to.equal(0);
    const expected = (JSON.parse(scored.stdout) as { itm: number[][] }).itm[0].map((p) => p.toFixed(4));

    browser = await launch();
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    const problems = watchProblems(page, { warnings: true });
    await page.goto(server.url);
    await page.waitForFunction('window.inspector && window.inspector.redraws > 0', { timeout: 60_000 });
    expect(await accessibilityViolations(page), 'axe on the served inspector').to.deep.equal([]);

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

    await browser.close();
    browser = undefined;
    server.child.kill('SIGTERM');
    expect(await exited(server.child), server.stderr()).to.equal(0);
  });
});
