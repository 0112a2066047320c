import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readAllSafetensors } from '../src/node/safetensors';
import { cli, cliInProcess } from './helpers/cli';
import { FakeHub, loadRepoDir } from './helpers/fake-hub';
import { IMAGES, TEXTS, TINY, fixture, reference } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

const tmp = tempDir('blip-itm-cli-');
const MODEL = ['--model', TINY, '--backend', 'wasm'];

describe('blip-itm command line', function () {
  this.timeout(60_000);

  it('score --json equals the transformers reference within 1e-4', async () => {
    const r = await cli(['score', ...MODEL, ...IMAGES.flatMap((i) => ['--image', i]), ...TEXTS.flatMap((t) => ['--text', t]), '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const out = JSON.parse(r.stdout) as { itm: number[][]; itc: number[][] };
    expect(Object.keys(out)).to.deep.equal(['itm', 'itc']);
    const ref = reference('tiny-activations.safetensors');
    const probs = ref.get('itm.probs')!.data;
    const cosine = ref.get('itc.cosine')!.data;
    IMAGES.forEach((_, i) =>
      TEXTS.forEach((_, j) => {
        expect(out.itm[i][j]).to.be.closeTo(probs[i * 3 + j], 1e-4);
        expect(out.itc[i][j]).to.be.closeTo(cosine[i * 3 + j], 1e-4);
      }),
    );
  });

  it('score prints a readable table, takes --mode and accepts an empty text', async () => {
    const r = await cli(['score', ...MODEL, '--image', IMAGES[0], '--text', 'a cat', '--text', '', '--mode', 'itm']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout)
      .to.contain(IMAGES[0])
      .and.to.match(/itm 0\.\d{4} {2}"a cat"/)
      .and.to.match(/itm 0\.\d{4} {2}""/);
    expect(r.stdout).not.to.contain('itc');
    const j = await cli(['score', ...MODEL, '--image', IMAGES[0], '--text', '', '--mode', 'itc', '--json']);
    expect(Object.keys(JSON.parse(j.stdout))).to.deep.equal(['itc']);
  });

  it('--threads 2 runs wasm multi-threaded with the same scores, and the process exits', async () => {
    const args = ['score', ...MODEL, '--image', IMAGES[0], '--text', TEXTS[0], '--json'];
    const [one, two] = [await cli(args), await cli([...args, '--threads', '2'])];
    expect(two.code, two.stderr).to.equal(0);
    expect(two.stdout).to.equal(one.stdout);
    const bad = await cli([...args, '--threads', '0']);
    expect(bad.stderr).to.match(/--threads must be an integer from 1 to 8/);
  });

  it('documents every command and option', async () => {
    const main = await cliInProcess(['--help']);
    expect(main.code).to.equal(0);
    for (const verb of ['score', 'rank', 'index', 'search', 'explain', 'dump', 'parity', 'bench', 'tokenize', 'preprocess', 'download']) {
      expect(main.stdout).to.contain(`  ${verb}`);
      const h = await cliInProcess([verb, '--help']);
      expect(h.code, verb).to.equal(0);
      expect(h.stdout, verb).to.match(new RegExp(`^usage: blip-itm ${verb}`));
    }
  });

  describe('refuses bad input with one line naming the problem', () => {
    const bad = (name: string, _file: string, data: Buffer | string) => {
      const p = path.join(tmp, name);
      fs.writeFileSync(p, data);
      return p;
    };
    const modelCopy = (name: string, edit: (dir: string) => void) => {
      const dir = path.join(tmp, name);
      fs.cpSync(TINY, dir, { recursive: true });
      edit(dir);
      return dir;
    };
    const cases: [string, () => string[], RegExp][] = [
      ['a missing image', () => ['score', ...MODEL, '--image', path.join(tmp, 'nope.png'), '--text', 'a'], /nope\.png: no such file/],
      ['a directory as image', () => ['score', ...MODEL, '--image', tmp, '--text', 'a'], /is a directory/],
      [
        'a truncated JPEG',
        () => ['score', ...MODEL, '--image', bad('t.jpg', '', fs.readFileSync(IMAGES[1]).subarray(0, 3000)), '--text', 'a'],
        /t\.jpg: truncated JPEG/,
      ],
      [
        'a truncated PNG',
        () => ['score', ...MODEL, '--image', bad('t.png', '', fs.readFileSync(IMAGES[0]).subarray(0, 5000)), '--text', 'a'],
        /t\.png: .*(truncated|corrupt)/i,
      ],
      [
        'a text file named .png',
        () => ['score', ...MODEL, '--image', bad('x.png', '', 'hello world\n'), '--text', 'a'],
        /x\.png: not a JPEG, PNG, WebP or GIF/,
      ],
      ['an empty file', () => ['score', ...MODEL, '--image', bad('e.jpg', '', ''), '--text', 'a'], /e\.jpg: .*empty/],
      [
        'a missing model directory',
        () => ['score', '--model', path.join(tmp, 'no-model'), '--image', IMAGES[0], '--text', 'a'],
        /model directory not found: .*no-model/,
      ],
      [
        'a model without config.json',
        () => ['score', '--model', modelCopy('nocfg', (d) => fs.rmSync(path.join(d, 'config.json'))), '--image', IMAGES[0], '--text', 'a'],
        /nocfg\/config\.json: missing/,
      ],
      [
        'truncated weights',
        () => [
          'score',
          '--model',
          modelCopy('trunc', (d) => fs.truncateSync(path.join(d, 'model.safetensors'), 100_000)),
          '--image',
          IMAGES[0],
          '--text',
          'a',
        ],
        /trunc\/model\.safetensors: .*truncated/,
      ],
      ['no text', () => ['score', ...MODEL, '--image', IMAGES[0]], /no text given/],
      ['no image', () => ['score', ...MODEL, '--text', 'a'], /no image given/],
      ['an unknown option', () => ['score', ...MODEL, '--image', IMAGES[0], '--text', 'a', '--colour'], /Unknown option '--colour'/],
      ['an unknown command', () => ['frobnicate'], /unknown command "frobnicate"/],
      ['a bad --mode', () => ['score', ...MODEL, '--image', IMAGES[0], '--text', 'a', '--mode', 'x'], /--mode must be itm, itc or both/],
      ['a missing --model', () => ['score', '--image', IMAGES[0], '--text', 'a'], /--model DIR\|HUB_ID is required/],
      [
        'an unknown backend',
        () => ['score', '--model', TINY, '--backend', 'gpu', '--image', IMAGES[0], '--text', 'a'],
        /--backend must be auto, webgpu, tensorflow, wasm, cpu, got "gpu"/,
      ],
    ];
    for (const [what, args, pattern] of cases) {
      it(what, async () => {
        const r = await cliInProcess(args(), { env: { BLIP_ITM_MODEL: '' } });
        expect(r.code, r.stdout).to.be.oneOf([1, 2]);
        expect(r.stdout).to.equal('');
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines, r.stderr).to.have.length(1);
        expect(lines[0])
          .to.match(/^blip-itm: /)
          .and.to.match(pattern);
      });
    }
  });

  it('tokenize reads JSON strings and writes id arrays', async () => {
    const r = await cli(['tokenize', '--model', TINY, '--max-length', '5'], { input: '"a cat lying on a rug"\n"héllo"\n' });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('[101,1037,4937,4688,102]\n[101,7592,102]\n');
  });

  it('preprocess writes resized and pixel_values tensors', async () => {
    const out = path.join(tmp, 'pre.safetensors');
    const r = await cli(['preprocess', '--model', TINY, '--size', '32', IMAGES[0], IMAGES[2], '--out', out]);
    expect(r.code, r.stderr).to.equal(0);
    const { tensors } = readAllSafetensors(out);
    expect(tensors.get('resized.1')!.shape).to.deep.equal([32, 32, 3]);
    expect(tensors.get('pixel_values.0')!.shape).to.deep.equal([3, 32, 32]);
  });

  it('dump then parity reproduces the reference; parity fails past --tol', async () => {
    const out = path.join(tmp, 'dump.safetensors');
    const d = await cli([
      'dump',
      ...MODEL,
      ...IMAGES.flatMap((i) => ['--image', i]),
      ...TEXTS.flatMap((t) => ['--text', t]),
      '--gradcam-layer',
      '1',
      '--out',
      out,
    ]);
    expect(d.code, d.stderr).to.equal(0);
    const refFile = fixture('reference', 'tiny-activations.safetensors');
    const ok = await cli(['parity', refFile, out]);
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/all 25 tensors within 0\.0001/);
    const strict = await cli(['parity', refFile, out, '--tol', '1e-12', '--only', 'itm.probs']);
    expect(strict.code).to.equal(1);
    expect(strict.stderr).to.match(/1 of 1 tensors off by more than 1e-12/);
  });

  it('download fetches from the hub into HF_HOME and score then loads by hub id', async () => {
    const hub = await FakeHub.start({ 'acme/tiny': loadRepoDir(TINY) });
    try {
      const env = { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_HUB_CACHE: '', HF_TOKEN: '' };
      const r = await cli(['download', 'acme/tiny'], { env });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.trim()).to.match(/hf\/hub\/models--acme--tiny\/snapshots\/[0-9a-f]{40}$/);
      const s = await cli(['score', '--model', 'acme/tiny', '--image', IMAGES[0], '--text', 'a cat', '--json'], {
        env: { ...env, HF_HUB_OFFLINE: '1' },
      });
      expect(s.code, s.stderr).to.equal(0);
      expect(JSON.parse(s.stdout).itm[0]).to.have.length(1);
    } finally {
      await hub.close();
    }
  });
});
