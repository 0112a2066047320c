import * as tf from '@tensorflow/tfjs';
import { RawTensor, TensorSource, shapeString } from './raw-tensor';

/**
 * Checkpoint tensors as tf tensors, looked up by their checkpoint names verbatim.
 *
 * The store owns every tensor it creates (dispose() frees them all) and remembers which keys
 * the model used, so unused checkpoint tensors can be reported. This is also the one place
 * that converts layouts: PyTorch Linear weights [out, in] become [in, out] (tfjs matMul with
 * transposeB is an order of magnitude slower on wasm), and the patch conv's OIHW kernel becomes
 * a [C*kh*kw, O] matrix for a patchify-then-matmul embedding.
 */
export class WeightStore {
  private readonly used = new Set<string>();
  private readonly owned: tf.Tensor[] = [];

  constructor(private readonly source: TensorSource, readonly origin: string) {}

  root(): WeightView { return new WeightView(this, ''); }

  /** Reads `key`, checking its checkpoint shape against `expected`. */
  raw(key: string, expected: readonly number[]): RawTensor {
    if (!this.source.has(key)) {
      throw new Error(`${this.origin}: missing tensor ${key} (expected shape ${shapeString(expected)})`);
    }
    const found = this.source.shape(key);
    if (found.length !== expected.length || found.some((d, i) => d !== expected[i])) {
      throw new Error(`${this.origin}: tensor ${key} has shape ${shapeString(found)}, expected ${shapeString(expected)}`);
    }
    this.used.add(key);
    return this.source.read(key);
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

export interface Linear { weight: tf.Tensor2D; bias: tf.Tensor1D }   // weight [in, out]
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
    const raw = this.store.raw(this.key(name), shape);
    const data = raw.dtype === 'uint8' ? Int32Array.from(raw.data) : raw.data; // tfjs has no uint8 tensors
    return this.store.keep(tf.tensor(data, raw.shape, raw.dtype === 'float32' ? 'float32' : 'int32'));
  }

  /** A PyTorch nn.Linear(inDim, outDim) under this prefix, weight transposed to [in, out]. */
  linear(inDim: number, outDim: number): Linear {
    const raw = this.store.raw(this.key('weight'), [outDim, inDim]);
    const weight = this.store.keep(tf.tidy(() => tf.tensor2d(raw.data as Float32Array, [outDim, inDim]).transpose<tf.Tensor2D>()));
    return { weight, bias: this.get('bias', [outDim]) as tf.Tensor1D };
  }

  layerNorm(dim: number, eps: number): LayerNormWeights {
    return { weight: this.get('weight', [dim]) as tf.Tensor1D, bias: this.get('bias', [dim]) as tf.Tensor1D, eps };
  }

  /** A Conv2d(channels, outDim, k, stride=k) kernel as a [channels*k*k, outDim] matrix (c, y, x order). */
  patchConv(channels: number, outDim: number, k: number): Linear {
    const raw = this.store.raw(this.key('weight'), [outDim, channels, k, k]);
    const weight = this.store.keep(tf.tidy(() =>
      tf.tensor2d(raw.data as Float32Array, [outDim, channels * k * k]).transpose<tf.Tensor2D>())); // [C*k*k, O]
    return { weight, bias: this.get('bias', [outDim]) as tf.Tensor1D };
  }
}
