import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { BlipItm } from '../src/model/blip-itm';
import { openSafetensors, readAllSafetensors, writeSafetensors } from '../src/node/safetensors';
import { RawTensor, decodeElements } from '../src/weights/raw-tensor';
import { TINY, fixture } from './helpers/fixtures';
import { openCheckpoint, weightFilesOf } from '../src/node/checkpoint';
import { tempDir } from './helpers/tmp';

/** A copy of the tiny model directory whose weights file is replaced by `weights` bytes. */
function modelWith(weights: Buffer | ((dir: string) => void)): string {
  const dir = tempDir('blip-itm-w-');
  for (const f of fs.readdirSync(TINY)) if (f !== 'model.safetensors') fs.copyFileSync(path.join(TINY, f), path.join(dir, f));
  if (typeof weights === 'function') weights(dir);
  else fs.writeFileSync(path.join(dir, 'model.safetensors'), weights);
  return dir;
}

function expectLoadError(dir: string, pattern: RegExp): void {
  const before = tf.memory().numTensors;
  expect(() => BlipItm.fromDir(dir)).to.throw(pattern);
  expect(tf.memory().numTensors, 'weights of a failed load are freed').to.equal(before);
}

describe('safetensors reader and weight loading', () => {
  const original = fs.readFileSync(path.join(TINY, 'model.safetensors'));

  it('reads header, shapes and values; round-trips through the writer', () => {
    const { tensors } = readAllSafetensors(path.join(TINY, 'model.safetensors'));
    expect(tensors.get('itm_head.weight')!.shape).to.deep.equal([2, 32]);
    const file = path.join(os.tmpdir(), `rt-${process.pid}.safetensors`);
    writeSafetensors(file, tensors, { a: 'b' });
    const back = readAllSafetensors(file);
    expect(back.metadata).to.deep.equal({ a: 'b' });
    expect(Array.from(back.tensors.get('itm_head.weight')!.data)).to.deep.equal(Array.from(tensors.get('itm_head.weight')!.data));
    fs.rmSync(file);
  });

  it('converts F16, BF16 and I64 to float32/int32', () => {
    const f16 = decodeElements(Uint8Array.from([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00]), 'F16', 3, 't') as Float32Array;
    expect(Array.from(f16)).to.deep.equal([1, -2, 2 ** -24]);
    const bf16 = decodeElements(Uint8Array.from([0x80, 0x3f, 0x40, 0xc0]), 'BF16', 2, 't');
    expect(Array.from(bf16)).to.deep.equal([1, -3]);
    const i64 = decodeElements(Uint8Array.from([5, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255]), 'I64', 2, 't');
    expect(Array.from(i64)).to.deep.equal([5, -1]);
    expect(() => decodeElements(Uint8Array.from([0, 0, 0, 0, 1, 0, 0, 0]), 'I64', 1, 'pos')).to.throw(/does not fit int32/);
  });

  it('reads the F16 checkpoint with its int64 position_ids buffer', () => {
    const f = openSafetensors(fixture('blip-itm-tiny-f16', 'model.safetensors'));
    try {
      expect(f.storedDType('text_encoder.embeddings.position_ids')).to.equal('I64');
      expect(f.read('text_encoder.embeddings.position_ids').dtype).to.equal('int32');
      expect(f.read('itm_head.weight').dtype).to.equal('float32');
    } finally {
      f.close();
    }
  });

  it('refuses a truncated file, naming it', () => {
    expectLoadError(modelWith(original.subarray(0, original.length - 1000)), /model\.safetensors.*truncated/);
    expectLoadError(modelWith(original.subarray(0, 4)), /model\.safetensors.*shorter than/);
  });

  it('refuses a bad header', () => {
    const bad = Buffer.concat([Buffer.from([10, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{not json}'), Buffer.alloc(16)]);
    expectLoadError(modelWith(bad), /header is not JSON/);
    const huge = Buffer.from([255, 255, 255, 255, 255, 255, 0, 0]);
    expectLoadError(modelWith(huge), /header length/);
  });

  function rewritten(edit: (t: Map<string, RawTensor>) => void): string {
    return modelWith((dir) => {
      const { tensors } = readAllSafetensors(path.join(TINY, 'model.safetensors'));
      edit(tensors);
      writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    });
  }

  it('names a missing tensor with its expected shape', () => {
    const dir = rewritten((t) => t.delete('text_encoder.encoder.layer.1.crossattention.self.key.weight'));
    expectLoadError(dir, /missing tensor text_encoder\.encoder\.layer\.1\.crossattention\.self\.key\.weight \(expected shape \[32, 48\]\)/);
  });

  it('names a tensor of the wrong shape with both shapes', () => {
    const dir = rewritten((t) => t.set('itm_head.weight', { dtype: 'float32', shape: [3, 32], data: new Float32Array(96) }));
    expectLoadError(dir, /itm_head\.weight has shape \[3, 32\], expected \[2, 32\]/);
  });

  it('reports checkpoint tensors the model does not use', () => {
    const dir = rewritten((t) => t.set('extra.head.weight', { dtype: 'float32', shape: [2], data: new Float32Array(2) }));
    const model = BlipItm.fromDir(dir);
    try {
      expect(model.unusedWeights).to.deep.equal(['extra.head.weight']);
    } finally {
      model.dispose();
    }
  });

  it('reads a sharded checkpoint through model.safetensors.index.json', async () => {
    const dir = modelWith((d) => {
      const { tensors } = readAllSafetensors(path.join(TINY, 'model.safetensors'));
      const names = [...tensors.keys()];
      const half = Math.floor(names.length / 2);
      const shards = [names.slice(0, half), names.slice(half)];
      const weightMap: Record<string, string> = {};
      shards.forEach((keys, i) => {
        const file = `model-0000${i + 1}-of-00002.safetensors`;
        writeSafetensors(path.join(d, file), new Map(keys.map((k) => [k, tensors.get(k)!])));
        keys.forEach((k) => {
          weightMap[k] = file;
        });
      });
      fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    });
    const a = BlipItm.fromDir(dir);
    const b = BlipItm.fromDir(TINY);
    try {
      expect(a.unusedWeights).to.deep.equal([]);
      const texts = ['a cat'];
      const img = fixture('images', 'chelsea.png');
      expect((await a.match([img], texts)).probs).to.deep.equal((await b.match([img], texts)).probs);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  describe('shard index (model.safetensors.index.json)', () => {
    /** A model folder whose index maps itm_head.weight to `shard` (and holds the real shard file). */
    function indexed(shard: string): { dir: string; index: string } {
      const dir = modelWith((d) => {
        fs.copyFileSync(path.join(TINY, 'model.safetensors'), path.join(d, 'model-00001-of-00001.safetensors'));
        const weightMap = { 'itm_head.bias': 'model-00001-of-00001.safetensors', 'itm_head.weight': shard };
        fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
      });
      return { dir, index: path.join(dir, 'model.safetensors.index.json') };
    }

    for (const shard of ['../../etc/passwd', '/etc/passwd', 'sub/../../x.safetensors', 'C:\\Windows\\x', '']) {
      it(`refuses an entry naming ${JSON.stringify(shard)}, in one line naming the index and the entry`, () => {
        const { dir, index } = indexed(shard);
        const message = `${index}: weight_map entry "itm_head.weight" names "${shard}", which is outside the model directory`;
        expect(() => openCheckpoint(dir)).to.throw(message);
        expect(() => weightFilesOf(dir)).to.throw(message);
        expect(message).to.not.include('\n');
      });
    }

    it('says which shard is missing and which index names it', () => {
      const { dir, index } = indexed('model-00002-of-00002.safetensors');
      expect(() => openCheckpoint(dir)).to.throw(`${index}: shard model-00002-of-00002.safetensors is missing (named by the index)`);
      expect(() => weightFilesOf(dir)).to.throw(/model-00002-of-00002\.safetensors is missing/);
    });

    it('lists the index and its shards as the weight files, sorted and once each', () => {
      const { dir } = indexed('model-00001-of-00001.safetensors');
      expect(weightFilesOf(dir)).to.deep.equal(['model.safetensors.index.json', 'model-00001-of-00001.safetensors']);
      const { source } = openCheckpoint(dir);
      try {
        expect(source.keys()).to.deep.equal(['itm_head.bias', 'itm_head.weight']);
      } finally {
        source.close();
      }
    });

    it('refuses an index without a weight_map or with a non-string entry', () => {
      const { dir, index } = indexed('model-00001-of-00001.safetensors');
      fs.writeFileSync(index, JSON.stringify({ weight_map: { a: 3 } }));
      expect(() => openCheckpoint(dir)).to.throw(`${index}: weight_map entry "a" is not a file name`);
      fs.writeFileSync(index, '{"metadata": {}}');
      expect(() => openCheckpoint(dir)).to.throw(`${index}: no weight_map`);
    });
  });

  it('says which file is missing', () => {
    expectLoadError(
      modelWith((d) => fs.rmSync(path.join(d, 'config.json'))),
      /config\.json: missing/,
    );
    expectLoadError(
      modelWith(() => undefined),
      /no weights found/,
    );
  });
});
