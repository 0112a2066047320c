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
 * positions, averaged over heads. Returns the maps [N, L, grid, grid] for N texts against one
 * image and the ITM logits [N, 2] of the same forward pass. Call inside tf.tidy.
 *
 * One forward and one backward pass: the probabilities at `layer` become p + z with z = 0, and
 * the gradient with respect to z is the gradient with respect to p. The sum over texts of the
 * match logit separates per text, because each text's logit depends only on its own rows.
 */
export function gradcam(
  image: CrossAttentionSource,
  ids: tf.Tensor2D,
  mask: tf.Tensor2D,
  text: TextWeights,
  c: TextConfig,
  heads: HeadWeights,
  layer: number,
  frames = 1,
): { maps: tf.Tensor4D; logits: tf.Tensor2D } {
  checkGradcamLayer(layer, c);
  const [n, l] = ids.shape;
  const t = image.tokens;
  // Kept out of tf.grad's own scope (tf.keep), so freed here by hand.
  let probs: tf.Tensor4D | undefined; // [1, H, N*L, T]
  let logits: tf.Tensor2D | undefined; // [N, 2]
  try {
    const matchLogit = (z: tf.Tensor) => {
      const states = textForward(ids, mask, text, c, {
        image,
        crossProbsHook: (i, p) => {
          if (i !== layer) return p;
          probs = tf.keep(p);
          return tf.add(p, z) as tf.Tensor4D;
        },
      });
      logits = tf.keep(itmLogits(states, heads));
      return logits.slice([0, 1], [n, 1]).sum();
    };
    const grads = tf.grad(matchLogit)(tf.zeros([1, c.numAttentionHeads, n * l, t])) as tf.Tensor4D;
    if (!probs || !logits) throw new Error('internal: cross-attention probabilities were not captured');
    const perFrame = t / frames; // tokens per frame (a video's frames are concatenated)
    const grid = Math.round(Math.sqrt(perFrame - 1));
    const dropCls = (x: tf.Tensor4D) => {
      const perText = crossProbsPerText(x, n); // [N, H, L, frames*T]
      const [, h] = perText.shape;
      return perText.reshape([n, h, l, frames, perFrame]).slice([0, 0, 0, 0, 1], [-1, -1, -1, -1, perFrame - 1]); // [N, H, L, frames, T-1]
    };
    const textMask = tf.cast(mask, 'float32').reshape([n, 1, l, 1, 1]); // [N, 1, L, 1, 1]
    const cam = tf.mul(tf.mul(dropCls(probs), textMask), tf.relu(dropCls(grads))); // [N, H, L, frames, T-1]
    const maps = tf.mean(cam, 1).reshape([n, l, frames * grid, grid]) as tf.Tensor4D; // [N, L, frames*g, g]
    return { maps, logits: logits.clone() };
  } finally {
    probs?.dispose();
    logits?.dispose();
  }
}
