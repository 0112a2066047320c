import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { BlipItm } from '../src/model/blip-itm';
import { ForwardOptions } from '../src/model/blip-itm';
import { compareTensors, formatDiffs } from '../src/parity/compare';
import { toRaw } from '../src/parity/to-raw';
import { IMAGES, TEXTS, TINY, fixture, reference, rows } from './helpers/fixtures';
import { expectReject } from './helpers/expect';

/** Our forward on a reference file's own pixel values and token ids (isolates the model from preprocessing). */
function forwardOnReferenceInputs(model: BlipItm, refName: string, opts: ForwardOptions): Promise<Map<string, tf.Tensor>> {
  const ref = reference(refName);
  const pix = ref.get('pixel_values')!;
  return model.forward(
    { pixelValues: pix.data as Float32Array, shape: pix.shape as [number, number, number, number] },
    { inputIds: rows(ref.get('input_ids')!), attentionMask: rows(ref.get('attention_mask')!) },
    opts,
  );
}

/** Asserts every reference tensor (optionally only some names) is within tol of ours, printing the table on failure. */
async function expectParity(refName: string, actual: Map<string, tf.Tensor>, opts: { only?: string[]; tol?: number } = {}) {
  const diffs = compareTensors(reference(refName), await toRaw(actual), { tol: opts.tol ?? 1e-4, only: opts.only });
  const bad = diffs.filter((d) => !d.ok);
  expect(bad, `\n${formatDiffs(diffs)}`).to.have.length(0);
  return diffs;
}

describe('BlipItm on the tiny checkpoint: parity with transformers', function () {
  let model: BlipItm;
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  it('matches every activation given the reference pixel values and token ids', async () => {
    const out = await forwardOnReferenceInputs(model, 'tiny-activations.safetensors', { gradcamLayer: 1 });
    try {
      const diffs = await expectParity('tiny-activations.safetensors', out);
      expect(diffs.length).to.equal(reference('tiny-activations.safetensors').size);
    } finally {
      out.forEach((t) => t.dispose());
    }
  });

  it('matches end to end from image files and strings (our image pipeline and tokenizer)', async () => {
    const out = await model.forward(IMAGES, TEXTS, { activations: false });
    try {
      await expectParity('tiny-activations.safetensors', out, {
        only: [
          'pixel_values',
          'input_ids',
          'attention_mask',
          'itm.logits',
          'itm.probs',
          'itc.image_embeds',
          'itc.text_embeds',
          'itc.cosine',
        ],
      });
    } finally {
      out.forEach((t) => t.dispose());
    }
  });

  it('puts [ENC] at position 0 of the ITM input when asked', async () => {
    const out = await forwardOnReferenceInputs(model, 'tiny-activations-enc.safetensors', { encToken: true, activations: false });
    try {
      await expectParity('tiny-activations-enc.safetensors', out);
    } finally {
      out.forEach((t) => t.dispose());
    }
  });

  it('match() and similarity() give the reference scores as plain arrays', async () => {
    const ref = reference('tiny-activations.safetensors');
    const emb = await model.encodeImages([IMAGES[0], IMAGES[2]]); // the PNGs: exact pixels
    try {
      const m = await model.match(emb, TEXTS);
      const s = await model.similarity(emb, TEXTS);
      const probs = ref.get('itm.probs')!.data;
      const cos = ref.get('itc.cosine')!.data;
      [0, 2].forEach((img, r) =>
        TEXTS.forEach((_, j) => {
          expect(m.probs[r][j]).to.be.closeTo(probs[img * 3 + j], 1e-4);
          expect(s[r][j]).to.be.closeTo(cos[img * 3 + j], 1e-4);
        }),
      );
      expect(m.logits[0][0]).to.have.length(2);
    } finally {
      emb.forEach((e) => e.dispose());
    }
  });

  it('scores texts in batches the same as one at a time', async () => {
    const [emb] = await model.encodeImages([IMAGES[0]]);
    try {
      const all = await model.match([emb], TEXTS);
      const batched = await model.match([emb], TEXTS, { batchSize: 2 });
      const single = await model.match([emb], [TEXTS[1]]);
      expect(batched.probs[0][1]).to.be.closeTo(all.probs[0][1], 1e-5);
      expect(single.probs[0][0]).to.be.closeTo(all.probs[0][1], 1e-5);
    } finally {
      emb.dispose();
    }
  });

  it('scores a short text against raw image states as it does with projected keys and values', async () => {
    // 'a cat' alone is 4 query rows, below the head width 8: it attends to the raw image states.
    // Batched with a 14-token text it is 28 rows: projected keys and values.
    const [emb] = await model.encodeImages([IMAGES[0]]);
    try {
      const alone = await model.match([emb], ['a cat']);
      const batched = await model.match([emb], ['a cat', TEXTS[1]]);
      expect(alone.logits[0][0][1]).to.be.closeTo(batched.logits[0][0][1], 1e-5);
      const raw = await model.gradcam(emb, 'a cat', { layer: 0 });
      const out = await model.forward([IMAGES[0]], ['a cat', TEXTS[1]], { only: ['gradcam.0'] });
      try {
        const projected = (await out.get('gradcam.0')!.array()) as number[][][][]; // [N, L, g, g]
        raw.maps.forEach((m, i) => m.forEach((v, j) => expect(v).to.be.closeTo(projected[0][i].flat()[j], 1e-6)));
      } finally {
        out.forEach((t) => t.dispose());
      }
    } finally {
      emb.dispose();
    }
  });

  it('leaks no tensors from any public entry point', async () => {
    const before = tf.memory().numTensors;
    const emb = await model.encodeImages([IMAGES[0]]);
    await model.match(emb, TEXTS);
    await model.match([IMAGES[2]], TEXTS);
    await model.similarity([IMAGES[2], emb[0]], TEXTS);
    await model.encodeTexts(TEXTS);
    const out = await model.forward([IMAGES[0]], TEXTS, { gradcamLayer: 0 });
    out.forEach((t) => t.dispose());
    emb.forEach((e) => e.dispose());
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('rejects bad calls clearly', async () => {
    await expectReject(model.match([IMAGES[0]], []), /no text given/);
    await expectReject(model.match([fixture('images', 'missing.png')], ['x']), /missing\.png/);
    await expectReject(model.forward([IMAGES[0]], ['x'], { gradcamLayer: 7 }), /layer 7 is out of range/);
  });
});

describe('BlipItm checkpoint formats', () => {
  it('loads the F16 checkpoint (converted to float32) and matches its reference scores', async () => {
    const model = BlipItm.fromDir(fixture('blip-itm-tiny-f16'));
    try {
      const out = await forwardOnReferenceInputs(model, 'tiny-f16-scores.safetensors', { activations: false });
      try {
        await expectParity('tiny-f16-scores.safetensors', out);
      } finally {
        out.forEach((t) => t.dispose());
      }
      expect(model.unusedWeights).to.deep.equal([]); // position_ids is a known buffer
    } finally {
      model.dispose();
    }
  });

  it('loads pytorch_model.bin to the same scores as model.safetensors', async () => {
    const a = BlipItm.fromDir(TINY);
    const b = BlipItm.fromDir(fixture('blip-itm-tiny-bin'));
    try {
      const [x, y] = [await a.match([IMAGES[0]], TEXTS), await b.match([IMAGES[0]], TEXTS)];
      expect(y.probs).to.deep.equal(x.probs);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
