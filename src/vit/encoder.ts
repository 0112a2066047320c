import * as tf from '@tensorflow/tfjs-core';
import { VisionConfig } from '../config';
import { attention, projectedTarget } from '../nn/attention';
import { linear, mlp } from '../nn/linear';
import { Recorder, gelu, layerNorm, mergeHeads } from '../nn/ops';
import { unstack0 } from '../nn/wasm';
import { names } from '../nn/names';
import { VisionLayerWeights, VisionWeights } from './weights';

const visionNames = names.vision;

/** Pixels [B, 3, S, S] → patch embeddings with the class token and positions: [B, T, D]. */
function embeddings(pixels: tf.Tensor4D, w: VisionWeights['embeddings'], c: VisionConfig): tf.Tensor3D {
  const b = pixels.shape[0];
  const p = c.patchSize;
  const g = c.imageSize / p;
  const d = w.patch_embedding.weight.shape[0];
  // A stride-p conv with a p×p kernel is a matmul over non-overlapping patches.
  const patches = pixels
    .reshape([b, 3, g, p, g, p]) // [B, C, gy, py, gx, px]
    .transpose([0, 2, 4, 1, 3, 5]) // [B, gy, gx, C, py, px]
    .reshape([b * g * g, 3 * p * p]); // [B*N, C*p*p]
  const embedded = linear(patches, w.patch_embedding).reshape([b, g * g, d]); // [B*N, D] → [B, N, D]
  const classToken = w.class_embedding.reshape([1, 1, d]); // [1, 1, D]
  const classTokens = b === 1 ? classToken : tf.tile(classToken, [b, 1, 1]); // [B, 1, D]
  const withClass = tf.concat([classTokens, embedded], 1); // [B, T, D]
  return tf.add(withClass, w.position_embedding.reshape([1, g * g + 1, d])) as tf.Tensor3D; // [B, T, D] + [1, T, D]
}

/**
 * Pre-norm ViT layer: x + attn(LN(x)), then + mlp(LN(·)). x [B, T, D] → [B, T, D]. Images never
 * attend to each other, so the B images' H heads go to attention as one sequence of B*H heads:
 * unmasked and B = 1, it takes the same path (per-head GEMMs on wasm) as a single image does.
 */
function visionLayer(x: tf.Tensor3D, w: VisionLayerWeights, c: VisionConfig, index: number, rec?: Recorder): tf.Tensor3D {
  const [b, t, d] = x.shape;
  const heads = c.numAttentionHeads;
  const hd = d / heads;
  const h = layerNorm(x, w.layer_norm1);
  const qkv = linear(h, w.self_attn.qkv) // [B, T, 3D]
    .reshape([b, t, 3, heads, hd]) // [B, T, 3, H, d]
    .transpose([2, 0, 3, 1, 4]) // [3, B, H, T, d]
    .reshape([3, 1, b * heads, t, hd]); // [3, 1, B*H, T, d]
  const [q, k, v] = unstack0(qkv) as tf.Tensor4D[]; // each [1, B*H, T, d]
  const name = visionNames.attentions(index);
  const { context, probs } = attention(q, projectedTarget(k, v), { scale: hd ** -0.5, keepProbs: !!rec?.wants(name) });
  if (probs) rec?.record(name, probs.reshape([b, heads, t, t])); // [1, B*H, T, T] → [B, H, T, T]
  const merged = mergeHeads(context.reshape([b, heads, t, hd])); // [1, B*H, T, d] → [B, H, T, d] → [B, T, D]
  const attended = tf.add(x, linear(merged, w.self_attn.projection)); // [B, T, D]
  const ff = mlp(layerNorm(attended, w.layer_norm2), w.mlp.fc1, gelu, w.mlp.fc2); // [B, T, D] → [B, T, F] → [B, T, D]
  return tf.add(attended, ff) as tf.Tensor3D;
}

/** Throws unless `shape` is pixel values the ViT takes, [B, 3, S, S]. */
export function checkPixelShape(shape: readonly number[], c: VisionConfig): void {
  const [, ch, h, w] = shape;
  if (shape.length !== 4 || h !== c.imageSize || w !== c.imageSize || ch !== 3) {
    throw new Error(`pixel_values must be [B, 3, ${c.imageSize}, ${c.imageSize}], got [${shape.join(', ')}]`);
  }
}

/**
 * The ViT: pixels [B, 3, S, S] → post-LayerNorm image states [B, T, D] (the image embedding),
 * the B images in one pass. Each layer's intermediates (B×H×T×T attention scores among them)
 * live until that layer ends: callers bound B (model/vision-batch).
 */
export function visionForward(pixels: tf.Tensor4D, w: VisionWeights, c: VisionConfig, rec?: Recorder): tf.Tensor3D {
  checkPixelShape(pixels.shape, c);
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
