import * as tf from '@tensorflow/tfjs-core';
import { VisionConfig } from '../config';
import { attention, projectedTarget } from '../nn/attention';
import { linear, mlp } from '../nn/linear';
import { Recorder, gelu, layerNorm, mergeHeads } from '../nn/ops';
import { unstack0 } from '../nn/wasm';
import { names } from '../nn/names';
import { VisionLayerWeights, VisionWeights } from './weights';

const visionNames = names.vision;

/** One image's pixels [1, 3, S, S] → patch embeddings with the class token and positions: [1, T, D]. */
function embeddings(pixels: tf.Tensor4D, w: VisionWeights['embeddings'], c: VisionConfig): tf.Tensor3D {
  const p = c.patchSize;
  const g = c.imageSize / p;
  const d = w.patch_embedding.weight.shape[0];
  // A stride-p conv with a p×p kernel is a matmul over non-overlapping patches.
  const patches = pixels
    .reshape([3, g, p, g, p]) // [C, gy, py, gx, px]
    .transpose([1, 3, 0, 2, 4]) // [gy, gx, C, py, px]
    .reshape([g * g, 3 * p * p]); // [N, C*p*p]
  const embedded = linear(patches, w.patch_embedding); // [N, D]
  const withClass = tf.concat([w.class_embedding.reshape([1, d]), embedded], 0); // [T, D]
  return tf.add(withClass, w.position_embedding.reshape([-1, d])).reshape([1, g * g + 1, d]) as tf.Tensor3D; // [1, T, D]
}

/** Pre-norm ViT layer: x + attn(LN(x)), then + mlp(LN(·)). x [1, T, D] → [1, T, D]. */
function visionLayer(x: tf.Tensor3D, w: VisionLayerWeights, c: VisionConfig, index: number, rec?: Recorder): tf.Tensor3D {
  const [, t, d] = x.shape;
  const heads = c.numAttentionHeads;
  const hd = d / heads;
  const h = layerNorm(x, w.layer_norm1);
  const qkv = linear(h, w.self_attn.qkv) // [1, T, 3D]
    .reshape([1, t, 3, heads, hd]) // [1, T, 3, H, d]
    .transpose([2, 0, 3, 1, 4]); // [3, 1, H, T, d]
  const [q, k, v] = unstack0(qkv) as tf.Tensor4D[]; // each [1, H, T, d]
  const name = visionNames.attentions(index);
  const { context, probs } = attention(q, projectedTarget(k, v), { scale: hd ** -0.5, keepProbs: !!rec?.wants(name) });
  if (probs) rec?.record(name, probs); // [1, H, T, T]
  const attended = tf.add(x, linear(mergeHeads(context), w.self_attn.projection)); // [1, T, D]
  const ff = mlp(layerNorm(attended, w.layer_norm2), w.mlp.fc1, gelu, w.mlp.fc2); // [1, T, D] → [1, T, F] → [1, T, D]
  return tf.add(attended, ff) as tf.Tensor3D;
}

function forwardOne(pixels: tf.Tensor4D, w: VisionWeights, c: VisionConfig, rec?: Recorder): tf.Tensor3D {
  let x = tf.tidy(() => embeddings(pixels, w.embeddings, c));
  rec?.record(visionNames.hiddenStates(0), x);
  w.encoder.layers.forEach((layer, i) => {
    // One scope per layer: without it every intermediate of all layers would live until the
    // caller's tidy ends (over a GB at base size, and a wasm heap never shrinks).
    const prev = x;
    x = tf.tidy(() => visionLayer(prev, layer, c, i, rec));
    prev.dispose();
    rec?.record(visionNames.hiddenStates(i + 1), x);
  });
  const out = tf.tidy(() => layerNorm(x, w.post_layernorm) as tf.Tensor3D);
  x.dispose();
  rec?.record(visionNames.lastHiddenState, out);
  return out;
}

/** The ViT: pixels [B, 3, S, S] → post-LayerNorm image states [B, T, D] (the image embedding). */
export function visionForward(pixels: tf.Tensor4D, w: VisionWeights, c: VisionConfig, rec?: Recorder): tf.Tensor3D {
  const [b, ch, h, wd] = pixels.shape;
  if (h !== c.imageSize || wd !== c.imageSize || ch !== 3) {
    throw new Error(`pixel_values must be [B, 3, ${c.imageSize}, ${c.imageSize}], got [${pixels.shape.join(', ')}]`);
  }
  if (b === 1) return forwardOne(pixels, w, c, rec);
  // Image by image: the recorder then sees [1, ...] parts, which it concatenates image-major.
  const outs = tf.split(pixels, b, 0).map((one) => forwardOne(one as tf.Tensor4D, w, c, rec));
  const out = tf.concat(outs, 0) as tf.Tensor3D;
  outs.forEach((o) => o.dispose());
  return out;
}
