import * as tf from '@tensorflow/tfjs-core';
import { TextConfig } from '../config';
import { AttentionTarget, additivePaddingMask, attention, projectedTarget } from '../nn/attention';
import { linear, linears, mlp } from '../nn/linear';
import { Recorder, gatherRows, gelu, layerNorm, mergeHeads, splitHeads } from '../nn/ops';
import { TextPass, names } from '../nn/names';
import { BertAttentionWeights, TextLayerWeights, TextWeights } from './weights';

/** The image a text cross-attends to, per text layer (an ImageEmbedding projects and keeps keys/values). */
export interface CrossAttentionSource {
  crossTarget(layer: number): AttentionTarget;
}

/** One image's states [1, T, E] through a cross-attention layer's key/value projections: keysT [1, H, d, T], values [1, H, T, d]. */
export function crossKeysAndValues(imageStates: tf.Tensor3D, w: BertAttentionWeights, heads: number) {
  const [keys, values] = linears(imageStates, [w.self.key, w.self.value]).map((y) => splitHeads(y as tf.Tensor3D, heads)); // each [1, H, T, d]
  return { keysT: keys.transpose([0, 1, 3, 2]) as tf.Tensor4D, values }; // [1, H, d, T], [1, H, T, d]
}

/** ids [N, L] → word + position embeddings, LayerNorm: [N, L, D]. */
function embeddings(ids: tf.Tensor2D, w: TextWeights['embeddings'], c: TextConfig): tf.Tensor3D {
  const [, l] = ids.shape;
  if (l > c.maxPositionEmbeddings) {
    throw new Error(`text of ${l} tokens exceeds max_position_embeddings ${c.maxPositionEmbeddings}; truncate it`);
  }
  const words = gatherRows(w.word_embeddings.weight, ids); // [N, L, D] (exact in float16 mode too)
  const positions = w.position_embeddings.weight.slice([0, 0], [l, -1]); // [L, D]
  return layerNorm(tf.add(words, positions), w.LayerNorm) as tf.Tensor3D;
}

/** BertSelfOutput: LayerNorm(dense(context) + residual). context, residual [N, L, D]. */
function attentionOutput(context: tf.Tensor3D, residual: tf.Tensor3D, w: BertAttentionWeights['output']): tf.Tensor3D {
  return layerNorm(tf.add(linear(context, w.dense), residual), w.LayerNorm) as tf.Tensor3D;
}

/** Masked self-attention of N texts: x [N, L, D] → [N, L, D], probs [N, H, L, L]. */
function selfAttention(x: tf.Tensor3D, mask: tf.Tensor4D, w: BertAttentionWeights, heads: number, keepProbs: boolean) {
  const hd = x.shape[2] / heads;
  const [q, k, v] = linears(x, [w.self.query, w.self.key, w.self.value]).map((y) => splitHeads(y as tf.Tensor3D, heads)); // each [N, H, L, d]
  const { context, probs } = attention(q, projectedTarget(k, v), { scale: 1 / Math.sqrt(hd), mask, keepProbs });
  return { out: attentionOutput(mergeHeads(context), x, w.output), probs };
}

/**
 * Cross-attention of N texts to one image: the texts' queries are stacked into one block
 * [1, H, N*L, d] so that each head is one product against the shared image keys.
 * x [N, L, D] → [N, L, D]; probs stacked [1, H, N*L, T].
 */
function crossAttention(
  x: tf.Tensor3D,
  image: AttentionTarget,
  w: BertAttentionWeights,
  heads: number,
  keepProbs: boolean,
  probsHook?: (probs: tf.Tensor4D) => tf.Tensor4D,
) {
  const [n, l, d] = x.shape;
  const hd = d / heads;
  const q = splitHeads(linear(x, w.self.query) as tf.Tensor3D, heads) // [N, H, L, d]
    .transpose([1, 0, 2, 3])
    .reshape([1, heads, n * l, hd]) as tf.Tensor4D; // [1, H, N*L, d]
  const { context, probs } = attention(q, image, { scale: 1 / Math.sqrt(hd), keepProbs, probsHook });
  const perText = context.reshape([heads, n, l, hd]).transpose([1, 0, 2, 3]) as tf.Tensor4D; // [N, H, L, d]
  return { out: attentionOutput(mergeHeads(perText), x, w.output), probs };
}

/** BertIntermediate + BertOutput: LayerNorm(dense2(gelu(dense1(x))) + x). x [N, L, D]. */
function feedForward(x: tf.Tensor3D, w: TextLayerWeights): tf.Tensor3D {
  const ff = mlp(x, w.intermediate.dense, gelu, w.output.dense); // [N, L, D] → [N, L, F] → [N, L, D]
  return layerNorm(tf.add(ff, x), w.output.LayerNorm) as tf.Tensor3D;
}

/** Stacked cross-attention probabilities [1, H, N*L, T] → per text [N, H, L, T]. */
export function crossProbsPerText(probs: tf.Tensor4D, texts: number): tf.Tensor4D {
  const [, h, nl, t] = probs.shape;
  return probs.reshape([h, texts, nl / texts, t]).transpose([1, 0, 2, 3]) as tf.Tensor4D;
}

export interface TextForwardOptions {
  /** Cross-attend to this image (ITM); without it the encoder runs text-only (ITC). */
  image?: CrossAttentionSource;
  rec?: Recorder;
  /** Which pass the recorded names belong to (default 'itm.text' with an image, else 'itc.text'). */
  pass?: TextPass;
  /** Run the first `layers` layers only (a probe that needs no later layer). Default: all. */
  layers?: number;
  /** Sees (and may replace) each layer's cross-attention probabilities, stacked [1, H, N*L, T]. */
  crossProbsHook?: (layer: number, probs: tf.Tensor4D) => tf.Tensor4D;
}

/** BERT with optional cross-attention: ids/mask [N, L] → last hidden states [N, L, D]. */
export function textForward(
  ids: tf.Tensor2D,
  mask: tf.Tensor2D,
  w: TextWeights,
  c: TextConfig,
  opts: TextForwardOptions = {},
): tf.Tensor3D {
  const { image, rec, crossProbsHook } = opts;
  const name = names.text(opts.pass ?? (image ? 'itm.text' : 'itc.text'));
  const heads = c.numAttentionHeads;
  const additive = additivePaddingMask(mask);
  let x = embeddings(ids, w.embeddings, c);
  rec?.record(name.hiddenStates(0), x);
  // One scope per layer keeps the heap to one layer's intermediates, except under Grad-CAM,
  // whose hook keeps a layer's probabilities beyond it.
  const scoped = !crossProbsHook;
  w.encoder.layer.slice(0, opts.layers).forEach((layer, i) => {
    const step = () => {
      const self = selfAttention(x, additive, layer.attention, heads, !!rec?.wants(name.attentions(i)));
      if (self.probs) rec?.record(name.attentions(i), self.probs); // [N, H, L, L]
      let y = self.out;
      if (image) {
        const hook = crossProbsHook && ((p: tf.Tensor4D) => crossProbsHook(i, p));
        const keep = !!rec?.wants(name.crossAttentions(i));
        const cross = crossAttention(y, image.crossTarget(i), layer.crossattention, heads, keep, hook);
        if (keep && cross.probs) rec?.record(name.crossAttentions(i), crossProbsPerText(cross.probs, ids.shape[0]));
        y = cross.out;
      }
      return feedForward(y, layer);
    };
    if (scoped) {
      const prev = x;
      x = tf.tidy(step);
      if (i > 0) prev.dispose();
    } else {
      x = step();
    }
    rec?.record(name.hiddenStates(i + 1), x);
  });
  return x;
}
