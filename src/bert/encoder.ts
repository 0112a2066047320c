import * as tf from '@tensorflow/tfjs';
import { TextConfig } from '../config';
import { HeadsOptions, additivePaddingMask, attend, attendHeads } from '../nn/attention';
import { Recorder, addColumnBias, gatherRows, gelu, layerNorm, linearT } from '../nn/ops';
import { Linear } from '../weights/view';
import { AttentionWeights, TextLayerWeights, TextWeights } from './weights';

/**
 * One image's cross-attention keys and values for text layer `layer`:
 * keysT [1, H, d, T] and values [1, H, T, d]. They depend on the image alone, so the image
 * embedding computes them once and every text it meets reuses them.
 */
export interface CrossAttentionSource {
  keysAndValues(layer: number): { keysT: tf.Tensor4D; values: tf.Tensor4D };
  /**
   * Optional: the image states [T, E] and their transpose [E, T], offered when attending to
   * them directly is cheaper than projecting keys and values (see `attendToStates`);
   * undefined when the keys and values of `layer` should be used.
   */
  statesFor?(layer: number, queryRows: number): { states: tf.Tensor2D; statesT: tf.Tensor2D } | undefined;
}

/** [N, L, D] → its tokens as columns, [D, N*L] (the operand layout of linearT). */
function columns(x: tf.Tensor3D): tf.Tensor2D {
  const [n, l, d] = x.shape;
  return tf.transpose(x.reshape([n * l, d])) as tf.Tensor2D;
}

/** W xᵀ + b back in token-major layout: yᵀ [D, N*L] → [N, L, D]. */
function rows(yT: tf.Tensor2D, w: Linear, n: number, l: number): tf.Tensor3D {
  return tf.add(tf.transpose(linearT(yT, w)), w.bias).reshape([n, l, -1]) as tf.Tensor3D;
}

/** The image side of cross-attention: the image states through a layer's key/value projections. */
export function crossKeysAndValues(imageStates: tf.Tensor3D, w: AttentionWeights, heads: number) {
  const [b, t] = imageStates.shape;
  if (b !== 1) throw new Error(`cross-attention keys and values are computed per image, got a batch of ${b}`);
  const xT = columns(imageStates);                                                  // [Dv, T]
  const d = w.key.weight.shape[0];
  const keysT = addColumnBias(linearT(xT, w.key), w.key).reshape([1, heads, d / heads, t]) as tf.Tensor4D; // [1, H, d, T]
  const values = addColumnBias(linearT(xT, w.value), w.value)
    .reshape([heads, d / heads, t]).transpose([0, 2, 1]).reshape([1, heads, t, d / heads]) as tf.Tensor4D; // [1, H, T, d]
  return { keysT, values };
}

function textEmbeddings(ids: tf.Tensor2D, w: TextWeights, c: TextConfig): tf.Tensor3D {
  const [, l] = ids.shape;
  if (l > c.maxPositionEmbeddings) {
    throw new Error(`text of ${l} tokens exceeds max_position_embeddings ${c.maxPositionEmbeddings}; truncate it`);
  }
  const words = gatherRows(w.wordEmbeddings, ids);                   // [N, L, D] (exact in float16 mode too)
  const positions = w.positionEmbeddings.slice([0, 0], [l, -1]);     // [L, D]
  return layerNorm(tf.add(words, positions), w.embeddingsLayerNorm) as tf.Tensor3D;
}

/** Attention output: dense (from the context as columns [D, N*L]), then LayerNorm of the residual sum (post-norm BERT). */
function attentionOutput(contextT: tf.Tensor2D, residual: tf.Tensor3D, w: AttentionWeights): tf.Tensor3D {
  const [n, l] = residual.shape;
  return layerNorm(tf.add(rows(contextT, w.outputDense, n, l), residual), w.outputLayerNorm) as tf.Tensor3D;
}

/** A projection's output columns [D, N*L] → per-text heads [N, H, L, d] (or keys transposed, [N, H, d, L]). */
function headsOf(yT: tf.Tensor2D, heads: number, n: number, l: number, keysT = false): tf.Tensor4D {
  const d = yT.shape[0] / heads;
  return yT.reshape([heads, d, n, l]).transpose(keysT ? [2, 0, 1, 3] : [2, 0, 3, 1]) as tf.Tensor4D;
}

function selfAttention(x: tf.Tensor3D, mask: tf.Tensor4D, w: AttentionWeights, heads: number) {
  const [n, l, dm] = x.shape;
  const hd = dm / heads;
  const xT = columns(x);                                                             // [D, N*L]
  const q = headsOf(addColumnBias(linearT(xT, w.query), w.query), heads, n, l);      // [N, H, L, d]
  const keysT = headsOf(addColumnBias(linearT(xT, w.key), w.key), heads, n, l, true); // [N, H, d, L]
  const v = headsOf(addColumnBias(linearT(xT, w.value), w.value), heads, n, l);      // [N, H, L, d]
  // Batched over texts x heads: a naive loop on wasm, but L x L per head is small.
  const { context, probs } = attend(q, keysT, v, 1 / Math.sqrt(hd), mask);
  const contextT = context.transpose([1, 3, 0, 2]).reshape([dm, n * l]) as tf.Tensor2D; // [H, d, N, L] → [D, N*L]
  return { out: attentionOutput(contextT, x, w), probs };
}

/**
 * Cross-attention of N texts to one image. The N texts' queries are stacked into one
 * [H, N*L, d] block so that each head is one matmul against the shared image keys.
 */
function crossAttention(x: tf.Tensor3D, image: CrossAttentionSource, layer: number, w: AttentionWeights, heads: number,
  keepProbs: boolean, probsHook?: (probs: tf.Tensor4D) => tf.Tensor4D) {
  const [n, l, d] = x.shape;
  const hd = d / heads;
  const qT = addColumnBias(linearT(columns(x), w.query), w.query);                 // [D, N*L]
  const q = qT.reshape([heads, hd, n * l]).transpose([0, 2, 1]) as tf.Tensor3D;    // [H, N*L, d]
  const direct = image.statesFor?.(layer, n * l);
  const { context, probs } = direct
    ? attendToStates(q, direct.states, direct.statesT, w, 1 / Math.sqrt(hd), { keepProbs, probsHook })
    : attendHeadsTo(q, image.keysAndValues(layer), heads, hd, 1 / Math.sqrt(hd), { keepProbs, probsHook });
  const contextT = context.transpose([0, 2, 1]).reshape([d, n * l]) as tf.Tensor2D; // [H, d, N*L] → [D, N*L]
  return { out: attentionOutput(contextT, x, w), perText: () => crossProbsPerText(probs as tf.Tensor4D, n) };
}

function attendHeadsTo(q: tf.Tensor3D, kv: { keysT: tf.Tensor4D; values: tf.Tensor4D }, heads: number, hd: number,
  scale: number, opts: HeadsOptions) {
  const t = kv.keysT.shape[3];
  return attendHeads(q, kv.keysT.reshape([heads, hd, t]) as tf.Tensor3D, kv.values.reshape([heads, t, hd]) as tf.Tensor3D, scale, opts);
}

/**
 * Cross-attention without projecting the image's keys and values, for few queries:
 * scores_h = q_h K_hᵀ = (q_h W_k,h) Sᵀ + q_h·b_k,h, and the last term is constant along each
 * row, so softmax drops it; context_h = P_h (S W_v,hᵀ + b_v,h) = (P_h S) W_v,hᵀ + (P_h 1) b_v,h. Per head this costs Tq·E·(d + 2T) instead of the 2·T·E·D of
 * projecting all T image tokens, a win while Tq (texts x tokens) is below the head width d.
 * q [H, Tq, d], states S [T, E], statesT [E, T] → context [H, Tq, d], probs [1, H, Tq, T].
 */
function attendToStates(q: tf.Tensor3D, states: tf.Tensor2D, statesT: tf.Tensor2D, w: AttentionWeights, scale: number,
  opts: HeadsOptions): { context: tf.Tensor3D; probs?: tf.Tensor4D } {
  const [h, tq, d] = q.shape;
  const [t, e] = states.shape;
  const wk = w.key.weight.reshape([h, d, e]);                                    // [H, d, E]
  const qk = tf.matMul(tf.mul(q, scale), wk).reshape([h * tq, e]) as tf.Tensor2D; // [H*Tq, E]
  let probs = tf.softmax(tf.matMul(qk, statesT), -1).reshape([1, h, tq, t]) as tf.Tensor4D; // [1, H, Tq, T]
  if (opts.probsHook) probs = opts.probsHook(probs);
  const flat = probs.reshape([h * tq, t]);                                       // [H*Tq, T]
  const mixed = tf.matMul(flat, states).reshape([h, tq, e]);                      // [H, Tq, E]
  const wv = w.value.weight.reshape([h, d, e]);                                  // [H, d, E]
  // The bias enters as (row sum of P) x b_v, which is b_v in value but keeps the gradient with
  // respect to P what it is with projected values (Grad-CAM differentiates there).
  const rowSums = tf.sum(flat, -1, true).reshape([h, tq, 1]);                     // [H, Tq, 1]
  const context = tf.add(tf.matMul(mixed, wv, false, true), tf.mul(rowSums, w.value.bias.reshape([h, 1, d]))) as tf.Tensor3D; // [H, Tq, d]
  return { context, probs: opts.keepProbs || opts.probsHook ? probs : undefined };
}

function feedForward(x: tf.Tensor3D, w: TextLayerWeights): tf.Tensor3D {
  const [n, l] = x.shape;
  const hidden = gelu(addColumnBias(linearT(columns(x), w.intermediate), w.intermediate)) as tf.Tensor2D; // [F, N*L]
  return layerNorm(tf.add(rows(hidden, w.output, n, l), x), w.outputLayerNorm) as tf.Tensor3D;
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
  // One scope per layer keeps the heap to one layer's intermediates, except under Grad-CAM,
  // whose hook keeps a layer's probabilities beyond it.
  const scoped = !crossProbsHook;
  w.layers.forEach((layer, i) => {
    const step = () => {
      let y = x;
      const self = selfAttention(y, additive, layer.attention, c.numAttentionHeads);
      rec?.(`${prefix}.attentions.${i}`, self.probs);
      y = self.out;
      if (image) {
        const hook = crossProbsHook && ((p: tf.Tensor4D) => crossProbsHook(i, p));
        const cross = crossAttention(y, image, i, layer.crossattention, c.numAttentionHeads, !!rec, hook);
        if (rec) rec(`${prefix}.cross_attentions.${i}`, cross.perText());
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
    rec?.(`${prefix}.hidden_states.${i + 1}`, x);
  });
  return x;
}
