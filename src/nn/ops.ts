import * as tf from '@tensorflow/tfjs-core';
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

/** Integers above this are not all exact in float16 (11-bit significand). */
const F16_EXACT_INTS = 2048;

/** Whether webgl stores every tensor as half floats (the browser's float16 mode). */
export function halfFloatStorage(): boolean {
  return tf.getBackend() === 'webgl' && tf.env().getFlags().WEBGL_FORCE_F16_TEXTURES === true;
}

/**
 * tf.gather(table, ids) along rows, exact in the browser's float16 mode too. There every
 * texture, the ids included, holds float16, which rounds ids above 2048 (BERT's vocabulary has
 * 30,524 rows), so the ids are read from JS (`ids` must come straight from JS values, as the
 * tokenizer's do) and split as block * 2048 + offset: each block of rows present is sliced out
 * and gathered by offsets, which are exact, and the blocks are summed under 0/1 masks.
 */
export function gatherRows(table: tf.Tensor2D, ids: tf.Tensor): tf.Tensor {
  if (!halfFloatStorage()) return tf.gather(table, ids);
  return tf.tidy(() => {
    const values = ids.dataSync();
    const [rows, width] = table.shape;
    const blocks = new Set<number>();
    for (const id of values) blocks.add(Math.floor(id / F16_EXACT_INTS));
    let sum: tf.Tensor | null = null;
    for (const block of blocks) {
      const start = block * F16_EXACT_INTS;
      const part = table.slice([start, 0], [Math.min(F16_EXACT_INTS, rows - start), width]);
      const offsets = tf.tensor(
        Array.from(values, (id) => (Math.floor(id / F16_EXACT_INTS) === block ? id - start : 0)),
        ids.shape,
        'int32',
      );
      const inBlock = tf.tensor(
        Array.from(values, (id) => (Math.floor(id / F16_EXACT_INTS) === block ? 1 : 0)),
        [...ids.shape, 1],
        'float32',
      );
      const picked = tf.mul(tf.gather(part, offsets), inBlock);
      sum = sum === null ? picked : tf.add(sum, picked);
    }
    return sum ?? tf.gather(table, ids);
  });
}
