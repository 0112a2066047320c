import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { File } from 'buffer';
import { readModelParts } from '../src/browser/model-files';
import { convertCheckpoint } from '../src/node/convert';
import { NodeBlipItm as BlipItm } from '../src/node/platform';
import { openSafetensors } from '../src/node/safetensors';
import { cli } from './helpers/cli';
import { IMAGES, TEXTS, TINY, fixture } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

const F16_FIXTURE = fixture('blip-itm-tiny-f16'); // the same seed, saved by transformers after model.half()

describe('convert: float16 and bfloat16 checkpoints', function () {
  this.timeout(120_000);
  const tmp = tempDir('blip-itm-convert-');

  it("float16 weights are bit for bit transformers' model.half() of the same checkpoint", () => {
    const out = path.join(tmp, 'f16');
    const report = convertCheckpoint(TINY, out, 'float16');
    expect(fs.readdirSync(out).sort()).to.deep.equal(
      [
        'config.json',
        'model.safetensors',
        'preprocessor_config.json',
        'special_tokens_map.json',
        'tokenizer_config.json',
        'vocab.txt',
      ].sort(),
    );
    expect(report.bytesAfter).to.equal(fs.statSync(path.join(out, 'model.safetensors')).size);
    const ours = openSafetensors(path.join(out, 'model.safetensors'));
    const torch = openSafetensors(path.join(F16_FIXTURE, 'model.safetensors'));
    try {
      expect(ours.metadata).to.include({ format: 'pt', dtype: 'float16' });
      for (const key of ours.keys()) {
        expect(ours.storedDType(key), key).to.equal('F16');
        const [a, b] = [ours.read(key).data, torch.read(key).data];
        expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), key).to.equal(
          true,
        );
      }
    } finally {
      ours.close();
      torch.close();
    }
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).to.deep.equal([]);
  });

  it('bfloat16 rounds to nearest even, and both load in Node and through the browser loader with near-float32 scores', async () => {
    const out = path.join(tmp, 'bf16');
    convertCheckpoint(TINY, out, 'bfloat16');
    const st = openSafetensors(path.join(out, 'model.safetensors'));
    const key = st.keys()[0];
    const f32 = openSafetensors(path.join(TINY, 'model.safetensors'));
    try {
      expect(st.storedDType(key)).to.equal('BF16');
      const a = f32.read(key).data;
      const b = st.read(key).data;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).to.be.at.most(Math.abs(a[i]) * 2 ** -8);
    } finally {
      st.close();
      f32.close();
    }
    const reference = BlipItm.fromDir(TINY);
    const base = await reference.score(IMAGES, TEXTS);
    reference.dispose();
    for (const dir of [path.join(tmp, 'f16'), out]) {
      const node = BlipItm.fromDir(dir);
      const s = await node.score(IMAGES, TEXTS);
      node.dispose();
      const files = fs.readdirSync(dir).map((name) => new File([fs.readFileSync(path.join(dir, name))], name));
      const browser = BlipItm.fromParts(await readModelParts(files as unknown as globalThis.File[]));
      const b = await browser.score(IMAGES, TEXTS);
      browser.dispose();
      expect(b).to.deep.equal(s);
      s.probs.forEach((row, i) => row.forEach((p, j) => expect(p).to.be.closeTo(base.probs[i][j], 0.02)));
      s.itc.forEach((row, i) => row.forEach((c, j) => expect(c).to.be.closeTo(base.itc[i][j], 0.02)));
    }
  });

  it('the command refuses a bad dtype and an existing directory, and leaves nothing when it fails', async () => {
    const bad = await cli(['convert', '--model', TINY, '--dtype', 'int8', '--out', path.join(tmp, 'x')]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain('convert: --dtype must be float16 or bfloat16, got "int8"');
    const exists = await cli(['convert', '--model', TINY, '--dtype', 'float16', '--out', path.join(tmp, 'f16')]);
    expect(exists.code).to.equal(1);
    expect(exists.stderr).to.contain('f16: already exists; give a new (or empty) directory');
    const noConfig = path.join(tmp, 'weights-only');
    fs.mkdirSync(noConfig);
    fs.copyFileSync(path.join(TINY, 'model.safetensors'), path.join(noConfig, 'model.safetensors'));
    const failed = await cli(['convert', '--model', noConfig, '--dtype', 'float16', '--out', path.join(tmp, 'never')]);
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.contain('weights-only: no config.json to copy');
    expect(fs.readdirSync(tmp).sort()).to.deep.equal(['bf16', 'f16', 'weights-only']);
    const ok = await cli(['convert', '--model', TINY, '--dtype', 'float16', '--out', path.join(tmp, 'cli-f16')]);
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/^wrote .*cli-f16 \(\d+ tensors, float16: [\d.]+ MB, was [\d.]+ MB\)\n$/);
    expect(ok.stderr).to.equal('');
  });
});
