import * as tf from '@tensorflow/tfjs-core';
import { BlipConfig, imageTokens } from '../config';
import { textForward } from '../bert/encoder';
import { itmLogits, matchProbability, textItcEmbeds } from '../heads/heads';
import { ImageProcessor } from '../image';
import { ForwardOptions, probeForward } from './probe/forward';
import { BertTokenizer, Encoding } from '../tokenizer';
import { WeightStore } from '../weights/view';
import { ImageLike, ModelCore, PixelBatch, imageInput, loadModelWeights } from './core';
import { checkGradcamLayer, gradcam } from './gradcam';
import { EmbeddingOptions, ImageEmbedding, checkEmbeddingOptions } from './image-embedding';
import { embedVideo } from './video-embedding';
import { VisionBatchOptions, checkVisionBatch, encodeImageBatches } from './vision-batch';
import { DEFAULT_FRAMES, checkFrameCount } from '../video/sampling';
import { VideoInput, VideoOptions, openVideo, videoName } from '../video/source';
import { PairScore, ScoreProgress, dot, groupPairs } from './pairs';
import { BackendInUse, ImageSource, LoadOptions, ModelParts, ModelSource, installedPlatform, requirePlatform } from './platform';
import { TextOptions, checkImageList, checkTextOptions, checkTexts, displayTokens, encodingTensors, textChunks } from './text-input';

export type { ForwardOptions } from './probe/forward';
export type { TextOptions } from './text-input';
export type { ImageLike, PixelBatch } from './core';
export type { EmbeddingOptions } from './image-embedding';
export type { VisionBatchOptions } from './vision-batch';
export type { VideoInput, VideoOptions } from '../video/source';
export type { PairScore, ScoreProgress } from './pairs';
export type { BackendInUse, BackendName, ComputeDType, ImageSource, LoadOptions, LoadProgress, ModelParts, ModelSource } from './platform';

export interface MatchResult {
  /** Match probability softmax(logits)[1], rows = images, columns = texts. */
  probs: number[][];
  /** ITM logits [no match, match], rows = images, columns = texts. */
  logits: [number, number][][];
}

/** match() and similarity() in one: ITM and ITC of every image x text from one encoding per image. */
export interface ScoreResult extends MatchResult {
  /** ITC cosine similarity, rows = images, columns = texts. */
  itc: number[][];
}

export interface ScoreOptions extends TextOptions {
  /** Called as the work advances (image x text cells, or pairs, done of total). */
  progress?: ScoreProgress;
}

export interface GradcamResult {
  /** Text layer whose cross-attention was used. */
  layer: number;
  /** Side of each map: image_size / patch_size. */
  grid: number;
  /** 1 for an image; for a video embedding, its sampled frames (each map then holds one grid per frame). */
  frames: number;
  /** ITM match probability of the pair. */
  probability: number;
  /** The tokens of the ITM input, [CLS] (or [ENC]) first, [SEP] last. */
  tokens: string[];
  /** One row-major grid x grid map per token, in token order (a video: frames maps stacked, frame-major). */
  maps: Float32Array[];
}

/**
 * BLIP's demo uses text layer 8 of 12 for Grad-CAM; keep that proportion for other depths, but
 * never the last layer, where only [CLS] reaches the ITM head and every word's map is zero.
 */
export function defaultGradcamLayer(layers: number): number {
  return Math.max(0, Math.min(layers - 2, Math.round((layers * 2) / 3)));
}

/** Keys the checkpoint may carry that the model does not need (buffers, not parameters). */
const EXPECTED_UNUSED = new Set(['text_encoder.embeddings.position_ids']);

/**
 * BLIP image-text matching (BlipForImageTextRetrieval): ViT image encoder, BERT text encoder
 * with cross-attention to the image, ITM head and ITC projections. Every method that reads
 * data is async. The probe (every named activation) is `forward`, in probe/forward.
 */
export class BlipItm {
  private constructor(
    private readonly core: ModelCore,
    private readonly store: WeightStore,
    /** Where the model came from: its directory, URL or hub id. */
    readonly dir: string,
    /** The backend it computes on (one shape on every platform). */
    readonly backend: BackendInUse,
    /** Checkpoint tensors the model did not use (besides known buffers). */
    readonly unusedWeights: string[],
  ) {}

  get config(): BlipConfig {
    return this.core.config;
  }
  get tokenizer(): BertTokenizer {
    return this.core.tokenizer;
  }
  get processor(): ImageProcessor {
    return this.core.processor;
  }

  /**
   * Loads a model on the platform of the entry point it was imported from. Node: a local
   * directory or a hub id (fetched once into the Hugging Face cache). Browser: a hub id, a
   * directory URL or the user's Files. Selects the backend first (options.backend, default 'auto').
   */
  static async load(source: ModelSource, opts: LoadOptions = {}): Promise<BlipItm> {
    const platform = requirePlatform('BlipItm.load');
    const backend = await platform.selectBackend(opts);
    return BlipItm.fromParts(await platform.readModel(source, opts), backend);
  }

  /** Node: loads a local model directory on the backend already selected. The browser has no directories: use load(). */
  static fromDir(dir: string): BlipItm {
    const platform = requirePlatform('BlipItm.fromDir');
    if (!platform.readDir) {
      throw new Error(`BlipItm.fromDir reads a directory on disk, which the ${platform.name} has not: use BlipItm.load(url or Files)`);
    }
    return BlipItm.fromParts(platform.readDir(dir), platform.currentBackend());
  }

  /** Builds a model from parts already read (what load and fromDir do after reading them). */
  static fromParts(parts: ModelParts, backend: BackendInUse = currentBackend()): BlipItm {
    const { config, tokenizer, processor, weights: store } = parts;
    const origin = parts.origin ?? store.origin;
    try {
      if (processor.config.width !== config.vision.imageSize || processor.config.height !== config.vision.imageSize) {
        throw new Error(
          `${origin}: preprocessor_config.json size ${processor.config.width}x${processor.config.height} ` +
            `does not match vision_config.image_size ${config.vision.imageSize}`,
        );
      }
      const weights = loadModelWeights(store.root(), config);
      const unused = store.unusedKeys().filter((k) => !EXPECTED_UNUSED.has(k));
      return new BlipItm(new ModelCore(config, tokenizer, processor, weights), store, origin, backend, unused);
    } catch (e) {
      store.dispose();
      throw e;
    } finally {
      parts.release?.();
    }
  }

  /**
   * Encodes images once for reuse with match/similarity/gradcam on this model, the vision model
   * running on batches of opts.visionBatch images (model/vision-batch). The caller disposes the embeddings.
   */
  async encodeImages(images: ImageSource[], opts: EmbeddingOptions & VisionBatchOptions = {}): Promise<ImageEmbedding[]> {
    this.core.life.check('encodeImages');
    checkImageList(images, 'encodeImages');
    checkEmbeddingOptions(opts, 'encodeImages');
    checkVisionBatch(opts, 'encodeImages');
    return encodeImageBatches(this.core, images, opts);
  }

  /**
   * Encodes videos as BLIP's video retrieval does (model/video-embedding): `frames` (default 8)
   * frames sampled by np.arange(0, vlen, vlen / n, dtype=int), each through the image pipeline;
   * the embeddings go wherever an ImageEmbedding goes (match, similarity, gradcam per frame).
   * A video is a path (Node) or URL (browser), the bytes of a file, a browser File/Blob/<video>,
   * or all its decoded frames. The caller disposes the embeddings.
   */
  async encodeVideos(videos: VideoInput[], opts: VideoOptions & EmbeddingOptions & VisionBatchOptions = {}): Promise<ImageEmbedding[]> {
    this.core.life.check('encodeVideos');
    checkImageList(videos, 'encodeVideos');
    checkEmbeddingOptions(opts, 'encodeVideos');
    checkVisionBatch(opts, 'encodeVideos');
    const frames = opts.frames ?? DEFAULT_FRAMES;
    checkFrameCount(frames);
    const out: ImageEmbedding[] = [];
    try {
      for (const [i, video] of videos.entries()) {
        const source = await openVideo(video, videoName(video, i, videos.length), opts.decoder);
        try {
          out.push(await embedVideo(this.core, source, frames, opts));
        } finally {
          await source.close();
        }
        this.core.life.checkStill('encodeVideos');
      }
    } catch (e) {
      out.forEach((x) => x.dispose());
      throw e;
    }
    return out;
  }

  /**
   * An ImageEmbedding rebuilt from stored features (e.g. a retrieval index): `states` is one
   * image's post-LayerNorm `vision.last_hidden_state`, [T x D] row-major (a video's: its frames'
   * states concatenated, [n x T x D]), and `itc` its normalised ITC embedding. The caller disposes it.
   */
  async embeddingFromStates(states: Float32Array, itc: Float32Array, opts: EmbeddingOptions = {}): Promise<ImageEmbedding> {
    this.core.life.check('embeddingFromStates');
    checkEmbeddingOptions(opts, 'embeddingFromStates');
    const v = this.config.vision;
    const tokens = imageTokens(v);
    const perFrame = tokens * v.hiddenSize;
    if (states.length === 0 || states.length % perFrame !== 0) {
      throw new Error(`embeddingFromStates: ${states.length} values, expected (frames x) ${tokens} tokens x ${v.hiddenSize} = ${perFrame}`);
    }
    if (itc.length !== this.config.imageTextHiddenSize) {
      throw new Error(`embeddingFromStates: ITC embedding of ${itc.length} values, expected ${this.config.imageTextHiddenSize}`);
    }
    const frames = states.length / perFrame;
    return this.core.embedding(tf.tensor3d(states, [1, frames * tokens, v.hiddenSize]), itc, opts); // [T*D] → [1, T, D]
  }

  /** Normalised ITC text embeddings (text_proj of the text-only [CLS] state), one per text. */
  async encodeTexts(texts: string[], opts: TextOptions = {}): Promise<Float32Array[]> {
    this.core.life.check('encodeTexts');
    checkTexts(texts, 'encodeTexts');
    checkTextOptions(opts, 'encodeTexts');
    const out: Float32Array[] = [];
    const { text_encoder: text, heads } = this.core.weights;
    for (const chunk of textChunks(texts, opts)) {
      this.core.life.checkStill('encodeTexts');
      const enc = this.core.tokenize(chunk, opts, false);
      const embeds = tf.tidy(() => {
        const [ids, mask] = encodingTensors(enc);
        return textItcEmbeds(textForward(ids, mask, text, this.config.text), heads); // [N, E]
      });
      const data = (await embeds.data()) as Float32Array;
      embeds.dispose();
      const e = this.config.imageTextHiddenSize;
      for (let i = 0; i < chunk.length; i++) out.push(data.slice(i * e, (i + 1) * e));
    }
    return out;
  }

  /** ITM match probabilities and logits for every image x text. */
  async match(images: ImageLike[], texts: string[], opts: TextOptions = {}): Promise<MatchResult> {
    this.core.life.check('match');
    checkImageList(images, 'match');
    checkTexts(texts, 'match');
    checkTextOptions(opts, 'match');
    const result: MatchResult = { probs: [], logits: [] };
    for (const image of images) {
      const { embedding, fresh } = await this.core.embeddingOf(image, 'match');
      try {
        const row = await this.matchOne(embedding, texts, opts);
        result.probs.push(row.probs);
        result.logits.push(row.logits);
      } finally {
        if (fresh) embedding.dispose();
      }
    }
    return result;
  }

  /** ITC cosine similarity for every image x text (rows = images). */
  async similarity(images: ImageLike[], texts: string[], opts: TextOptions = {}): Promise<number[][]> {
    this.core.life.check('similarity');
    checkImageList(images, 'similarity');
    images.forEach((im) => {
      if (im instanceof ImageEmbedding) im.checkUsableBy(this.core.life, 'similarity');
    });
    const textEmbeds = await this.encodeTexts(texts, opts);
    const rows: number[][] = [];
    for (const image of images) {
      const { embedding, fresh } = await this.core.embeddingOf(image, 'similarity');
      if (fresh) embedding.dispose();
      rows.push(textEmbeds.map((t) => dot(embedding.itcEmbedding, t)));
    }
    return rows;
  }

  /**
   * ITM (probabilities and logits) and ITC of every image x text, each image encoded once: the
   * numbers of match() and similarity() for the price of one image encoding.
   */
  async score(images: ImageLike[], texts: string[], opts: ScoreOptions = {}): Promise<ScoreResult> {
    this.core.life.check('score');
    checkImageList(images, 'score');
    checkTexts(texts, 'score');
    checkTextOptions(opts, 'score');
    images.forEach((im) => {
      if (im instanceof ImageEmbedding) im.checkUsableBy(this.core.life, 'score');
    });
    const textEmbeds = await this.encodeTexts(texts, opts);
    const result: ScoreResult = { probs: [], logits: [], itc: [] };
    let done = 0;
    const advance = (n: number) => opts.progress?.((done += n), images.length * texts.length);
    for (const image of images) {
      const { embedding, fresh } = await this.core.embeddingOf(image, 'score');
      try {
        const row = await this.matchOne(embedding, texts, opts, advance);
        result.probs.push(row.probs);
        result.logits.push(row.logits);
        result.itc.push(textEmbeds.map((t) => dot(embedding.itcEmbedding, t)));
      } finally {
        if (fresh) embedding.dispose();
      }
    }
    return result;
  }

  /**
   * Image i with text i (HF's processor on paired inputs; caption validation): ITM and ITC of each
   * pair, in input order, each distinct image (the same path, bytes or embedding object) encoded
   * once. N pairs cost N text passes, where match() on the same lists costs N x N.
   */
  async matchPairs(images: ImageLike[], texts: string[], opts: ScoreOptions = {}): Promise<PairScore[]> {
    this.core.life.check('matchPairs');
    checkImageList(images, 'matchPairs');
    checkTexts(texts, 'matchPairs');
    checkTextOptions(opts, 'matchPairs');
    const groups = groupPairs(images, texts, 'matchPairs');
    images.forEach((im) => {
      if (im instanceof ImageEmbedding) im.checkUsableBy(this.core.life, 'matchPairs');
    });
    const textEmbeds = await this.encodeTexts(texts, opts);
    const out: PairScore[] = new Array(texts.length);
    let done = 0;
    const advance = (n: number) => opts.progress?.((done += n), texts.length);
    for (const group of groups) {
      const { embedding, fresh } = await this.core.embeddingOf(group.image, 'matchPairs');
      try {
        const row = await this.matchOne(
          embedding,
          group.pairs.map((i) => texts[i]),
          opts,
          advance,
        );
        group.pairs.forEach((i, k) => {
          out[i] = { itm: row.probs[k], logits: row.logits[k], itc: dot(embedding.itcEmbedding, textEmbeds[i]) };
        });
      } finally {
        if (fresh) embedding.dispose();
      }
    }
    return out;
  }

  /**
   * The probe: every named activation (nn/names) of every image with every text, or with
   * `only` just the named ones. The returned tensors are the caller's to dispose.
   */
  async forward(
    images: ImageSource[] | PixelBatch,
    texts: string[] | Encoding,
    opts: ForwardOptions = {},
  ): Promise<Map<string, tf.Tensor>> {
    this.core.life.check('forward');
    const inputs = Array.isArray(images) ? await Promise.all(images.map(imageInput)) : images;
    this.core.life.checkStill('forward');
    return probeForward(this.core, inputs, texts, opts);
  }

  /**
   * Grad-CAM of the ITM match score over text layer `layer`'s cross-attention for one image and
   * one text: one grid x grid map per text token ([CLS] first), as BLIP's authors compute it.
   * Default layer: two thirds of the depth (8 of 12 for the base model, as BLIP's demo uses).
   */
  async gradcam(image: ImageLike, text: string, opts: TextOptions & { layer?: number } = {}): Promise<GradcamResult> {
    this.core.life.check('gradcam');
    checkTexts([text], 'gradcam');
    checkTextOptions(opts, 'gradcam');
    const layer = opts.layer ?? defaultGradcamLayer(this.config.text.numHiddenLayers);
    checkGradcamLayer(layer, this.config.text);
    const { text_encoder: weights, heads } = this.core.weights;
    const { embedding, fresh } = await this.core.embeddingOf(image, 'gradcam');
    const frames = embedding.states.shape[1] / imageTokens(this.config.vision);
    try {
      const enc = this.core.tokenize([text], opts, true);
      const [maps, prob] = tf.tidy(() => {
        const [ids, mask] = encodingTensors(enc);
        const { maps, logits } = gradcam(embedding, ids, mask, weights, this.config.text, heads, layer, frames); // [1, L, frames*g, g], [1, 2]
        return [maps, matchProbability(logits)];
      });
      const [, l, , grid] = maps.shape;
      const data = (await maps.data()) as Float32Array;
      const probability = (await prob.data())[0];
      maps.dispose();
      prob.dispose();
      return {
        layer,
        grid,
        frames,
        probability,
        tokens: displayTokens(this.tokenizer, enc.inputIds[0]),
        maps: Array.from({ length: l }, (_, i) => data.slice(i * frames * grid * grid, (i + 1) * frames * grid * grid)),
      };
    } finally {
      if (fresh) embedding.dispose();
    }
  }

  /**
   * Frees every weight. Every later call is refused; a call in flight fails at its next step
   * with "was disposed while ...() was running" (dispose does not wait). Embeddings stay the
   * caller's to dispose, and are refused by every model from now on.
   */
  dispose(): void {
    if (this.core.life.disposed) return;
    this.core.life.end();
    this.store.dispose();
  }

  /** Bytes of weights held on the backend (float32). */
  get weightBytes(): number {
    return this.store.bytes();
  }

  /** ITM of one image with each text, in chunks of opts.batchSize; `onChunk` hears how many texts each chunk scored. */
  private async matchOne(embedding: ImageEmbedding, texts: string[], opts: TextOptions, onChunk?: (texts: number) => void) {
    const probs: number[] = [];
    const logits: [number, number][] = [];
    const { text_encoder: text, heads } = this.core.weights;
    for (const chunk of textChunks(texts, opts)) {
      this.core.life.checkStill('match');
      const enc = this.core.tokenize(chunk, opts, true);
      const out = tf.tidy(() => {
        const [ids, mask] = encodingTensors(enc);
        const states = textForward(ids, mask, text, this.config.text, { image: embedding });
        const l = itmLogits(states, heads);
        return tf.concat([l, matchProbability(l).expandDims(1)], 1); // [N, 3]: logit0, logit1, prob
      });
      const rows = (await out.array()) as number[][];
      out.dispose();
      for (const [l0, l1, p] of rows) {
        logits.push([l0, l1]);
        probs.push(p);
      }
      onChunk?.(chunk.length);
    }
    return { probs, logits };
  }
}

/** The backend tfjs runs on now, as the platform describes it (or a plain description without one). */
function currentBackend(): BackendInUse {
  return installedPlatform()?.currentBackend() ?? { name: tf.getBackend(), dtype: 'float32', threads: 0 };
}
