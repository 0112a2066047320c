import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as path from 'path';
import type { Browser } from 'puppeteer-core';
import { BROWSER_DIST, StaticServer, startStaticServer } from '../src/inspector/static-server';
import { accessibilityViolations, launch, requireBrowser, watchProblems } from './browser/chromium';
import { fixture } from './helpers/fixtures';
import { inPage, redrawsAfter } from './helpers/inspector-page';
import { tempDir } from './helpers/tmp';

const BUNDLE = path.join(BROWSER_DIST, 'blip-itm.js');
const PAGE = path.join(BROWSER_DIST, 'inspector/index.html');
const CAPTIONS = ['a cat lying on a rug', 'a horse'];
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

describe('inspector without a server: a video decoded by the browser', function () {
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

  it('opens ?video=&frames=, scores it as encodeVideos in the page, shows Grad-CAM per frame, uploads another; axe and console clean', async () => {
    const videos = tempDir('blip-itm-inspector-video-');
    webm(videos);
    server = await startStaticServer({
      mounts: [
        ['/models/', fixture()],
        ['/videos/', videos],
        ['/', BROWSER_DIST],
      ],
    });
    browser = await launch();
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
