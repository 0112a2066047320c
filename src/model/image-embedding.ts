import * as tf from '@tensorflow/tfjs-core';
import { CrossAttentionSource, crossKeysAndValues } from '../bert/encoder';
import { TextLayerWeights } from '../bert/weights';
import { AttentionTarget } from '../nn/attention';
import { ModelLife } from './owner';

export interface EmbeddingOptions {
  /**
   * How texts cross-attend to this image. 'auto' (default): a block of fewer query rows (texts x
   * tokens) than the head width attends to the raw image states, skipping the key/value
   * projection (cheapest for an image scored once or twice); larger blocks use the projected
   * keys and values, computed once and kept. 'projected': always the kept projections (cheapest
   * for an image scored against many short texts one call at a time). Either way the path
   * depends on shapes and this option only, so repeated calls give identical bits.
   */
  crossAttention?: 'auto' | 'projected';
}

/** Throws unless the options are valid. */
export function checkEmbeddingOptions(opts: EmbeddingOptions, call: string): void {
  const v = opts.crossAttention;
  if (v !== undefined && v !== 'auto' && v !== 'projected')
    throw new Error(`${call}: crossAttention must be 'auto' or 'projected', got ${JSON.stringify(v)}`);
}

/**
 * One encoded image: its post-LayerNorm states [1, T, D], its normalised ITC embedding, and,
 * projected on first use and then kept, each text layer's cross-attention keys and values.
 * Matching an image against many texts (ranking, re-ranking, Grad-CAM) thus runs the vision
 * encoder and the image-side projections once. Whether a text block attends to the projected
 * keys or to the raw states depends on shapes only (nn/attention chooseVariant), so repeated
 * calls give the same bits.
 *
 * It belongs to the model that made it: using it with another model, after its model was
 * disposed, or after dispose() is an error. It holds tensors: call dispose() when done.
 */
export class ImageEmbedding implements CrossAttentionSource {
  private readonly projected = new Map<number, { keysT: tf.Tensor4D; values: tf.Tensor4D }>();
  private raw?: { states: tf.Tensor2D; statesT: tf.Tensor2D };
  private disposed = false;

  constructor(
    /** [1, T, D] post-LayerNorm image states (the model's `vision.last_hidden_state`). */
    readonly states: tf.Tensor3D,
    /** Normalised ITC embedding (vision_proj of the class token), length image_text_hidden_size. */
    readonly itcEmbedding: Float32Array,
    private readonly owner: ModelLife,
    private readonly textLayers: readonly TextLayerWeights[],
    private readonly heads: number,
    private readonly opts: EmbeddingOptions = {},
  ) {}

  /** Throws unless this embedding can be used by the model whose life is `model`. */
  checkUsableBy(model: ModelLife, call: string): void {
    if (this.disposed) throw new Error(`${call}: this ImageEmbedding has been disposed`);
    if (model !== this.owner) {
      throw new Error(`${call}: this ImageEmbedding belongs to another BlipItm model; encode the image with this model`);
    }
  }

  crossTarget(layer: number): AttentionTarget {
    this.checkAlive();
    const w = this.textLayers[layer].crossattention;
    const keysValues = () => this.keysValues(layer);
    if (this.opts.crossAttention === 'projected') return { keysValues };
    return { keysValues, rawStates: () => ({ ...this.rawStates(), key: w.self.key, value: w.self.value }) };
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('this ImageEmbedding has been disposed');
    if (this.owner.disposed) throw new Error('the BlipItm model of this ImageEmbedding has been disposed');
  }

  private keysValues(layer: number): { keysT: tf.Tensor4D; values: tf.Tensor4D } {
    this.checkAlive();
    let kv = this.projected.get(layer);
    if (!kv) {
      kv = tf.tidy(() => {
        const r = crossKeysAndValues(this.states, this.textLayers[layer].crossattention, this.heads);
        return { keysT: tf.keep(r.keysT), values: tf.keep(r.values) };
      });
      this.projected.set(layer, kv);
    }
    return kv;
  }

  private rawStates(): { states: tf.Tensor2D; statesT: tf.Tensor2D } {
    this.checkAlive();
    if (!this.raw) {
      const [, t, e] = this.states.shape;
      this.raw = tf.tidy(() => {
        const states = this.states.reshape([t, e]) as tf.Tensor2D; // [T, E]
        return { states: tf.keep(states.clone()), statesT: tf.keep(states.transpose<tf.Tensor2D>()) }; // [E, T]
      });
    }
    return this.raw;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.states.dispose();
    for (const kv of this.projected.values()) {
      kv.keysT.dispose();
      kv.values.dispose();
    }
    this.raw?.states.dispose();
    this.raw?.statesT.dispose();
    this.projected.clear();
  }
}
