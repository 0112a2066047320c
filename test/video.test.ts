import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'child_process';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { NodeBlipItm as BlipItm } from '../src/node/platform';
import { FfmpegDecoder, VideoToolMissing } from '../src/node/video';
import { VideoDecoderUnavailable, VideoLimitError } from '../src/video/source';
import { decodeImage } from '../src/image/decode';
import { RawImage } from '../src/image/types';
import { ImageEmbedding } from '../src/model/image-embedding';
import { uniformFrameIndices } from '../src/video/sampling';
import { TINY, fixture, reference } from './helpers/fixtures';
import { expectReject } from './helpers/expect';
import { tempDir } from './helpers/tmp';

const CLIP20 = fixture('video', 'clip20.mkv');
const CLIP7 = fixture('video', 'clip7.mkv');
const VIDEO_TEXTS = ['a cat lying on a rug', 'A rocket launching into the sky, with smoke!', 'a horse'];
const frameFile = (i: number) => fixture('video', 'frames', `${String(i).padStart(2, '0')}.png`);
const REF = 'tiny-video.safetensors';

function refArray(name: string): Float32Array {
  const t = reference(REF).get(name);
  if (!t) throw new Error(`${REF} has no ${name}`);
  return t.data as Float32Array;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** An H.264 yuv420p MP4 of the 20 test frames, made once per run. */
let mp4: string | undefined;
function h264(): string {
  if (!mp4) {
    const dir = tempDir('blip-itm-video-');
    mp4 = path.join(dir, 'clip.mp4');
    const pattern = path.join(fixture('video', 'frames'), '%02d.png');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-framerate', '10', '-i', pattern, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', mp4]);
  }
  return mp4;
}

describe('video: frame sampling', () => {
  it("reproduces numpy's np.arange(0, vlen, vlen / n, dtype=int) on every committed case", () => {
    const { cases } = JSON.parse(fs.readFileSync(fixture('video', 'sampling-cases.json'), 'utf8')) as {
      cases: [number, number, number[]][];
    };
    expect(cases.length).to.be.greaterThan(800);
    for (const [vlen, n, indices] of cases) expect(uniformFrameIndices(vlen, n), `vlen ${vlen}, n ${n}`).to.deep.equal(indices);
    // The cases include where numpy differs from floor(i * vlen / n) and where it returns n + 1 indices.
    const differs = cases.filter(([v, n, ix]) => ix.some((x, i) => x !== Math.floor((i * v) / n)));
    expect(differs.length).to.be.greaterThan(100);
    expect(cases.some(([, n, ix]) => ix.length === n + 1)).to.equal(true);
  });

  it('gives the documented edge cases', () => {
    expect(uniformFrameIndices(100, 8)).to.deep.equal([0, 12, 24, 36, 48, 60, 72, 84]);
    expect(uniformFrameIndices(20, 8)).to.deep.equal([0, 2, 4, 6, 8, 10, 12, 14]);
    expect(uniformFrameIndices(7, 8)).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(uniformFrameIndices(17, 7)).to.deep.equal([0, 2, 4, 6, 8, 10, 12, 14]); // numpy's 8 of them
    expect(() => uniformFrameIndices(0, 8)).to.throw(/no frames/);
    expect(() => uniformFrameIndices(10, 0)).to.throw(/frames must be an integer/);
  });
});

describe('video: decoding with ffmpeg', () => {
  it('decodes the lossless test videos to the source PNGs bit for bit', async () => {
    for (const [file, first, count] of [
      [CLIP20, 0, 20],
      [CLIP7, 13, 7],
    ] as const) {
      const source = await new FfmpegDecoder().open(file, file);
      try {
        expect(await source.frameCount()).to.equal(count);
        const all = Array.from({ length: count }, (_, i) => i);
        const frames = await source.readFrames(all);
        frames.forEach((f, i) => {
          const png = decodeImage(frameFile(first + i));
          expect([f.width, f.height, f.channels]).to.deep.equal([png.width, png.height, 3]);
          expect(Buffer.from(f.data).equals(Buffer.from(png.data)), `${path.basename(file)} frame ${i}`).to.equal(true);
        });
        const some = await source.readFrames([3, 5]);
        expect(Buffer.from(some[1].data).equals(Buffer.from(frames[5].data))).to.equal(true);
      } finally {
        await source.close();
      }
    }
    // The frames are distinct, so a wrong index shows.
    const hashes = new Set(Array.from({ length: 20 }, (_, i) => Buffer.from(decodeImage(frameFile(i)).data).toString('base64')));
    expect(hashes.size).to.equal(20);
  });

  it('refuses truncated and garbage files, missing tools and the limits in one line naming the file', async () => {
    const dir = tempDir('blip-itm-video-');
    const truncated = path.join(dir, 'truncated.mp4');
    const bytes = fs.readFileSync(h264());
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const garbage = path.join(dir, 'garbage.mp4');
    fs.writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    // The third column: the error's type, for library callers that tell a limit from a bad file.
    const cases: [() => Promise<unknown>, RegExp, (new (message: string, hint: string) => Error)?][] = [
      [async () => (await new FfmpegDecoder().open(truncated, truncated)).frameCount(), /truncated\.mp4: not a readable video/],
      [async () => (await new FfmpegDecoder().open(garbage, garbage)).frameCount(), /garbage\.mp4: not a readable video/],
      [async () => new FfmpegDecoder().open(path.join(dir, 'none.mp4'), 'none.mp4'), /none\.mp4: no such file/],
      [
        async () => (await new FfmpegDecoder({ ffmpeg: path.join(dir, 'ffmpeg') }).open(CLIP7, CLIP7)).frameCount(),
        /ffprobe not found.*apt-get install ffmpeg/,
        VideoToolMissing,
      ],
      [
        async () => (await new FfmpegDecoder({ maxFrames: 10 }).open(CLIP20, CLIP20)).frameCount(),
        /clip20\.mkv: 20 frames .* exceed the 10-frame limit/,
        VideoLimitError,
      ],
      [
        async () => (await new FfmpegDecoder({ maxPixels: 100 }).open(CLIP20, CLIP20)).frameCount(),
        /clip20\.mkv: frames of 32x24 .* 100-pixel limit/,
        VideoLimitError,
      ],
    ];
    for (const [call, pattern, type] of cases) {
      const err = await call().then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, String(pattern)).to.be.instanceOf(type ?? Error);
      if (!type) expect(err).to.not.be.instanceOf(VideoLimitError).and.not.be.instanceOf(VideoDecoderUnavailable);
      if (type === VideoToolMissing) expect(err).to.be.instanceOf(VideoDecoderUnavailable);
      expect(err!.message).to.match(pattern);
      expect(err!.message).to.not.include('\n');
    }
  });
});

describe('video: BLIP protocol parity with transformers (tiny checkpoint)', function () {
  let model: BlipItm;
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  for (const n of [8, 3]) {
    it(`matches ITM logits, probabilities and ITC of the PyTorch twin within 1e-4 at ${n} frames`, async () => {
      [CLIP20, CLIP7].forEach((_, v) => {
        const want = Array.from(reference(REF).get(`n${n}.frames.${v}`)!.data as Int32Array);
        expect(uniformFrameIndices(v === 0 ? 20 : 7, n)).to.deep.equal(want);
      });
      const videos = await model.encodeVideos([CLIP20, CLIP7], { frames: n });
      try {
        const m = await model.match(videos, VIDEO_TEXTS);
        expect(maxDiff(m.logits.flat(2), refArray(`n${n}.itm.logits`))).to.be.below(1e-4);
        expect(maxDiff(m.probs.flat(), refArray(`n${n}.itm.probs`))).to.be.below(1e-4);
        const sim = await model.similarity(videos, VIDEO_TEXTS);
        expect(maxDiff(sim.flat(), refArray(`n${n}.itc.cosine`))).to.be.below(1e-4);
        const embeds = new Float32Array([...videos[0].itcEmbedding, ...videos[1].itcEmbedding]);
        expect(maxDiff(embeds, refArray(`n${n}.itc.video_embeds`))).to.be.below(1e-4);
        expect(videos[0].states.shape[1]).to.equal(n * 17);
      } finally {
        videos.forEach((e) => e.dispose());
      }
    });
  }

  it('gives Grad-CAM per frame matching the twin', async () => {
    const n = 3;
    const [video] = await model.encodeVideos([CLIP20], { frames: n });
    try {
      const ref = reference(REF).get(`n${n}.gradcam.1`)!; // [V*T, L, n, g, g]
      const [, l, , g] = ref.shape;
      for (const [t, text] of VIDEO_TEXTS.entries()) {
        const r = await model.gradcam(video, text, { layer: 1 });
        expect(r.frames).to.equal(n);
        expect(r.grid).to.equal(g);
        const want = (ref.data as Float32Array).subarray(t * l * n * g * g, (t * l + r.tokens.length) * n * g * g);
        expect(maxDiff(new Float32Array(r.maps.flatMap((x) => Array.from(x))), want)).to.be.below(1e-4);
      }
    } finally {
      video.dispose();
    }
  });

  it('takes the bytes of a file and decoded frames as well as a path, and frees every tensor', async () => {
    const frames: RawImage[] = Array.from({ length: 20 }, (_, i) => ({ ...decodeImage(frameFile(i)), channels: 3 }));
    const before = tf.memory().numTensors;
    const videos = await model.encodeVideos([CLIP20, fs.readFileSync(CLIP20), frames]);
    try {
      const [a, b, c] = videos.map((e) => Array.from(e.itcEmbedding));
      expect(b).to.deep.equal(a);
      expect(c).to.deep.equal(a);
    } finally {
      videos.forEach((e) => e.dispose());
    }
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('scores an H.264 yuv420p MP4', async () => {
    const [video] = await model.encodeVideos([h264()]);
    try {
      const { probs } = await model.match([video], VIDEO_TEXTS);
      expect(probs[0].every((p) => Number.isFinite(p) && p > 0 && p < 1)).to.equal(true);
    } finally {
      video.dispose();
    }
  });

  it('rebuilds a video embedding from its stored states', async () => {
    const [video] = await model.encodeVideos([CLIP7], { frames: 4 });
    const rebuilt: ImageEmbedding = await model.embeddingFromStates((await video.states.data()) as Float32Array, video.itcEmbedding);
    try {
      expect((await model.match([rebuilt], VIDEO_TEXTS)).logits).to.deep.equal((await model.match([video], VIDEO_TEXTS)).logits);
    } finally {
      video.dispose();
      rebuilt.dispose();
    }
  });

  it('refuses bad frame counts and inputs in one line', async () => {
    await expectReject(model.encodeVideos([CLIP7], { frames: 0 }), /frames must be an integer 1\.\.64, got 0/);
    await expectReject(model.encodeVideos([[]]), /video \(frames\): no frames/);
    await expectReject(model.encodeVideos([42 as unknown as string]), /a video must be a file path/);
  });
});
