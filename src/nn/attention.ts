import * as tf from '@tensorflow/tfjs';

/**
 * Scaled dot-product attention over already split heads.
 * q [B, H, Tq, d], keysT [B, H, d, Tk] (keys pre-transposed: matMul with transposeB is slow on
 * wasm, and an image's cross-attention keys are transposed once and reused), v [B, H, Tk, d].
 * `additiveMask` broadcasts to [B, H, Tq, Tk] (0 where visible, a huge negative where padded).
 */
export function attend(q: tf.Tensor4D, keysT: tf.Tensor4D, v: tf.Tensor4D, scale: number,
  additiveMask?: tf.Tensor, probsHook?: (probs: tf.Tensor4D) => tf.Tensor4D): { context: tf.Tensor4D; probs: tf.Tensor4D } {
  let scores: tf.Tensor = tf.mul(tf.matMul(q, keysT), scale); // [B, H, Tq, Tk]
  if (additiveMask) scores = tf.add(scores, additiveMask);
  let probs = tf.softmax(scores, -1) as tf.Tensor4D;          // [B, H, Tq, Tk]
  if (probsHook) probs = probsHook(probs); // lets Grad-CAM differentiate with respect to the probabilities
  return { context: tf.matMul(probs, v) as tf.Tensor4D, probs }; // [B, H, Tq, d]
}

/** The most negative float32: transformers 5 masks with finfo(float32).min (BLIP's original used -10000; both give exact zeros). */
const MASKED = -3.4028234663852886e38;

/** [B, L] of 1/0 → [B, 1, 1, L] of 0/MASKED, the additive padding mask of BERT self-attention. */
export function additivePaddingMask(mask: tf.Tensor2D): tf.Tensor4D {
  const [b, l] = mask.shape;
  return tf.mul(tf.sub(1, tf.cast(mask, 'float32')), MASKED).reshape([b, 1, 1, l]) as tf.Tensor4D;
}
