import * as tf from '@tensorflow/tfjs';
import { VisionConfig } from '../config';
import { attendHeads } from '../nn/attention';
import { Recorder, addColumnBias, gelu, layerNorm, linearT, unstack0 } from '../nn/ops';
import { VisionLayerWeights, VisionWeights } from './weights';

/*
 * Layout: the residual stream is token-major [1, T, D] (LayerNorm runs over the last axis); each
 * matmul runs feature-major, W [out, in] @ hᵀ [in, T] (see linearT for why), so every layer
 * costs a handful of [T, D]-sized transposes and no batched matMul.
 */

/** One image's pixels [1, 3, S, S] → patch embeddings with the class token and positions: [1, T, D]. */
function embedOne(pixels: tf.Tensor4D, w: VisionWeights, c: VisionConfig): tf.Tensor3D {
  const p = c.patchSize;
  const g = c.imageSize / p;
  // A stride-p conv with a p×p kernel is a matmul over non-overlapping patches: the kernel
  // [D, C*p*p] (OIHW flattened) times the patches laid out as columns [C*p*p, N].
  const patchesT = pixels
    .reshape([3, g, p, g, p])        // [C, gy, py, gx, px]
    .transpose([0, 2, 4, 1, 3])      // [C, py, px, gy, gx]
    .reshape([3 * p * p, g * g]) as tf.Tensor2D; // [C*p*p, N]
  const d = w.patchEmbedding.weight.shape[0];
  const embedded = tf.add(tf.transpose(linearT(patchesT, w.patchEmbedding)), w.patchEmbedding.bias); // [N, D]
  return tf.add(tf.concat([w.classEmbedding.reshape([1, d]), embedded], 0), w.positionEmbedding.reshape([-1, d]))
    .reshape([1, g * g + 1, d]) as tf.Tensor3D;
}

function visionLayer(x: tf.Tensor3D, w: VisionLayerWeights, c: VisionConfig, index: number, rec?: Recorder): tf.Tensor3D {
  const [, t, d] = x.shape;
  const heads = c.numAttentionHeads;
  const hd = d / heads;
  const hT = tf.transpose(layerNorm(x, w.layerNorm1).reshape([t, d])) as tf.Tensor2D;   // [D, T]
  const [qT, kT, vT] = unstack0(addColumnBias(linearT(hT, w.qkv), w.qkv).reshape([3, d, t])); // each [D, T]
  const q = qT.reshape([heads, hd, t]).transpose([0, 2, 1]) as tf.Tensor3D;           // [H, T, d]
  const keysT = kT.reshape([heads, hd, t]) as tf.Tensor3D;                            // [H, d, T]
  const v = vT.reshape([heads, hd, t]).transpose([0, 2, 1]) as tf.Tensor3D;           // [H, T, d]
  const { context, probs } = attendHeads(q, keysT, v, hd ** -0.5, { keepProbs: !!rec });
  if (rec && probs) rec(`vision.attentions.${index}`, probs);
  const ctxT = context.transpose([0, 2, 1]).reshape([d, t]) as tf.Tensor2D;            // [D, T]
  const projected = tf.add(tf.transpose(linearT(ctxT, w.projection)), w.projection.bias); // [T, D]
  const attended = tf.add(x, projected.reshape([1, t, d])) as tf.Tensor3D;
  const h2T = tf.transpose(layerNorm(attended, w.layerNorm2).reshape([t, d])) as tf.Tensor2D; // [D, T]
  const hidden = gelu(addColumnBias(linearT(h2T, w.fc1), w.fc1)) as tf.Tensor2D;              // [F, T]
  const mlp = tf.add(tf.transpose(linearT(hidden, w.fc2)), w.fc2.bias);                        // [T, D]
  return tf.add(attended, mlp.reshape([1, t, d])) as tf.Tensor3D;
}

function forwardOne(pixels: tf.Tensor4D, w: VisionWeights, c: VisionConfig, rec?: Recorder): tf.Tensor3D {
  let x = tf.tidy(() => embedOne(pixels, w, c));
  rec?.('vision.hidden_states.0', x);
  w.layers.forEach((layer, i) => {
    // One scope per layer: without it every intermediate of all layers would live until the
    // caller's tidy ends (over a GB at base size, and a wasm heap never shrinks).
    const prev = x;
    x = tf.tidy(() => visionLayer(prev, layer, c, i, rec));
    prev.dispose();
    rec?.(`vision.hidden_states.${i + 1}`, x);
  });
  const out = tf.tidy(() => layerNorm(x, w.postLayerNorm) as tf.Tensor3D);
  x.dispose();
  rec?.('vision.last_hidden_state', out);
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
