import * as tf from '@tensorflow/tfjs';
import { BackendName, useBackend } from '../backend';
import { BlipConfig, imageTokens, readConfig } from '../config';
import { textForward } from '../bert/encoder';
import { TextWeights, loadTextWeights } from '../bert/weights';
import { HeadWeights, imageItcEmbeds, itmLogits, loadHeadWeights, matchProbability, textItcEmbeds } from '../heads/heads';
import { HubOptions, resolveModel } from '../hub';
import { ImageInput, ImageProcessor } from '../image';
import { BertTokenizer, Encoding } from '../tokenizer';
import { openCheckpoint } from '../weights/checkpoint';
import { WeightStore } from '../weights/view';
import { TensorSource } from '../weights/raw-tensor';
import { VisionWeights, loadVisionWeights } from '../vit/weights';
import { visionForward } from '../vit/encoder';
import { Recorder } from '../nn/ops';
import { Collector } from './collector';
import { ImageEmbedding } from './image-embedding';
import { gradcam } from './gradcam';

export interface LoadOptions extends HubOptions {
  /** tfjs backend: 'auto' (native TensorFlow if installed, else wasm), 'tensorflow', 'wasm' or 'cpu'. */
  backend?: BackendName;
  /** wasm only: run its multi-threaded build with this many threads (opt-in; default 1). */
  threads?: number;
}

export interface TextOptions {
  /** Truncate texts to this many tokens ([CLS] and [SEP] included). Default: max_position_embeddings. BLIP's retrieval uses 35. */
  maxLength?: number;
  /** Put [ENC] at position 0 of the ITM input instead of [CLS], as BLIP's own retrieval evaluation does. */
  encToken?: boolean;
  /** Texts per forward batch (bounds memory for long lists). Default 32. */
  batchSize?: number;
}

export interface MatchResult {
  /** Match probability softmax(logits)[1], rows = images, columns = texts. */
  probs: number[][];
  /** ITM logits [no match, match], rows = images, columns = texts. */
  logits: [number, number][][];
}

/** Preprocessed pixels, e.g. transformers' `pixel_values`: [B, 3, S, S] row-major. */
export interface PixelBatch { pixelValues: Float32Array; shape: [number, number, number, number] }

export type ImageLike = ImageInput | ImageEmbedding;

export interface GradcamResult {
  /** Text layer whose cross-attention was used. */
  layer: number;
  /** Side of each map: image_size / patch_size. */
  grid: number;
  /** ITM match probability of the pair. */
  probability: number;
  /** The tokens of the ITM input, [CLS] (or [ENC]) first, [SEP] last. */
  tokens: string[];
  /** One row-major grid x grid map per token, in token order. */
  maps: Float32Array[];
}

/**
 * BLIP's demo uses text layer 8 of 12 for Grad-CAM; keep that proportion for other depths, but
 * never the last layer, where only [CLS] reaches the ITM head and every word's map is zero.
 */
export function defaultGradcamLayer(layers: number): number {
  return Math.max(0, Math.min(layers - 2, Math.round((layers * 2) / 3)));
}

export interface ForwardOptions extends TextOptions {
  /** Record every layer's hidden states and attention probabilities (default true). */
  activations?: boolean;
  /** Also compute `gradcam.{L}` over text layer L's cross-attention. */
  gradcamLayer?: number;
}

/** Keys the checkpoint may carry that the model does not need (buffers, not parameters). */
const EXPECTED_UNUSED = new Set(['text_encoder.embeddings.position_ids']);

function isPixelBatch(x: unknown): x is PixelBatch {
  return typeof x === 'object' && x !== null && 'pixelValues' in x && 'shape' in x;
}

/**
 * BLIP image-text matching (BlipForImageTextRetrieval): ViT image encoder, BERT text encoder
 * with cross-attention to the image, ITM head and ITC projections.
 */
export class BlipItm {
  private disposed = false;

  private constructor(
    readonly dir: string,
    readonly config: BlipConfig,
    readonly tokenizer: BertTokenizer,
    readonly processor: ImageProcessor,
    readonly backend: string,
    /** Checkpoint tensors the model did not use (besides known buffers). */
    readonly unusedWeights: string[],
    private readonly store: WeightStore,
    private readonly vision: VisionWeights,
    private readonly text: TextWeights,
    private readonly heads: HeadWeights,
  ) {}

  /** Loads from a local model directory or a hub id (fetched once into the Hugging Face cache). */
  static async load(source: string, opts: LoadOptions = {}): Promise<BlipItm> {
    const backend = await useBackend(opts.backend ?? 'auto', { threads: opts.threads });
    const dir = await resolveModel(source, opts);
    return BlipItm.fromDir(dir, backend);
  }

  /** Loads a local directory on the backend already selected. */
  static fromDir(dir: string, backend = tf.getBackend()): BlipItm {
    const config = readConfig(dir);
    const tokenizer = BertTokenizer.fromDir(dir);
    const processor = ImageProcessor.fromDir(dir);
    if (processor.config.width !== config.vision.imageSize || processor.config.height !== config.vision.imageSize) {
      throw new Error(`${dir}: preprocessor_config.json size ${processor.config.width}x${processor.config.height} `
        + `does not match vision_config.image_size ${config.vision.imageSize}`);
    }
    const { source, file } = openCheckpoint(dir);
    return BlipItm.fromParts({ name: dir, config, tokenizer, processor, weights: source, weightsName: file, backend });
  }

  /**
   * Builds a model from parts already read (no file system: the browser loader uses this).
   * Closes `weights` when done, whether or not it succeeds.
   */
  static fromParts(parts: {
    name: string; config: BlipConfig; tokenizer: BertTokenizer; processor: ImageProcessor;
    weights: TensorSource; weightsName: string; backend?: string;
  }): BlipItm {
    const { name, config, tokenizer, processor, weights } = parts;
    const store = new WeightStore(weights, parts.weightsName);
    try {
      const root = store.root();
      const vision = loadVisionWeights(root.at('vision_model'), config.vision);
      const text = loadTextWeights(root.at('text_encoder'), config.text);
      const heads = loadHeadWeights(root, config);
      const unused = store.unusedKeys().filter((k) => !EXPECTED_UNUSED.has(k));
      return new BlipItm(name, config, tokenizer, processor, parts.backend ?? tf.getBackend(), unused, store, vision, text, heads);
    } catch (e) {
      store.dispose();
      throw e;
    } finally {
      weights.close();
    }
  }

  /** Encodes images once for reuse with match/similarity. The caller disposes the embeddings. */
  encodeImages(images: ImageInput[]): ImageEmbedding[] {
    this.checkAlive();
    const out: ImageEmbedding[] = [];
    try {
      for (const image of images) out.push(this.embedPixels(this.pixels([image])));
    } catch (e) {
      out.forEach((x) => x.dispose());
      throw e;
    }
    return out;
  }

  /**
   * An ImageEmbedding rebuilt from stored features (e.g. a retrieval index): `states` is one
   * image's post-LayerNorm `vision.last_hidden_state`, [T x D] row-major, and `itc` its
   * normalised ITC embedding. The caller disposes it.
   */
  embeddingFromStates(states: Float32Array, itc: Float32Array): ImageEmbedding {
    this.checkAlive();
    const v = this.config.vision;
    const tokens = imageTokens(v);
    if (states.length !== tokens * v.hiddenSize) {
      throw new Error(`embeddingFromStates: ${states.length} values, expected ${tokens} tokens x ${v.hiddenSize} = ${tokens * v.hiddenSize}`);
    }
    if (itc.length !== this.config.imageTextHiddenSize) {
      throw new Error(`embeddingFromStates: ITC embedding of ${itc.length} values, expected ${this.config.imageTextHiddenSize}`);
    }
    const tensor = tf.tensor3d(states, [1, tokens, v.hiddenSize]); // [T*D] → [1, T, D]
    return new ImageEmbedding(tensor, itc, this.text.layers, this.config.text.numAttentionHeads);
  }

  /** Normalised ITC text embeddings (text_proj of the text-only [CLS] state), one per text. */
  encodeTexts(texts: string[], opts: TextOptions = {}): Float32Array[] {
    this.checkAlive();
    const out: Float32Array[] = [];
    for (const chunk of this.textChunks(texts, opts)) {
      const embeds = this.textEmbedsTensor(chunk, opts);
      const data = embeds.dataSync() as Float32Array;
      embeds.dispose();
      const e = this.config.imageTextHiddenSize;
      for (let i = 0; i < chunk.length; i++) out.push(data.slice(i * e, (i + 1) * e));
    }
    return out;
  }

  /** encodeTexts reading the GPU asynchronously (webgpu's synchronous read fails in headless Chromium). */
  private async encodeTextsAsync(texts: string[], opts: TextOptions): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const chunk of this.textChunks(texts, opts)) {
      const embeds = this.textEmbedsTensor(chunk, opts);
      const data = (await embeds.data()) as Float32Array;
      embeds.dispose();
      const e = this.config.imageTextHiddenSize;
      for (let i = 0; i < chunk.length; i++) out.push(data.slice(i * e, (i + 1) * e));
    }
    return out;
  }

  private textEmbedsTensor(chunk: string[], opts: TextOptions): tf.Tensor {
    const enc = this.tokenize(chunk, opts, false);
    return tf.tidy(() => {
      const [ids, mask] = this.encodingTensors(enc);
      return textItcEmbeds(textForward(ids, mask, this.text, this.config.text), this.heads);
    });
  }

  /** ITM match probabilities and logits for every image x text. */
  async match(images: ImageLike[], texts: string[], opts: TextOptions = {}): Promise<MatchResult> {
    this.checkAlive();
    this.checkTexts(texts);
    const result: MatchResult = { probs: [], logits: [] };
    for (const image of images) {
      const embedding = image instanceof ImageEmbedding ? image : await this.embedPixelsAsync(this.pixels([image]));
      try {
        const row = await this.matchOne(embedding, texts, opts);
        result.probs.push(row.probs);
        result.logits.push(row.logits);
      } finally {
        if (embedding !== image) embedding.dispose();
      }
    }
    return result;
  }

  /** ITC cosine similarity for every image x text (rows = images). */
  async similarity(images: ImageLike[], texts: string[], opts: TextOptions = {}): Promise<number[][]> {
    this.checkAlive();
    this.checkTexts(texts);
    const textEmbeds = await this.encodeTextsAsync(texts, opts);
    const rows: number[][] = [];
    for (const image of images) {
      const v = image instanceof ImageEmbedding ? image.itcEmbedding : await this.imageItc(image);
      rows.push(textEmbeds.map((t) => dot(v, t)));
    }
    return rows;
  }

  /**
   * The full forward of every image with every text (image-major pairs), returning the tensors
   * transformers' reference dump names (`vision.hidden_states.{i}`, `itm.text.cross_attentions.{i}`,
   * `itm.logits`, `itc.cosine`, ...). The returned tensors are the caller's to dispose.
   */
  async forward(images: ImageInput[] | PixelBatch, texts: string[] | Encoding,
    opts: ForwardOptions = {}): Promise<Map<string, tf.Tensor>> {
    this.checkAlive();
    const pixels = isPixelBatch(images) ? images : this.pixels(images);
    const encoding = Array.isArray(texts) ? this.tokenize(this.checkTexts(texts), opts, false) : texts;
    const itmEncoding = opts.encToken ? withFirstToken(encoding, this.tokenizer.encId) : encoding;
    const record = opts.activations !== false;
    const col = new Collector();
    const [n, c, h, w] = pixels.shape;
    const per = c * h * w;
    try {
      tf.tidy(() => {
        col.record('pixel_values', tf.tensor4d(pixels.pixelValues, [n, c, h, w]));
        const [ids, mask] = this.encodingTensors(encoding);
        col.record('input_ids', ids);
        col.record('attention_mask', mask);
      });
      for (let i = 0; i < n; i++) {
        const one = { pixelValues: pixels.pixelValues.subarray(i * per, (i + 1) * per), shape: [1, c, h, w] as PixelBatch['shape'] };
        const embedding = await this.embedPixelsAsync(one, record ? col.record : undefined);
        try {
          if (!record) col.record('vision.last_hidden_state', embedding.states); // else recorded by the encoder
          tf.tidy(() => {
            const [ids, mask] = this.encodingTensors(itmEncoding);
            const states = textForward(ids, mask, this.text, this.config.text,
              { image: embedding, rec: record ? col.record : undefined, prefix: 'itm.text' });
            const logits = itmLogits(states, this.heads);
            col.record('itm.logits', logits.expandDims(0));
            col.record('itm.probs', matchProbability(logits).expandDims(0));
            if (opts.gradcamLayer !== undefined) {
              col.record(`gradcam.${opts.gradcamLayer}`,
                gradcam(embedding, ids, mask, this.text, this.config.text, this.heads, opts.gradcamLayer));
            }
          });
        } finally {
          embedding.dispose();
        }
      }
      tf.tidy(() => {
        const [ids, mask] = this.encodingTensors(encoding);
        const textStates = textForward(ids, mask, this.text, this.config.text,
          { rec: record ? col.record : undefined, prefix: 'itc.text' });
        const textEmbeds = textItcEmbeds(textStates, this.heads);
        col.record('itc.text_embeds', textEmbeds);
      });
      const out = col.finish();
      tf.tidy(() => {
        const imageEmbeds = imageItcEmbeds(out.get('vision.last_hidden_state') as tf.Tensor3D, this.heads);
        out.set('itc.image_embeds', tf.keep(imageEmbeds));
        out.set('itc.cosine', tf.keep(tf.matMul(imageEmbeds, out.get('itc.text_embeds') as tf.Tensor2D, false, true)));
      });
      return out;
    } catch (e) {
      col.dispose();
      throw e;
    }
  }

  /**
   * Grad-CAM of the ITM match score over text layer `layer`'s cross-attention for one image and
   * one text: one grid x grid map per text token ([CLS] first), as BLIP's authors compute it.
   * Default layer: two thirds of the depth (8 of 12 for the base model, as BLIP's demo uses).
   */
  async gradcam(image: ImageLike, text: string, opts: TextOptions & { layer?: number } = {}): Promise<GradcamResult> {
    this.checkAlive();
    this.checkTexts([text]);
    const layer = opts.layer ?? defaultGradcamLayer(this.config.text.numHiddenLayers);
    const embedding = image instanceof ImageEmbedding ? image : await this.embedPixelsAsync(this.pixels([image]));
    try {
      const enc = this.tokenize([text], opts, true);
      const [maps, prob] = tf.tidy(() => {
        const [ids, mask] = this.encodingTensors(enc);
        const cams = gradcam(embedding, ids, mask, this.text, this.config.text, this.heads, layer); // [1, L, g, g]
        const states = textForward(ids, mask, this.text, this.config.text, { image: embedding });
        return [cams, matchProbability(itmLogits(states, this.heads))];
      });
      const [, l, grid] = maps.shape;
      const data = (await maps.data()) as Float32Array;
      const probability = (await prob.data())[0];
      maps.dispose();
      prob.dispose();
      const tokens = enc.inputIds[0].map((id) => this.tokenizer.idToToken(id) ?? (id === this.tokenizer.encId ? '[ENC]' : `[${id}]`));
      return {
        layer, grid, probability, tokens,
        maps: Array.from({ length: l }, (_, i) => data.slice(i * grid * grid, (i + 1) * grid * grid)),
      };
    } finally {
      if (embedding !== image) embedding.dispose();
    }
  }

  /** Frees every weight. The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.store.dispose();
  }

  /** Bytes of weights held on the backend (float32). */
  get weightBytes(): number { return this.store.bytes(); }

  // ---- internals -------------------------------------------------------------------------

  private async matchOne(embedding: ImageEmbedding, texts: string[], opts: TextOptions) {
    const probs: number[] = [];
    const logits: [number, number][] = [];
    for (const chunk of this.textChunks(texts, opts)) {
      const enc = this.tokenize(chunk, opts, true);
      const out = tf.tidy(() => {
        const [ids, mask] = this.encodingTensors(enc);
        const states = textForward(ids, mask, this.text, this.config.text, { image: embedding });
        const l = itmLogits(states, this.heads);
        return tf.concat([l, matchProbability(l).expandDims(1)], 1); // [N, 3]: logit0, logit1, prob
      });
      const rows = (await out.array()) as number[][];
      out.dispose();
      for (const [l0, l1, p] of rows) { logits.push([l0, l1]); probs.push(p); }
    }
    return { probs, logits };
  }

  private embedPixels(pixels: PixelBatch, rec?: Recorder): ImageEmbedding {
    const { states, itc } = this.visionTensors(pixels, rec);
    const itcData = itc.dataSync() as Float32Array;
    itc.dispose();
    return new ImageEmbedding(states, itcData, this.text.layers, this.config.text.numAttentionHeads);
  }

  /** embedPixels reading the GPU asynchronously (webgpu's synchronous read fails in headless Chromium). */
  private async embedPixelsAsync(pixels: PixelBatch, rec?: Recorder): Promise<ImageEmbedding> {
    const { states, itc } = this.visionTensors(pixels, rec);
    let itcData: Float32Array;
    try {
      itcData = (await itc.data()) as Float32Array;
    } catch (e) {
      states.dispose();
      throw e;
    } finally {
      itc.dispose();
    }
    return new ImageEmbedding(states, itcData, this.text.layers, this.config.text.numAttentionHeads);
  }

  private visionTensors(pixels: PixelBatch, rec?: Recorder): { states: tf.Tensor3D; itc: tf.Tensor } {
    return tf.tidy(() => {
      const input = tf.tensor4d(pixels.pixelValues, pixels.shape);
      const s = visionForward(input, this.vision, this.config.vision, rec);
      return { states: s, itc: imageItcEmbeds(s, this.heads) };
    });
  }

  private async imageItc(image: ImageInput): Promise<Float32Array> {
    const e = await this.embedPixelsAsync(this.pixels([image]));
    e.dispose();
    return e.itcEmbedding;
  }

  private pixels(images: ImageInput[]): PixelBatch {
    const { pixelValues, shape } = this.processor.preprocess(images);
    return { pixelValues, shape };
  }

  private tokenize(texts: string[], opts: TextOptions, forItm: boolean): Encoding {
    const maxLength = Math.min(opts.maxLength ?? Infinity, this.config.text.maxPositionEmbeddings);
    return this.tokenizer.encodeBatch(texts, { maxLength, padding: 'longest', encToken: forItm && !!opts.encToken });
  }

  private encodingTensors(enc: Encoding): [tf.Tensor2D, tf.Tensor2D] {
    return [tf.tensor2d(enc.inputIds, undefined, 'int32'), tf.tensor2d(enc.attentionMask, undefined, 'int32')];
  }

  private *textChunks(texts: string[], opts: TextOptions): Generator<string[]> {
    const size = Math.max(1, opts.batchSize ?? 32);
    for (let i = 0; i < texts.length; i += size) yield texts.slice(i, i + size);
  }

  private checkTexts(texts: string[]): string[] {
    if (!Array.isArray(texts) || texts.length === 0) throw new Error('no text given');
    texts.forEach((t, i) => { if (typeof t !== 'string') throw new Error(`text ${i} is not a string`); });
    return texts;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('this BlipItm model has been disposed');
  }
}

function withFirstToken(enc: Encoding, id: number): Encoding {
  return { inputIds: enc.inputIds.map((row) => [id, ...row.slice(1)]), attentionMask: enc.attentionMask };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
