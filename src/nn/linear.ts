import * as tf from '@tensorflow/tfjs';
import { Linear } from '../weights/view';
import { onWasm } from './wasm';

/**
 * PyTorch's nn.Linear: x [..., in] → x Wᵀ + b [..., out], with W [out, in] as the checkpoint
 * stores it. The one place that knows about matmul layouts:
 * - wasm: its matMul reaches XNNPACK's GEMM only for an untransposed 2-D product, and it packs
 *   the RIGHT operand into a private copy that lives as long as that tensor. So the weight is
 *   the left operand, (W xᵀ)ᵀ: two cheap transposes of the activations instead of a packed copy
 *   of every weight matrix for the model's lifetime.
 * - other backends: one fused matMul with transposeB and the bias.
 */
export function linear(x: tf.Tensor, w: Linear): tf.Tensor {
  const [outDim, inDim] = w.weight.shape;
  const lead = x.shape.slice(0, -1);
  const flat = x.reshape([-1, inDim]) as tf.Tensor2D;                                    // [N, in]
  const y = onWasm()
    ? tf.add(tf.transpose(tf.matMul(w.weight, tf.transpose(flat))), w.bias)             // [out, N] → [N, out]
    : tf.fused.matMul({ a: flat, b: w.weight, transposeB: true, bias: w.bias });          // [N, out]
  return y.reshape([...lead, outDim]);
}
