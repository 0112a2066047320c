import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { NodeBlipItm as BlipItm } from '../src/node/platform';
import { VisionConfig } from '../src/config';
import { ImageEmbedding } from '../src/model/image-embedding';
import { VISION_BATCH_BYTES, budgetBatchSize, visionBatchSize, visionBytesPerImage } from '../src/model/vision-batch';
import { requestedBackend } from './helpers/backend';
import { IMAGES, TEXTS, TINY, fixture } from './helpers/fixtures';
import { expectReject } from './helpers/expect';

/**
 * Batched minus per-image (visionBatch 1, the reference path), largest absolute difference:
 * measured 0 on wasm and cpu (tiny checkpoint; a random base one: docs/performance.md), where
 * every output element sums the same products in the same order whatever the batch. Other
 * backends may tile a matmul differently for another row count.
 */
const CLIP7 = fixture('video', 'clip7.mkv');

const TOL = requestedBackend() === 'wasm' || requestedBackend() === 'cpu' ? 1e-6 : 1e-5;

async function maxDiff(a: ImageEmbedding[], b: ImageEmbedding[]): Promise<{ states: number; itc: number }> {
  expect(a.length).to.equal(b.length);
  let states = 0;
  let itc = 0;
  for (let i = 0; i < a.length; i++) {
    expect(a[i].states.shape).to.deep.equal(b[i].states.shape);
    const [x, y] = [await a[i].states.data(), await b[i].states.data()];
    for (let j = 0; j < x.length; j++) states = Math.max(states, Math.abs(x[j] - y[j]));
    a[i].itcEmbedding.forEach((v, j) => (itc = Math.max(itc, Math.abs(v - b[i].itcEmbedding[j]))));
  }
  return { states, itc };
}

describe('the vision model on a batch of images', function () {
  let model: BlipItm;
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  // Four images, so that a batch of 3 leaves a last batch of 1.
  const images = [...IMAGES, IMAGES[0]];

  for (const visionBatch of ['auto', 3, images.length] as const) {
    it(`encodeImages with visionBatch ${visionBatch} gives the per-image states and ITC`, async () => {
      const one = await model.encodeImages(images, { visionBatch: 1 });
      const many = await model.encodeImages(images, { visionBatch });
      try {
        const d = await maxDiff(many, one);
        expect(d.states, 'states').to.be.at.most(TOL);
        expect(d.itc, 'itc').to.be.at.most(TOL);
        const [a, b] = [await model.match(one, TEXTS), await model.match(many, TEXTS)];
        a.logits.flat(2).forEach((v, i) => expect(Math.abs(v - b.logits.flat(2)[i])).to.be.at.most(10 * TOL));
      } finally {
        [...one, ...many].forEach((e) => e.dispose());
      }
    });
  }

  it('encodeVideos batches its distinct frames with the per-frame result', async () => {
    const clips = [fixture('video', 'clip20.mkv'), CLIP7];
    const one = await model.encodeVideos(clips, { frames: 8, visionBatch: 1 });
    const many = await model.encodeVideos(clips, { frames: 8, visionBatch: 3 });
    try {
      const d = await maxDiff(many, one);
      expect(d.states, 'states').to.be.at.most(TOL);
      expect(d.itc, 'itc').to.be.at.most(TOL);
    } finally {
      [...one, ...many].forEach((e) => e.dispose());
    }
  });

  it('frees every tensor, on success and when an image of a later batch fails (naming it)', async () => {
    const before = tf.memory().numTensors;
    (await model.encodeImages(images, { visionBatch: 3 })).forEach((e) => e.dispose());
    expect(tf.memory().numTensors).to.equal(before);
    const missing = fixture('images', 'no-such-image.png');
    await expectReject(model.encodeImages([...images, missing], { visionBatch: 2 }), /no-such-image\.png/);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('stops between images and batches once the model is disposed, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const outcomes: string[] = [];
    for (const steps of [0, 2, 5, 10, 20, 40]) {
      const m = BlipItm.fromDir(TINY);
      const call = m.encodeImages(images, { visionBatch: 2 });
      for (let i = 0; i < steps; i++) await new Promise((resolve) => setImmediate(resolve)); // some way in
      m.dispose();
      const outcome = await call.then(
        (es) => (es.forEach((e) => e.dispose()), 'finished first'),
        (e: Error) => e.message,
      );
      expect(outcome).to.match(/^(finished first|encodeImages: this BlipItm model was disposed while encodeImages\(\) was running)$/);
      outcomes.push(outcome);
      expect(tf.memory().numTensors, `after ${steps} steps`).to.equal(before);
    }
    expect(outcomes[0]).to.match(/disposed while/);
  });

  it('refuses a visionBatch that is not a positive integer, in one line', async () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expectReject(
        model.encodeImages(IMAGES, { visionBatch: bad }),
        /^encodeImages: visionBatch must be a positive integer or 'auto', got /,
      );
      await expectReject(
        model.encodeVideos([CLIP7], { visionBatch: bad }),
        /^encodeVideos: visionBatch must be a positive integer or 'auto', got /,
      );
    }
  });

  it('sizes the auto batch from the config dimensions and the byte budget; the default is 1', () => {
    const base: VisionConfig = {
      hiddenSize: 768,
      intermediateSize: 3072,
      numHiddenLayers: 12,
      numAttentionHeads: 12,
      imageSize: 384,
      patchSize: 16,
      layerNormEps: 1e-5,
      hiddenAct: 'gelu',
    };
    // Measured: 180-189 MiB per image at a base layer's peak (docs/performance.md).
    expect(visionBytesPerImage(base) / 2 ** 20).to.be.within(180, 200);
    expect(budgetBatchSize(base)).to.equal(Math.floor(VISION_BATCH_BYTES / visionBytesPerImage(base)));
    const huge = { ...base, imageSize: 1024, numAttentionHeads: 16 }; // one image over the budget: still one
    expect(budgetBatchSize(huge)).to.equal(1);
    expect(budgetBatchSize(model.config.vision)).to.be.at.least(images.length);
    expect(visionBatchSize(base, { visionBatch: 'auto' })).to.equal(budgetBatchSize(base));
    expect(visionBatchSize(base, {})).to.equal(1); // measured no faster on wasm/cpu; unmeasured on GPUs
    expect(visionBatchSize(base, { visionBatch: 7 })).to.equal(7);
  });
});
