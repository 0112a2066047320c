/// <reference lib="dom" />
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import {
  BlipItm as CoreBlipItm,
  ForwardOptions,
  GradcamResult,
  MatchResult,
  PairScore,
  PixelBatch,
  ScoreOptions,
  ScoreResult,
  TextOptions,
} from '../model/blip-itm';
import { ImageEmbedding } from '../model/image-embedding';
import { Encoding } from '../tokenizer';
import { BackendChoice, BrowserBackendName, ComputeDType, useBrowserBackend } from './backend';
import { BrowserImage, toImageInput } from './images';
import { FetchModelOptions, ModelSource, loadCore } from './model-files';

export interface BrowserLoadOptions extends FetchModelOptions {
  /** 'auto' (default: webgpu, webgl, wasm, cpu — the first that initialises) or one of them. */
  backend?: BrowserBackendName;
  /** 'float32' (default) or 'float16' (webgl only: every texture stored as half float). */
  dtype?: ComputeDType;
  /**
   * Where tfjs-backend-wasm finds its .wasm files (a URL prefix ending in '/'). The bundled
   * dist/browser/blip-itm.js sets this to its own folder; a bundler build must copy
   * node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm somewhere and say where.
   */
  wasmPaths?: string;
  /** wasm in a cross-origin isolated page: threads to use (default: every core). Fixed when wasm first starts. */
  threads?: number;
}

export type BrowserImageLike = BrowserImage | ImageEmbedding;

/**
 * BLIP image-text matching in the browser: the Node model behind an async, DOM-aware face.
 * Images may be encoded bytes, Blobs/Files or DOM images (see BrowserImage).
 */
export class BlipItm {
  private constructor(
    /** The platform-neutral model (tokenizer, processor, config, forward, ...). */
    readonly core: CoreBlipItm,
    /** The backend in use and its precision. */
    readonly backend: BackendChoice,
  ) {}

  /** Loads a hub id, a directory URL or the user's Files; see BrowserLoadOptions. */
  static async load(source: ModelSource, opts: BrowserLoadOptions = {}): Promise<BlipItm> {
    if (opts.wasmPaths) setWasmPaths(opts.wasmPaths);
    const backend = await useBrowserBackend(opts.backend ?? 'auto', opts.dtype ?? 'float32', { threads: opts.threads });
    const core = await loadCore(source, opts);
    return new BlipItm(core, backend);
  }

  get config() {
    return this.core.config;
  }
  get tokenizer() {
    return this.core.tokenizer;
  }
  get processor() {
    return this.core.processor;
  }

  /** Encodes images once for reuse with match/similarity/gradcam. The caller disposes them. */
  async encodeImages(images: BrowserImage[]): Promise<ImageEmbedding[]> {
    const inputs = await Promise.all(images.map(toImageInput));
    return this.core.encodeImages(inputs);
  }

  /** ITM match probabilities and logits, rows = images, columns = texts. */
  async match(images: BrowserImageLike[], texts: string[], opts: TextOptions = {}): Promise<MatchResult> {
    return this.withImages(images, (ims) => this.core.match(ims, texts, opts));
  }

  /** ITC cosine similarities, rows = images, columns = texts. */
  async similarity(images: BrowserImageLike[], texts: string[], opts: TextOptions = {}): Promise<number[][]> {
    return this.withImages(images, (ims) => this.core.similarity(ims, texts, opts));
  }

  /** ITM and ITC of every image x text, each image encoded once (match and similarity in one call). */
  async score(images: BrowserImageLike[], texts: string[], opts: ScoreOptions = {}): Promise<ScoreResult> {
    return this.withImages(images, (ims) => this.core.score(ims, texts, opts));
  }

  /** Image i with text i: ITM and ITC of each pair, each distinct image (the same object) encoded once. */
  async matchPairs(images: BrowserImageLike[], texts: string[], opts: ScoreOptions = {}): Promise<PairScore[]> {
    return this.withImages(images, (ims) => this.core.matchPairs(ims, texts, opts));
  }

  /** Grad-CAM of the ITM score over one text layer's cross-attention, one map per token. */
  async gradcam(image: BrowserImageLike, text: string, opts: TextOptions & { layer?: number } = {}): Promise<GradcamResult> {
    return this.withImages([image], ([im]) => this.core.gradcam(im, text, opts));
  }

  /** Every activation by name (as the Node forward); the caller disposes the tensors. */
  async forward(
    images: BrowserImage[] | PixelBatch,
    texts: string[] | Encoding,
    opts: ForwardOptions = {},
  ): Promise<Map<string, tf.Tensor>> {
    const inputs = Array.isArray(images) ? await Promise.all(images.map(toImageInput)) : images;
    return this.core.forward(inputs, texts, opts);
  }

  dispose(): void {
    this.core.dispose();
  }

  private async withImages<T>(
    images: BrowserImageLike[],
    run: (ims: (ImageEmbedding | Awaited<ReturnType<typeof toImageInput>>)[]) => Promise<T>,
  ): Promise<T> {
    // The same object converts once, so that matchPairs still sees one image where the caller gave one.
    const converted = new Map<BrowserImageLike, Promise<ImageEmbedding | Awaited<ReturnType<typeof toImageInput>>>>();
    const convert = (im: BrowserImageLike) => {
      let c = converted.get(im);
      if (!c) converted.set(im, (c = im instanceof ImageEmbedding ? Promise.resolve(im) : toImageInput(im)));
      return c;
    };
    const ims = await Promise.all(images.map(convert));
    return run(ims);
  }
}
