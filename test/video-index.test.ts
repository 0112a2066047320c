import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { lancedb } from '../src/retrieval/lance';
import { BlipItm } from '../src/model/blip-itm';
import { BuildOptions, BuildReport, ImageIndex, SearchHit, buildIndex } from '../src/retrieval';
import { Dataset, makeRow } from '../src/retrieval/dataset';
import { FORMAT_NAME, FORMAT_VERSION, IndexMeta } from '../src/retrieval/schema';
import { cli } from './helpers/cli';
import { IMAGES, TINY, fixture } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

const CLIPS = ['clip7.mkv', 'clip20.mkv'];
const TEXT = 'a horse running in a field';

/** A folder of the fixture images, the lossless clips, an H.264 MP4 of the clip frames and a truncated clip. */
function mixedFolder(): { root: string; media: string; videos: string[]; truncated: string } {
  const root = tempDir('blip-itm-video-index-');
  const media = path.join(root, 'media');
  fs.mkdirSync(media);
  for (const image of IMAGES) fs.copyFileSync(image, path.join(media, path.basename(image)));
  for (const clip of CLIPS) fs.copyFileSync(fixture('video', clip), path.join(media, clip));
  const mp4 = path.join(media, 'clip.mp4');
  const pattern = path.join(fixture('video', 'frames'), '%02d.png');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-framerate', '10', '-i', pattern, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', mp4]);
  const truncated = path.join(media, 'cut.mkv');
  fs.writeFileSync(truncated, fs.readFileSync(fixture('video', 'clip20.mkv')).subarray(0, 3000));
  return { root, media, videos: [...CLIPS.map((c) => path.join(media, c)), mp4], truncated };
}

/** What `score --video` computes for one video: ITC cosine, ITM probability and logit. */
async function direct(model: BlipItm, video: string, frames?: number): Promise<{ itc: number; itm: number; logit: number }> {
  const [embedding] = await model.encodeVideos([video], { frames });
  try {
    const [[itc]] = await model.similarity([embedding], [TEXT]);
    const m = await model.match([embedding], [TEXT]);
    return { itc, itm: m.probs[0][0], logit: m.logits[0][0][1] };
  } finally {
    embedding.dispose();
  }
}

/** Writes the format-3 (images only) table a release before videos made: format 4's image rows without the kind and frames columns. */
async function asFormat3(v4: string, v3: string): Promise<void> {
  const db = await lancedb().connect(v4);
  const table = await db.openTable('images');
  const schema = await table.schema();
  const meta = JSON.parse(schema.metadata.get('blip-itm')!) as Record<string, unknown>;
  delete meta.videoFrames;
  meta.version = 3;
  const columns = schema.fields.map((f) => f.name).filter((n) => n !== 'kind' && n !== 'frames');
  const rows = await table.query().select(columns).toArrow();
  const arrow = await import('apache-arrow');
  const fields = schema.fields.filter((f) => columns.includes(f.name));
  const v3db = await lancedb().connect(v3);
  const v3schema = new arrow.Schema(fields, new Map([['blip-itm', JSON.stringify(meta)]]));
  const created = await v3db.createEmptyTable('images', v3schema);
  await created.add(
    new arrow.Table(
      v3schema,
      rows.batches.map((b) => new arrow.RecordBatch(v3schema, b.data)),
    ),
  );
  created.close();
  v3db.close();
  table.close();
  db.close();
}

describe('video index: index and search of videos (tiny checkpoint)', function () {
  this.timeout(240_000);
  let model: BlipItm;
  let folder: ReturnType<typeof mixedFolder>;
  let index: string;
  let first: BuildReport;
  const warnings: string[] = [];
  const opened: ImageIndex[] = [];

  async function openIndex(where: string): Promise<ImageIndex> {
    const ix = await ImageIndex.open(where);
    opened.push(ix);
    return ix;
  }

  async function build(where: string, paths: string[], opts: BuildOptions = {}): Promise<BuildReport> {
    return buildIndex(model, where, paths, { onWarning: (m) => warnings.push(m), ...opts });
  }

  before(async () => {
    model = BlipItm.fromDir(TINY);
    folder = mixedFolder();
    index = path.join(folder.root, 'index');
    first = await build(index, [folder.media]);
  });
  after(() => model.dispose());
  afterEach(() => opened.splice(0).forEach((ix) => ix.close()));

  it('indexes a mixed folder: rows say kind and frames, a truncated video is skipped in one line', async () => {
    expect(first.files).to.equal(IMAGES.length + folder.videos.length);
    expect(first.videos).to.equal(folder.videos.length);
    expect(first.encoded).to.equal(IMAGES.length + folder.videos.length);
    expect(first.skipped).to.deep.equal([{ path: folder.truncated, reason: 'not a readable video (File ended prematurely)' }]);
    expect(warnings).to.deep.equal([`${folder.truncated}: not a readable video (File ended prematurely); skipped`]);
    const ix = await openIndex(index);
    const entries = await ix.entries();
    const kinds = Object.fromEntries(entries.map((e) => [path.basename(e.path), `${e.kind} ${e.frames}`]));
    expect(kinds).to.deep.equal(expectedKinds());
    expect(ix.videoFrames).to.equal(8);
    // The stored states of a video are all its sampled frames: frames x tokens x hidden.
    const clip20 = entries.find((e) => e.path.endsWith('clip20.mkv'))!;
    const [row] = await ix.rows([clip20]);
    const v = model.config.vision;
    expect(row.states.length).to.equal(8 * ((v.imageSize / v.patchSize) ** 2 + 1) * v.hiddenSize);
  });

  function expectedKinds(): Record<string, string> {
    const kinds: Record<string, string> = {};
    for (const image of IMAGES) kinds[path.basename(image)] = 'image 1';
    for (const video of folder.videos) kinds[path.basename(video)] = 'video 8';
    return kinds;
  }

  it('ITC search scores a video as model.similarity(encodeVideos) does, ITM re-rank as match does', async () => {
    const ix = await openIndex(index);
    const itcOnly = await ix.search(model, TEXT, { rerank: 0, topK: 20 });
    const reranked = await ix.search(model, TEXT, { rerank: 20, topK: 20 });
    expect(itcOnly).to.have.length(IMAGES.length + folder.videos.length);
    expect(reranked).to.have.length(IMAGES.length + folder.videos.length);
    const byPath = (hits: SearchHit[]) => new Map(hits.map((h) => [h.image, h]));
    const [itcHits, itmHits] = [byPath(itcOnly), byPath(reranked)];
    for (const video of folder.videos) {
      const want = await direct(model, video);
      const a = itcHits.get(video)!;
      const b = itmHits.get(video)!;
      expect(a.kind).to.equal('video');
      expect(a.frames).to.equal(8);
      expect(Math.abs(a.itc - want.itc), video).to.be.below(1e-5);
      expect(Math.abs(b.itm! - want.itm), video).to.be.below(1e-4);
      expect(Math.abs(b.itmLogit! - want.logit), video).to.be.below(1e-4);
    }
    expect(itcHits.get(path.join(folder.media, 'horse.png'))?.kind).to.equal('image');
    const onlyVideos = await ix.search(model, TEXT, { rerank: 0, topK: 20, kind: 'video' });
    expect(onlyVideos.map((h) => h.kind)).to.deep.equal(folder.videos.map(() => 'video'));
    const onlyImages = await ix.search(model, TEXT, { rerank: 4, topK: 20, kind: 'image' });
    expect(onlyImages.map((h) => h.kind)).to.deep.equal(IMAGES.map(() => 'image'));
  });

  it('re-indexing unchanged videos encodes nothing; another frame count is refused', async () => {
    const before = tf.memory().numTensors;
    const again = await build(index, [folder.media]);
    expect(again.encoded).to.equal(0);
    expect(again.unchanged).to.equal(IMAGES.length + folder.videos.length);
    expect(again.videos).to.equal(folder.videos.length);
    expect(tf.memory().numTensors).to.equal(before);
    const err = await build(index, [folder.media], { frames: 3 }).catch((e: Error) => e);
    expect((err as Error).message).to.equal(
      `${index}: videos in this index are sampled at 8 frames, not 3; use --frames 8, or --rebuild to change it`,
    );
  });

  it('--frames N: a video row holds N frames and matches encodeVideos at N; float16 states re-rank within 1e-3', async () => {
    const other = path.join(folder.root, 'index3');
    const tensors = tf.memory().numTensors;
    const report = await build(other, [folder.videos[1]], { frames: 3, states: 'float16' });
    expect(report.encoded).to.equal(1);
    expect(tf.memory().numTensors).to.equal(tensors); // the video's embedding is disposed once stored
    const ix = await openIndex(other);
    expect((await ix.entries()).map((e) => e.frames)).to.deep.equal([3]);
    const [hit] = await ix.search(model, TEXT, { rerank: 1 });
    const want = await direct(model, folder.videos[1], 3);
    expect(hit.frames).to.equal(3);
    expect(Math.abs(hit.itc - want.itc)).to.be.below(1e-5);
    expect(Math.abs(hit.itm! - want.itm)).to.be.below(1e-3);
  });

  it('a format-3 (images only) index is searched as it is, stays format 3 for images, and is upgraded by its first video', async () => {
    const images = path.join(folder.root, 'images-v4');
    const photos = path.join(folder.root, 'photos');
    fs.mkdirSync(photos);
    for (const image of IMAGES) fs.copyFileSync(image, path.join(photos, path.basename(image)));
    await build(images, [photos]);
    const v3 = path.join(folder.root, 'images-v3');
    await asFormat3(images, v3);
    const version = async () => {
      const ds = (await Dataset.open(v3))!;
      ds.close();
      return ds.meta.version;
    };
    expect(await version()).to.equal(3);
    const old = await openIndex(v3);
    const hits = await old.search(model, TEXT, { rerank: 2 });
    expect(hits.map((h) => h.kind)).to.deep.equal(['image', 'image']);
    old.close();

    const imagesOnly = await build(v3, [photos]);
    expect(imagesOnly.unchanged).to.equal(IMAGES.length);
    expect(await version()).to.equal(3);

    fs.copyFileSync(folder.videos[0], path.join(photos, 'clip7.mkv'));
    const upgraded = await build(v3, [photos]);
    expect(upgraded.upgradedFrom).to.equal(3);
    expect(upgraded.encoded).to.equal(1); // the images' rows are kept as they were
    expect(upgraded.unchanged).to.equal(IMAGES.length);
    expect(await version()).to.equal(FORMAT_VERSION);
    const ix = await openIndex(v3);
    const mixed = await ix.search(model, TEXT, { rerank: 8, topK: 8 });
    expect(mixed.map((h) => h.kind).sort()).to.deep.equal([...IMAGES.map(() => 'image'), 'video']);
    const want = await direct(model, folder.videos[0]);
    expect(Math.abs(mixed.find((h) => h.kind === 'video')!.itm! - want.itm)).to.be.below(1e-4);
  });

  it('a changed kind or frame count in a stored row is a clear error (the checksums cover them)', async () => {
    const changes: Record<string, string>[] = [{ kind: "'image'" }, { frames: '3' }];
    for (const values of changes) {
      const where = path.join(tempDir('blip-itm-video-index-'), 'index');
      await build(where, [folder.videos[1]], { frames: 2 });
      const db = await lancedb().connect(where);
      const table = await db.openTable('images');
      await table.update({ where: "kind = 'video'", valuesSql: values });
      table.close();
      db.close();
      const ix = await openIndex(where);
      const err = await ix.search(model, TEXT, { rerank: 0 }).catch((e: Error) => e);
      expect(String(err), JSON.stringify(values)).to.match(
        /the index is corrupted \(the row of \S*clip20\.mkv has (checksum mismatch in its ITC vector|kind image with 2 frames)\)/,
      );
    }
  });

  it('a missing ffmpeg stops the run in one line, keeping the images indexed before it', async () => {
    const dir = tempDir('blip-itm-video-index-');
    fs.copyFileSync(IMAGES[0], path.join(dir, 'a.png'));
    fs.copyFileSync(folder.videos[0], path.join(dir, 'b.mkv'));
    const where = path.join(dir, 'index');
    const r = await cli(['index', '--model', TINY, '--backend', 'wasm', '--out', where, '--ffmpeg', path.join(dir, 'none', 'ffmpeg'), dir]);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split('\n')).to.deep.equal([
      `blip-itm: ffprobe not found (${path.join(dir, 'none', 'ffprobe')}): install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) or give its path with --ffmpeg PATH or BLIP_ITM_FFMPEG`,
    ]);
    const ix = await openIndex(where);
    expect((await ix.entries()).map((e) => path.basename(e.path))).to.deep.equal(['a.png']);
  });

  it('through an IVF-PQ vector index, --kind pre-filters the shortlist (synthetic rows)', async () => {
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = tempDir('blip-itm-lance-spill-'); // LanceDB leaves its index-build spill there
    try {
      const where = path.join(tempDir('blip-itm-video-index-'), 'ann');
      const dims = { embed: 16, tokens: 5, hidden: 8 };
      const meta: IndexMeta = {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        model: { fingerprint: 'synthetic', dir: '', files: [] },
        dims,
        states: 'float32',
        videoFrames: 2,
      };
      const ds = await Dataset.openOrCreate(where, meta);
      let seed = 11;
      const rand = () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed / 2 ** 32 - 0.5;
      };
      const unit = (v: number[]) => Float32Array.from(v, (x) => x / Math.hypot(...v));
      const rows = Array.from({ length: 600 }, (_, i) => {
        const video = i % 3 === 0;
        const frames = video ? 2 : 1;
        const entry = {
          path: `/m/${i}`,
          size: 1,
          mtimeMs: 1,
          sha256: String(i),
          run: 'r',
          kind: video ? 'video' : 'image',
          frames,
        } as const;
        const vector = unit(Array.from({ length: dims.embed }, rand));
        return makeRow(entry, vector, new Float32Array(frames * dims.tokens * dims.hidden), 'float32');
      });
      await ds.add(rows);
      await ds.createVectorIndex(rows.length);
      ds.close();
      const ix = await openIndex(where);
      expect(await ix.approximate()).to.equal(true);
      const query = rows[3].vector;
      const videos = await ix.shortlist(query, 10, { kind: 'video' });
      expect(videos).to.have.length(10);
      expect(videos.every((c) => c.entry.kind === 'video' && c.entry.frames === 2)).to.equal(true);
      expect(videos[0].entry.path).to.equal('/m/3');
      const images = await ix.shortlist(query, 10, { kind: 'image' });
      expect(images.every((c) => c.entry.kind === 'image')).to.equal(true);
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
  });

  it('CLI: index reports videos and skips, search prints kind and frames, its ITM equals score --video', async () => {
    const out = path.join(folder.root, 'cli-index');
    const base = ['--model', TINY, '--backend', 'wasm'];
    const ix = await cli(['index', ...base, '--out', out, folder.media]);
    expect(ix.code, ix.stderr).to.equal(0);
    expect(ix.stderr).to.contain(`${folder.truncated}: not a readable video (File ended prematurely); skipped`);
    const files = IMAGES.length + folder.videos.length;
    expect(ix.stderr).to.contain(`${IMAGES.length} images and ${folder.videos.length} videos (${files} encoded, 0 unchanged, 1 skipped)`);
    const s = await cli(['search', ...base, '--index', out, '--text', TEXT, '--json', '--kind', 'video']);
    expect(s.code, s.stderr).to.equal(0);
    const rows = JSON.parse(s.stdout) as { image: string; kind: string; frames: number; itc: number; itm: number }[];
    expect(rows.map((r) => Object.keys(r))).to.deep.equal(rows.map(() => ['image', 'kind', 'frames', 'itc', 'itm']));
    const clip20 = rows.find((r) => r.image.endsWith('clip20.mkv'))!;
    const score = await cli(['score', ...base, '--video', clip20.image, '--text', TEXT, '--json']);
    expect(score.code, score.stderr).to.equal(0);
    const scored = JSON.parse(score.stdout) as { itm: number[][]; itc: number[][] };
    expect(Math.abs(clip20.itm - scored.itm[0][0])).to.be.below(1e-4);
    expect(Math.abs(clip20.itc - scored.itc[0][0])).to.be.below(1e-5);
    const table = await cli(['search', ...base, '--index', out, '--text', TEXT]);
    expect(table.stdout).to.match(/video 8f {2}\S*clip20\.mkv/);
    expect(table.stdout).to.match(/ image +\S*horse\.png/);
    const mismatch = await cli(['index', ...base, '--out', out, '--frames', '4', folder.media]);
    expect(mismatch.code).to.equal(1);
    expect(mismatch.stderr.trim().split('\n')).to.have.length(1);
  });
});
