import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { readConfig } from '../src/node/read-config';
import { NodeImageProcessor as ImageProcessor } from '../src/node/image';
import { BlipItm } from '../src/model/blip-itm';
import { ImageEmbedding } from '../src/model/image-embedding';
import { attentionRuns } from '../src/nn/attention';
import { NodeBertTokenizer as BertTokenizer } from '../src/node/tokenizer';
import { openCheckpoint } from '../src/node/checkpoint';
import { WeightStore } from '../src/weights/view';
import { IMAGES, TEXTS, TINY } from './helpers/fixtures';
import { expectReject } from './helpers/expect';

describe('BlipItm: embeddings belong to their model', () => {
  let a: BlipItm;
  let b: BlipItm;
  before(() => {
    a = BlipItm.fromDir(TINY);
    b = BlipItm.fromDir(TINY);
  });
  after(() => {
    a.dispose();
    b.dispose();
  });

  it('refuses an embedding of another model of the same shape, everywhere', async () => {
    const [emb] = await a.encodeImages([IMAGES[0]]);
    try {
      await expectReject(b.match([emb], ['a cat']), /match: this ImageEmbedding belongs to another BlipItm model/);
      await expectReject(b.similarity([emb], ['a cat']), /similarity: this ImageEmbedding belongs to another BlipItm model/);
      await expectReject(b.gradcam(emb, 'a cat'), /gradcam: this ImageEmbedding belongs to another BlipItm model/);
      expect((await a.match([emb], ['a cat'])).probs[0]).to.have.length(1); // its own model still takes it
    } finally {
      emb.dispose();
    }
  });

  it('refuses a disposed embedding, in match, similarity and gradcam', async () => {
    const [emb] = await a.encodeImages([IMAGES[0]]);
    emb.dispose();
    await expectReject(a.match([emb], ['a cat']), /this ImageEmbedding has been disposed/);
    await expectReject(a.similarity([emb], ['a cat']), /this ImageEmbedding has been disposed/);
    await expectReject(a.gradcam(emb, 'a cat'), /this ImageEmbedding has been disposed/);
  });

  it('embeddingFromStates binds the rebuilt embedding to the model that made it', async () => {
    const [emb] = await a.encodeImages([IMAGES[2]]);
    const rebuilt = await a.embeddingFromStates((await emb.states.data()) as Float32Array, emb.itcEmbedding);
    try {
      expect(await a.match([rebuilt], TEXTS)).to.deep.equal(await a.match([emb], TEXTS));
      await expectReject(b.match([rebuilt], TEXTS), /belongs to another BlipItm model/);
    } finally {
      emb.dispose();
      rebuilt.dispose();
    }
  });
});

describe('BlipItm: a disposed model is refused clearly', () => {
  it('on every public method, and its embeddings are refused by every model', async () => {
    const model = BlipItm.fromDir(TINY);
    const other = BlipItm.fromDir(TINY);
    const [emb] = await model.encodeImages([IMAGES[0]]);
    model.dispose();
    const gone = /has been disposed/;
    try {
      await expectReject(model.encodeImages([IMAGES[0]]), /encodeImages: this BlipItm model has been disposed/);
      await expectReject(model.encodeTexts(['a cat']), /encodeTexts: this BlipItm model has been disposed/);
      await expectReject(model.embeddingFromStates(new Float32Array(1), new Float32Array(1)), gone);
      await expectReject(model.match([emb], ['a cat']), /match: this BlipItm model has been disposed/);
      await expectReject(model.match([IMAGES[0]], ['a cat']), gone);
      await expectReject(model.similarity([IMAGES[0]], ['a cat']), gone);
      await expectReject(model.gradcam(IMAGES[0], 'a cat'), gone);
      await expectReject(model.forward([IMAGES[0]], ['a cat']), /forward: this BlipItm model has been disposed/);
      await expectReject(other.match([emb], ['a cat']), /belongs to another BlipItm model/);
      model.dispose(); // twice is fine
    } finally {
      emb.dispose();
      other.dispose();
    }
  });

  it('dispose() during match() fails the call clearly and leaks nothing (dispose does not wait)', async () => {
    const before = tf.memory().numTensors;
    const model = BlipItm.fromDir(TINY);
    const inFlight = model.match([IMAGES[0], IMAGES[2]], [...TEXTS, ...TEXTS], { batchSize: 1 });
    model.dispose();
    await expectReject(inFlight, /match: this BlipItm model was disposed while match\(\) was running/);
    // Later in the call: a few microtasks in, between text chunks.
    const model2 = BlipItm.fromDir(TINY);
    const [emb] = await model2.encodeImages([IMAGES[0]]);
    const late = model2.match([emb], [...TEXTS, ...TEXTS], { batchSize: 1 });
    for (let i = 0; i < 3; i++) await Promise.resolve();
    model2.dispose();
    await expectReject(late, /disposed/);
    emb.dispose();
    const gradcamCall = (() => {
      const m = BlipItm.fromDir(TINY);
      const p = m.gradcam(IMAGES[0], 'a cat');
      m.dispose();
      return p;
    })();
    await expectReject(gradcamCall, /was disposed while gradcam\(\) was running/);
    const similarityCall = (() => {
      const m = BlipItm.fromDir(TINY);
      const p = m.similarity([IMAGES[0]], TEXTS);
      m.dispose();
      return p;
    })();
    await expectReject(similarityCall, /was disposed while similarity\(\) was running/);
    expect(tf.memory().numTensors).to.equal(before);
  });
});

describe('BlipItm: bad calls are clear errors', () => {
  let model: BlipItm;
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  it('a string where an array is expected', async () => {
    const str = 'x.png' as unknown as string[];
    await expectReject(model.match(str, ['a cat']), /match: images must be an array, got the string "x\.png"/);
    await expectReject(model.similarity(str, ['a cat']), /images must be an array/);
    await expectReject(model.encodeImages(str), /encodeImages: images must be an array/);
    await expectReject(
      model.match([IMAGES[0]], 'a cat' as unknown as string[]),
      /texts must be an array of strings, got the string "a cat"/,
    );
    await expectReject(model.encodeTexts('a cat' as unknown as string[]), /texts must be an array/);
  });

  it('batchSize and maxLength that are not positive integers', async () => {
    for (const bad of [NaN, 0, -1, 1.5, Infinity]) {
      await expectReject(model.match([IMAGES[0]], ['a cat'], { batchSize: bad }), /match: batchSize must be a positive integer/);
      await expectReject(model.encodeTexts(['a cat'], { batchSize: bad }), /encodeTexts: batchSize must be a positive integer/);
      await expectReject(model.similarity([IMAGES[0]], ['a cat'], { maxLength: bad }), /maxLength must be a positive integer/);
    }
  });

  it('unknown or out-of-range activation names', async () => {
    await expectReject(
      model.forward([IMAGES[0]], ['a cat'], { only: ['itm.text.cross_attention.0'] }),
      /unknown activation name "itm\.text\.cross_attention\.0"/,
    );
    await expectReject(model.forward([IMAGES[0]], ['a cat'], { only: ['itm.text.cross_attentions.9'] }), /out of range/);
    await expectReject(model.forward([IMAGES[0]], ['a cat'], { only: ['gradcam.5'] }), /Grad-CAM layer 5 is out of range/);
  });

  it('failed calls leak no tensors', async () => {
    const before = tf.memory().numTensors;
    await expectReject(model.match([IMAGES[0], 'missing.png'], ['a cat']), /missing\.png/);
    await expectReject(model.encodeImages([IMAGES[0], 'missing.png']), /missing\.png/);
    await expectReject(model.gradcam(IMAGES[0], 'a cat', { layer: 9 }), /out of range/);
    expect(tf.memory().numTensors).to.equal(before);
  });
});

describe('BlipItm probe: forward({ only })', () => {
  let model: BlipItm;
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  it("returns just the named map, equal to the full forward's, computing only what it needs", async () => {
    const name = 'itm.text.cross_attentions.0';
    const full = await model.forward([IMAGES[0]], TEXTS);
    const before = attentionRuns();
    const one = await model.forward([IMAGES[0]], TEXTS, { only: [name] });
    const after = attentionRuns();
    try {
      expect([...one.keys()]).to.deep.equal([name]);
      expect(await one.get(name)!.data()).to.deep.equal(await full.get(name)!.data());
      // The vision layers, then text layer 0's self- and cross-attention: no later layer, no ITC pass.
      const ran = Object.values(after).reduce((s, v) => s + v, 0) - Object.values(before).reduce((s, v) => s + v, 0);
      expect(ran).to.equal(readConfig(TINY).vision.numHiddenLayers + 2);
    } finally {
      full.forEach((t) => t.dispose());
      one.forEach((t) => t.dispose());
    }
  });

  it('itc.text_embeds alone runs no vision; gradcam.L alone returns just it', async () => {
    const before = attentionRuns();
    const out = await model.forward([IMAGES[0]], TEXTS, { only: ['itc.text_embeds', 'input_ids'] });
    const ran = Object.values(attentionRuns()).reduce((s, v) => s + v, 0) - Object.values(before).reduce((s, v) => s + v, 0);
    expect([...out.keys()].sort()).to.deep.equal(['input_ids', 'itc.text_embeds']);
    expect(ran).to.equal(readConfig(TINY).text.numHiddenLayers); // text self-attention only
    out.forEach((t) => t.dispose());
    const cam = await model.forward([IMAGES[0]], ['a cat'], { only: ['gradcam.1'] });
    expect([...cam.keys()]).to.deep.equal(['gradcam.1']);
    cam.forEach((t) => t.dispose());
  });
});

describe('BlipItm.fromParts', () => {
  it('builds a model from parts already read, scoring as fromDir does; leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const { source, file } = openCheckpoint(TINY);
    const model = BlipItm.fromParts({
      config: readConfig(TINY),
      tokenizer: BertTokenizer.fromDir(TINY),
      processor: ImageProcessor.fromDir(TINY),
      weights: new WeightStore(source, file),
    });
    source.close();
    const ref = BlipItm.fromDir(TINY);
    try {
      expect(await model.match([IMAGES[0]], TEXTS)).to.deep.equal(await ref.match([IMAGES[0]], TEXTS));
      expect(model.dir).to.contain('model.safetensors');
    } finally {
      model.dispose();
      ref.dispose();
    }
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('refuses a processor whose size differs from the vision config, freeing the weights', () => {
    const before = tf.memory().numTensors;
    const { source, file } = openCheckpoint(TINY);
    expect(() =>
      BlipItm.fromParts({
        config: readConfig(TINY),
        tokenizer: BertTokenizer.fromDir(TINY),
        processor: ImageProcessor.fromDir(TINY, { size: 32 }),
        weights: new WeightStore(source, file),
        origin: 'parts',
      }),
    ).to.throw(/parts: preprocessor_config\.json size 32x32 does not match vision_config\.image_size 64/);
    source.close();
    expect(tf.memory().numTensors).to.equal(before);
  });
});

describe('BlipItm: every public call leaks nothing', () => {
  it('encodeImages, embeddingFromStates, encodeTexts, match, similarity, gradcam, forward', async () => {
    const model = BlipItm.fromDir(TINY);
    try {
      const before = tf.memory().numTensors;
      const embs = await model.encodeImages([IMAGES[0], IMAGES[2]]);
      const rebuilt = await model.embeddingFromStates((await embs[0].states.data()) as Float32Array, embs[0].itcEmbedding);
      await model.encodeTexts(TEXTS, { batchSize: 2 });
      await model.match([...embs, rebuilt, IMAGES[1]], TEXTS, { batchSize: 2 });
      await model.match([rebuilt], ['a cat']);
      await model.similarity([...embs, IMAGES[1]], TEXTS);
      await model.gradcam(embs[0], 'a cat');
      await model.gradcam(IMAGES[1], TEXTS[1], { layer: 0 });
      (await model.forward([IMAGES[0]], TEXTS, { gradcamLayer: 1 })).forEach((t) => t.dispose());
      (await model.forward([IMAGES[0]], TEXTS, { only: ['vision.attentions.1', 'itc.cosine'] })).forEach((t) => t.dispose());
      [...embs, rebuilt].forEach((e) => e.dispose());
      expect(tf.memory().numTensors).to.equal(before);
      expect(embs[0]).to.be.instanceOf(ImageEmbedding);
    } finally {
      model.dispose();
    }
  });
});
