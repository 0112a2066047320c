import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { cli } from './helpers/cli';
import { TINY, fixture, reference } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

const CLIP20 = fixture('video', 'clip20.mkv');
const CLIP7 = fixture('video', 'clip7.mkv');
const TEXTS = ['a cat lying on a rug', 'A rocket launching into the sky, with smoke!', 'a horse'];
const BASE = ['--model', TINY, '--backend', 'cpu'];

function rowsOf(name: string, videos: number, texts: number): number[][] {
  const data = reference('tiny-video.safetensors').get(name)!.data as Float32Array;
  return Array.from({ length: videos }, (_, v) => Array.from(data.subarray(v * texts, (v + 1) * texts)));
}

describe('video: CLI', function () {
  it('score --video --json matches the PyTorch twin, rows in the order given, at 8 and --frames 3', async () => {
    for (const n of [8, 3]) {
      const frames = n === 8 ? [] : ['--frames', String(n)];
      const r = await cli(['score', ...BASE, '--video', CLIP7, CLIP20, '--text', ...TEXTS, ...frames, '--json']);
      expect(r.code, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout) as { itm: number[][]; itc: number[][] };
      const [want20, want7] = [0, 1].map((v) => ({ itm: rowsOf(`n${n}.itm.probs`, 2, 3)[v], itc: rowsOf(`n${n}.itc.cosine`, 2, 3)[v] }));
      for (const [row, want] of [
        [0, want7],
        [1, want20],
      ] as const) {
        out.itm[row].forEach((p, j) => expect(Math.abs(p - want.itm[j])).to.be.below(1e-4));
        out.itc[row].forEach((c, j) => expect(Math.abs(c - want.itc[j])).to.be.below(1e-4));
      }
    }
  });

  it('refuses a truncated file and a missing ffmpeg in one line, without a stack trace', async () => {
    const dir = tempDir('blip-itm-video-cli-');
    const truncated = path.join(dir, 'cut.mkv');
    fs.writeFileSync(truncated, fs.readFileSync(CLIP20).subarray(0, 3000));
    const r = await cli(['score', ...BASE, '--video', truncated, '--text', 'a cat']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/cut\.mkv: not a readable video \(File ended prematurely\)/);
    expect(r.stderr).to.not.match(/\n\s+at /);
    const missing = await cli(['score', ...BASE, '--video', CLIP7, '--text', 'a cat', '--ffmpeg', path.join(dir, 'ffmpeg')]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/not found .*apt-get install ffmpeg/);
    const usage = await cli(['score', ...BASE, '--video', CLIP7, '--text', 'a cat', '--frames', '0']);
    expect(usage.code).to.equal(2);
  });

  it('rank --video ranks captions, and explain --video draws one map per sampled frame', async () => {
    const ranked = await cli(['rank', ...BASE, '--video', CLIP20, '--text', ...TEXTS, '--json']);
    expect(ranked.code, ranked.stderr).to.equal(0);
    const rows = JSON.parse(ranked.stdout) as { text: string; itm: number }[];
    expect(rows.map((r) => r.text).sort()).to.deep.equal([...TEXTS].sort());
    const out = path.join(tempDir('blip-itm-video-cli-'), 'grid.png');
    const e = await cli([
      'explain',
      ...BASE,
      '--video',
      CLIP20,
      '--frames',
      '3',
      '--text',
      'a horse',
      '--layer',
      '1',
      '--out',
      out,
      '--json',
    ]);
    expect(e.code, e.stderr).to.equal(0);
    const summary = JSON.parse(e.stdout) as { tiles: string[]; probability: number };
    expect(summary.tiles).to.deep.equal(['frame 0', 'frame 6', 'frame 12']);
    expect(Math.abs(summary.probability - rowsOf('n3.itm.probs', 2, 3)[0][2])).to.be.below(1e-4);
    expect(fs.readFileSync(out).subarray(1, 4).toString()).to.equal('PNG');
  });
});
