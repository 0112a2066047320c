import * as tf from '@tensorflow/tfjs';
import { halfFloatStorage, onWasm, unstack0 } from './ops';

/**
 * Scaled dot-product attention over already split heads.
 * q [B, H, Tq, d], keysT [B, H, d, Tk] (keys pre-transposed: matMul with transposeB is slow on
 * wasm, and an image's cross-attention keys are transposed once and reused), v [B, H, Tk, d].
 * `additiveMask` broadcasts to [B, H, Tq, Tk] (0 where visible, a huge negative where padded).
 * Batched matMul is a naive loop on wasm: use it for small products only (text self-attention);
 * `attendHeads` is the fast form for one sequence block.
 */
export function attend(q: tf.Tensor4D, keysT: tf.Tensor4D, v: tf.Tensor4D, scale: number,
  additiveMask?: tf.Tensor, probsHook?: (probs: tf.Tensor4D) => tf.Tensor4D): { context: tf.Tensor4D; probs: tf.Tensor4D } {
  let scores: tf.Tensor = tf.mul(tf.matMul(q, keysT), scale); // [B, H, Tq, Tk]
  if (additiveMask) scores = tf.add(scores, additiveMask);
  let probs = tf.softmax(scores, -1) as tf.Tensor4D;          // [B, H, Tq, Tk]
  if (probsHook) probs = probsHook(probs); // lets Grad-CAM differentiate with respect to the probabilities
  return { context: tf.matMul(probs, v) as tf.Tensor4D, probs }; // [B, H, Tq, d]
}

export interface HeadsOptions {
  /** Return the probabilities stacked as [1, H, Tq, Tk] (costs a copy on wasm). */
  keepProbs?: boolean;
  /** Sees (and may replace) the stacked probabilities [1, H, Tq, Tk]; implies keepProbs. */
  probsHook?: (probs: tf.Tensor4D) => tf.Tensor4D;
}

/**
 * Unmasked attention of one block of queries to one sequence, head by head:
 * q [H, Tq, d], keysT [H, d, Tk], v [H, Tk, d] → context [H, Tq, d].
 * On wasm each head is a pair of plain 2-D matmuls, which XNNPACK runs at GEMM speed (a batched
 * [H, ...] matMul there is a naive loop, ~10x slower). The scale multiplies q, not the scores
 * (the same numbers up to rounding, exactly the same for power-of-two scales such as 1/8).
 */
export function attendHeads(q: tf.Tensor3D, keysT: tf.Tensor3D, v: tf.Tensor3D, scale: number,
  opts: HeadsOptions = {}): { context: tf.Tensor3D; probs?: tf.Tensor4D } {
  const [h, tq] = q.shape;
  const tk = keysT.shape[2];
  const stacked = opts.keepProbs || !!opts.probsHook;
  if (!onWasm()) {
    let probs = tf.softmax(tf.mul(tf.matMul(q, keysT), scale), -1).reshape([1, h, tq, tk]) as tf.Tensor4D;
    if (opts.probsHook) probs = opts.probsHook(probs);
    return { context: tf.matMul(probs.reshape([h, tq, tk]), v) as tf.Tensor3D, probs: stacked ? probs : undefined };
  }
  const grad = !!opts.probsHook; // Grad-CAM differentiates through the queries and the probabilities
  const qs = unstack0(tf.mul(q, scale), grad) as tf.Tensor2D[];
  const ks = unstack0(keysT) as tf.Tensor2D[];
  const vs = unstack0(v) as tf.Tensor2D[];
  if (!stacked) {
    const ctx = qs.map((qh, i) => tf.matMul(tf.softmax(tf.matMul(qh, ks[i]), -1) as tf.Tensor2D, vs[i]));
    return { context: tf.stack(ctx) as tf.Tensor3D };
  }
  const scores = tf.stack(qs.map((qh, i) => tf.matMul(qh, ks[i])));        // [H, Tq, Tk]
  let probs = tf.softmax(scores, -1).reshape([1, h, tq, tk]) as tf.Tensor4D;
  if (opts.probsHook) probs = opts.probsHook(probs);
  const ps = unstack0(probs.reshape([h, tq, tk]), grad) as tf.Tensor2D[];
  const context = tf.stack(ps.map((p, i) => tf.matMul(p, vs[i]))) as tf.Tensor3D;
  return { context, probs };
}

/** The most negative float32: transformers 5 masks with finfo(float32).min (BLIP's original used -10000; both give exact zeros). */
const MASKED = -3.4028234663852886e38;

/**
 * webgl with half-float textures (the browser's float16 mode) would store MASKED as -inf, and
 * 0 x -inf is NaN: use float16's most negative value there, as transformers uses finfo(float16).min
 * for a model.half().
 */
function maskedValue(): number {
  return halfFloatStorage() ? -65504 : MASKED;
}

/** [B, L] of 1/0 → [B, 1, 1, L] of 0/MASKED, the additive padding mask of BERT self-attention. */
export function additivePaddingMask(mask: tf.Tensor2D): tf.Tensor4D {
  const [b, l] = mask.shape;
  return tf.mul(tf.sub(1, tf.cast(mask, 'float32')), maskedValue()).reshape([b, 1, 1, l]) as tf.Tensor4D;
}
