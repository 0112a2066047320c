import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { cli } from './helpers/cli';
import * as fs from 'fs';
import * as path from 'path';
import { BlipItm } from '../src/model/blip-itm';
import { BuildOptions, BuildReport, ImageIndex, IndexInterrupted, buildIndex, findImages, rankTexts, topIndices } from '../src/retrieval';
import { toFloat16, fromFloat16Bytes } from '../src/retrieval/float16';
import { IndexProgressBar } from '../src/retrieval/progress';
import { parse } from '../src/cli/command';
import { search } from '../src/cli/verbs/search';
import { IMAGES, TEXTS, TINY, fixture, reference } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

const NAMES = ['chelsea.png', 'rocket.jpg', 'horse.png']; // reference rows, in this order

/** Reference [image][text] matrices from transformers. */
function refMatrix(name: string): number[][] {
  const t = reference('tiny-activations.safetensors').get(name)!;
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => t.data[i * 3 + j]));
}

/** What the protocol gives from the reference scores: shortlist by ITC, order by ITM. */
function expectedOrder(itc: number[], itm: number[], rerank: number): number[] {
  const shortlist = itc
    .map((_, i) => i)
    .sort((a, b) => itc[b] - itc[a])
    .slice(0, rerank || itc.length);
  return rerank === 0 ? shortlist : shortlist.sort((a, b) => itm[b] - itm[a]);
}

function tmpdir(): string {
  return tempDir('blip-itm-retrieval-');
}

/** A folder with copies of the three reference images. */
function imageFolder(): string {
  const dir = tmpdir();
  fs.mkdirSync(path.join(dir, 'photos'));
  IMAGES.forEach((src, i) => fs.copyFileSync(src, path.join(dir, 'photos', NAMES[i])));
  return dir;
}

describe('retrieval: image index, search and caption ranking (tiny checkpoint)', function () {
  this.timeout(60_000);
  let model: BlipItm;
  const itc = refMatrix('itc.cosine');
  const itm = refMatrix('itm.probs');

  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  const opened: ImageIndex[] = [];
  afterEach(() => {
    opened.splice(0).forEach((ix) => ix.close());
  });
  async function openIndex(dir: string): Promise<ImageIndex> {
    const ix = await ImageIndex.open(dir);
    opened.push(ix);
    return ix;
  }

  async function build(root: string, opts: BuildOptions = {}): Promise<{ report: BuildReport; warnings: string[] }> {
    const warnings: string[] = [];
    const report = await buildIndex(model, path.join(root, 'index'), [path.join(root, 'photos')], {
      onWarning: (m) => warnings.push(m),
      ...opts,
    });
    return { report, warnings };
  }

  describe('search', () => {
    let root: string;
    let index: ImageIndex;
    before(async () => {
      root = imageFolder();
      const { report } = await build(root);
      expect(report).to.include({ files: 3, encoded: 3, unchanged: 0, removed: 0 });
      index = await ImageIndex.open(path.join(root, 'index'));
    });
    after(() => index.close());

    for (const rerank of [16, 2, 0]) {
      it(`orders like the reference protocol with rerank ${rerank}`, async () => {
        for (let j = 0; j < 3; j++) {
          const hits = await index.search(model, TEXTS[j], { rerank });
          const want = expectedOrder(
            itc.map((r) => r[j]),
            itm.map((r) => r[j]),
            rerank,
          );
          expect(
            hits.map((h) => path.basename(h.image)),
            TEXTS[j],
          ).to.deep.equal(want.map((i) => NAMES[i]));
          hits.forEach((h, k) => {
            expect(h.itc).to.be.closeTo(itc[want[k]][j], 1e-4);
            if (rerank) expect(h.itm).to.be.closeTo(itm[want[k]][j], 1e-4);
            else expect(h).not.to.have.property('itm');
          });
        }
      });
    }

    it('returns at most topK results, and no more than were re-ranked', async () => {
      expect(await index.search(model, TEXTS[0], { topK: 1 })).to.have.length(1);
      expect(await index.search(model, TEXTS[0], { topK: 10, rerank: 2 })).to.have.length(2);
      expect(await index.search(model, TEXTS[0], { topK: 2, rerank: 0 })).to.have.length(2);
    });

    it("orders by ITM logit + ITC with order 'blip'", async () => {
      const hits = await index.search(model, TEXTS[1], { order: 'blip' });
      const keys = hits.map((h) => h.itmLogit! + h.itc);
      expect(keys).to.deep.equal([...keys].sort((a, b) => b - a));
    });

    it('leaks no tensors', async () => {
      await index.search(model, TEXTS[0]); // warm up
      const before = tf.memory().numTensors;
      await index.search(model, TEXTS[1], { rerank: 3 });
      await rankTexts(model, IMAGES[0], TEXTS);
      expect(tf.memory().numTensors).to.equal(before);
    });

    it('refuses a model other than the one that made the index', async () => {
      const other = BlipItm.fromDir(fixture('blip-itm-tiny-f16'));
      try {
        let err: Error | undefined;
        try {
          await index.search(other, TEXTS[0]);
        } catch (e) {
          err = e as Error;
        }
        expect(err?.message)
          .to.match(/made by another model/)
          .and.to.contain(path.join(root, 'index'));
        err = undefined;
        try {
          await buildIndex(other, path.join(root, 'index'), [path.join(root, 'photos')]);
        } catch (e) {
          err = e as Error;
        }
        expect(err?.message).to.match(/made by another model.*--rebuild/);
      } finally {
        other.dispose();
      }
    });

    it('accepts the same model loaded from a copy (content hash, not path or mtime)', async () => {
      const copy = path.join(tmpdir(), 'tiny');
      fs.cpSync(TINY, copy, { recursive: true });
      const same = BlipItm.fromDir(copy);
      try {
        expect(await index.search(same, TEXTS[0], { topK: 1 })).to.have.length(1);
      } finally {
        same.dispose();
      }
    });
  });

  describe('rankTexts', () => {
    for (const rerank of [16, 2, 0]) {
      it(`ranks the captions of each image like the reference protocol with rerank ${rerank}`, async () => {
        for (let i = 0; i < 3; i++) {
          const ranked = await rankTexts(model, IMAGES[i], TEXTS, { rerank });
          const want = expectedOrder(itc[i], itm[i], rerank);
          expect(
            ranked.map((r) => r.text),
            NAMES[i],
          ).to.deep.equal(want.map((j) => TEXTS[j]));
          ranked.forEach((r, k) => {
            expect(r.index).to.equal(want[k]);
            expect(r.itc).to.be.closeTo(itc[i][want[k]], 1e-4);
            if (rerank) expect(r.itm).to.be.closeTo(itm[i][want[k]], 1e-4);
          });
        }
      });
    }

    it('uses a given ImageEmbedding without encoding or disposing it', async () => {
      const [emb] = await model.encodeImages([IMAGES[2]]);
      try {
        const ranked = await rankTexts(model, emb, TEXTS, { topK: 1 });
        expect(ranked).to.have.length(1);
        expect(emb.isDisposed).to.equal(false);
      } finally {
        emb.dispose();
      }
    });
  });

  describe('incremental indexing', () => {
    it('encodes only new and changed files, drops removed ones, skips unreadable ones', async () => {
      const root = imageFolder();
      const photos = path.join(root, 'photos');
      expect((await build(root)).report.encoded).to.equal(3);

      const indexDir = path.join(root, 'index');
      const mtimes = () => fs.readdirSync(indexDir).map((n) => fs.statSync(path.join(indexDir, n)).mtimeMs);
      const before = mtimes();
      let r = (await build(root)).report;
      expect(r).to.include({ files: 3, encoded: 0, unchanged: 3 });
      expect(mtimes(), 'a no-op update rewrites nothing').to.deep.equal(before);

      // Changed content (and size): only that file is encoded.
      fs.copyFileSync(fixture('images', 'camera.png'), path.join(photos, 'horse.png'));
      r = (await build(root)).report;
      expect(r).to.include({ files: 3, encoded: 1, unchanged: 2 });

      // A copy of indexed bytes under a new name, in a subfolder with an upper-case extension: not encoded.
      fs.mkdirSync(path.join(photos, 'sub'));
      fs.copyFileSync(path.join(photos, 'rocket.jpg'), path.join(photos, 'sub', 'ROCKET.JPG'));
      r = (await build(root)).report;
      expect(r).to.include({ files: 4, encoded: 0, unchanged: 3, reused: 1 });

      // Deleted: dropped (and the data compacted once dead rows are a quarter of it).
      fs.rmSync(path.join(photos, 'chelsea.png'));
      fs.rmSync(path.join(photos, 'sub', 'ROCKET.JPG'));
      r = (await build(root)).report;
      expect(r).to.include({ files: 2, encoded: 0, removed: 2, compacted: true });

      // A corrupt image is reported and skipped; the rest is indexed.
      fs.writeFileSync(path.join(photos, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 1, 2, 3]));
      const { report, warnings } = await build(root);
      expect(report).to.include({ files: 2, encoded: 0, unchanged: 2 });
      expect(report.skipped.map((s) => path.basename(s.path))).to.deep.equal(['broken.jpg']);
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.contain(path.join(photos, 'broken.jpg')).and.to.contain('skipped');

      const index = await ImageIndex.open(path.join(root, 'index'));
      try {
        expect((await index.entries()).map((e) => path.basename(e.path))).to.deep.equal(['horse.png', 'rocket.jpg']);
        // The changed horse.png is camera.png now; its row must hold camera's features.
        const hits = await index.search(model, TEXTS[0], { rerank: 0 });
        const [cam] = await model.encodeImages([fixture('images', 'camera.png')]);
        const [q] = await model.encodeTexts([TEXTS[0]]);
        let cos = 0;
        cam.itcEmbedding.forEach((v, k) => {
          cos += v * q[k];
        });
        cam.dispose();
        expect(hits.find((h) => h.image.endsWith('horse.png'))!.itc).to.be.closeTo(cos, 1e-6);
      } finally {
        index.close();
      }
    });

    it('re-encodes a file whose mtime changed only when its bytes changed', async () => {
      const root = imageFolder();
      await build(root);
      const f = path.join(root, 'photos', 'horse.png');
      fs.utimesSync(f, new Date(), new Date(Date.now() + 5000));
      expect((await build(root)).report).to.include({ encoded: 0, reused: 1, unchanged: 2 });
    });

    it('an interrupted update leaves the previous index intact', async () => {
      const root = imageFolder();
      await build(root);
      const dir = path.join(root, 'index');
      const versions = () => fs.readdirSync(path.join(dir, 'images.lance', '_versions')).sort();
      const before = versions();
      const open = await ImageIndex.open(dir);
      const expected = await open.search(model, TEXTS[1]);
      open.close();

      fs.copyFileSync(fixture('images', 'camera.png'), path.join(root, 'photos', 'new.png'));
      fs.copyFileSync(fixture('images', 'camera.png'), path.join(root, 'photos', 'chelsea.png'));
      // A crash after the first encode (the progress callback throws) before any commit: nothing is written.
      let err: Error | undefined;
      try {
        await build(root, {
          onProgress: (p) => {
            if (p.encoded === 1) throw new Error('crash');
          },
        });
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.equal('crash');
      expect(versions()).to.deep.equal(before);
      const reopened = await ImageIndex.open(dir);
      try {
        expect(await reopened.search(model, TEXTS[1])).to.deep.equal(expected);
      } finally {
        reopened.close();
      }
      // The next run finishes the job.
      const { report } = await build(root);
      expect(report).to.include({ files: 4, encoded: 1, reused: 1 });
    });

    it('aborting saves the images done so far and throws IndexInterrupted', async () => {
      const root = imageFolder();
      const abort = new AbortController();
      let err: unknown;
      try {
        await build(root, {
          signal: abort.signal,
          onProgress: (p) => {
            if (p.done === 1) abort.abort();
          },
        });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(IndexInterrupted);
      expect((err as IndexInterrupted).report).to.include({ files: 1, encoded: 1 });
      expect(await (await ImageIndex.open(path.join(root, 'index'))).size()).to.equal(1);
      expect((await build(root)).report).to.include({ files: 3, encoded: 2, unchanged: 1 });
    });

    it('commits checkpoints that a reader can open mid-build', async () => {
      const root = imageFolder();
      const sizes: number[] = [];
      const seen: Promise<void>[] = [];
      await build(root, {
        checkpointEvery: 1,
        onProgress: (p) => {
          if (p.done > 0)
            seen.push(
              openIndex(path.join(root, 'index')).then(async (ix) => {
                sizes.push(await ix.size());
              }),
            );
        },
      });
      await Promise.all(seen);
      // Each reader opened while the build ran and saw a committed checkpoint (later ones may have landed meanwhile).
      expect(sizes).to.have.length(3);
      sizes.forEach((n) => expect(n).to.be.within(1, 3));
    });

    it('rebuilds for another model when asked', async () => {
      const root = imageFolder();
      await build(root);
      const other = BlipItm.fromDir(fixture('blip-itm-tiny-f16'));
      try {
        const r = await buildIndex(other, path.join(root, 'index'), [path.join(root, 'photos')], { rebuild: true });
        expect(r).to.include({ files: 3, encoded: 3 });
        const index = await ImageIndex.open(path.join(root, 'index'));
        expect(await index.search(other, TEXTS[0])).to.have.length(3);
        index.close();
      } finally {
        other.dispose();
      }
    });

    it('names an index of the retired format 1 as such', async () => {
      const dir = path.join(tmpdir(), 'old');
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'manifest.json'), '{"format": "blip-itm-image-index", "version": 1}');
      let err: Error | undefined;
      try {
        await ImageIndex.open(dir);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.equal(
        `${dir}: an image index in the retired format 1 (manifest.json); index the images again into a new folder`,
      );
    });

    it('refuses to write into a folder that is not an index', async () => {
      const root = imageFolder();
      let err: Error | undefined;
      try {
        await buildIndex(model, path.join(root, 'photos'), [path.join(root, 'photos')]);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.match(/is not an image index/);
      expect(fs.readdirSync(path.join(root, 'photos')).sort()).to.deep.equal([...NAMES].sort());
    });
  });

  describe('states storage', () => {
    it('float16 states rank like float32 ones, ITM within 1e-3; the storage is fixed at creation', async () => {
      const root = imageFolder();
      const results: Record<string, { itm: number; image: string }[]> = {};
      for (const states of ['float32', 'float16'] as const) {
        const dir = path.join(root, `index-${states}`);
        await buildIndex(model, dir, [path.join(root, 'photos')], { states });
        const index = await openIndex(dir);
        expect(index.states).to.equal(states);
        const [row] = await index.rows([(await index.entries())[0]]);
        expect(row.states).to.have.length(17 * 48);
        results[states] = (await index.search(model, TEXTS[2])).map((h) => ({ itm: h.itm!, image: h.image }));
      }
      results.float16.forEach((h, k) => {
        expect(h.image).to.equal(results.float32[k].image);
        expect(h.itm).to.be.closeTo(results.float32[k].itm, 1e-3);
      });
      let err: Error | undefined;
      try {
        await buildIndex(model, path.join(root, 'index-float16'), [path.join(root, 'photos')], { states: 'float32' });
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.match(/stored as float16.*--rebuild/);
    });

    it('converts float32 to float16 with round-to-nearest-even', () => {
      const cases: [number, number][] = [
        [1, 0x3c00],
        [-2, 0xc000],
        [65504, 0x7bff],
        [65520, 0x7c00],
        [1e-8, 0],
        [2 ** -24, 1],
        [1 + 2 ** -11, 0x3c00],
        [1 + 3 * 2 ** -11, 0x3c02],
        [2 ** -14, 0x0400],
        [Infinity, 0x7c00],
      ];
      const bits = toFloat16(new Float32Array(cases.map(([x]) => x)));
      expect(Array.from(bits)).to.deep.equal(cases.map(([, h]) => h));
      const values = new Float32Array(1000).map(() => (Math.random() - 0.5) * 20);
      const back = fromFloat16Bytes(new Uint8Array(toFloat16(values).buffer), values.length, 'test');
      values.forEach((v, i) => expect(Math.abs(back[i] - v)).to.be.at.most(Math.abs(v) * 2 ** -11 + 1e-7));
    });
  });

  describe('helpers', () => {
    it('findImages recurses, matches extensions case-insensitively, skips hidden entries and survives symlink loops', () => {
      const dir = tmpdir();
      fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
      fs.mkdirSync(path.join(dir, '.cache'));
      for (const f of ['x.JPG', 'a/y.jpeg', 'a/b/z.Png', 'a/notes.txt', '.hidden.jpg', '.cache/t.jpg'])
        fs.writeFileSync(path.join(dir, f), 'x');
      fs.symlinkSync('..', path.join(dir, 'a', 'b', 'up'));
      fs.symlinkSync('nowhere.jpg', path.join(dir, 'a', 'dangling.jpg'));
      const warnings: string[] = [];
      const found = findImages([dir, path.join(dir, 'a', 'notes.txt')], (m) => warnings.push(m)).map((f) => path.relative(dir, f.path));
      expect(found).to.deep.equal(['a/b/z.Png', 'a/notes.txt', 'a/y.jpeg', 'x.JPG']);
      expect(warnings.join('\n')).to.contain('dangling.jpg');
      expect(() => findImages([path.join(dir, 'missing')])).to.throw(/missing: no such file or directory/);
    });

    it('topIndices returns the k best, best first, ties by position', () => {
      expect(topIndices([0.1, 0.5, 0.3, 0.5, -1, NaN], 3)).to.deep.equal([1, 3, 2]);
      expect(topIndices([3, 1, 2], 10)).to.deep.equal([0, 2, 1]);
      const big = Array.from({ length: 5000 }, (_, i) => Math.sin(i));
      const want = big
        .map((_, i) => i)
        .sort((a, b) => big[b] - big[a])
        .slice(0, 50);
      expect(topIndices(big, 50)).to.deep.equal(want);
    });

    it('the progress bar draws on a TTY only', () => {
      const written: string[] = [];
      const tty = {
        isTTY: true,
        columns: 100,
        write: (s: string) => {
          written.push(s);
          return true;
        },
      };
      const bar = new IndexProgressBar(tty);
      bar.update({ done: 3, total: 3, file: '/photos/a.jpg', encoded: 3 });
      bar.break();
      expect(written[0]).to.match(/^\r\[#{20}\] 3\/3 .* files\/s ETA .*\/photos\/a\.jpg/);
      expect(written[1]).to.equal('\n');
      const pipe = {
        isTTY: false,
        write: (s: string) => {
          written.push(s);
          return true;
        },
      };
      new IndexProgressBar(pipe).update({ done: 1, total: 3, file: 'x', encoded: 1 });
      expect(written).to.have.length(2);
    });
  });

  describe('command line', () => {
    // Until main.ts registers the verbs, a tiny runner does what main() does for them.
    const MODEL = ['--model', TINY, '--backend', 'wasm'];

    it('index, search --json and rank --json', async () => {
      const root = imageFolder();
      fs.writeFileSync(path.join(root, 'photos', 'corrupt.png'), 'not a png');
      const idx = path.join(root, 'index');
      const ix = await cli(['index', ...MODEL, '--out', idx, path.join(root, 'photos')]);
      expect(ix.code, ix.stderr).to.equal(0);
      expect(ix.stderr).to.contain(`${path.join(root, 'photos', 'corrupt.png')}: not a JPEG, PNG, WebP or GIF image`);
      expect(ix.stderr).to.match(/3 images \(3 encoded, 0 unchanged, 1 skipped\)/);

      const s = await cli(['search', ...MODEL, '--index', idx, '--text', TEXTS[0], '--json', '--top-k', '2']);
      expect(s.code, s.stderr).to.equal(0);
      const hits = JSON.parse(s.stdout) as { image: string; itc: number; itm: number }[];
      const want = expectedOrder(
        itc.map((r) => r[0]),
        itm.map((r) => r[0]),
        3,
      ).slice(0, 2);
      expect(hits.map((h) => Object.keys(h))).to.deep.equal([
        ['image', 'kind', 'itc', 'itm'],
        ['image', 'kind', 'itc', 'itm'],
      ]);
      expect(hits.map((h) => h.image)).to.deep.equal(want.map((i) => path.join(root, 'photos', NAMES[i])));
      hits.forEach((h, k) => expect(h.itm).to.be.closeTo(itm[want[k]][0], 1e-4));

      const texts = path.join(root, 'texts.txt');
      fs.writeFileSync(texts, TEXTS.join('\n') + '\n');
      const r = await cli(['rank', ...MODEL, '--image', IMAGES[2], '--texts-file', texts, '--json']);
      expect(r.code, r.stderr).to.equal(0);
      const ranked = JSON.parse(r.stdout) as { text: string; itc: number; itm: number }[];
      const wantT = expectedOrder(itc[2], itm[2], 3);
      expect(ranked.map((x) => x.text)).to.deep.equal(wantT.map((j) => TEXTS[j]));
      ranked.forEach((x, k) => expect(x.itm).to.be.closeTo(itm[2][wantT[k]], 1e-4));

      // In process (a child costs seconds): the error main() would print.
      const args = [
        '--model',
        fixture('blip-itm-tiny-f16'),
        '--backend',
        process.env.BLIP_ITM_BACKEND ?? 'wasm',
        '--index',
        idx,
        '--text',
        'x',
      ];
      let err: Error | undefined;
      try {
        await search.run(parse(search, args));
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.match(/made by another model/);
    });
  });
});
