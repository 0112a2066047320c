import * as tf from '@tensorflow/tfjs';
import { LayerNormWeights, Linear } from '../weights/view';

/** Records a named intermediate tensor (hidden state, attention map) when inspection is on. */
export type Recorder = (name: string, t: tf.Tensor) => void;

/** x [..., in] @ W [in, out] + b, as one 2-D matmul (the fast path on every backend). */
export function linear(x: tf.Tensor, w: Linear): tf.Tensor {
  const inDim = w.weight.shape[0];
  const outDim = w.weight.shape[1];
  const lead = x.shape.slice(0, -1);
  const flat = x.reshape([-1, inDim]) as tf.Tensor2D;               // [N, in]
  const y = tf.fused.matMul({ a: flat, b: w.weight, bias: w.bias }); // [N, out]
  return y.reshape([...lead, outDim]);
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

/** [B, T, H*d] → [B, H, T, d] */
export function splitHeads(x: tf.Tensor, heads: number): tf.Tensor4D {
  const [b, t, width] = x.shape;
  return x.reshape([b, t, heads, width / heads]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
}

/** [B, H, T, d] → [B, T, H*d] */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  const [b, h, t, d] = x.shape;
  return x.transpose([0, 2, 1, 3]).reshape([b, t, h * d]) as tf.Tensor3D;
}

/** Row-wise L2 normalisation, x / max(‖x‖, 1e-12), as torch.nn.functional.normalize. */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
  return tf.div(x, tf.maximum(norm, 1e-12));
}
