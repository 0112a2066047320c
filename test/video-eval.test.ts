import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { NodeBlipItm as BlipItm } from '../src/node/platform';
import { evaluateVideos, loadVideoEvalSet } from '../src/eval';
import { cli } from './helpers/cli';
import { TINY, fixture } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

interface Twin {
  texts: string[];
  frames: number;
  sims: number[][];
  runs: { k_test: number; recalls: Record<string, number>; v2t: number[][]; t2v: number[][] }[];
}

const ANN = fixture('video', 'annotations.json');
const DIR = fixture('video');
const twin = (): Twin => JSON.parse(fs.readFileSync(fixture('video', 'eval-twin-tiny.json'), 'utf8')) as Twin;

function expectClose(a: number[][], b: number[][], tol = 1e-4): void {
  expect(a.length).to.equal(b.length);
  a.forEach((row, i) => row.forEach((x, j) => expect(Math.abs(x - b[i][j]), `[${i}][${j}]`).to.be.below(tol)));
}

describe('video: eval --videos (BLIP eval_retrieval_video.py) against its PyTorch twin', function () {
  let model: BlipItm;
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  it('gives identical recalls and matching score matrices at k_test 2 and 128', async () => {
    const t = twin();
    const set = loadVideoEvalSet(ANN, DIR);
    expect(set.texts).to.deep.equal(t.texts);
    for (const run of t.runs) {
      const r = await evaluateVideos(model, set, { kTest: run.k_test, frames: t.frames, keepBytes: run.k_test === 2 ? 0 : undefined });
      expect(r.recalls).to.deep.equal(run.recalls);
      expectClose(r.sims, t.sims);
      expectClose(r.v2t, run.v2t);
      expectClose(r.t2v, run.t2v);
    }
  });

  it("reads BLIP's msrvtt_test.jsonl (DIR/clip_name.mp4) and prints BLIP's keys from the CLI", async () => {
    const dir = tempDir('blip-itm-video-eval-');
    const jsonl = path.join(dir, 'msrvtt_test.jsonl');
    fs.writeFileSync(
      jsonl,
      '{"clip_name": "video7020", "caption": "A woman creating a fondant baby."}\n\n{"clip_name": "video7021", "caption": "x"}\n',
    );
    const set = loadVideoEvalSet(jsonl, '/data/msrvtt');
    expect(set.images).to.deep.equal(['/data/msrvtt/video7020.mp4', '/data/msrvtt/video7021.mp4']);
    expect(set.texts).to.deep.equal(['a woman creating a fondant baby', 'x']);
    fs.writeFileSync(jsonl, '{"clip": 1}\n');
    expect(() => loadVideoEvalSet(jsonl, dir)).to.throw(/msrvtt_test\.jsonl:1: expected \{"clip_name"/);

    const r = await cli(['eval', '--model', TINY, '--backend', 'cpu', '--annotations', ANN, '--videos', DIR, '--k-test', '2', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal(twin().runs.find((x) => x.k_test === 2)!.recalls);
  });
});
