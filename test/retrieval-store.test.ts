import { expect } from 'chai';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { BlipItm } from '../src/model/blip-itm';
import { ImageIndex, buildIndex } from '../src/retrieval';
import { Dataset, makeRow } from '../src/retrieval/dataset';
import { FORMAT_NAME, FORMAT_VERSION, IndexMeta } from '../src/retrieval/schema';
import { TEXTS, TINY, fixture } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

const BIN = path.resolve(__dirname, '../../bin/blip-itm.js');
const MODEL = ['--model', TINY, '--backend', 'wasm'];

function tmpdir(): string {
  return tempDir('blip-itm-store-');
}

/** `count` distinct 64 px noise PNGs (a seeded generator: the same files every run). */
function noiseFolder(count: number): string {
  const dir = path.join(tmpdir(), 'photos');
  fs.mkdirSync(dir);
  let seed = 12345;
  const next = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 24;
  };
  for (let n = 0; n < count; n++) {
    const png = new PNG({ width: 64, height: 64 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = (i & 3) === 3 ? 255 : next();
    fs.writeFileSync(path.join(dir, `n${String(n).padStart(3, '0')}.png`), PNG.sync.write(png));
  }
  return dir;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

function start(args: string[]): { child: ChildProcess; done: Promise<Exit> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

/** Commits so far: LanceDB writes one manifest per table version. */
function versions(index: string): number {
  try {
    return fs.readdirSync(path.join(index, 'images.lance', '_versions')).length;
  } catch {
    return 0;
  }
}

async function until(ok: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function rawRows(index: string) {
  const ds = await Dataset.open(index);
  try {
    return await ds!.scanEntries();
  } finally {
    ds!.close();
  }
}

function dataFiles(index: string): string[] {
  const dir = path.join(index, 'images.lance', 'data');
  return fs.readdirSync(dir).map((n) => path.join(dir, n));
}

describe('retrieval store: interruption, concurrent writers, integrity (LanceDB)', function () {
  this.timeout(180_000);
  let model: BlipItm;
  let photos: string;
  let total: number;
  before(() => {
    model = BlipItm.fromDir(TINY);
    photos = noiseFolder(80);
    total = fs.readdirSync(photos).length;
  });
  after(() => model.dispose());

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
    it(`${signal} mid-build: committed images stay, nothing doubled, a rerun finishes`, async () => {
      const index = path.join(tmpdir(), 'index');
      const run = start(['index', ...MODEL, '--out', index, '--checkpoint-every', '4', photos]);
      await until(() => versions(index) >= 3, 'two commits');
      run.child.kill(signal);
      const exit = await run.done;
      if (signal === 'SIGKILL') expect(exit.signal).to.equal('SIGKILL');
      else {
        expect(exit.code, exit.stderr).to.equal(signal === 'SIGINT' ? 130 : 143);
        expect(exit.stderr)
          .to.contain(`${signal}; saving the images indexed so far`)
          .and.to.match(/interrupted: \d+ images are in the index/);
      }
      const rows = await rawRows(index);
      expect(rows.length).to.be.within(4, total - 1);
      expect(new Set(rows.map((r) => r.path)).size).to.equal(rows.length);
      const report = await buildIndex(model, index, [photos]);
      expect(report).to.include({ files: total, unchanged: rows.length, encoded: total - rows.length });
      expect((await rawRows(index)).length).to.equal(total);
    });
  }

  it('two --shard writers at once fill one index: every image exactly once', async () => {
    const index = path.join(tmpdir(), 'index');
    const runs = ['0/2', '1/2'].map((s) => start(['index', ...MODEL, '--out', index, '--shard', s, '--checkpoint-every', '3', photos]));
    const exits = await Promise.all(runs.map((r) => r.done));
    exits.forEach((e) => expect(e.code, e.stderr).to.equal(0));
    const rows = await rawRows(index);
    expect(rows.map((r) => path.basename(r.path)).sort()).to.deep.equal(fs.readdirSync(photos).sort());
    expect(exits.map((e) => Number(/: (\d+) images/.exec(e.stderr)?.[1])).reduce((a, b) => a + b)).to.equal(total);
  });

  it('two unsharded writers at once: neither undoes the other, every image exactly once', async () => {
    const index = path.join(tmpdir(), 'index');
    const runs = [0, 1].map(() => start(['index', ...MODEL, '--out', index, '--checkpoint-every', '3', photos]));
    const exits = await Promise.all(runs.map((r) => r.done));
    exits.forEach((e) => expect(e.code, e.stderr).to.equal(0));
    const rows = await rawRows(index);
    expect(rows.map((r) => path.basename(r.path)).sort()).to.deep.equal(fs.readdirSync(photos).sort());
  });

  describe('integrity', () => {
    let root: string;
    let index: string;
    beforeEach(async () => {
      root = tmpdir();
      fs.mkdirSync(path.join(root, 'photos'));
      for (const f of ['chelsea.png', 'rocket.jpg', 'horse.png']) fs.copyFileSync(fixture('images', f), path.join(root, 'photos', f));
      index = path.join(root, 'index');
      await buildIndex(model, index, [path.join(root, 'photos')]);
    });

    /** Flips one byte of `needle` wherever it is stored; returns how many places. */
    function flip(needle: Uint8Array): number {
      let hits = 0;
      for (const f of dataFiles(index)) {
        const bytes = fs.readFileSync(f);
        const at = bytes.indexOf(Buffer.from(needle));
        if (at < 0) continue;
        bytes[at + 5] ^= 0x40;
        fs.writeFileSync(f, bytes);
        hits++;
      }
      return hits;
    }

    async function searchError(opts: { rerank?: number } = {}): Promise<string> {
      const ix = await ImageIndex.open(index).catch((e: Error) => e);
      if (ix instanceof Error) return ix.message;
      try {
        await ix.search(model, TEXTS[0], opts);
        return '';
      } catch (e) {
        return (e as Error).message;
      } finally {
        ix.close();
      }
    }

    it('a flipped byte in an ITC vector is a clear error, not a wrong score', async () => {
      const ix = await ImageIndex.open(index);
      const [row] = await ix.rows([(await ix.entries())[1]]);
      ix.close();
      expect(flip(new Uint8Array(row.vector.buffer, row.vector.byteOffset, 64))).to.be.greaterThan(0);
      expect(await searchError({ rerank: 0 }))
        .to.contain(index)
        .and.to.match(/corrupted.*checksum mismatch in its ITC vector/);
    });

    it('a flipped bit in a stored path is a clear error, not a path that does not exist', async () => {
      expect(flip(new TextEncoder().encode('photos/rocket.jpg'))).to.be.greaterThan(0); // byte 5: 'photos' becomes 'photo3'
      expect(await searchError({ rerank: 0 }))
        .to.contain(index)
        .and.to.match(/corrupted.*checksum mismatch in its ITC vector/);
    });

    it('a flipped byte in stored states is a clear error when re-ranking reads them', async () => {
      const ix = await ImageIndex.open(index);
      const [row] = await ix.rows([(await ix.entries())[0]]);
      ix.close();
      expect(flip(new Uint8Array(row.states.buffer, row.states.byteOffset + 400, 64))).to.be.greaterThan(0);
      expect(await searchError({ rerank: 0 })).to.equal('');
      expect(await searchError())
        .to.contain(index)
        .and.to.match(/corrupted.*checksum mismatch in its image states/);
    });

    it('truncated data files are a clear error for search and for index (never zero-filled)', async () => {
      for (const f of dataFiles(index)) fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
      const sizes = dataFiles(index).map((f) => fs.statSync(f).size);
      expect(await searchError())
        .to.contain(index)
        .and.to.match(/truncated or corrupted/);
      fs.copyFileSync(fixture('images', 'camera.png'), path.join(root, 'photos', 'camera.png'));
      let err: Error | undefined;
      try {
        await buildIndex(model, index, [path.join(root, 'photos')]);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message)
        .to.contain(index)
        .and.to.match(/truncated or corrupted/);
      expect(
        dataFiles(index)
          .slice(0, sizes.length)
          .map((f) => fs.statSync(f).size),
      ).to.deep.equal(sizes);
    });

    it('a changed file gets a new row from its new bytes; the old one is gone', async () => {
      const horse = path.join(root, 'photos', 'horse.png');
      fs.copyFileSync(fixture('images', 'camera.png'), horse);
      expect(await buildIndex(model, index, [path.join(root, 'photos')])).to.include({ encoded: 1, unchanged: 2 });
      const rows = await rawRows(index);
      expect(rows).to.have.length(3);
      const ix = await ImageIndex.open(index);
      try {
        const [row] = await ix.rows([rows.find((r) => r.path === horse)!]);
        const [cam] = await model.encodeImages([fixture('images', 'camera.png')]);
        const states = await cam.states.data();
        cam.dispose();
        row.vector.forEach((v, k) => expect(v).to.equal(cam.itcEmbedding[k]));
        expect(Array.from(row.states.slice(0, 50))).to.deep.equal(Array.from(states.slice(0, 50)));
      } finally {
        ix.close();
      }
    });

    it('search after close() is a clear error', async () => {
      const ix = await ImageIndex.open(index);
      ix.close();
      let err: Error | undefined;
      try {
        await ix.search(model, TEXTS[0]);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.equal(`${index}: the image index is closed (open it again with ImageIndex.open)`);
    });
  });

  it('with an IVF-PQ index the shortlist finds the exact top 10 (synthetic clustered rows)', async () => {
    // LanceDB's index build spills into a .tmp*/shuffle_data.lance folder under $TMPDIR and leaves
    // it there (LanceDB 0.31): give it a folder of this run's own, removed with the others.
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = tempDir('blip-itm-lance-spill-');
    try {
      const uri = path.join(tmpdir(), 'ann');
      const dims = { embed: 24, tokens: 17, hidden: 48 };
      const meta: IndexMeta = {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        model: { fingerprint: 'synthetic', dir: '', files: [] },
        dims,
        states: 'float16',
      };
      const ds = await Dataset.openOrCreate(uri, meta);
      let seed = 7;
      const rand = () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed / 2 ** 32 - 0.5;
      };
      const centres = Array.from({ length: 16 }, () => Array.from({ length: dims.embed }, rand));
      const unit = (v: number[]) => {
        const n = Math.hypot(...v);
        return Float32Array.from(v, (x) => x / n);
      };
      const vectors = Array.from({ length: 2000 }, (_, i) => unit(centres[i % 16].map((c) => c + 0.3 * rand())));
      const states = new Float32Array(dims.tokens * dims.hidden);
      await ds.add(
        vectors.map((v, i) =>
          makeRow({ path: `/x/${i}`, size: 1, mtimeMs: 1, sha256: String(i), run: 'r', kind: 'image', frames: 1 }, v, states, 'float16'),
        ),
      );
      const ix = await ImageIndex.open(uri);
      const exact: string[][] = [];
      const queries = vectors.slice(0, 20).map((v) => unit(Array.from(v, (x) => x + 0.2 * rand())));
      for (const q of queries) exact.push((await ix.shortlist(q, 10)).map((c) => c.entry.path));
      await ds.createVectorIndex(2000);
      ds.close();
      ix.close();
      const ann = await ImageIndex.open(uri);
      try {
        expect(await ann.approximate()).to.equal(true);
        let found = 0;
        for (let k = 0; k < queries.length; k++) {
          const got = new Set((await ann.shortlist(queries[k], 10)).map((c) => c.entry.path));
          found += exact[k].filter((p) => got.has(p)).length;
        }
        expect(found / (10 * queries.length)).to.be.at.least(0.9);
      } finally {
        ann.close();
      }
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
    }
  });
});
