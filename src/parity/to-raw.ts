import * as tf from '@tensorflow/tfjs-core';
import { RawTensor } from '../weights/raw-tensor';

/**
 * Copies tf tensors to host arrays (for writing dumps and comparing); does not dispose them.
 * Reads asynchronously: GPU backends (webgpu in Node) cannot read synchronously.
 */
export async function toRaw(tensors: Map<string, tf.Tensor>): Promise<Map<string, RawTensor>> {
  const out = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    const dtype = t.dtype === 'int32' ? 'int32' : 'float32';
    out.set(name, { dtype, shape: [...t.shape], data: (await t.data()) as Float32Array | Int32Array });
  }
  return out;
}
