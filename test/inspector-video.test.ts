import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import { NodeBlipItm as BlipItm } from '../src/node/platform';
import { FfmpegDecoder } from '../src/node/video';
import { addImageFile, addVideoFile } from '../src/inspector/server';
import { DEFAULT_LIMITS, GradcamView, InspectorLimits, InspectorSession, RequestError, ScoreResult } from '../src/inspector/session';
import { decodeImage } from '../src/node/image';
import { uniformFrameIndices } from '../src/video/sampling';
import { VideoDecoderUnavailable } from '../src/video/source';
import { IMAGES, TEXTS, TINY, fixture } from './helpers/fixtures';
import { serveForSuite } from './helpers/inspector-server';
import { httpCall, postJson } from './helpers/http-call';

const CLIP20 = fixture('video', 'clip20.mkv');
const CLIP7 = fixture('video', 'clip7.mkv');

/** Scores travel as JSON numbers, maps rounded to 6 significant digits: 1e-5 covers both. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).to.equal(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i], `${what}[${i}]`).to.be.closeTo(expected[i], 1e-5);
}

async function refusal(call: Promise<unknown>): Promise<RequestError> {
  try {
    await call;
  } catch (e) {
    expect(e).to.be.instanceOf(RequestError);
    expect((e as Error).message).not.to.contain('\n');
    return e as RequestError;
  }
  throw new Error('expected a refusal');
}

describe('inspector: videos in the session', function () {
  this.timeout(120_000);
  let model: BlipItm;
  let tensorsBefore: number;
  const open: InspectorSession[] = [];
  const session = (limits: Partial<InspectorLimits> = {}) => {
    const s = new InspectorSession(model, { source: 'tiny', backend: 'test' }, TEXTS, {
      limits: { ...DEFAULT_LIMITS, ...limits },
      videoDecoder: new FfmpegDecoder(),
    });
    open.push(s);
    return s;
  };

  before(() => {
    model = BlipItm.fromDir(TINY);
    tensorsBefore = tf.memory().numTensors;
  });

  after(async () => {
    for (const s of open) await s.close();
    expect(tf.memory().numTensors, 'tensors left after close').to.equal(tensorsBefore);
    model?.dispose();
  });

  for (const [file, frames] of [
    [CLIP20, undefined],
    [CLIP20, 3],
    [CLIP7, 8], // shorter than the frame count: frame 0 eight times
  ] as const) {
    it(`scores ${file.split('/').pop()} (frames ${frames ?? 'default'}) as model.match/similarity on encodeVideos`, async () => {
      const s = session();
      const info = await s.addVideo(fs.readFileSync(file), 'clip', { frames });
      const vlen = file === CLIP20 ? 20 : 7;
      expect(info.video).to.deep.equal({ frameCount: vlen, sampled: uniformFrameIndices(vlen, frames ?? 8) });
      const [video] = await model.encodeVideos([file], { frames });
      try {
        for (const encToken of [false, true]) {
          const got = await s.score(info.id, TEXTS, encToken);
          const match = await model.match([video], TEXTS, { encToken });
          expectClose(got.probs, match.probs[0], 'probs');
          expectClose(got.logits.flat(), match.logits[0].flat(), 'logits');
          expectClose(got.itc, (await model.similarity([video], TEXTS, { encToken }))[0], 'itc');
        }
        const g = await s.gradcam(info.id, TEXTS[0], 0, false);
        const expected = await model.gradcam(video, TEXTS[0], { layer: 0 });
        const n = info.video?.sampled.length ?? 0;
        expect(g.frames).to.equal(n);
        expect(g.maps.length).to.equal(g.tokens.length);
        for (const [t, m] of g.maps.entries()) {
          expect(m.length).to.equal(n * g.grid * g.grid);
          expectClose(m, expected.maps[t], `token ${t}`);
        }
        expect(g.caption.map.length).to.equal(n * g.grid * g.grid);
        for (const w of g.words) expect(w.map.length).to.equal(n * g.grid * g.grid);
      } finally {
        video.dispose();
      }
    });
  }

  it('keeps small copies of the sampled frames only, and refuses attention maps for a video', async () => {
    const s = session();
    const info = await s.addVideo(fs.readFileSync(CLIP20), 'clip20.mkv', { frames: 4 });
    const { width, height } = model.processor.config;
    const frame = s.display(info.id, 3);
    expect([frame.width, frame.height]).to.deep.equal([info.width, info.height]); // small frames: no shrinking
    expect(s.storedBytes()).to.equal(4 * (width * height * 3 + info.width * info.height * 3));
    expect((await refusal(Promise.resolve().then(() => s.display(info.id, 4)))).status).to.equal(404);
    const attention = await refusal(Promise.resolve().then(() => s.attention(info.id, 'a cat', false)));
    expect(attention.status).to.equal(400);
    expect(attention.message).to.match(/attention maps are for images only/);
  });

  it('refuses videos over the limits and unreadable ones in one line', async () => {
    const bytes = fs.readFileSync(CLIP20);
    const tooBig = await refusal(session({ maxVideoBytes: 1000 }).addVideo(bytes, 'clip20.mkv'));
    expect([tooBig.status, tooBig.message]).to.deep.equal([413, 'video too large: 0.0 MB; the inspector accepts videos up to 0.0 MB']);
    const pixels = await refusal(session({ maxFramePixels: 500 }).addVideo(bytes, 'clip20.mkv'));
    expect([pixels.status, pixels.message]).to.deep.equal([
      413,
      'clip20.mkv: frames of 32x24 pixels; the inspector accepts at most 500 pixels per frame',
    ]);
    // The Node server's decoder refuses from the header, before decoding: its CLI hint is dropped.
    const limited = new InspectorSession(model, { source: 'tiny', backend: 'test' }, [], {
      videoDecoder: new FfmpegDecoder({ maxPixels: 500 }),
    });
    open.push(limited);
    const header = await refusal(limited.addVideo(bytes, 'clip20.mkv'));
    expect([header.status, header.message]).to.deep.equal([413, 'clip20.mkv: frames of 32x24 = 768 pixels exceed the 500-pixel limit']);
    const length = await refusal(session({ maxVideoLength: 10 }).addVideo(bytes, 'clip20.mkv'));
    expect(length.status).to.equal(413);
    expect(length.message).to.equal('clip20.mkv: 20 frames; the inspector accepts videos of at most 10 frames');
    const frames = await refusal(session().addVideo(bytes, 'clip20.mkv', { frames: 17 }));
    expect([frames.status, frames.message]).to.deep.equal([400, 'frames must be an integer 1..16, got 17']);
    const garbage = await refusal(session().addVideo(new Uint8Array(5000).fill(7), 'junk.mp4'));
    expect(garbage.status).to.equal(422);
    expect(garbage.message).to.match(/^junk\.mp4: not a readable video/);
    const noDecoder = new InspectorSession(model, { source: 'tiny', backend: 'test' }, [], {
      videoDecoder: { open: () => Promise.reject(new VideoDecoderUnavailable('x: no video decoder on this platform')) },
    });
    expect((await refusal(noDecoder.addVideo(bytes, 'x'))).status).to.equal(501);
  });

  it('drops the embeddings of all but the two most recent videos, and frees everything on close', async () => {
    const s = session();
    const before = tf.memory().numTensors;
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await s.addVideo(fs.readFileSync(CLIP7), `v${i}`, { frames: 2 })).id);
    for (const id of ids) await s.score(id, ['a cat'], false);
    const perEmbedding = (tf.memory().numTensors - before) / 2;
    expect(perEmbedding).to.be.greaterThan(0);
    await s.score(ids[0], ['a cat'], false); // encoded again, another dropped
    expect(tf.memory().numTensors - before).to.equal(2 * perEmbedding);
    await s.close();
    expect(tf.memory().numTensors).to.equal(before);
  });
});

describe('inspector HTTP API: videos', function () {
  this.timeout(120_000);
  const served = serveForSuite({ maxVideoBytes: 30_000 }, async (session) => {
    await addImageFile(session, IMAGES[1]); // id 0
    await addVideoFile(session, CLIP20, 4); // id 1: a file named on the command line passes the upload limits
  });
  let model: BlipItm;
  let url: string;
  before(() => ({ model, url } = served));

  it('lists a named video with its sampled frames and serves each frame', async () => {
    const s = (await httpCall(`${url}api/session`)).json() as { images: { id: number; name: string; video?: { sampled: number[] } }[] };
    expect(s.images[1]).to.deep.include({ id: 1, name: 'clip20.mkv', video: { frameCount: 20, sampled: [0, 5, 10, 15] } });
    for (const k of [0, 3]) {
      const r = await httpCall(`${url}api/images/1-${k}.png`);
      expect(r.status).to.equal(200);
      expect(r.headers['content-type']).to.equal('image/png');
      expect(decodeImage(r.body, 'frame').width).to.equal(32);
    }
    expect((await httpCall(`${url}api/images/1-4.png`)).status).to.equal(404);
    expect((await httpCall(`${url}api/images/1.png`)).status).to.equal(200); // the first frame
  });

  it('uploads a video, scores it as encodeVideos does and answers Grad-CAM per frame', async () => {
    const bytes = fs.readFileSync(CLIP7);
    const up = await httpCall(`${url}api/videos?frames=3`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream', 'X-Image-Name': 'clip7.mkv' },
      body: bytes,
    });
    expect(up.status).to.equal(200);
    const info = up.json() as { id: number; video: { sampled: number[] } };
    expect(info.video.sampled).to.deep.equal([0, 2, 4]);
    const { status, value } = await postJson<ScoreResult>(`${url}api/score`, { image: info.id, texts: TEXTS });
    expect(status).to.equal(200);
    const [video] = await model.encodeVideos([CLIP7], { frames: 3 });
    try {
      const match = await model.match([video], TEXTS);
      expectClose(value.probs, match.probs[0], 'probs');
      const g = await postJson<GradcamView>(`${url}api/gradcam`, { image: info.id, text: 'a cat' });
      expect(g.status).to.equal(200);
      expect(g.value.frames).to.equal(3);
      expectClose(g.value.maps[1], (await model.gradcam(video, 'a cat')).maps[1], 'map');
    } finally {
      video.dispose();
    }
    const attention = await postJson<{ error: string }>(`${url}api/attention`, { image: info.id, text: 'a cat' });
    expect(attention.status).to.equal(400);
  });

  it('refuses a video over the byte limit, bad frame counts and garbage with one-line errors', async () => {
    const big = await httpCall(`${url}api/videos`, { method: 'POST', body: fs.readFileSync(CLIP20) });
    expect(big.status).to.equal(413);
    expect(big.json().error).to.match(/^video too large: 0\.0 MB; the inspector accepts videos up to 0\.0 MB$/);
    const frames = await httpCall(`${url}api/videos?frames=abc`, { method: 'POST', body: fs.readFileSync(CLIP7) });
    expect([frames.status, frames.json().error]).to.deep.equal([400, 'frames must be an integer 1..16, got NaN']);
    const junk = await httpCall(`${url}api/videos`, { method: 'POST', headers: { 'X-Image-Name': 'a/../b.mp4' }, body: 'not a video' });
    expect(junk.status).to.equal(422);
    expect(junk.json().error).to.match(/^a_.._b\.mp4: not a readable video/);
    const asImage = await httpCall(`${url}api/images`, {
      method: 'POST',
      headers: { 'X-Image-Name': 'clip7.mkv' },
      body: fs.readFileSync(CLIP7),
    });
    expect([asImage.status, asImage.json().error]).to.deep.equal([
      415,
      'clip7.mkv: not a JPEG, PNG, WebP or GIF image (or its header is damaged); videos go to the video upload',
    ]);
  });
});
