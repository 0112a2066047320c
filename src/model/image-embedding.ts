import * as tf from '@tensorflow/tfjs';
import { CrossAttentionSource, crossKeysAndValues } from '../bert/encoder';
import { TextLayerWeights } from '../bert/weights';

/** How many times a layer attends to the raw states before its keys and values are projected and kept. */
const DIRECT_USES = 4;

/**
 * One encoded image: its post-LayerNorm states [1, T, D], its normalised ITC embedding, and,
 * computed on first use and then kept, each text layer's cross-attention keys and values.
 * Matching an image against many texts (ranking, retrieval re-ranking, Grad-CAM) thus runs
 * the vision encoder and the image-side projections once.
 *
 * It holds tensors: call dispose() when done (the model's own temporary ones are disposed for you).
 */
export class ImageEmbedding implements CrossAttentionSource {
  private readonly cache = new Map<number, { keysT: tf.Tensor4D; values: tf.Tensor4D }>();
  private readonly directUses = new Map<number, number>();
  private direct?: { states: tf.Tensor2D; statesT: tf.Tensor2D };
  private disposed = false;

  constructor(
    /** [1, T, D] post-LayerNorm image states (the model's `vision.last_hidden_state`). */
    readonly states: tf.Tensor3D,
    /** Normalised ITC embedding (vision_proj of the class token), length image_text_hidden_size. */
    readonly itcEmbedding: Float32Array,
    private readonly textLayers: readonly TextLayerWeights[],
    private readonly heads: number,
  ) {}

  keysAndValues(layer: number): { keysT: tf.Tensor4D; values: tf.Tensor4D } {
    if (this.disposed) throw new Error('this ImageEmbedding has been disposed');
    let kv = this.cache.get(layer);
    if (!kv) {
      const w = this.textLayers[layer].crossattention;
      kv = tf.tidy(() => {
        const r = crossKeysAndValues(this.states, w, this.heads);
        return { keysT: tf.keep(r.keysT), values: tf.keep(r.values) };
      });
      this.cache.set(layer, kv);
    }
    return kv;
  }

  /**
   * Attend to the states directly (no key/value projection) while that is cheaper: the keys and
   * values of this layer are not computed yet, the query block is narrower than a head, and the
   * image has been met only a few times (after that, projecting once pays for itself).
   */
  statesFor(layer: number, queryRows: number): { states: tf.Tensor2D; statesT: tf.Tensor2D } | undefined {
    const headWidth = this.textLayers[layer].crossattention.query.weight.shape[0] / this.heads;
    const uses = (this.directUses.get(layer) ?? 0) + 1;
    if (this.cache.has(layer) || queryRows >= headWidth || uses > DIRECT_USES) return undefined;
    this.directUses.set(layer, uses);
    if (!this.direct) {
      const [, t, e] = this.states.shape;
      this.direct = tf.tidy(() => {
        const states = this.states.reshape([t, e]) as tf.Tensor2D;                 // [T, E]
        return { states: tf.keep(states.clone()), statesT: tf.keep(states.transpose<tf.Tensor2D>()) }; // [E, T]
      });
    }
    return this.direct;
  }

  get isDisposed(): boolean { return this.disposed; }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.states.dispose();
    for (const kv of this.cache.values()) { kv.keysT.dispose(); kv.values.dispose(); }
    this.direct?.states.dispose();
    this.direct?.statesT.dispose();
    this.cache.clear();
  }
}
