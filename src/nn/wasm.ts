import * as tf from '@tensorflow/tfjs-core';
import { wasmHeap } from '../tfjs-internals';

/** Whether the active backend is wasm (whose matMul is fast only for untransposed 2-D products). */
export function onWasm(): boolean {
  return tf.getBackend() === 'wasm';
}

/**
 * x [K, ...] → its K sub-tensors [...] along axis 0. On wasm, slice/unstack/split copy the
 * WHOLE input out of the heap into a JS array for every piece (the Slice kernel calls
 * readSync) and gather is a slow element-wise loop, so each piece is one memcpy inside the
 * heap. That copy is invisible to autograd: pass `differentiable` where gradients must flow.
 */
export function unstack0(x: tf.Tensor, differentiable = false): tf.Tensor[] {
  const backend = wasmHeap();
  if (!backend || differentiable || x.dtype !== 'float32') return tf.unstack(x);
  const k = x.shape[0];
  const rest = x.shape.slice(1);
  const n = x.size / k;
  return Array.from({ length: k }, (_, i) => {
    const info = backend.makeOutput(rest, 'float32');
    // Views taken after the allocation, which may have grown (and so replaced) the heap.
    backend.typedArrayFromHeap(info).set(backend.typedArrayFromHeap(x).subarray(i * n, (i + 1) * n));
    return tf.engine().makeTensorFromTensorInfo(info);
  });
}
