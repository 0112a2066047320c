import * as tf from '@tensorflow/tfjs';
import { VisionConfig } from '../config';
import { attend } from '../nn/attention';
import { Recorder, gelu, layerNorm, linear, mergeHeads } from '../nn/ops';
import { VisionLayerWeights, VisionWeights } from './weights';

/** Pixels [B, 3, S, S] → patch embeddings with the class token and positions: [B, T, D]. */
export function visionEmbeddings(pixels: tf.Tensor4D, w: VisionWeights, c: VisionConfig): tf.Tensor3D {
  const [b, ch, h, wd] = pixels.shape;
  if (h !== c.imageSize || wd !== c.imageSize || ch !== 3) {
    throw new Error(`pixel_values must be [B, 3, ${c.imageSize}, ${c.imageSize}], got [${pixels.shape.join(', ')}]`);
  }
  const p = c.patchSize;
  const g = c.imageSize / p;
  // A stride-p conv with a p×p kernel is a matmul over non-overlapping patches.
  const patches = pixels
    .reshape([b, ch, g, p, g, p])   // [B, C, gy, py, gx, px]
    .transpose([0, 2, 4, 1, 3, 5])  // [B, gy, gx, C, py, px]
    .reshape([b, g * g, ch * p * p]); // [B, N, C*p*p], (c, y, x) order as the OIHW kernel
  const embedded = linear(patches, w.patchEmbedding);                 // [B, N, D]
  const cls = tf.tile(w.classEmbedding, [b, 1, 1]);                   // [B, 1, D]
  return tf.add(tf.concat([cls, embedded], 1), w.positionEmbedding) as tf.Tensor3D; // [B, T, D]
}

function visionLayer(x: tf.Tensor3D, w: VisionLayerWeights, c: VisionConfig, index: number, rec?: Recorder): tf.Tensor3D {
  const [b, t, d] = x.shape;
  const heads = c.numAttentionHeads;
  const hd = d / heads;
  const qkv = linear(layerNorm(x, w.layerNorm1), w.qkv)
    .reshape([b, t, 3, heads, hd])      // [B, T, 3, H, d]
    .transpose([2, 0, 3, 1, 4]);         // [3, B, H, T, d]
  const [q, k, v] = tf.unstack(qkv) as tf.Tensor4D[];  // each [B, H, T, d]
  const keysT = k.transpose([0, 1, 3, 2]) as tf.Tensor4D; // [B, H, d, T]
  const { context, probs } = attend(q, keysT, v, hd ** -0.5);
  rec?.(`vision.attentions.${index}`, probs);
  const attended = tf.add(x, linear(mergeHeads(context), w.projection)) as tf.Tensor3D;
  const mlp = linear(gelu(linear(layerNorm(attended, w.layerNorm2), w.fc1)), w.fc2);
  return tf.add(attended, mlp) as tf.Tensor3D;
}

/** The ViT: pixels [B, 3, S, S] → post-LayerNorm image states [B, T, D] (the image embedding). */
export function visionForward(pixels: tf.Tensor4D, w: VisionWeights, c: VisionConfig, rec?: Recorder): tf.Tensor3D {
  let x = visionEmbeddings(pixels, w, c);
  rec?.('vision.hidden_states.0', x);
  w.layers.forEach((layer, i) => {
    x = visionLayer(x, layer, c, i, rec);
    rec?.(`vision.hidden_states.${i + 1}`, x);
  });
  const out = layerNorm(x, w.postLayerNorm) as tf.Tensor3D;
  rec?.('vision.last_hidden_state', out);
  return out;
}
