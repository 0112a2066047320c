import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BlipItm } from '../src/model/blip-itm';
import * as arrow from 'apache-arrow';
import { FilterRow, filterPairs, runFilter } from '../src/filter';
import { toParquet } from '../src/filter/parquet';
import { cli } from './helpers/cli';
import { IMAGES, TEXTS, TINY, reference } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

/**
 * The filter on a WebDataset tar made by GNU tar and a JSONL table, from the fixture images: one
 * corrupt image, one missing caption, a non-UTF-8 caption, a caption without its image, an
 * oversized member, a two-caption row. Output read back with hyparquet (not parquet-wasm,
 * which writes it); kept tars listed and extracted by GNU tar.
 */

type Row = FilterRow;

/** Every row of every *.parquet under dir, read by hyparquet (an independent reader). */
async function readParquetDir(dir: string): Promise<Row[]> {
  // hyparquet is ESM-only; Node 20.19+ loads it through require.
  const hp = (await import('hyparquet')) as typeof import('hyparquet');
  const rows: Row[] = [];
  for (const name of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.parquet'))
    .sort()) {
    const buf = fs.readFileSync(path.join(dir, name));
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    rows.push(...((await hp.parquetReadObjects({ file })) as Row[]));
  }
  return rows;
}

const ref = (name: string, i: number, j: number) => reference('tiny-activations.safetensors').get(name)!.data[i * 3 + j];

/** The dataset folder: images/, a tar and a JSONL. */
function makeDataset(): { dir: string; tar: string; jsonl: string } {
  const dir = tempDir('blip-itm-filter-');
  const m = path.join(dir, 'members');
  fs.mkdirSync(m);
  const put = (name: string, data: Uint8Array | string) => fs.writeFileSync(path.join(m, name), data);
  const [chelsea, rocket, horse] = IMAGES.map((f) => fs.readFileSync(f));
  const longKey = 'k'.repeat(120);
  put('cat.png', chelsea);
  put('cat.txt', `${TEXTS[0]}\n`);
  put('cat.json', '{"url": "http://example.invalid/cat"}');
  put('rocket.jpg', rocket);
  put('rocket.txt', TEXTS[1]);
  put(`${longKey}.png`, horse);
  put(`${longKey}.txt`, TEXTS[2]);
  put('broken.jpg', Buffer.concat([rocket.subarray(0, 2), Buffer.from('not a jpeg at all')]));
  put('broken.txt', 'a broken image');
  put('nocap.png', horse);
  put('orphan.txt', 'a caption without its image');
  put('badutf.png', horse);
  put('badutf.txt', Buffer.from([0x61, 0xff, 0xfe, 0x62]));
  put('big.png', Buffer.concat([chelsea, Buffer.alloc(100_000)])); // over the 300 kB member limit the tests set
  put('big.txt', 'too big for the member limit');
  const order = [
    'cat.png',
    'cat.txt',
    'cat.json',
    'rocket.jpg',
    'rocket.txt',
    `${longKey}.png`,
    `${longKey}.txt`,
    'broken.jpg',
    'broken.txt',
  ];
  order.push('nocap.png', 'orphan.txt', 'badutf.png', 'badutf.txt', 'big.png', 'big.txt');
  const tar = path.join(dir, 'shard-000.tar');
  execFileSync('tar', ['--format=gnu', '-cf', tar, '-C', m, ...order]);
  fs.mkdirSync(path.join(dir, 'images'));
  ['chelsea.png', 'rocket.jpg', 'horse.png'].forEach((n, i) => fs.copyFileSync(IMAGES[i], path.join(dir, 'images', n)));
  fs.copyFileSync(path.join(m, 'broken.jpg'), path.join(dir, 'images', 'broken.jpg'));
  const jsonl = path.join(dir, 'pairs.jsonl');
  const lines = [
    { key: 'two', image: 'images/chelsea.png', caption: [TEXTS[0], TEXTS[1]] },
    { key: 'rocket', image: 'images/rocket.jpg', caption: TEXTS[1] },
    { key: 'horse', image: 'images/horse.png', caption: TEXTS[2] },
    { key: 'corrupt', image: 'images/broken.jpg', caption: 'a broken image' },
    { key: 'nocaption', image: 'images/horse.png' },
  ];
  fs.writeFileSync(jsonl, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return { dir, tar, jsonl };
}

function byKey(rows: Row[]): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const r of rows) out.set(r.key, [...(out.get(r.key) ?? []), r]);
  return out;
}

describe('filter: CapFilt over WebDataset tars and tables (tiny checkpoint)', function () {
  this.timeout(120_000);
  let model: BlipItm;
  let data: ReturnType<typeof makeDataset>;

  before(() => {
    model = BlipItm.fromDir(TINY);
    data = makeDataset();
  });
  after(() => model.dispose());

  it('scores a tar: reference scores, error rows, keep = itm_prob >= threshold', async () => {
    const out = path.join(data.dir, 'out-tar');
    const report = await runFilter(model, data.tar, { out, maxBytes: 300_000, decoders: 1 });
    const rows = await readParquetDir(out);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.parquet'))).to.deep.equal(['part-00000-of-00001.parquet']);
    const k = byKey(rows);
    expect([...k.keys()]).to.deep.equal(['cat', 'rocket', 'k'.repeat(120), 'broken', 'nocap', 'orphan', 'badutf', 'big']);
    const check = (key: string, img: number, txt: number) => {
      const [r] = k.get(key)!;
      expect(r.error).to.equal(null);
      expect(r.caption).to.equal(TEXTS[txt]);
      expect(r.itm_prob!).to.be.closeTo(ref('itm.probs', img, txt), 1e-4);
      const logits = reference('tiny-activations.safetensors').get('itm.logits')!.data;
      expect(r.itm_logit!).to.be.closeTo(logits[(img * 3 + txt) * 2 + 1] - logits[(img * 3 + txt) * 2], 1e-3);
      expect(r.itc!).to.be.closeTo(ref('itc.cosine', img, txt), 1e-4);
      expect(r.keep).to.equal(r.itm_prob! >= 0.5);
    };
    check('cat', 0, 0);
    check('rocket', 1, 1);
    check('k'.repeat(120), 2, 2);
    const err = (key: string) => k.get(key)!.map((r) => [r.error, r.keep, r.itm_prob]);
    expect(err('broken')[0][0]).to.match(/^image: .*broken\.jpg/);
    expect(err('nocap')[0][0]).to.match(/no caption \(nocap\.txt missing\)/);
    expect(err('orphan')[0][0]).to.match(/no image/);
    expect(err('badutf')[0][0]).to.match(/not valid UTF-8/);
    expect(err('big')[0][0]).to.match(/larger than the member limit/);
    for (const key of ['broken', 'nocap', 'orphan', 'badutf', 'big']) expect(err(key)).to.deep.equal([[err(key)[0][0], false, null]]);
    expect(report).to.include({ rows: 8, errors: 5, added: 8 });
    expect(new Set(rows.map((r) => r.model_fingerprint)).size).to.equal(1);
    expect(rows.every((r) => r.source === data.tar)).to.equal(true);

    // The same call again adds nothing and leaves the file as it was.
    const before = fs.readFileSync(path.join(out, 'part-00000-of-00001.parquet'));
    const again = await runFilter(model, data.tar, { out, maxBytes: 300_000, decoders: 1 });
    expect(again.added).to.equal(0);
    expect(again.rows).to.equal(8);
    expect(fs.readFileSync(path.join(out, 'part-00000-of-00001.parquet')).equals(before)).to.equal(true);
  });

  it('scores a JSONL table: a two-caption row encodes its image once and gives two rows', async () => {
    const out = path.join(data.dir, 'out-jsonl');
    await runFilter(model, data.jsonl, { out, decoders: 0, threshold: 0.2 });
    const k = byKey(await readParquetDir(out));
    expect([...k.keys()]).to.deep.equal(['two', 'rocket', 'horse', 'corrupt', 'nocaption']);
    const two = k.get('two')!;
    expect(two.map((r) => [r.caption_index, r.caption])).to.deep.equal([
      [0, TEXTS[0]],
      [1, TEXTS[1]],
    ]);
    two.forEach((r, j) => {
      expect(r.itm_prob!).to.be.closeTo(ref('itm.probs', 0, j), 1e-4);
      expect(r.itc!).to.be.closeTo(ref('itc.cosine', 0, j), 1e-4);
      expect(r.keep).to.equal(r.itm_prob! >= 0.2);
    });
    expect(k.get('horse')![0].itm_prob!).to.be.closeTo(ref('itm.probs', 2, 2), 1e-4);
    expect(k.get('corrupt')![0].error).to.match(/^image: /);
    expect(k.get('nocaption')![0]).to.include({ caption: null, keep: false });
    expect(k.get('nocaption')![0].error).to.match(/no caption/);
  });

  it('--shard 0/2 and 1/2 into one folder cover every key exactly once', async () => {
    const out = path.join(data.dir, 'out-shards');
    const whole = await readParquetDir(path.join(data.dir, 'out-tar'));
    for (const index of [0, 1]) await runFilter(model, data.tar, { out, maxBytes: 300_000, shard: { index, count: 2 } });
    const parts = fs.readdirSync(out).filter((f) => f.endsWith('.parquet'));
    expect(parts.sort()).to.deep.equal(['part-00000-of-00002.parquet', 'part-00001-of-00002.parquet']);
    const rows = await readParquetDir(out);
    expect(rows.map((r) => r.key).sort()).to.deep.equal(whole.map((r) => r.key).sort());
    const a = await readParquetDir(out).then((r) => r.length);
    expect(a).to.equal(whole.length);
  });

  it('--write-kept tars hold exactly the kept samples, byte-identical (read by GNU tar)', async () => {
    const out = path.join(data.dir, 'out-kept');
    const kept = path.join(data.dir, 'kept');
    const probs = (await readParquetDir(path.join(data.dir, 'out-tar'))).filter((r) => r.itm_prob !== null).map((r) => r.itm_prob!);
    const threshold = [...probs].sort((x, y) => x - y)[1]; // keeps two of the three scored samples
    await runFilter(model, data.tar, { out, writeKept: kept, threshold, maxBytes: 300_000 });
    const rows = await readParquetDir(out);
    const keptKeys = rows.filter((r) => r.keep).map((r) => r.key);
    expect(keptKeys.length).to.equal(2);
    const tarFile = path.join(kept, 'part-00000-of-00001.tar');
    const listed = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).trim().split('\n').sort();
    const members = fs.readdirSync(path.join(data.dir, 'members'));
    const expected = members.filter((n) => keptKeys.includes(n.slice(0, n.indexOf('.')))).sort();
    expect(listed).to.deep.equal(expected);
    const x = path.join(data.dir, 'kept-x');
    fs.mkdirSync(x);
    execFileSync('tar', ['-xf', tarFile, '-C', x]);
    for (const n of expected)
      expect(fs.readFileSync(path.join(x, n)).equals(fs.readFileSync(path.join(data.dir, 'members', n)))).to.equal(true);
  });

  it('a job killed with SIGKILL mid-run and run again loses and doubles nothing', async function () {
    // 24 table rows, one sample per commit; killed once some batches are committed.
    const dir = data.dir;
    const table = path.join(dir, 'many.jsonl');
    const names = ['images/chelsea.png', 'images/rocket.jpg', 'images/horse.png'];
    const lines = Array.from({ length: 24 }, (_, i) => JSON.stringify({ key: `s${i}`, image: names[i % 3], caption: TEXTS[(i + 1) % 3] }));
    fs.writeFileSync(table, lines.join('\n') + '\n');
    const out = path.join(dir, 'out-kill');
    const args = ['filter', '--model', TINY, '--backend', 'wasm', '--threads', '1', '--out', out, '--batch', '1', '--decoders', '0', table];
    const staging = path.join(out, '.blip-itm-filter', 'part-00000-of-00001');
    const child = spawn(process.execPath, [path.resolve(__dirname, '../../bin/blip-itm.js'), ...args], { stdio: 'ignore' });
    const committed = () => (fs.existsSync(staging) ? fs.readdirSync(staging).filter((f) => /^rows-.*\.parquet$/.test(f)).length : 0);
    const started = Date.now();
    while (committed() < 3 && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const done = committed();
    expect(done).to.be.greaterThan(2);
    expect(done).to.be.lessThan(24);
    expect(fs.existsSync(path.join(out, 'part-00000-of-00001.parquet'))).to.equal(false);
    const rerun = await cli(args);
    expect(rerun.code, rerun.stderr).to.equal(0);
    expect(rerun.stderr).to.match(/samples were committed before/);
    const rows = await readParquetDir(out);
    expect(rows.map((r) => r.key)).to.deep.equal(Array.from({ length: 24 }, (_, i) => `s${i}`));
    rows.forEach((r, i) => expect(r.itm_prob!).to.be.closeTo(ref('itm.probs', i % 3, (i + 1) % 3), 1e-4));
    expect(fs.existsSync(staging)).to.equal(false);
    const third = await cli(args);
    expect(third.code).to.equal(0);
    expect(third.stderr).to.match(/0 rows added by this run/);
    expect((await readParquetDir(out)).length).to.equal(24);
  });

  it('CLI: summary with counts and histogram; --strict makes errors the exit code; bad input is one line', async () => {
    const out = path.join(data.dir, 'out-cli');
    const run = await cli(['filter', '--model', TINY, '--backend', 'wasm', '--out', out, '--strict', '--vision-batch', 'auto', data.jsonl]);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/5 rows \(|6 rows: \d+ kept, \d+ dropped \(itm_prob < 0\.5\), 2 errors/);
    expect(run.stderr).to.match(/itm_prob histogram:/);
    expect(run.stderr).to.match(/2 error rows \(--strict\)/);
    const badBatch = await cli(['filter', '--model', TINY, '--out', out, '--vision-batch', '0', data.jsonl]);
    expect(badBatch.code).to.equal(2);
    expect(badBatch.stderr.trim()).to.match(/^blip-itm: filter: --vision-batch must be 1\.\.4096, got 0 \(see blip-itm filter --help\)$/);
    const missing = await cli(['filter', '--model', TINY, '--out', out, path.join(data.dir, 'nope.tar')]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr.trim().split('\n').pop()).to.match(/nope\.tar: no such file or folder/);
    const other = await cli(['filter', '--model', TINY, '--backend', 'wasm', '--out', out, '--threshold', '0.9', data.jsonl]);
    expect(other.code).to.equal(1);
    expect(other.stderr).to.match(/made by another run/);
  });

  it('reads CSV (quoted fields, a JSON-list caption cell, --caption-col) and Parquet tables (a list column)', async () => {
    const csv = path.join(data.dir, 'pairs.csv');
    const list = JSON.stringify([TEXTS[0], TEXTS[1]]).replace(/"/g, '""');
    fs.writeFileSync(csv, `id,img,words\r\nc1,images/chelsea.png,"${list}"\r\nc2,images/rocket.jpg,"${TEXTS[1]}"\r\n`);
    const fromCsv = await runFilter(model, csv, { columns: { image: 'img', caption: 'words', key: 'id' }, decoders: 0 });
    expect(fromCsv).to.include({ rows: 3, errors: 0 });
    const table = arrow.tableFromArrays({ image: ['images/horse.png', 'images/chelsea.png'], key: ['p1', 'p2'] });
    const captions = arrow.vectorFromArray([[TEXTS[2]], [TEXTS[0], TEXTS[2]]], new arrow.List(new arrow.Field('item', new arrow.Utf8())));
    const withCaptions = table.assign(new arrow.Table({ caption: captions }));
    const pq = path.join(data.dir, 'pairs.parquet');
    fs.writeFileSync(pq, toParquet(withCaptions));
    const rows: FilterRow[] = [];
    for await (const batch of filterPairs(model, pq, { decoders: 0 })) rows.push(...batch);
    expect(rows.map((r) => [r.key, r.caption_index])).to.deep.equal([
      ['p1', 0],
      ['p2', 0],
      ['p2', 1],
    ]);
    expect(rows[0].itm_prob!).to.be.closeTo(ref('itm.probs', 2, 2), 1e-4);
    expect(rows[2].itm_prob!).to.be.closeTo(ref('itm.probs', 0, 2), 1e-4);
  });

  it('filterPairs without --out yields the rows (library use)', async () => {
    const tensorsBefore = tf.memory().numTensors;
    const rows: FilterRow[] = [];
    const it = filterPairs(model, [data.jsonl], { decoders: 0 });
    for (;;) {
      const r = await it.next();
      if (r.done) {
        expect(r.value.rows).to.equal(6);
        break;
      }
      rows.push(...r.value);
    }
    expect(rows.map((r) => r.key)).to.deep.equal(['two', 'two', 'rocket', 'horse', 'corrupt', 'nocaption']);
    expect(tf.memory().numTensors, 'tensors left behind').to.equal(tensorsBefore);
  });
});
