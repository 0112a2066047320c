import * as tf from '@tensorflow/tfjs-core';
import { Linear } from '../weights/view';
import { onWasm } from './wasm';

/*
 * PyTorch's nn.Linear, x [..., in] → x Wᵀ + b [..., out], with W [out, in] as the checkpoint
 * stores it. The one place that knows about matmul layouts:
 * - wasm: its matMul reaches XNNPACK's GEMM only for an untransposed 2-D product, and it packs
 *   the RIGHT operand into a private copy that lives as long as that tensor. So the weight is
 *   the left operand, W xᵀ (feature-major): cheap transposes of the activations instead of a
 *   packed copy of every weight matrix for the model's lifetime.
 * - other backends: one fused matMul with transposeB and the bias.
 */

/** x [..., in] → [N, in] and a function putting [N, out] back as [..., out]. */
function flatten(x: tf.Tensor, inDim: number) {
  const lead = x.shape.slice(0, -1);
  return { flat: x.reshape([-1, inDim]) as tf.Tensor2D, unflatten: (y: tf.Tensor) => y.reshape([...lead, -1]) };
}

/** Feature-major: xᵀ [in, N] → W xᵀ + b [out, N]. */
function linearT(xT: tf.Tensor2D, w: Linear): tf.Tensor2D {
  return tf.add(tf.matMul(w.weight, xT), w.bias.reshape([-1, 1]));
}

/** nn.Linear: x [..., in] → [..., out]. */
export function linear(x: tf.Tensor, w: Linear): tf.Tensor {
  return linears(x, [w])[0];
}

/** Several projections of one input (query, key, value): on wasm the input is transposed once. */
export function linears(x: tf.Tensor, ws: readonly Linear[]): tf.Tensor[] {
  const { flat, unflatten } = flatten(x, ws[0].weight.shape[1]); // [N, in]
  if (!onWasm()) return ws.map((w) => unflatten(tf.fused.matMul({ a: flat, b: w.weight, transposeB: true, bias: w.bias })));
  const xT = tf.transpose(flat); // [in, N]
  return ws.map((w) => unflatten(tf.transpose(linearT(xT, w)))); // [out, N] → [N, out]
}

/** Two linears with an activation between, fc2(act(fc1(x))): on wasm the hidden layer stays feature-major. */
export function mlp(x: tf.Tensor, fc1: Linear, act: (h: tf.Tensor) => tf.Tensor, fc2: Linear): tf.Tensor {
  if (!onWasm()) return linear(act(linear(x, fc1)), fc2);
  const { flat, unflatten } = flatten(x, fc1.weight.shape[1]);
  const hT = act(linearT(tf.transpose(flat), fc1)) as tf.Tensor2D; // [F, N]
  return unflatten(tf.transpose(linearT(hT, fc2))); // [D, N] → [N, D]
}
