import * as tf from '@tensorflow/tfjs-core';
import { tensorflowSharesMemory, uploadNow, wasmHeap } from '../tfjs-internals';
import { RawTensor, TensorSource, numel, shapeString } from './raw-tensor';

/** A source that can read a stored float32 tensor's bytes into a caller's buffer. */
interface DirectReader { readInto(key: string, target: Uint8Array): void }

/*
 * How tfjs-node and tfjs-backend-webgpu move a written tensor's values into their own memory
 * (TensorFlow's allocator, a GPU buffer) and then drop the JS array: tfjs-node on a tensor's first
 * use as an op input, webgpu on its first upload. Calling that right after the write (uploadNow)
 * lets one scratch array carry every weight.
 */

/**
 * A new zeroed array of `count` floats whose memory TensorFlow will adopt as the tensor's own.
 * tfjs-node hands a typed array's memory to TF_NewTensor, which uses it in place when it is
 * aligned for Eigen (32 or 64 bytes) and otherwise copies it. JS cannot see addresses, so one
 * spare 64 bytes are allocated and a one-element probe at each 16-byte offset finds the offset
 * TensorFlow shares (a write through the array shows up in TensorFlow's view). If none does,
 * TensorFlow copies and the array is garbage after the upload.
 */
function tensorflowAdoptableArray(count: number): Float32Array {
  const buffer = new Float32Array(count + 16);
  for (let offset = 0; offset < 16; offset += 4) {
    if (tensorflowSharesMemory(buffer.subarray(offset, offset + 1))) return buffer.subarray(offset, offset + count);
  }
  return buffer.subarray(0, count);
}

/**
 * Checkpoint tensors as tf tensors, looked up by their checkpoint names verbatim.
 *
 * The store owns every tensor it creates (dispose() frees them all) and remembers which keys
 * the model used, so unused checkpoint tensors can be reported. Layouts stay as stored:
 * Linear weights keep PyTorch's [out, in] (the model multiplies W @ xᵀ, see nn/ops linearT) and
 * the patch conv's OIHW kernel is read as its [O, C*kh*kw] matrix, so loading never transposes.
 */
export class WeightStore {
  private readonly used = new Set<string>();
  private readonly owned: tf.Tensor[] = [];
  /** Host buffer reused for every weight on webgpu (grown to the largest one). */
  private scratch = new Float32Array(0);

  constructor(private readonly source: TensorSource, readonly origin: string) {}

  root(): WeightView { return new WeightView(this, ''); }

  /** Reads `key`, checking its checkpoint shape against `expected`. */
  raw(key: string, expected: readonly number[]): RawTensor {
    this.checkShape(key, expected);
    this.used.add(key);
    return this.source.read(key);
  }

  /**
   * Reads `key` (checked against `expected`) as a tensor of shape `as` (default: as stored),
   * owned by the store. Float32 weights are read once, straight into the backend's memory: on
   * wasm from the file into its heap; on tensorflow into an array TensorFlow adopts as the
   * tensor's memory; on webgpu into one reused scratch array and from there into a GPU buffer.
   * No JS copy of the weights is left behind (nothing held twice, nothing for the GC to collect).
   */
  tensor(key: string, expected: readonly number[], as: readonly number[] = expected): tf.Tensor {
    const direct = this.readDirect(key, expected, as) ?? this.readThroughScratch(key, expected, as);
    if (direct) return direct;
    const raw = this.raw(key, expected);
    const data = raw.dtype === 'uint8' ? Int32Array.from(raw.data) : raw.data; // tfjs has no uint8 tensors
    const t = tf.tensor(data, [...as], raw.dtype === 'float32' ? 'float32' : 'int32');
    uploadNow(t);
    return this.keep(t);
  }

  /**
   * tensorflow: file → an array TensorFlow adopts in place (one copy in all). webgpu: file →
   * scratch → GPU buffer, the scratch reused for the next weight.
   */
  private readThroughScratch(key: string, expected: readonly number[], as: readonly number[]): tf.Tensor | null {
    const src = this.source as TensorSource & Partial<DirectReader>;
    const name = tf.getBackend();
    if ((name !== 'tensorflow' && name !== 'webgpu') || typeof src.readInto !== 'function' || !src.has(key) || src.storedDType(key) !== 'F32') return null;
    this.checkShape(key, expected);
    const count = numel(expected);
    if (name === 'tensorflow') {
      const values = tensorflowAdoptableArray(count);
      src.readInto(key, new Uint8Array(values.buffer, values.byteOffset, count * 4));
      const t = tf.tensor(values, [...as], 'float32');
      uploadNow(t);
      this.used.add(key);
      return this.keep(t);
    }
    if (this.scratch.length < count) {
      // Loading is synchronous: the scratch lives until the loader returns to the event loop.
      if (this.scratch.length === 0) setTimeout(() => { this.scratch = new Float32Array(0); }, 0); // (setTimeout: browsers have no setImmediate)
      this.scratch = new Float32Array(count);
    }
    const values = this.scratch.subarray(0, count);
    src.readInto(key, new Uint8Array(values.buffer, 0, count * 4));
    const t = tf.tensor(values, [...as], 'float32');
    if (!uploadNow(t)) {
      t.dispose();
      return null;
    }
    this.used.add(key);
    return this.keep(t);
  }

  private readDirect(key: string, expected: readonly number[], as: readonly number[]): tf.Tensor | null {
    const src = this.source as TensorSource & Partial<DirectReader>;
    if (tf.getBackend() !== 'wasm' || typeof src.readInto !== 'function' || !src.has(key) || src.storedDType(key) !== 'F32') return null;
    this.checkShape(key, expected);
    const backend = wasmHeap();
    if (!backend) return null;
    const info = backend.makeOutput([...as], 'float32');
    const t = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor;
    try {
      const heap = backend.typedArrayFromHeap(info); // a view into the heap, taken after the allocation
      src.readInto(key, new Uint8Array(heap.buffer, heap.byteOffset, heap.byteLength));
    } catch (e) {
      t.dispose();
      throw e;
    }
    this.used.add(key);
    return this.keep(t);
  }

  private checkShape(key: string, expected: readonly number[]): void {
    if (!this.source.has(key)) {
      throw new Error(`${this.origin}: missing tensor ${key} (expected shape ${shapeString(expected)})`);
    }
    const found = this.source.shape(key);
    if (found.length !== expected.length || found.some((d, i) => d !== expected[i])) {
      throw new Error(`${this.origin}: tensor ${key} has shape ${shapeString(found)}, expected ${shapeString(expected)}`);
    }
  }

  keep<T extends tf.Tensor>(t: T): T {
    tf.keep(t);
    this.owned.push(t);
    return t;
  }

  /** Checkpoint tensors the model never asked for (buffers such as position_ids are expected here). */
  unusedKeys(): string[] {
    return this.source.keys().filter((k) => !this.used.has(k)).sort();
  }

  /** Bytes held by the tensors this store created. */
  bytes(): number {
    return this.owned.reduce((n, t) => n + t.size * 4, 0);
  }

  dispose(): void {
    for (const t of this.owned) t.dispose();
    this.owned.length = 0;
  }
}

export interface Linear { weight: tf.Tensor2D; bias: tf.Tensor1D }   // weight [out, in], as PyTorch stores it
export interface LayerNormWeights { weight: tf.Tensor1D; bias: tf.Tensor1D; eps: number }

/** A prefix into the checkpoint, as in `w.at('text_encoder.encoder.layer').at(3).get(...)`. */
export class WeightView {
  constructor(private readonly store: WeightStore, readonly prefix: string) {}

  at(name: string | number): WeightView {
    return new WeightView(this.store, this.key(String(name)));
  }

  key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  /** A tensor as stored, after checking its shape. */
  get(name: string, shape: readonly number[]): tf.Tensor {
    return this.store.tensor(this.key(name), shape);
  }

  /** A PyTorch nn.Linear(inDim, outDim) under this prefix: weight [out, in] exactly as stored (see linearT). */
  linear(inDim: number, outDim: number): Linear {
    const weight = this.store.tensor(this.key('weight'), [outDim, inDim]) as tf.Tensor2D;
    return { weight, bias: this.get('bias', [outDim]) as tf.Tensor1D };
  }

  layerNorm(dim: number, eps: number): LayerNormWeights {
    return { weight: this.get('weight', [dim]) as tf.Tensor1D, bias: this.get('bias', [dim]) as tf.Tensor1D, eps };
  }

  /** A Conv2d(channels, outDim, k, stride=k) kernel as a [outDim, channels*k*k] matrix (c, y, x order), a Linear. */
  patchConv(channels: number, outDim: number, k: number): Linear {
    const weight = this.store.tensor(this.key('weight'), [outDim, channels, k, k], [outDim, channels * k * k]) as tf.Tensor2D;
    return { weight, bias: this.get('bias', [outDim]) as tf.Tensor1D };
  }
}
