import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BlipItm } from '../src/model/blip-itm';
import { evaluate, loadEvalSet, preCaption, recalls } from '../src/eval';
import { cli } from './helpers/cli';
import { TINY, fixture } from './helpers/fixtures';

interface TwinRun {
  k_test: number;
  recalls: Record<string, number>;
  i2t: number[][];
  t2i: number[][];
}
interface Twin {
  texts: string[];
  sims: number[][];
  runs: TwinRun[];
}

const ANNOTATIONS = fixture('eval', 'annotations.json');
const IMAGES = fixture();
/** Made by scripts/reference/eval_twin.py (transformers) on the tiny checkpoint. */
const twin = JSON.parse(fs.readFileSync(fixture('eval', 'twin-tiny.json'), 'utf8')) as Twin;

function expectMatrix(actual: number[][], want: number[][], tol: number, what: string): void {
  expect(actual.length, what).to.equal(want.length);
  actual.forEach((row, i) =>
    row.forEach((v, j) => {
      if (Math.abs(v - want[i][j]) > tol) expect.fail(`${what}[${i}][${j}] = ${v}, the twin has ${want[i][j]}`);
    }),
  );
}

describe("eval: BLIP's retrieval protocol against its PyTorch twin (tiny checkpoint)", function () {
  this.timeout(120_000);
  let model: BlipItm;
  let work: string;
  before(() => {
    model = BlipItm.fromDir(TINY);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'blip-itm-eval-'));
  });
  after(() => model.dispose());

  it('pre_caption: lower case, punctuation to spaces, 30 words', () => {
    expect(preCaption('A cat (close-up)!  on a   rug.\n')).to.equal('a cat close-up on a rug');
    expect(preCaption(Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ')).split(' ')).to.have.length(30);
    expect(loadEvalSet(ANNOTATIONS, IMAGES).texts).to.deep.equal(twin.texts);
  });

  for (const run of twin.runs) {
    it(`k_test ${run.k_test}: identical recalls, score matrices within 1e-4`, async () => {
      const set = loadEvalSet(ANNOTATIONS, IMAGES);
      const before = tf.memory().numTensors;
      const r = await evaluate(model, set, { kTest: run.k_test, index: path.join(work, 'index') });
      expect(tf.memory().numTensors, 'leaked tensors').to.equal(before);
      expectMatrix(r.sims, twin.sims, 1e-5, 'sims');
      expectMatrix(r.i2t, run.i2t, 1e-4, 'i2t');
      expectMatrix(r.t2i, run.t2i, 1e-4, 't2i');
      expect(r.recalls).to.deep.equal(run.recalls);
    });
  }

  it('encodes each image once: a second run reuses the index and the saved ITM scores', async () => {
    const set = loadEvalSet(ANNOTATIONS, IMAGES);
    const r = await evaluate(model, set, { kTest: 4, index: path.join(work, 'index') });
    expect(r.build).to.include({ encoded: 0, unchanged: 8 });
    expect(r.itmImages).to.equal(0);
    expect(r.recalls).to.deep.equal(twin.runs[0].recalls);
  });

  it('an interrupted run resumes: images and ITM scores done are not computed again', async () => {
    const set = loadEvalSet(ANNOTATIONS, IMAGES);
    const index = path.join(work, 'resume');
    const abort = new AbortController();
    let err: Error | undefined;
    try {
      await evaluate(model, set, {
        kTest: 4,
        index,
        signal: abort.signal,
        onProgress: (stage, p) => {
          if (stage === 'itm' && p.done === 3) abort.abort();
        },
      });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/interrupted while re-scoring/);
    const r = await evaluate(model, set, { kTest: 4, index });
    expect(r.build.encoded).to.equal(0);
    expect(r.itmImages).to.equal(5);
    expect(r.recalls).to.deep.equal(twin.runs[0].recalls);
    expectMatrix(r.i2t, twin.runs[0].i2t, 1e-4, 'i2t');
  });

  it('recalls: a hit when any caption ranks within K; ties by position', () => {
    // 2 images, 3 texts; image 0 owns texts 0 and 1.
    const r = recalls(
      [
        [1, 5, 2],
        [-100, -100, -100],
      ],
      [
        [3, 1],
        [-100, -100],
        [2, 0],
      ],
      [0, 0, 1],
      [[0, 1], [2]],
    );
    expect(r.txt_r1).to.equal(50); // image 0: text 1 first; image 1: all tied, text 2 is third
    expect(r.img_r1).to.equal((100 * 2) / 3); // text 1: a tie, image 0 first by position; text 2 misses
    expect(r.r_mean).to.be.closeTo((r.txt_r_mean + r.img_r_mean) / 2, 1e-12);
  });

  it('blip-itm eval --json prints exactly the itm_eval keys', async () => {
    const res = await cli([
      'eval',
      '--model',
      TINY,
      '--backend',
      'wasm',
      '--annotations',
      ANNOTATIONS,
      '--images',
      IMAGES,
      '--k-test',
      String(twin.runs[0].k_test),
      '--index',
      path.join(work, 'cli-index'),
      '--json',
    ]);
    expect(res.code, res.stderr).to.equal(0);
    const out = JSON.parse(res.stdout) as Record<string, number>;
    expect(Object.keys(out)).to.deep.equal([
      'txt_r1',
      'txt_r5',
      'txt_r10',
      'txt_r_mean',
      'img_r1',
      'img_r5',
      'img_r10',
      'img_r_mean',
      'r_mean',
    ]);
    expect(out).to.deep.equal(twin.runs[0].recalls);
  });
});
