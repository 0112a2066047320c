import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { NodeBlipItm as BlipItm } from '../src/node/platform';
import { ModelCore } from '../src/model/core';
import { csvRecords, readPairsFile } from '../src/cli/pairs-file';
import { StatusLine } from '../src/cli/progress';
import { cli } from './helpers/cli';
import { IMAGES, TEXTS, TINY } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

const MODEL = ['--model', TINY, '--backend', 'wasm'];
const TOL = 1e-6;

/** Counts image encodings (vision passes) of a model. */
function countEncodings(model: BlipItm): { count: number } {
  const core = (model as unknown as { core: ModelCore }).core;
  const counter = { count: 0 };
  const original = core.embedPixels.bind(core);
  core.embedPixels = (...a: Parameters<ModelCore['embedPixels']>) => {
    counter.count++;
    return original(...a);
  };
  return counter;
}

describe('score() and matchPairs(): both scores from one image encoding', function () {
  this.timeout(60_000);
  let model: BlipItm;
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  it('score() equals match() and similarity(), encoding each image once, and leaks no tensor', async () => {
    const probs = await model.match(IMAGES, TEXTS);
    const itc = await model.similarity(IMAGES, TEXTS);
    const counter = countEncodings(model);
    const before = tf.memory().numTensors;
    const progress: number[][] = [];
    const s = await model.score(IMAGES, TEXTS, { progress: (d, t) => progress.push([d, t]) });
    expect(tf.memory().numTensors).to.equal(before);
    expect(counter.count).to.equal(IMAGES.length);
    expect(progress[progress.length - 1]).to.deep.equal([9, 9]);
    IMAGES.forEach((_, i) =>
      TEXTS.forEach((_, j) => {
        expect(s.probs[i][j]).to.be.closeTo(probs.probs[i][j], TOL);
        expect(s.logits[i][j][1]).to.be.closeTo(probs.logits[i][j][1], 1e-5);
        expect(s.itc[i][j]).to.be.closeTo(itc[i][j], TOL);
      }),
    );
  });

  it('matchPairs() scores image i with text i, each distinct image encoded once, in input order', async () => {
    const images = [IMAGES[0], IMAGES[1], IMAGES[0], IMAGES[2]];
    const texts = [TEXTS[0], TEXTS[1], TEXTS[2], TEXTS[0]];
    const full = await model.match(IMAGES, TEXTS);
    const itc = await model.similarity(IMAGES, TEXTS);
    const counter = countEncodings(model);
    const before = tf.memory().numTensors;
    const pairs = await model.matchPairs(images, texts);
    expect(tf.memory().numTensors).to.equal(before);
    expect(counter.count).to.equal(3);
    const at = (p: string) => IMAGES.indexOf(p);
    pairs.forEach((p, k) => {
      const i = at(images[k]);
      const j = TEXTS.indexOf(texts[k]);
      expect(p.itm).to.be.closeTo(full.probs[i][j], TOL);
      expect(p.logits[0]).to.be.closeTo(full.logits[i][j][0], 1e-5);
      expect(p.itc).to.be.closeTo(itc[i][j], TOL);
    });
  });

  it('matchPairs() refuses lists of different lengths', async () => {
    let error: Error | undefined;
    await model.matchPairs([IMAGES[0]], TEXTS).catch((e: Error) => (error = e));
    expect(error?.message).to.equal('matchPairs: 1 images but 3 texts; pairs need one text per image');
  });
});

describe('pairs files', () => {
  it('reads CSV with quoted fields and JSONL, naming the line of a bad record', () => {
    expect(csvRecords('a,b\r\n"x, ""y""",z\n\n"two\nlines",w').map((r) => [r.line, r.fields])).to.deep.equal([
      [1, ['a', 'b']],
      [2, ['x, "y"', 'z']],
      [4, ['two\nlines', 'w']],
    ]);
    expect(readPairsFile('p.csv', 'Image,Caption,id\na.jpg,a cat,1\n')).to.deep.equal([{ image: 'a.jpg', caption: 'a cat' }]);
    expect(readPairsFile('p.jsonl', '{"image":"a.jpg","caption":"x"}\n\n{"image":"b.png","text":"y"}\n')).to.deep.equal([
      { image: 'a.jpg', caption: 'x' },
      { image: 'b.png', caption: 'y' },
    ]);
    expect(() => readPairsFile('p.csv', 'path,caption\na,b\n')).to.throw(/p\.csv: the first line must name the columns/);
    expect(() => readPairsFile('p.csv', 'image,caption\na,b,c\n')).to.throw('p.csv:2: 3 fields, the header has 2');
    expect(() => readPairsFile('p.jsonl', '{"image":"a"}\n')).to.throw('p.jsonl:1: "caption" must be a string');
    expect(() => readPairsFile('p.jsonl', '{"image":')).to.throw(/p\.jsonl:1: not valid JSON/);
    expect(() => readPairsFile('p.csv', 'image,caption\n')).to.throw('p.csv: no pairs in the file');
  });
});

describe('status line', () => {
  const fake = (isTTY: boolean) => {
    const stream = { isTTY, columns: 40, text: '', write: (s: string) => ((stream.text += s), true) };
    return stream;
  };
  it('draws and erases on a terminal, writes nothing elsewhere or when quiet', () => {
    const tty = fake(true);
    const line = new StatusLine(tty, true);
    line.stage('loading model x…');
    line.count('scored pairs', 3, 3);
    line.clear();
    const erase = '\r\x1b[K';
    expect(tty.text.split(erase)).to.have.length(4);
    expect(tty.text.startsWith(`${erase}loading model x…${erase}scored pairs 3/3 (`)).to.equal(true);
    expect(tty.text.endsWith(`s)${erase}`)).to.equal(true);
    const pipe = fake(false);
    const off = new StatusLine(pipe, false);
    off.stage('loading');
    off.count('x', 1, 2);
    off.clear();
    expect(pipe.text).to.equal('');
  });
});

describe('score on the command line: pairs, inputs checked first, progress only on a terminal', function () {
  this.timeout(180_000);
  const tmp = tempDir('blip-itm-pairs-');

  it('score --pairs --json prints one labelled row per pair, the numbers of match and similarity', async () => {
    const [a, b] = IMAGES;
    const r = await cli(['score', ...MODEL, '--pairs', '--image', a, b, a, '--text', TEXTS[0], TEXTS[1], TEXTS[2], '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    const rows = JSON.parse(r.stdout) as { image: string; text: string; itm: number; itc: number }[];
    expect(rows.map((x) => Object.keys(x))).to.deep.equal(Array(3).fill(['image', 'text', 'itm', 'itc']));
    expect(rows.map((x) => [x.image, x.text])).to.deep.equal([
      [a, TEXTS[0]],
      [b, TEXTS[1]],
      [a, TEXTS[2]],
    ]);
    const full = await cli(['score', ...MODEL, '--image', a, b, '--text', ...TEXTS, '--json']);
    const m = JSON.parse(full.stdout) as { itm: number[][]; itc: number[][] };
    [
      [0, 0],
      [1, 1],
      [0, 2],
    ].forEach(([i, j], k) => {
      expect(rows[k].itm).to.be.closeTo(m.itm[i][j], TOL);
      expect(rows[k].itc).to.be.closeTo(m.itc[i][j], TOL);
    });
  });

  it('score --pairs-file reads CSV and JSONL with image paths relative to the file', async () => {
    const dir = path.join(tmp, 'set');
    fs.mkdirSync(dir);
    fs.copyFileSync(IMAGES[0], path.join(dir, 'cat.png'));
    fs.copyFileSync(IMAGES[1], path.join(dir, 'rocket.jpg'));
    fs.writeFileSync(path.join(dir, 'pairs.csv'), 'image,caption\ncat.png,"a cat, lying"\nrocket.jpg,a rocket\n');
    fs.writeFileSync(
      path.join(dir, 'pairs.jsonl'),
      '{"image":"cat.png","caption":"a cat, lying"}\n{"image":"rocket.jpg","caption":"a rocket"}\n',
    );
    const csv = await cli(['score', ...MODEL, '--pairs-file', path.join(dir, 'pairs.csv'), '--json', '--mode', 'itm']);
    expect(csv.code, csv.stderr).to.equal(0);
    const rows = JSON.parse(csv.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => Object.keys(r))).to.deep.equal([
      ['image', 'text', 'itm'],
      ['image', 'text', 'itm'],
    ]);
    expect(rows[0]).to.include({ image: 'cat.png', text: 'a cat, lying' });
    const jsonl = await cli(['score', ...MODEL, '--pairs-file', path.join(dir, 'pairs.jsonl'), '--json', '--mode', 'itm']);
    expect(JSON.parse(jsonl.stdout)).to.deep.equal(rows);
    const table = await cli(['score', ...MODEL, '--pairs-file', path.join(dir, 'pairs.csv')]);
    expect(table.stdout.split('\n')[1]).to.match(/^itm 0\.\d{4} {2}itc -?0\.\d{4} {2}rocket\.jpg {2}"a rocket"$/);
  });

  it('refuses pairs of unequal counts and bad images before loading the model', async () => {
    const uneven = await cli(['score', ...MODEL, '--pairs', '--image', IMAGES[0], '--text', 'a', 'b']);
    expect(uneven.code).to.equal(2);
    expect(uneven.stderr).to.contain('score: --pairs needs as many images as texts, got 1 images and 2 texts');
    // The model directory does not exist: each image problem must be found first.
    const noModel = ['--model', path.join(tmp, 'no-model')];
    const text = path.join(tmp, 'notes.jpg');
    fs.writeFileSync(text, 'not an image\n');
    const webm = path.join(tmp, 'clip.bmp');
    fs.writeFileSync(webm, Buffer.from('BM' + '\0'.repeat(60), 'latin1'));
    const huge = path.join(tmp, 'huge.png');
    const png = Buffer.from(fs.readFileSync(IMAGES[0]));
    png.writeUInt32BE(100_000, 16);
    png.writeUInt32BE(100_000, 20);
    fs.writeFileSync(huge, png.subarray(0, 64));
    for (const [image, why] of [
      [path.join(tmp, 'missing.png'), /missing\.png: no such file/],
      [tmp, /: is a directory, not an image file/],
      [text, /notes\.jpg: not a JPEG/],
      [webm, /clip\.bmp: unsupported image format BMP/],
      [huge, /huge\.png: image of 100000x100000 = 10000000000 pixels exceeds/],
    ] as const) {
      const r = await cli(['score', ...noModel, '--image', image, '--text', 'a']);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(why);
    }
    // rank and dump take the same path.
    const missing = path.join(tmp, 'missing.png');
    for (const verb of [
      ['rank', '--text', 'a'],
      ['dump', '--text', 'a', '--out', path.join(tmp, 'd.safetensors')],
    ]) {
      const r = await cli([verb[0], ...noModel, '--image', missing, ...verb.slice(1)]);
      expect(r.stderr).to.match(/missing\.png: no such file/);
    }
  });

  it('shows progress on a terminal only, and --quiet silences it', async function () {
    const plain = await cli(['score', ...MODEL, '--image', IMAGES[0], '--text', 'a']);
    expect(plain.code).to.equal(0);
    expect(plain.stderr).to.equal('');
    if (!fs.existsSync('/usr/bin/script')) this.skip();
    const bin = path.resolve(__dirname, '../../bin/blip-itm.js');
    const line = (extra: string) =>
      `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} score --model ${JSON.stringify(TINY)} --backend wasm --image ${JSON.stringify(IMAGES[0])} --text a ${extra}`;
    const { execFileSync } = await import('child_process');
    const run = (extra: string) => execFileSync('script', ['-qec', line(extra), '/dev/null'], { encoding: 'utf8' });
    const shown = run('');
    expect(shown)
      .to.contain('\x1b[Kloading model')
      .and.to.contain('\x1b[Kscored image x text 1/1')
      .and.to.match(/itm 0\.\d{4}/);
    expect(run('--quiet')).not.to.contain('\x1b[K');
  });
});
