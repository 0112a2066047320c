import * as tf from '@tensorflow/tfjs';
import { LayerNormWeights } from '../weights/view';

/**
 * Records named intermediate tensors (hidden states, attention maps) during a forward pass.
 * `wants` lets an encoder skip work (e.g. stacking attention probabilities) nobody asked for.
 */
export interface Recorder {
  wants(name: string): boolean;
  record(name: string, t: tf.Tensor): void;
}

/** LayerNorm over the last axis with biased variance, as torch.nn.LayerNorm. */
export function layerNorm(x: tf.Tensor, w: LayerNormWeights): tf.Tensor {
  const axis = x.rank - 1;
  const mean = tf.mean(x, axis, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), axis, true);
  const normed = tf.mul(centred, tf.rsqrt(tf.add(variance, w.eps)));
  return tf.add(tf.mul(normed, w.weight), w.bias);
}

/** Exact GELU, x * Φ(x) = 0.5 x (1 + erf(x / √2)), as transformers' "gelu". */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/** Row-wise L2 normalisation, x / max(‖x‖, 1e-12), as torch.nn.functional.normalize. */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
  return tf.div(x, tf.maximum(norm, 1e-12));
}

/** [N, L, H*d] → heads [N, H, L, d]. */
export function splitHeads(x: tf.Tensor3D, heads: number): tf.Tensor4D {
  const [n, l, dm] = x.shape;
  return x.reshape([n, l, heads, dm / heads]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
}

/** Heads [N, H, L, d] → [N, L, H*d]. */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [n, h, l, d] = x.shape;
  return x.transpose([0, 2, 1, 3]).reshape([n, l, h * d]) as tf.Tensor3D;
}
