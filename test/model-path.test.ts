import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as path from 'path';
import { readConfig } from '../src/node/read-config';
import { BlipItm } from '../src/model/blip-itm';
import { MatchResult } from '../src/model/blip-itm';
import { AttentionTarget, AttentionVariant, attention, attentionRuns, projectedTarget } from '../src/nn/attention';
import { readAllSafetensors } from '../src/node/safetensors';
import { TEXTS, TINY, IMAGES, reference, rows } from './helpers/fixtures';
import { referenceForward, stateDict } from './reference-forward';
import { expectReject } from './helpers/expect';

const LONG = TEXTS[1]; // 14 tokens: more query rows than the tiny model's head width (8)
const SHORT = 'a cat'; // 4 tokens: fewer

/** max |a - b|, read asynchronously (webgpu in Node cannot read a tensor synchronously). */
async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const [value] = await d.data();
  d.dispose();
  return value;
}

/** tf.tidy for an async body: every tensor the body makes is freed when it ends. */
async function scoped(body: () => Promise<void>): Promise<void> {
  tf.engine().startScope();
  try {
    await body();
  } finally {
    tf.engine().endScope();
  }
}

/** Runs `f`, returning how many times each attention variant ran meanwhile. */
async function counting<T>(f: () => Promise<T>): Promise<{ result: T; ran: Record<AttentionVariant, number> }> {
  const before = attentionRuns();
  const result = await f();
  const after = attentionRuns();
  const ran = { batched: 0, 'per-head': 0, 'raw-states': 0 };
  for (const k of Object.keys(ran) as AttentionVariant[]) ran[k] = after[k] - before[k];
  return { result, ran };
}

describe('model path: every fast path against the plain reference forward', () => {
  let model: BlipItm;
  const config = readConfig(TINY);
  const sd = stateDict(readAllSafetensors(path.join(TINY, 'model.safetensors')).tensors);
  const ref = reference('tiny-activations.safetensors');
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  it('the reference forward itself agrees with transformers (1e-4)', async () => {
    await scoped(async () => {
      const pix = ref.get('pixel_values')!;
      const out = referenceForward(
        sd,
        config,
        tf.tensor4d(pix.data as Float32Array, pix.shape as [number, number, number, number]),
        tf.tensor2d(rows(ref.get('input_ids')!), undefined, 'int32'),
        tf.tensor2d(rows(ref.get('attention_mask')!), undefined, 'int32'),
      );
      for (const name of ['vision.last_hidden_state', 'itm.logits', 'itc.cosine'] as const) {
        const r = ref.get(name)!;
        expect(await maxDiff(out[name], tf.tensor(r.data, r.shape)), name).to.be.below(1e-4);
      }
    });
  });

  it('forward() matches the reference forward (1e-5) on every output it names', async () => {
    const pix = ref.get('pixel_values')!;
    const enc = { inputIds: rows(ref.get('input_ids')!), attentionMask: rows(ref.get('attention_mask')!) };
    const pixels = { pixelValues: pix.data as Float32Array, shape: pix.shape as [number, number, number, number] };
    const ours = await model.forward(pixels, enc, { activations: true });
    try {
      await scoped(async () => {
        const r = referenceForward(
          sd,
          config,
          tf.tensor4d(pixels.pixelValues, pixels.shape),
          tf.tensor2d(enc.inputIds, undefined, 'int32'),
          tf.tensor2d(enc.attentionMask, undefined, 'int32'),
        );
        for (const name of ['vision.last_hidden_state', 'itm.logits', 'itc.text_embeds', 'itc.image_embeds', 'itc.cosine'] as const) {
          expect(await maxDiff(ours.get(name)!, r[name]), name).to.be.below(1e-5);
        }
        for (let i = 0; i < config.text.numHiddenLayers; i++) {
          expect(await maxDiff(ours.get(`itm.text.cross_attentions.${i}`)!, r['itm.text.cross_attentions'](i)), `cross ${i}`).to.be.below(
            1e-5,
          );
        }
      });
    } finally {
      ours.forEach((t) => t.dispose());
    }
  });

  for (const [label, text, variant] of [
    ['short (raw image states)', SHORT, 'raw-states'],
    ['long (projected keys/values)', LONG, 'projected'],
  ] as const) {
    it(`match() of a ${label} text matches the reference and takes that path`, async () => {
      const [emb] = await model.encodeImages([IMAGES[0]]);
      try {
        const { result, ran } = await counting(() => model.match([emb], [text]));
        const layers = config.text.numHiddenLayers;
        if (variant === 'raw-states') expect(ran['raw-states']).to.equal(layers);
        else {
          expect(ran['raw-states']).to.equal(0);
          expect(ran[tf.getBackend() === 'wasm' ? 'per-head' : 'batched']).to.be.at.least(layers); // the cross-attentions
        }
        const enc = model.tokenizer.encodeBatch([text]);
        const logits = tf.tidy(() => {
          const pixels = model.processor.preprocess([IMAGES[0]]);
          const r = referenceForward(
            sd,
            config,
            tf.tensor4d(pixels.pixelValues, pixels.shape),
            tf.tensor2d(enc.inputIds, undefined, 'int32'),
            tf.tensor2d(enc.attentionMask, undefined, 'int32'),
          );
          return r['itm.logits'];
        });
        const want = await logits.data();
        logits.dispose();
        expect(result.logits[0][0][0]).to.be.closeTo(want[0], 1e-5);
        expect(result.logits[0][0][1]).to.be.closeTo(want[1], 1e-5);
      } finally {
        emb.dispose();
      }
    });
  }

  it('each attention variant equals the batched one on random inputs (1e-5)', async () => {
    await scoped(async () => {
      const [h, tq, d, t, e] = [4, 5, 8, 17, 12];
      const q = tf.randomNormal([1, h, tq, d], 0, 1, 'float32', 1) as tf.Tensor4D;
      const states = tf.randomNormal([t, e], 0, 1, 'float32', 2) as tf.Tensor2D;
      const key = {
        weight: tf.randomNormal([h * d, e], 0, 0.3, 'float32', 3) as tf.Tensor2D,
        bias: tf.randomNormal([h * d], 0, 0.3, 'float32', 4) as tf.Tensor1D,
      };
      const value = {
        weight: tf.randomNormal([h * d, e], 0, 0.3, 'float32', 5) as tf.Tensor2D,
        bias: tf.randomNormal([h * d], 0, 0.3, 'float32', 6) as tf.Tensor1D,
      };
      const proj = (w: typeof key) =>
        tf
          .add(tf.matMul(states, w.weight, false, true), w.bias)
          .reshape([1, t, h, d])
          .transpose([0, 2, 1, 3]) as tf.Tensor4D;
      const target: AttentionTarget = {
        ...projectedTarget(proj(key), proj(value)),
        rawStates: () => ({ states, statesT: states.transpose(), key, value }),
      };
      const opts = { scale: d ** -0.5, keepProbs: true };
      const plain = attention(q, target, { ...opts, variant: 'batched' });
      for (const variant of ['per-head', 'raw-states'] as const) {
        const fast = attention(q, target, { ...opts, variant });
        expect(await maxDiff(fast.context, plain.context), variant).to.be.below(1e-5);
        expect(await maxDiff(fast.probs!, plain.probs!), `${variant} probs`).to.be.below(1e-6);
      }
    });
  });
});

describe('model path: same input, same answer', () => {
  let model: BlipItm;
  before(() => {
    model = BlipItm.fromDir(TINY);
  });
  after(() => model.dispose());

  for (const [label, text] of [
    ['short', SHORT],
    ['long', LONG],
  ] as const) {
    it(`repeated match() of one embedding with a ${label} text is bit-identical, on one path`, async () => {
      const [emb] = await model.encodeImages([IMAGES[0]]);
      try {
        const runs: { result: MatchResult; ran: Record<AttentionVariant, number> }[] = [];
        for (let i = 0; i < 8; i++) runs.push(await counting(() => model.match([emb], [text])));
        const bits = runs.map((r) => r.result.logits[0][0]);
        bits.forEach((b) => {
          expect(Object.is(b[0], bits[0][0]) && Object.is(b[1], bits[0][1]), `${b} vs ${bits[0]}`).to.equal(true);
        });
        runs.forEach((r) => expect(r.ran).to.deep.equal(runs[0].ran));
        // A fresh embedding of the same image, and a batch mixing it with other texts, agree too.
        const again = await model.match([IMAGES[0]], [text]);
        expect(again.logits[0][0]).to.deep.equal(bits[0]);
      } finally {
        emb.dispose();
      }
    });
  }

  it("crossAttention: 'projected' always uses the kept projections, repeatably, agreeing with 'auto'", async () => {
    const [auto] = await model.encodeImages([IMAGES[0]]);
    const [projected] = await model.encodeImages([IMAGES[0]], { crossAttention: 'projected' });
    try {
      const runs: { result: MatchResult; ran: Record<AttentionVariant, number> }[] = [];
      for (let i = 0; i < 6; i++) runs.push(await counting(() => model.match([projected], [SHORT])));
      runs.forEach((r) => {
        expect(r.ran['raw-states']).to.equal(0);
        expect(r.result.logits[0][0]).to.deep.equal(runs[0].result.logits[0][0]);
      });
      const a = await model.match([auto], [SHORT]);
      expect(a.logits[0][0][1]).to.be.closeTo(runs[0].result.logits[0][0][1], 1e-5);
      await expectReject(
        model.encodeImages([IMAGES[0]], { crossAttention: 'raw' as 'auto' }),
        /crossAttention must be 'auto' or 'projected'/,
      );
    } finally {
      auto.dispose();
      projected.dispose();
    }
  });

  it('repeated gradcam() and similarity() are bit-identical', async () => {
    const [emb] = await model.encodeImages([IMAGES[2]]);
    try {
      const g = [
        await model.gradcam(emb, SHORT, { layer: 0 }),
        await model.gradcam(emb, SHORT, { layer: 0 }),
        await model.gradcam(emb, SHORT, { layer: 0 }),
      ];
      g.forEach((x) => expect(x.maps).to.deep.equal(g[0].maps));
      const s = [await model.similarity([emb], TEXTS), await model.similarity([emb], TEXTS)];
      expect(s[1]).to.deep.equal(s[0]);
    } finally {
      emb.dispose();
    }
  });
});
