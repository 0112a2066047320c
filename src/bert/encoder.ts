import * as tf from '@tensorflow/tfjs';
import { TextConfig } from '../config';
import { additivePaddingMask, attend } from '../nn/attention';
import { Recorder, gelu, layerNorm, linear, mergeHeads, splitHeads } from '../nn/ops';
import { AttentionWeights, TextLayerWeights, TextWeights } from './weights';

/**
 * One image's cross-attention keys and values for text layer `layer`:
 * keysT [1, H, d, T] and values [1, H, T, d]. They depend on the image alone, so the image
 * embedding computes them once and every text it meets reuses them.
 */
export interface CrossAttentionSource {
  keysAndValues(layer: number): { keysT: tf.Tensor4D; values: tf.Tensor4D };
}

/** The image side of cross-attention: the image states through a layer's key/value projections. */
export function crossKeysAndValues(imageStates: tf.Tensor3D, w: AttentionWeights, heads: number) {
  const keysT = splitHeads(linear(imageStates, w.key), heads).transpose([0, 1, 3, 2]) as tf.Tensor4D; // [1, H, d, T]
  const values = splitHeads(linear(imageStates, w.value), heads);                                      // [1, H, T, d]
  return { keysT, values };
}

function textEmbeddings(ids: tf.Tensor2D, w: TextWeights, c: TextConfig): tf.Tensor3D {
  const [, l] = ids.shape;
  if (l > c.maxPositionEmbeddings) {
    throw new Error(`text of ${l} tokens exceeds max_position_embeddings ${c.maxPositionEmbeddings}; truncate it`);
  }
  const words = tf.gather(w.wordEmbeddings, ids);                    // [N, L, D]
  const positions = w.positionEmbeddings.slice([0, 0], [l, -1]);     // [L, D]
  return layerNorm(tf.add(words, positions), w.embeddingsLayerNorm) as tf.Tensor3D;
}

/** Attention output: dense, then LayerNorm of the residual sum (post-norm BERT). */
function attentionOutput(context: tf.Tensor3D, residual: tf.Tensor3D, w: AttentionWeights): tf.Tensor3D {
  return layerNorm(tf.add(linear(context, w.outputDense), residual), w.outputLayerNorm) as tf.Tensor3D;
}

function selfAttention(x: tf.Tensor3D, mask: tf.Tensor4D, w: AttentionWeights, heads: number) {
  const hd = x.shape[2] / heads;
  const q = splitHeads(linear(x, w.query), heads);                               // [N, H, L, d]
  const keysT = splitHeads(linear(x, w.key), heads).transpose([0, 1, 3, 2]) as tf.Tensor4D; // [N, H, d, L]
  const v = splitHeads(linear(x, w.value), heads);                               // [N, H, L, d]
  const { context, probs } = attend(q, keysT, v, 1 / Math.sqrt(hd), mask);
  return { out: attentionOutput(mergeHeads(context), x, w), probs };
}

/**
 * Cross-attention of N texts to one image. The N texts' queries are stacked into one
 * [1, H, N*L, d] block so that each head is one matmul against the shared image keys.
 */
function crossAttention(x: tf.Tensor3D, kv: { keysT: tf.Tensor4D; values: tf.Tensor4D }, w: AttentionWeights, heads: number,
  probsHook?: (probs: tf.Tensor4D) => tf.Tensor4D) {
  const [n, l, d] = x.shape;
  const hd = d / heads;
  const q = splitHeads(linear(x, w.query), heads)   // [N, H, L, d]
    .transpose([1, 0, 2, 3])                         // [H, N, L, d]
    .reshape([1, heads, n * l, hd]) as tf.Tensor4D;  // [1, H, N*L, d]
  const { context, probs } = attend(q, kv.keysT, kv.values, 1 / Math.sqrt(hd), undefined, probsHook);
  const merged = context
    .reshape([heads, n, l, hd])                      // [H, N, L, d]
    .transpose([1, 2, 0, 3])                         // [N, L, H, d]
    .reshape([n, l, d]) as tf.Tensor3D;              // [N, L, D]
  return { out: attentionOutput(merged, x, w), perText: () => crossProbsPerText(probs, n) };
}

function feedForward(x: tf.Tensor3D, w: TextLayerWeights): tf.Tensor3D {
  const hidden = gelu(linear(x, w.intermediate));
  return layerNorm(tf.add(linear(hidden, w.output), x), w.outputLayerNorm) as tf.Tensor3D;
}

export interface TextForwardOptions {
  /** Cross-attend to this image (ITM); without it the encoder runs text-only (ITC). */
  image?: CrossAttentionSource;
  rec?: Recorder;
  /** Name prefix of recorded tensors, e.g. 'itm.text' or 'itc.text'. */
  prefix?: string;
  /**
   * Sees (and may replace) each layer's cross-attention probabilities in their stacked layout
   * [1, H, N*L, T]; see `crossProbsPerText` for [N, H, L, T].
   */
  crossProbsHook?: (layer: number, probs: tf.Tensor4D) => tf.Tensor4D;
}

/** Stacked cross-attention probabilities [1, H, N*L, T] → per text [N, H, L, T]. */
export function crossProbsPerText(probs: tf.Tensor4D, texts: number): tf.Tensor4D {
  const [, h, nl, t] = probs.shape;
  return probs.reshape([h, texts, nl / texts, t]).transpose([1, 0, 2, 3]) as tf.Tensor4D; // [N, H, L, T]
}

/** BERT with optional cross-attention: ids/mask [N, L] → last hidden states [N, L, D]. */
export function textForward(ids: tf.Tensor2D, mask: tf.Tensor2D, w: TextWeights, c: TextConfig,
  opts: TextForwardOptions = {}): tf.Tensor3D {
  const { image, rec, prefix = 'text', crossProbsHook } = opts;
  const additive = additivePaddingMask(mask);
  let x = textEmbeddings(ids, w, c);
  rec?.(`${prefix}.hidden_states.0`, x);
  w.layers.forEach((layer, i) => {
    const self = selfAttention(x, additive, layer.attention, c.numAttentionHeads);
    rec?.(`${prefix}.attentions.${i}`, self.probs);
    x = self.out;
    if (image) {
      const hook = crossProbsHook && ((p: tf.Tensor4D) => crossProbsHook(i, p));
      const cross = crossAttention(x, image.keysAndValues(i), layer.crossattention, c.numAttentionHeads, hook);
      if (rec) rec(`${prefix}.cross_attentions.${i}`, cross.perText());
      x = cross.out;
    }
    x = feedForward(x, layer);
    rec?.(`${prefix}.hidden_states.${i + 1}`, x);
  });
  return x;
}
