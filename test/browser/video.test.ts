import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'puppeteer-core';
import { NodeBlipItm as BlipItm } from '../../src/node/platform';
import { FfmpegDecoder } from '../../src/node/video';
import { RawImage } from '../../src/image/types';
import { uniformFrameIndices } from '../../src/video/sampling';
import { VideoInput } from '../../src/video/source';
import { TINY } from '../helpers/fixtures';
import { tempDir } from '../helpers/tmp';
import { makeTestVideos } from '../helpers/videos';
import { callInPage, launch, openHarness, requireBrowser } from './chromium';
import { StaticServer, startServer } from './static-server';

/**
 * Videos decoded by Chromium (its own H.264/VP8/VP9 decoders, seeking a <video>) through the
 * bundle, against Node's ffmpeg decoding of the same files: the same frame count and sampled
 * indices exactly; pixels and scores close (the two YUV-to-RGB conversions differ).
 */

const BUNDLE = path.resolve(__dirname, '../../../dist/browser/blip-itm.js');
const TINY_URL = '/fixtures/blip-itm-tiny/';
const TEXTS = ['a cat lying on a rug', 'A rocket launching into the sky, with smoke!', 'a horse'];
/** H.264 with B-frames and an edit list; VP9 (33 frames); VP8 with fewer frames than sampled; an edit that cuts. */
const NAMES = ['h264.mp4', 'vp9.webm', 'vp8-short.webm', 'h264-cut.mp4'];
/** Ogg, which the decoder does not index: its frame count is estimated (exact for a constant rate). */
const ESTIMATED = 'vp8.ogv';
const SCORED = [...NAMES, ESTIMATED];
const FRAMES = 8;
/** Scores of the same pixels in Chromium and in Node (both wasm): float rounding only. */
const SAME_PIXELS_TOL = 1e-4;
/**
 * Chromium's H.264/VP8 frames against ffmpeg's (chroma upsampling and rounding differ): measured
 * up to 8.4e-2 (probability) and 1.7e-2 (cosine) on the tiny random-weight model, whose scores
 * swing with small pixel changes; the bound only catches gross errors. Wrong frames are caught
 * by the pixels: a mean |diff| of at most MEAN_PIXEL_TOL levels (measured at most 2.06; VP9: 0).
 */
const DECODER_TOL = 0.15;
const MEAN_PIXEL_TOL = 3;

interface Probe {
  count: number;
  indices: number[];
  estimated: boolean;
  pixels: { width: number; height: number; channels: RawImage['channels']; data: number[] }[];
}
interface Scores {
  probs: number[][];
  itc: number[][];
  leaked: number;
  elements: { currentTime: number; paused: boolean }[];
  ms: number;
}

function call<T>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  return callInPage<T>(page, 'video', fn, ...args);
}

function maxDiff(a: number[][], b: number[][]): number {
  return Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));
}

describe('browser: videos decoded by Chromium through dist/browser/blip-itm.js', function () {
  this.timeout(240000);
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  let files: Record<string, string>;
  let baseline: number;
  const measured: string[] = [];
  const chromiumFrames = new Map<string, RawImage[]>();

  before(async function () {
    requireBrowser(this, BUNDLE);
    const dir = tempDir('blip-itm-browser-video-');
    files = makeTestVideos(dir, [...NAMES, ESTIMATED]);
    const mp4 = fs.readFileSync(files['h264.mp4']);
    fs.writeFileSync(path.join(dir, 'truncated.mp4'), mp4.subarray(0, mp4.length >> 1));
    fs.writeFileSync(path.join(dir, 'garbage.webm'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131) % 256)));
    server = await startServer({ mounts: [['/videos/', dir]] });
    browser = await launch();
    page = await openHarness(browser, server.url);
    await page.evaluate(`import('/pages/video.mjs').then((m) => { window.video = m; })`);
    baseline = await call<number>(page, 'dispose');
    await call(page, 'load', TINY_URL);
  });
  after(async () => {
    await page?.close();
    await browser?.close();
    await server?.close();
    if (measured.length) console.log(`      Chromium vs ffmpeg (measured):\n        ${measured.join('\n        ')}`);
  });

  it('counts the frames ffprobe counts and samples the same indices (MP4 and WebM, and fewer frames than sampled)', async () => {
    for (const name of [...NAMES, ESTIMATED]) {
      const node = await new FfmpegDecoder().open(files[name], name);
      try {
        const count = await node.frameCount();
        const got = await call<Probe>(page, 'probe', `/videos/${name}`, FRAMES);
        expect(got.count, `${name}: frame count`).to.equal(count);
        expect(got.estimated, name).to.equal(name === ESTIMATED);
        expect(got.indices, name).to.deep.equal(uniformFrameIndices(count, FRAMES));
        chromiumFrames.set(
          name,
          got.pixels.map((f) => ({ ...f, data: Uint8Array.from(f.data) })),
        );
        const distinct = [...new Set(got.indices)];
        const ffmpeg = await node.readFrames(distinct);
        let max = 0;
        let sum = 0;
        let n = 0;
        got.pixels.forEach((frame, k) => {
          const ours = ffmpeg[k];
          expect([frame.width, frame.height], `${name}: frame size`).to.deep.equal([ours.width, ours.height]);
          for (let p = 0; p < ours.width * ours.height; p++) {
            for (let c = 0; c < 3; c++) {
              const d = Math.abs(frame.data[p * 4 + c] - ours.data[p * 3 + c]);
              max = Math.max(max, d);
              sum += d;
              n++;
            }
          }
        });
        measured.push(`${name}: ${count} frames; pixels max |diff| ${max}, mean ${(sum / n).toFixed(2)} (of 255)`);
        expect(sum / n, `${name}: mean pixel |diff|`).to.be.at.most(name.startsWith('vp9') ? 0 : MEAN_PIXEL_TOL);
      } finally {
        await node.close();
      }
    }
  });

  it('scores File, URL, <video>, Blob and bytes inputs as Node scores the same files, leaves the page’s <video> alone, leaks nothing', async () => {
    const model = await BlipItm.load(TINY, { backend: 'wasm' });
    try {
      const scores = async (inputs: VideoInput[]) => {
        const videos = await model.encodeVideos(inputs, { frames: FRAMES });
        const out = { probs: (await model.match(videos, TEXTS)).probs, itc: await model.similarity(videos, TEXTS) };
        videos.forEach((v) => v.dispose());
        return out;
      };
      const fromFiles = await scores(SCORED.map((n) => files[n]));
      // Chromium's own sampled frames, given to Node as decoded frames: isolates the decoder.
      const fromChromiumPixels = await scores(SCORED.map((n) => chromiumFrames.get(n)!));
      const kinds = ['file', 'url', 'element', 'blob', 'bytes'];
      const got = await call<Scores>(
        page,
        'score',
        SCORED.map((n) => `/videos/${n}`),
        kinds,
        TEXTS,
        FRAMES,
      );
      expect(got.leaked, 'tensors left').to.equal(0);
      expect(got.elements).to.deep.equal([{ currentTime: 0.05, paused: true }]);
      expect(maxDiff(got.probs, fromChromiumPixels.probs), 'same pixels: ITM probability').to.be.at.most(SAME_PIXELS_TOL);
      expect(maxDiff(got.itc, fromChromiumPixels.itc), 'same pixels: ITC cosine').to.be.at.most(SAME_PIXELS_TOL);
      SCORED.forEach((name, i) => {
        const prob = maxDiff([got.probs[i]], [fromFiles.probs[i]]);
        const itc = maxDiff([got.itc[i]], [fromFiles.itc[i]]);
        measured.push(
          `${name}: vs Node's encodeVideos of the file: ITM probability max |diff| ${prob.toExponential(2)}, ITC cosine ${itc.toExponential(2)}`,
        );
        const bound = name.endsWith('.webm') && name.startsWith('vp9') ? SAME_PIXELS_TOL : DECODER_TOL;
        expect(prob, `${name}: ITM probability`).to.be.at.most(bound);
        expect(itc, `${name}: ITC cosine`).to.be.at.most(bound);
      });
      measured.push(`encodeVideos of the 5 videos in Chromium (wasm): ${got.ms.toFixed(0)} ms`);
    } finally {
      model.dispose();
    }
  });

  it('refuses a truncated file and one that is no video in one line naming it, leaking nothing', async () => {
    for (const [name, pattern] of [
      ['truncated.mp4', /^truncated\.mp4: not a readable video \(the file ends inside its "mdat" box \(truncated\)\)$/],
      ['garbage.webm', /^garbage\.webm: not a video this browser can decode \(.+\)$/],
    ] as const) {
      const got = await call<{ message: string | null; leaked: number }>(page, 'refusal', `/videos/${name}`, 'file');
      expect(got.message, name).to.match(pattern);
      expect(got.message).to.not.include('\n');
      expect(got.leaked).to.equal(0);
    }
    const missing = await call<{ message: string | null }>(page, 'refusal', '/videos/none.mp4', 'url');
    expect(missing.message).to.equal('/videos/none.mp4: HTTP 404 Not Found');
  });

  it('applies the pixel and frame limits and the time-out, in one line naming the video', async () => {
    const cases: [Record<string, number>, string | RegExp][] = [
      [{ maxPixels: 100 }, 'vp9.webm: frames of 32x24 = 768 pixels exceed the 100-pixel limit; raise maxPixels if the file is trusted'],
      [{ maxFrames: 10 }, 'vp9.webm: more than 10 frames exceed the 10-frame limit; raise maxFrames if the file is trusted'],
      [{ timeoutMs: 1 }, /^vp9\.webm: timed out after 0\.001 s loading the video$/],
    ];
    for (const [options, expected] of cases) {
      const got = await call<{ message: string | null; leaked: number }>(page, 'refusal', '/videos/vp9.webm', 'file', options);
      if (typeof expected === 'string') expect(got.message, JSON.stringify(options)).to.equal(expected);
      else expect(got.message, JSON.stringify(options)).to.match(expected);
      expect(got.leaked).to.equal(0);
    }
  });

  it('frees every tensor on dispose()', async () => {
    expect(await call<number>(page, 'dispose')).to.equal(baseline);
  });
});
