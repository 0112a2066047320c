import * as tf from '@tensorflow/tfjs-core';
import { TextConfig } from '../config';
import { CrossAttentionSource, crossProbsPerText, textForward } from '../bert/encoder';
import { TextWeights } from '../bert/weights';
import { HeadWeights, itmLogits } from '../heads/heads';

/** Throws unless `layer` is a text layer index. */
export function checkGradcamLayer(layer: number, c: TextConfig): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= c.numHiddenLayers) {
    throw new Error(`Grad-CAM layer ${layer} is out of range: the text encoder has layers 0..${c.numHiddenLayers - 1}`);
  }
}

/**
 * Grad-CAM of the ITM match logit over text layer `layer`'s cross-attention (LAVIS
 * compute_gradcam): cross-attention probabilities times the positive part of the gradient of
 * logit 1 with respect to them, image tokens without the class position, zeroed at padded text
 * positions, averaged over heads. Returns [N, L, grid, grid] for N texts against one image.
 * Call inside tf.tidy.
 */
export function gradcam(
  image: CrossAttentionSource,
  ids: tf.Tensor2D,
  mask: tf.Tensor2D,
  text: TextWeights,
  c: TextConfig,
  heads: HeadWeights,
  layer: number,
): tf.Tensor4D {
  checkGradcamLayer(layer, c);
  const [n, l] = ids.shape;
  // Pass 1: the probabilities at `layer`, [1, H, N*L, T] (later layers are not needed).
  let probs: tf.Tensor4D | undefined;
  textForward(ids, mask, text, c, {
    image,
    layers: layer + 1,
    crossProbsHook: (i, p) => {
      if (i === layer) probs = p;
      return p;
    },
  });
  if (!probs) throw new Error('internal: cross-attention probabilities were not captured');
  // Pass 2: the match logit as a function of those probabilities; the sum over texts separates
  // per text because each text's logit depends only on its own rows.
  const matchLogit = (p: tf.Tensor) => {
    const states = textForward(ids, mask, text, c, { image, crossProbsHook: (i, q) => (i === layer ? (p as tf.Tensor4D) : q) });
    return itmLogits(states, heads).slice([0, 1], [n, 1]).sum();
  };
  const grads = tf.grad(matchLogit)(probs) as tf.Tensor4D;
  const t = probs.shape[3];
  const grid = Math.round(Math.sqrt(t - 1));
  const dropCls = (x: tf.Tensor4D) => crossProbsPerText(x, n).slice([0, 0, 0, 1], [-1, -1, -1, t - 1]); // [N, H, L, T-1]
  const textMask = tf.cast(mask, 'float32').reshape([n, 1, l, 1]); // [N, 1, L, 1]
  const cam = tf.mul(tf.mul(dropCls(probs), textMask), tf.relu(dropCls(grads))); // [N, H, L, T-1]
  return tf.mean(cam, 1).reshape([n, l, grid, grid]) as tf.Tensor4D; // [N, L, g, g]
}
