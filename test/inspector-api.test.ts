import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import { attentionMaps } from '../src/pictures/attention';
import { defaultSelection, meanRows } from '../src/pictures/tokens';
import { declaredSize } from '../src/inspector/image-size';
import { ACTIVATION } from '../src/inspector/names';
import { addImageFile, nodeSession, serveInspector } from '../src/inspector/server';
import { GradcamView, ScoreResult, groupWords } from '../src/inspector/session';
import { AttentionSet } from '../src/inspector/analysis';
import { decodeImage } from '../src/node/image';
import { BlipItm } from '../src/model/blip-itm';
import { serveForSuite } from './helpers/inspector-server';
import { IMAGES, TEXTS, TINY, fixture } from './helpers/fixtures';
import { httpCall, postJson } from './helpers/http-call';

/** Maps travel rounded to 6 significant digits (relative error at most 5e-6). */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(actual[i], `${what}[${i}]`).to.be.closeTo(expected[i], 1e-5 * Math.abs(expected[i]) + 1e-12);
  }
}

describe('inspector HTTP API', function () {
  this.timeout(60_000);
  const served = serveForSuite({ maxUploadBytes: 200_000, maxPixels: 400_000 }, async (session) => {
    await addImageFile(session, IMAGES[1]); // rocket.jpg: id 0
    await addImageFile(session, IMAGES[2]); // horse.png: id 1
  });
  let model: BlipItm;
  let url: string;
  before(() => ({ model, url } = served));

  it('listens on 127.0.0.1 and describes the session', async () => {
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const r = await httpCall(`${url}api/session`);
    expect(r.status).to.equal(200);
    const s = r.json() as {
      images: { id: number; name: string }[];
      texts: string[];
      model: { textLayers: number; defaultGradcamLayer: number; grid: number };
    };
    expect(s.images.map((i) => [i.id, i.name])).to.deep.equal([
      [0, 'rocket.jpg'],
      [1, 'horse.png'],
    ]);
    expect(s.texts).to.deep.equal(TEXTS);
    expect(s.model.textLayers).to.equal(model.config.text.numHiddenLayers);
    expect(s.model.grid).to.equal(model.config.vision.imageSize / model.config.vision.patchSize);
    const page = await httpCall(url);
    expect(page.status).to.equal(200);
    expect(page.headers['content-type']).to.match(/text\/html/);
    expect(page.headers['content-security-policy']).to.contain("default-src 'self'");
    for (const asset of ['app.js', 'api.js', 'draw.js', 'views.js', 'style.css', 'favicon.svg'])
      expect((await httpCall(url + asset)).status, asset).to.equal(200);
  });

  it('scores equal model.match and model.similarity, with [CLS] and with [ENC]', async () => {
    for (const encToken of [false, true]) {
      const { status, value } = await postJson<ScoreResult>(`${url}api/score`, { image: 0, texts: TEXTS, encToken });
      expect(status).to.equal(200);
      const match = await model.match([IMAGES[1]], TEXTS, { encToken });
      expect(value.probs).to.deep.equal(match.probs[0]);
      expect(value.logits).to.deep.equal(match.logits[0]);
      expect(value.itc).to.deep.equal((await model.similarity([IMAGES[1]], TEXTS))[0]);
    }
  });

  it('Grad-CAM equals model.gradcam; the caption map is the mean over word tokens', async () => {
    for (const layer of [0, 1]) {
      const { status, value } = await postJson<GradcamView>(`${url}api/gradcam`, { image: 1, text: TEXTS[0], layer });
      expect(status).to.equal(200);
      const ref = await model.gradcam(IMAGES[2], TEXTS[0], { layer });
      expect(value.layer).to.equal(layer);
      expect(value.probability).to.equal(ref.probability);
      expect(value.tokens).to.deep.equal(ref.tokens);
      ref.maps.forEach((m, i) => expectClose(value.maps[i], m, `layer ${layer} token ${i}`));
      const words = defaultSelection(ref.tokens).positions;
      expect(value.caption.positions).to.deep.equal(words);
      expectClose(value.caption.map, meanRows(ref.maps, words), 'caption map');
      expect(value.words.map((w) => w.text).join(' ')).to.equal('a cat lying on a rug');
    }
    const enc = await postJson<GradcamView>(`${url}api/gradcam`, { image: 1, text: TEXTS[0], layer: 0, encToken: true });
    const encRef = await model.gradcam(IMAGES[2], TEXTS[0], { layer: 0, encToken: true });
    expect(enc.value.tokens[0]).to.equal('[ENC]');
    expect(enc.value.probability).to.equal(encRef.probability);
    expectClose(enc.value.maps[2], encRef.maps[2], '[ENC] map of "cat"');
    const dflt = await postJson<GradcamView>(`${url}api/gradcam`, { image: 1, text: TEXTS[0] });
    expect(dflt.value.layer).to.equal((await model.gradcam(IMAGES[2], TEXTS[0])).layer);
  });

  it('attention maps equal attentionMaps per layer and head; rollout as Abnar & Zuidema', async () => {
    const text = TEXTS[1];
    const { status, value } = await postJson<AttentionSet>(`${url}api/attention`, { image: 0, text });
    expect(status).to.equal(200);
    const { text: t, vision: v } = model.config;
    for (let layer = 0; layer < t.numHiddenLayers; layer++) {
      for (let head = 0; head < t.numAttentionHeads; head++) {
        const cross = await attentionMaps(model, IMAGES[1], text, { kind: 'cross', layer, head });
        cross.maps.forEach((m, q) => expectClose(value.cross[layer][head][q], m, `cross ${layer}/${head}/${q}`));
        const self = await attentionMaps(model, IMAGES[1], text, { kind: 'text', layer, head });
        self.maps.forEach((m, q) => expectClose(value.textSelf[layer][head][q], m, `text ${layer}/${head}/${q}`));
        expect(value.tokens).to.deep.equal(self.tokens);
      }
    }
    for (let layer = 0; layer < v.numHiddenLayers; layer++) {
      for (let head = 0; head < v.numAttentionHeads; head++) {
        const vision = await attentionMaps(model, IMAGES[1], text, { kind: 'vision', layer, head });
        expectClose(value.vision[layer][head], vision.maps[0], `vision ${layer}/${head}`);
      }
    }
    // Rollout by hand: per layer mean over heads, + identity, rows renormalised, multiplied through.
    const out = await model.forward([IMAGES[1]], [text]);
    let rollout: number[][] | null = null;
    for (let layer = 0; layer < v.numHiddenLayers; layer++) {
      const perHead = ((await out.get(ACTIVATION.visionAttention(layer))!.array()) as number[][][][])[0];
      const n = perHead[0].length;
      const a = Array.from({ length: n }, (_, i) =>
        Array.from({ length: n }, (_, j) => {
          const mean = perHead.reduce((s, h) => s + h[i][j], 0) / perHead.length;
          return mean + (i === j ? 1 : 0);
        }),
      ).map((row) => {
        const s = row.reduce((x, y) => x + y, 0);
        return row.map((x) => x / s);
      });
      const prev: number[][] | null = rollout;
      rollout = prev ? a.map((row) => row.map((_, j) => row.reduce((s, x, k) => s + x * prev[k][j], 0))) : a;
      expectClose(
        value.rollout[layer].map((x) => x * 1e3),
        rollout[0].slice(1).map((x) => x * 1e3),
        `rollout ${layer}`,
      );
    }
    out.forEach((x) => x.dispose());
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin; accepts localhost', async () => {
    const port = new URL(url).port;
    const host = await httpCall(`${url}api/session`, { headers: { Host: `evil.example:${port}` } });
    expect(host.status).to.equal(421);
    expect(host.json().error).to.match(/Host "evil\.example:\d+" is not this server/);
    const page = await httpCall(url, { headers: { Host: 'attacker.test' } });
    expect(page.status).to.equal(421);
    const origin = await httpCall(`${url}api/score`, {
      method: 'POST',
      headers: { Origin: 'http://evil.example', 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: 0, texts: ['x'] }),
    });
    expect(origin.status).to.equal(403);
    expect(
      (await httpCall(`${url}api/session`, { headers: { Host: `localhost:${port}`, Origin: `http://localhost:${port}` } })).status,
    ).to.equal(200);
  });

  it("bound to every interface, answers to the machine's names only", async () => {
    const wide = await serveInspector(nodeSession(model, TINY, []), { host: '0.0.0.0', port: 0 });
    try {
      expect(wide.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const port = new URL(wide.url).port;
      expect((await httpCall(`${wide.url}api/session`, { headers: { Host: `${os.hostname()}:${port}` } })).status).to.equal(200);
      expect((await httpCall(`${wide.url}api/session`, { headers: { Host: `rebound.example:${port}` } })).status).to.equal(421);
    } finally {
      await wide.close();
    }
  });

  it('refuses uploads over the byte limit and the pixel limit with a clear message, before decoding', async () => {
    const big = fs.readFileSync(IMAGES[0]); // chelsea.png, 240 kB > 200 kB
    const tooBig = await httpCall(`${url}api/images`, { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: big });
    expect(tooBig.status).to.equal(413);
    expect(tooBig.json().error).to.match(/image too large: 0\.2 MB; the inspector accepts images up to 0\.2 MB/);
    // A small PNG whose header claims 4000 x 3000: refused from the header alone.
    const small = Buffer.from(fs.readFileSync(IMAGES[2]));
    small.writeUInt32BE(4000, 16);
    small.writeUInt32BE(3000, 20);
    const bomb = await httpCall(`${url}api/images`, { method: 'POST', headers: { 'X-Image-Name': 'bomb.png' }, body: small });
    expect(bomb.status).to.equal(413);
    expect(bomb.json().error).to.equal("bomb.png: 4000x3000 pixels (12.0 MP) is over the inspector's limit of 0.4 MP; downscale it first");
    const notImage = await httpCall(`${url}api/images`, { method: 'POST', body: 'hello' });
    expect(notImage.status).to.equal(415);
  });

  it('takes an upload and scores it as the library scores the same bytes', async () => {
    const bytes = fs.readFileSync(IMAGES[2]);
    const up = await httpCall(`${url}api/images`, { method: 'POST', headers: { 'X-Image-Name': '../../etc/x.png' }, body: bytes });
    expect(up.status).to.equal(200);
    const info = up.json() as { id: number; name: string; width: number };
    expect(info.name).to.equal('.._.._etc_x.png');
    const { value } = await postJson<ScoreResult>(`${url}api/score`, { image: info.id, texts: TEXTS });
    expect(value.probs).to.deep.equal((await model.match([bytes], TEXTS)).probs[0]);
    const png = await httpCall(`${url}api/images/${info.id}.png`);
    expect(png.headers['content-type']).to.equal('image/png');
  });

  it('never reads a path from a request: images are ids', async () => {
    const byPath = await postJson<{ error: string }>(`${url}api/score`, { image: '/etc/passwd', texts: ['x'] });
    expect(byPath.status).to.equal(400);
    expect(byPath.value.error).to.match(/"image" must be an integer/);
    const missing = await postJson<{ error: string }>(`${url}api/score`, { image: 99, texts: ['x'] });
    expect(missing.status).to.equal(404);
    expect((await httpCall(`${url}../../etc/passwd`)).status).to.equal(404);
    expect((await httpCall(`${url}api/images/..%2F..%2Fpackage.json`)).status).to.equal(404);
  });

  it('checks the request: JSON only, layer in range, caption count', async () => {
    const r = await httpCall(`${url}api/score`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
    expect(r.status).to.equal(415);
    const layer = await postJson<{ error: string }>(`${url}api/gradcam`, { image: 0, text: 'x', layer: 7 });
    expect(layer.status).to.equal(400);
    expect(layer.value.error).to.match(/layer 7 is out of range: the text encoder has layers 0\.\.1/);
    const many = await postJson<{ error: string }>(`${url}api/score`, { image: 0, texts: Array(65).fill('x') });
    expect(many.status).to.equal(413);
  });
});

describe('inspector helpers', () => {
  it('declaredSize reads PNG, JPEG, WebP and GIF headers without decoding', () => {
    for (const file of [
      ...IMAGES,
      fixture('images', 'camera.png'),
      fixture('images-extra', 'j422_prog.jpg'),
      fixture('images-extra', 'jexif6.jpg'),
      fixture('images-webp-gif', 'lossy.webp'),
      fixture('images-webp-gif', 'alpha-lossless.webp'),
      fixture('images-webp-gif', 'animated.gif'),
    ]) {
      const bytes = fs.readFileSync(file);
      const decoded = decodeImage(bytes, file, { exifTranspose: false });
      expect(declaredSize(bytes), file).to.deep.equal({ width: decoded.width, height: decoded.height });
    }
    expect(declaredSize(Buffer.from('BM....'))).to.equal(null);
    expect(declaredSize(fs.readFileSync(fixture('video', 'clip5.mkv')))).to.equal(null);
  });

  it('groupWords joins word pieces', () => {
    expect(groupWords(['[CLS]', 'a', 'tab', '##by', 'cat', '[SEP]'])).to.deep.equal([
      { text: 'a', positions: [1] },
      { text: 'tabby', positions: [2, 3] },
      { text: 'cat', positions: [4] },
    ]);
  });
});
