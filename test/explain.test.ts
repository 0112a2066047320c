import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { PNG } from 'pngjs';
import { parse } from '../src/cli/command';
import { explain } from '../src/cli/verbs/explain';
import { RgbImage } from '../src/image';
import { decodeImage } from '../src/node/image';
import { attentionMaps } from '../src/pictures/attention';
import { colourAt, getColormap } from '../src/pictures/colormap';
import { explainImage } from '../src/pictures/explain';
import { drawText, textWidth } from '../src/pictures/font';
import { gridLayout } from '../src/pictures/grid';
import { heatMap, normaliseMap, overlayMap } from '../src/pictures/overlay';
import { encodePng } from '../src/pictures/png';
import { gaussianBlur, upsampleMap } from '../src/pictures/upsample';
import { BlipItm } from '../src/model/blip-itm';
import { IMAGES, TEXTS, TINY, reference } from './helpers/fixtures';
import { expectReject } from './helpers/expect';
import { tempDir } from './helpers/tmp';

const CHELSEA = IMAGES[0];
const CAPTION = 'a tabby cat lying on a rug';

/** Runs `blip-itm explain ARGS --json` on the tiny model; returns the parsed JSON, the written PNG and stderr. */
async function runExplain(out: string, ...argv: string[]): Promise<{ json: Record<string, unknown>; png: PNG; stderr: string }> {
  const args = parse(explain, ['--model', TINY, '--backend', tf.getBackend(), '--image', CHELSEA, '--out', out, '--json', ...argv]);
  const captured = { stdout: '', stderr: '' };
  const saved = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].write = ((chunk: string | Uint8Array) => {
      captured[name] += String(chunk);
      return true;
    }) as typeof process.stdout.write;
  }
  try {
    await explain.run(args);
  } finally {
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
  }
  const json = JSON.parse(captured.stdout) as Record<string, unknown>;
  return { json, png: PNG.sync.read(fs.readFileSync(out)), stderr: captured.stderr };
}

/** The RGB bytes of pixel (x, y) of a decoded pngjs image (RGBA) or an RgbImage (RGB). */
function pixelOf(img: { data: ArrayLike<number>; width: number; height: number }, x: number, y: number): number[] {
  const c = img.data.length / (img.width * img.height);
  const i = (y * img.width + x) * c;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

function maxDeviation(values: Float32Array, from: number): number {
  let worst = 0;
  for (const v of values) worst = Math.max(worst, Math.abs(v - from));
  return worst;
}

/** Index of the largest (sign 1) or smallest (sign -1) value. */
function argExtreme(values: Float32Array, sign: 1 | -1): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (sign * (values[i] - values[best]) > 0) best = i;
  return best;
}

describe('inspect: colour maps, upsampling, overlay, PNG', () => {
  it("jet has matplotlib's endpoints and middle; viridis and inferno their end colours", () => {
    const jet = getColormap('jet');
    const close = (a: number[], b: number[], tol: number) => a.forEach((v, i) => expect(v).to.be.closeTo(b[i], tol));
    close(colourAt(jet, 0), [0, 0, 0.5], 1e-6);
    close(colourAt(jet, 1), [0.5, 0, 0], 1e-6);
    close(colourAt(jet, 0.5), [0.4902, 1, 0.4775], 1e-3); // matplotlib: jet(0.5) = lut[128]
    close(colourAt(jet, -3), colourAt(jet, 0), 0); // clipped
    close(colourAt(jet, Number.NaN), colourAt(jet, 0), 0);
    close(colourAt(getColormap('viridis'), 0), [0.267004, 0.004874, 0.329415], 3e-3);
    close(colourAt(getColormap('viridis'), 1), [0.993248, 0.906157, 0.143936], 3e-3);
    close(colourAt(getColormap('inferno'), 1), [0.988362, 0.998364, 0.644924], 3e-3);
  });

  it("upsampling a constant map gives the constant; a patch's value lands at its centre", () => {
    for (const mode of ['bilinear', 'bicubic'] as const) {
      const flat = upsampleMap({ data: new Float32Array(16).fill(0.37), width: 4, height: 4 }, 451, 300, mode);
      expect(flat.width).to.equal(451);
      expect(flat.height).to.equal(300);
      expect(maxDeviation(flat.data, 0.37)).to.be.lessThan(1e-6);
      // One hot cell at row 1, column 2 of 4x4 → 64x64: its centre is between pixels 39/40 (x) and 23/24 (y).
      const impulse = new Float32Array(16);
      impulse[1 * 4 + 2] = 1;
      const up = upsampleMap({ data: impulse, width: 4, height: 4 }, 64, 64, mode).data;
      const at = (x: number, y: number) => up[y * 64 + x];
      const max = up[argExtreme(up, 1)];
      expect(at(39, 23)).to.be.closeTo(max, 1e-6);
      expect(at(40, 24)).to.be.closeTo(at(39, 23), 1e-6);
      expect(at(40, 23)).to.be.closeTo(at(39, 24), 1e-6);
    }
    const blurred = gaussianBlur({ data: new Float32Array(50 * 30).fill(2), width: 50, height: 30 }, 6);
    expect(maxDeviation(blurred.data, 2)).to.be.lessThan(1e-5);
  });

  it('normalises per map to [0, 1], a constant or all-zero map to zeros without NaN', () => {
    expect(Array.from(normaliseMap(Float32Array.from([2, 4, 6])))).to.deep.equal([0, 0.5, 1]);
    expect(Array.from(normaliseMap(new Float32Array(5)))).to.deep.equal([0, 0, 0, 0, 0]);
    expect(Array.from(normaliseMap(new Float32Array(5).fill(3)))).to.deep.equal([0, 0, 0, 0, 0]);
    const heat = heatMap({ data: new Float32Array(16), width: 4, height: 4 }, 20, 10).data;
    expect(heat.every((v) => v === 0)).to.equal(true);
  });

  it('overlays: a zero map leaves the image as is; a hot cell colours its patch; PNG round-trips', () => {
    const image = decodeImage(CHELSEA);
    expect(overlayMap(image, { data: new Float32Array(16), width: 4, height: 4 }).data).to.deep.equal(image.data);
    const hot = new Float32Array(16);
    hot[0] = 1;
    const over = overlayMap(image, { data: hot, width: 4, height: 4 }, { alpha: 1 });
    const diff = (x: number, y: number) => pixelOf(over, x, y).reduce((s, v, i) => s + Math.abs(v - pixelOf(image, x, y)[i]), 0);
    expect(diff(30, 30)).to.be.greaterThan(100); // top-left patch: dark red
    expect(diff(440, 290)).to.be.lessThan(3); // far corner: the map is 0 there
    const png = PNG.sync.read(encodePng(over));
    expect([png.width, png.height]).to.deep.equal([image.width, image.height]);
    expect(pixelOf(png, 30, 30)).to.deep.equal(pixelOf(over, 30, 30));
  });

  it('writes labels with the built-in font, non-ASCII as ?', () => {
    const img: RgbImage = { data: new Uint8Array(40 * 10 * 3).fill(255), width: 40, height: 10 };
    drawText(img, 'é1', 0, 0);
    expect(textWidth('é1')).to.equal(11);
    const ink = (x0: number, x1: number) => {
      let n = 0;
      for (let y = 0; y < 10; y++) for (let x = x0; x < x1; x++) if (img.data[(y * 40 + x) * 3] === 0) n++;
      return n;
    };
    const q: RgbImage = { data: new Uint8Array(40 * 10 * 3).fill(255), width: 40, height: 10 };
    drawText(q, '?', 0, 0);
    expect(ink(0, 5)).to.be.greaterThan(0);
    expect(img.data.subarray(0, 5 * 3)).to.deep.equal(q.data.subarray(0, 5 * 3)); // first glyph drawn as '?'
  });
});

describe('inspect on the tiny checkpoint', function () {
  let model: BlipItm;
  const tmp = tempDir('blip-explain-');
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => {
    model.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('gradcam() equals the PyTorch reference (gradcam.1) for two pairs', async () => {
    const ref = reference('tiny-activations.safetensors').get('gradcam.1')!;
    const [, padded, g] = ref.shape;
    for (const [img, txt] of [
      [0, 0],
      [2, 2],
    ]) {
      const r = await model.gradcam(IMAGES[img], TEXTS[txt], { layer: 1 });
      expect(r.layer).to.equal(1);
      expect(r.grid).to.equal(g);
      const k = img * 3 + txt;
      r.maps.forEach((map, row) => {
        const want = ref.data.subarray((k * padded + row) * g * g, (k * padded + row + 1) * g * g);
        map.forEach((v, i) => expect(v).to.be.closeTo(want[i], 1e-4));
      });
    }
  });

  it('attentionMaps() gives cross attention as the reference, vision and text maps as plain arrays', async () => {
    const cross = await attentionMaps(model, CHELSEA, TEXTS[0], { kind: 'cross', layer: 1 });
    const ref = reference('tiny-activations.safetensors').get('itm.text.cross_attentions.1')!; // [9, H, 12, 17]
    const [, h, l, t] = ref.shape;
    expect(cross.grid).to.equal(4);
    expect(cross.maps).to.have.length(cross.tokens.length);
    cross.maps.forEach((map, q) =>
      map.forEach((v, i) => {
        let mean = 0;
        for (let head = 0; head < h; head++) mean += ref.data[(head * l + q) * t + 1 + i] / h;
        expect(v).to.be.closeTo(mean, 1e-4);
      }),
    );
    const vision = await attentionMaps(model, CHELSEA, '', { kind: 'vision', head: 2 });
    expect(vision.layer).to.equal(1);
    expect(vision.maps).to.have.length(17);
    expect(vision.queries[1]).to.equal('patch 0,0');
    expect(vision.maps[0]).to.have.length(16);
    const text = await attentionMaps(model, CHELSEA, CAPTION, { kind: 'text', layer: 0 });
    expect(text.maps).to.have.length(text.tokens.length);
    for (const row of text.maps) expect(row.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-4);
    await expectReject(attentionMaps(model, CHELSEA, 'x', { kind: 'vision', layer: 2 }), /layer 2 is out of range.*0\.\.1/);
    await expectReject(attentionMaps(model, CHELSEA, 'x', { kind: 'cross', head: 4 }), /head 4 is out of range/);
  });

  it("explain writes a PNG of the image's size that is coloured where the map is large", async () => {
    const out = path.join(tmp, 'heat.png');
    const { json, png } = await runExplain(out, '--text', CAPTION, '--layer', '0');
    const image = decodeImage(CHELSEA);
    expect([png.width, png.height]).to.deep.equal([image.width, image.height]);
    expect(json).to.include({ method: 'gradcam', layer: 0, width: 451, height: 300 });
    expect(json.map).to.deep.equal({ label: 'all words (mean)', positions: [1, 2, 3, 4, 5, 6, 7, 8] });
    // Recompute the heat map the picture was made from: the colour is strongest where it peaks.
    const g = await model.gradcam(CHELSEA, CAPTION, { layer: 0 });
    const mean = new Float32Array(16);
    for (let row = 1; row <= 8; row++)
      g.maps[row].forEach((v, i) => {
        mean[i] += v / 8;
      });
    const heat = heatMap({ data: mean, width: 4, height: 4 }, image.width, image.height).data;
    const hi = argExtreme(heat, 1);
    const lo = argExtreme(heat, -1);
    const change = (p: number) => {
      const [x, y] = [p % image.width, Math.floor(p / image.width)];
      return pixelOf(png, x, y).reduce((s, v, i) => s + Math.abs(v - pixelOf(image, x, y)[i]), 0);
    };
    expect(change(hi)).to.be.greaterThan(60);
    expect(change(lo)).to.be.lessThan(3);
  });

  it('explain --size scales the output; the last layer gives zero word maps, drawn as the plain image', async () => {
    const { json: byDefault } = await runExplain(path.join(tmp, 'default.png'), '--text', CAPTION, '--size', '64');
    expect(byDefault.layer).to.equal(0); // defaultGradcamLayer(2) avoids the last layer
    const { json, png, stderr } = await runExplain(path.join(tmp, 'small.png'), '--text', CAPTION, '--size', '128', '--layer', '1');
    expect([png.width, png.height]).to.deep.equal([128, 85]);
    expect(json.layer).to.equal(1); // the last layer, where only [CLS] reaches the ITM head
    expect(json.zeroMaps).to.deep.equal(['all words (mean)']);
    expect(stderr).to.match(/zero everywhere.*try an earlier --layer/);
  });

  it('explain --grid draws the image, the all-words mean and one tile per token', async () => {
    const { json, png } = await runExplain(path.join(tmp, 'grid.png'), '--text', CAPTION, '--grid', '--size', '96', '--layer', '0');
    const tokens = json.tokens as string[];
    expect(tokens).to.deep.equal(['[CLS]', 'a', 'tab', '##by', 'cat', 'lying', 'on', 'a', 'rug', '[SEP]']);
    expect(json.tiles).to.deep.equal(['image', 'all words', ...tokens]);
    const layout = gridLayout(tokens.length + 2, 96, 64, true);
    expect(layout.columns * layout.rows).to.be.at.least(12);
    expect([png.width, png.height]).to.deep.equal([layout.width, layout.height]);
  });

  it('explain --token picks a word (its pieces averaged); an unknown word lists the tokens', async () => {
    const { json } = await runExplain(path.join(tmp, 'tok.png'), '--text', CAPTION, '--token', 'Tabby', '--layer', '0');
    expect(json.map).to.deep.equal({ label: 'Tabby (tab ##by)', positions: [2, 3] });
    const a = await runExplain(path.join(tmp, 'tok-a.png'), '--text', CAPTION, '--token', 'a', '--layer', '0');
    expect((a.json.map as { positions: number[] }).positions).to.deep.equal([1, 7]); // every occurrence
    await expectReject(
      runExplain(path.join(tmp, 'tok2.png'), '--text', CAPTION, '--token', 'dog'),
      /"dog" is not in the text; its tokens are: \[CLS\] a tab ##by cat lying on a rug \[SEP\]/,
    );
  });

  it('explain rejects an out-of-range layer and bad options clearly', async () => {
    await expectReject(
      runExplain(path.join(tmp, 'bad.png'), '--text', 'x', '--layer', '2'),
      /layer 2 is out of range: the text encoder has layers 0\.\.1/,
    );
    await expectReject(runExplain(path.join(tmp, 'bad.png'), '--text', 'x', '--alpha', '2'), /--alpha must be in \[0, 1\]/);
    await expectReject(runExplain(path.join(tmp, 'bad.png'), '--text', 'x', '--colormap', 'rainbow'), /--colormap must be/);
    await expectReject(runExplain(path.join(tmp, 'bad.png'), '--text', 'x', '--grid', '--token', 'x'), /use it or --token, not both/);
    await expectReject(
      runExplain(path.join(tmp, 'bad.png'), '--text', 'x', '--attention', 'text', '--token', 'x'),
      /--token applies to Grad-CAM/,
    );
    await expectReject(
      runExplain(path.join(tmp, 'no-such-dir', 'x.png'), '--text', 'x'),
      /no such directory|directory .*no-such-dir\/ does not exist/,
    );
  });

  it('explain --attention writes cross, vision and text pictures', async () => {
    const cross = await runExplain(path.join(tmp, 'cross.png'), '--text', CAPTION, '--attention', 'cross', '--head', '1');
    expect(cross.json).to.include({ method: 'attention', attention: 'cross', head: 1, layer: 0 });
    expect([cross.png.width, cross.png.height]).to.deep.equal([451, 300]);
    const vision = await runExplain(path.join(tmp, 'vision.png'), '--attention', 'vision');
    expect(vision.json).to.include({ attention: 'vision', layer: 1, head: 'mean' });
    const text = await runExplain(path.join(tmp, 'text.png'), '--text', CAPTION, '--attention', 'text');
    expect(text.png.width).to.be.greaterThan(10 * 16); // a 10 x 10 token matrix with labels
  });

  it('leaks no tensors', async () => {
    const image = decodeImage(CHELSEA);
    const before = tf.memory().numTensors;
    await model.gradcam(CHELSEA, CAPTION);
    await attentionMaps(model, CHELSEA, CAPTION, { kind: 'cross' });
    await attentionMaps(model, CHELSEA, CAPTION, { kind: 'vision' });
    await attentionMaps(model, CHELSEA, CAPTION, { kind: 'text' });
    await explainImage(model, image, CAPTION, { grid: true, size: 32 });
    await expectReject(explainImage(model, image, CAPTION, { layer: 9 }), /out of range/);
    expect(tf.memory().numTensors).to.equal(before);
    await runExplain(path.join(tmp, 'leak.png'), '--text', CAPTION); // loads and disposes its own model
    expect(tf.memory().numTensors).to.equal(before);
  });
});
