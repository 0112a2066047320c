import * as tf from '@tensorflow/tfjs';
import { LayerNormWeights, Linear } from '../weights/view';

/** Records a named intermediate tensor (hidden state, attention map) when inspection is on. */
export type Recorder = (name: string, t: tf.Tensor) => void;

/**
 * Whether the active backend is wasm. Its matMul only reaches XNNPACK's GEMM for an
 * untransposed [1, M, K] x [1, K, N] product (anything batched or transposed falls to a naive
 * loop at ~1 GFLOP/s), and it packs the right operand into a private copy that lives as long
 * as that tensor. So on wasm the weight is the LEFT operand (W [out, in] @ xᵀ [in, N]): the
 * activation gets packed (a few MB, freed with it) instead of every weight matrix being
 * duplicated for the model's lifetime.
 */
export function onWasm(): boolean {
  return tf.getBackend() === 'wasm';
}

/**
 * xᵀ [in, N] → W xᵀ [out, N] (no bias: add it with `addColumnBias` if wanted).
 * The layout of choice on wasm; other backends get the same result.
 */
export function linearT(xT: tf.Tensor2D, w: Linear): tf.Tensor2D {
  return tf.matMul(w.weight, xT);
}

/** y [out, N] + b [out] broadcast along rows. */
export function addColumnBias(y: tf.Tensor2D, w: Linear): tf.Tensor2D {
  return tf.add(y, w.bias.reshape([-1, 1]));
}

/** x [..., in] @ Wᵀ + b with W [out, in] (PyTorch's layout), as one 2-D matmul. */
export function linear(x: tf.Tensor, w: Linear): tf.Tensor {
  const [outDim, inDim] = w.weight.shape;
  const lead = x.shape.slice(0, -1);
  const flat = x.reshape([-1, inDim]) as tf.Tensor2D; // [N, in]
  let y: tf.Tensor2D;
  if (onWasm()) {
    // (W xᵀ)ᵀ + b: two cheap transposes of activations buy XNNPACK's GEMM without a packed weight copy.
    y = tf.add(tf.transpose(linearT(tf.transpose(flat), w)), w.bias) as tf.Tensor2D;
  } else {
    y = tf.fused.matMul({ a: flat, b: w.weight, transposeB: true, bias: w.bias }) as tf.Tensor2D; // [N, out]
  }
  return y.reshape([...lead, outDim]);
}

/**
 * x [K, ...] → its K sub-tensors [...] along axis 0. On wasm, slice/unstack/split copy the
 * WHOLE input out of the heap into a JS array for every piece (the Slice kernel calls
 * readSync) and gather is a slow element-wise loop, so each piece is one memcpy inside the
 * heap. That copy is invisible to autograd: pass `differentiable` where gradients must flow.
 */
export function unstack0(x: tf.Tensor, differentiable = false): tf.Tensor[] {
  if (!onWasm() || differentiable || x.dtype !== 'float32') return tf.unstack(x);
  const k = x.shape[0];
  const rest = x.shape.slice(1);
  const n = x.size / k;
  const backend = tf.backend() as unknown as WasmHeap;
  return Array.from({ length: k }, (_, i) => {
    const info = backend.makeOutput(rest, 'float32');
    // Views taken after the allocation, which may have grown (and so replaced) the heap.
    backend.typedArrayFromHeap(info).set(backend.typedArrayFromHeap(x).subarray(i * n, (i + 1) * n));
    return tf.engine().makeTensorFromTensorInfo(info);
  });
}

/** What unstack0 uses of tfjs-backend-wasm's BackendWasm: allocate an output, view a tensor's bytes in the heap. */
interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
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
      const offsets = tf.tensor(Array.from(values, (id) => (Math.floor(id / F16_EXACT_INTS) === block ? id - start : 0)), ids.shape, 'int32');
      const inBlock = tf.tensor(Array.from(values, (id) => (Math.floor(id / F16_EXACT_INTS) === block ? 1 : 0)), [...ids.shape, 1], 'float32');
      const picked = tf.mul(tf.gather(part, offsets), inBlock);
      sum = sum === null ? picked : tf.add(sum, picked);
    }
    return sum ?? tf.gather(table, ids);
  });
}
