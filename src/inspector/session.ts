// Platform-neutral (no Node built-ins): the inspector server (server.ts) and the serverless page
// (page/api-local.js, through the browser bundle) both run this one session.
import { getColormap, isColormapName } from '../pictures/colormap';
import { defaultSelection, meanRows } from '../pictures/tokens';
import { DEFAULT_MAX_PIXELS } from '../image/limits';
import { RawImage, RgbImage } from '../image';
import { BlipItm, defaultGradcamLayer } from '../model/blip-itm';
import { ImageEmbedding } from '../model/image-embedding';
import { DEFAULT_FRAMES, MAX_FRAMES } from '../video/sampling';
import { VideoDecoder, VideoInput } from '../video/source';
import { AttentionSet, attentionSet, compact, groupWords } from './analysis';
import { PrepareOptions, PreparedImage, prepareFrame, prepareImage } from './prepare';
import { QueueStatus, SerialQueue } from './queue';
import { RequestError } from './request-error';
import {
  AttentionView,
  Colormap,
  DEFAULT_LIMITS,
  GradcamView,
  ImageInfo,
  InspectorLimits,
  ModelInfo,
  ScoreResult,
  SessionInfo,
  WordMap,
  WordSpan,
} from './session-types';
import { PreparedFrame, prepareVideo } from './video';

export { RequestError, groupWords, DEFAULT_LIMITS };
export type * from './session-types';
export type { PrepareOptions, PreparedImage, QueueStatus };

/** Display copies are at most this many pixels on the longer side. */
export const DISPLAY_SIDE = 768;
/** A video frame's display copy is smaller: a video shows its frames side by side. */
export const FRAME_DISPLAY_SIDE = 384;
/** Video embeddings kept at once (8 frames of the base model: 14 MB each); the others are encoded again when asked. */
const VIDEO_EMBEDDINGS = 2;
const ATTENTION_CACHE = 4;

/** What the session uses of a model: the core BlipItm (in the browser, `BlipItm.core`). */
export type InspectorModel = Pick<
  BlipItm,
  'config' | 'tokenizer' | 'processor' | 'encodeImages' | 'encodeVideos' | 'match' | 'similarity' | 'gradcam' | 'forward'
>;

/** Decodes and shrinks an upload. The default runs in the calling thread; the Node server passes a worker's. */
export interface ImagePreparer {
  prepare(bytes: Uint8Array, name: string, opts: PrepareOptions): Promise<PreparedImage>;
  /** Shrinks one decoded video frame (default: in the calling thread, yielding between frames). */
  prepareFrame?(frame: RawImage, name: string, opts: PrepareOptions): Promise<PreparedImage>;
  /** Frees what the preparer holds (a worker thread); called by the session's close(). */
  close?(): Promise<void>;
}

async function prepareFrameInThread(frame: RawImage, name: string, opts: PrepareOptions): Promise<PreparedImage> {
  await new Promise((resolve) => setTimeout(resolve, 0)); // other work runs between frames
  return prepareFrame(frame, name, opts);
}

const inThread: ImagePreparer = {
  prepare: async (bytes, name, opts) => prepareImage(bytes, name, opts),
  prepareFrame: prepareFrameInThread,
};

export interface SessionOptions {
  limits?: InspectorLimits;
  prepare?: ImagePreparer;
  /** Decodes uploaded videos (default: the platform's, through openVideo). */
  videoDecoder?: VideoDecoder;
}

interface StoredImage extends ImageInfo {
  /** At the model's input size: what encodeImages/forward see. */
  modelInput: RgbImage;
  /** Longer side at most DISPLAY_SIDE. */
  display: RgbImage;
  /** A video's sampled frames (modelInput and display are then its first). */
  frames?: PreparedFrame[];
  embedding?: ImageEmbedding;
}

/** The caption's words and its whole-caption span, from the ITM input's tokens. */
function spans(text: string, tokens: string[]): { words: WordSpan[]; caption: WordSpan } {
  return { words: groupWords(tokens), caption: { text, positions: defaultSelection(tokens).positions } };
}

/**
 * The model, the images the user named or uploaded, and every computation the page asks for,
 * run one at a time through a queue. Images are addressed by id only: nothing a request says is
 * ever used as a file path. Each image is kept at the model's input size plus a display copy, so
 * memory stays bounded whatever size the uploads are.
 */
export class InspectorSession {
  readonly queue = new SerialQueue();
  readonly limits: InspectorLimits;
  private readonly preparer: ImagePreparer;
  private readonly videoDecoder?: VideoDecoder;
  /** Ids of the videos whose embeddings are kept, most recently used last. */
  private readonly videoEmbeddings: number[] = [];
  private readonly images: StoredImage[] = [];
  private nextId = 0;
  private readonly attentionCache = new Map<string, AttentionSet>();

  constructor(
    readonly model: InspectorModel,
    /** How the page names the model and its backend (a folder's name, never a path of this machine). */
    readonly describeModel: { source: string; backend: string },
    readonly texts: string[],
    opts: SessionOptions = {},
  ) {
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    this.preparer = opts.prepare ?? inThread;
    this.videoDecoder = opts.videoDecoder;
  }

  get modelInfo(): ModelInfo {
    const { text, vision } = this.model.config;
    return {
      ...this.describeModel,
      textLayers: text.numHiddenLayers,
      textHeads: text.numAttentionHeads,
      visionLayers: vision.numHiddenLayers,
      visionHeads: vision.numAttentionHeads,
      imageSize: vision.imageSize,
      grid: Math.floor(vision.imageSize / vision.patchSize),
      defaultGradcamLayer: defaultGradcamLayer(text.numHiddenLayers),
    };
  }

  /** Everything the page needs to start: GET /api/session. */
  info(): SessionInfo {
    return { model: this.modelInfo, images: this.imageList(), texts: this.texts, limits: this.limits };
  }

  status(): QueueStatus {
    return this.queue.status();
  }

  imageList(): ImageInfo[] {
    return this.images.map(info);
  }

  /**
   * Adds an encoded JPEG, PNG, WebP or GIF after checking its size and declared dimensions. `trusted`
   * (files the user named when starting the inspector) skips the upload limits.
   */
  async addImage(bytes: Uint8Array, name: string, opts: { trusted?: boolean } = {}): Promise<ImageInfo> {
    if (!opts.trusted) this.checkBytes(bytes.length);
    const maxPixels = opts.trusted ? DEFAULT_MAX_PIXELS : this.limits.maxPixels;
    const prepared = await this.preparer.prepare(bytes, name, this.prepareOptions(maxPixels, DISPLAY_SIDE));
    return this.store({ id: this.nextId++, name, ...prepared });
  }

  /**
   * Adds a video: `frames` (default 8, BLIP's) frames sampled as encodeVideos samples them, each
   * kept at the model's input size plus a display copy; the rest of the video is never held.
   * `input` is what openVideo takes (bytes; in the browser a File or Blob too). `trusted` (files
   * the user named when starting the inspector) skips the upload limits and uses `decoder`.
   */
  async addVideo(
    input: VideoInput,
    name: string,
    opts: { frames?: unknown; trusted?: boolean; decoder?: VideoDecoder } = {},
  ): Promise<ImageInfo> {
    const frames = this.checkFrames(opts.frames, opts.trusted ? MAX_FRAMES : this.limits.maxSampledFrames);
    if (!opts.trusted) this.checkVideoBytes(byteLength(input) ?? 0);
    const maxPixels = opts.trusted ? DEFAULT_MAX_PIXELS : this.limits.maxFramePixels;
    const shrink = this.prepareOptions(maxPixels, FRAME_DISPLAY_SIDE);
    const video = await prepareVideo(input, name, {
      frames,
      maxLength: opts.trusted ? Number.MAX_SAFE_INTEGER : this.limits.maxVideoLength,
      maxPixels,
      decoder: opts.trusted ? opts.decoder : this.videoDecoder,
      prepareFrame: (frame, frameName) =>
        this.preparer.prepareFrame ? this.preparer.prepareFrame(frame, frameName, shrink) : prepareFrameInThread(frame, frameName, shrink),
    });
    const { width, height, frameCount, sampled } = video;
    return this.store({ id: this.nextId++, name, width, height, ...video.frames[0], frames: video.frames, video: { frameCount, sampled } });
  }

  /** How uploads are shrunk for this model (plain data: it may cross to a worker). */
  private prepareOptions(maxPixels: number, displaySide: number): PrepareOptions {
    const { config, exifTranspose } = this.model.processor;
    const { width, height, resample, doResize } = config;
    return { width, height, resample, doResize, exifTranspose, maxPixels, displaySide };
  }

  private store(image: StoredImage): ImageInfo {
    this.images.push(image);
    while (this.images.length > this.limits.maxImages) this.images.shift()?.embedding?.dispose();
    return info(image);
  }

  private checkFrames(frames: unknown, max: number): number {
    if (frames === undefined || frames === null) return Math.min(DEFAULT_FRAMES, max);
    if (typeof frames !== 'number' || !Number.isInteger(frames) || frames < 1 || frames > max) {
      throw new RequestError(
        400,
        `frames must be an integer 1..${max}, got ${typeof frames === 'number' ? frames : JSON.stringify(frames)}`,
      );
    }
    return frames;
  }

  checkBytes(length: number): void {
    const max = this.limits.maxUploadBytes;
    if (length > max) {
      throw new RequestError(413, `image too large: ${mb(length)} MB; the inspector accepts images up to ${mb(max)} MB`);
    }
  }

  checkVideoBytes(length: number): void {
    const max = this.limits.maxVideoBytes;
    if (length > max) {
      throw new RequestError(413, `video too large: ${mb(length)} MB; the inspector accepts videos up to ${mb(max)} MB`);
    }
  }

  /** Bytes of pixels held for the images and video frames (model inputs and display copies). */
  storedBytes(): number {
    const copies = (f: PreparedFrame) => f.modelInput.data.byteLength + (f.display === f.modelInput ? 0 : f.display.data.byteLength);
    const distinct = (i: StoredImage) => [...new Set(i.frames ?? [i])];
    return this.images.reduce((n, i) => n + distinct(i).reduce((m, f) => m + copies(f), 0), 0);
  }

  private image(id: unknown): StoredImage {
    const found = this.images.find((i) => i.id === id);
    if (!found) throw new RequestError(404, `no image with id ${JSON.stringify(id)} (images are chosen by id from the session)`);
    return found;
  }

  /** The display copy (longer side at most DISPLAY_SIDE), upright RGB; for a video, of its sampled frame `frame` (0 = first). */
  display(id: number, frame = 0): RgbImage {
    const image = this.image(id);
    const frames = image.frames ?? [image];
    if (!Number.isInteger(frame) || frame < 0 || frame >= frames.length) {
      throw new RequestError(404, `${image.name} has no sampled frame ${frame} (it has ${frames.length})`);
    }
    return frames[frame].display;
  }

  colormap(name: string): Colormap {
    if (!isColormapName(name)) throw new RequestError(400, `unknown colour map "${name}"`);
    return { name, lut: Array.from(getColormap(name).lut, (x) => Math.round(x * 255)) };
  }

  checkTexts(texts: unknown): string[] {
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string'))
      throw new RequestError(400, 'texts must be an array of strings');
    if (texts.length === 0) throw new RequestError(400, 'no captions given');
    if (texts.length > this.limits.maxTexts)
      throw new RequestError(413, `${texts.length} captions; at most ${this.limits.maxTexts} per request`);
    const long = texts.find((t) => t.length > this.limits.maxTextLength);
    if (long !== undefined) throw new RequestError(413, `a caption of ${long.length} characters; at most ${this.limits.maxTextLength}`);
    return texts as string[];
  }

  private checkLayer(layer: unknown): number | undefined {
    if (layer === undefined || layer === null) return undefined;
    const layers = this.model.config.text.numHiddenLayers;
    if (typeof layer !== 'number' || !Number.isInteger(layer) || layer < 0 || layer >= layers) {
      throw new RequestError(400, `layer ${JSON.stringify(layer)} is out of range: the text encoder has layers 0..${layers - 1}`);
    }
    return layer;
  }

  private async embedding(image: StoredImage): Promise<ImageEmbedding> {
    if (image.frames) return this.videoEmbedding(image, image.frames);
    if (!image.embedding) [image.embedding] = await this.model.encodeImages([{ ...image.modelInput, channels: 3 }]);
    return image.embedding;
  }

  /**
   * The sampled frames, in order, as a video of exactly those frames: encodeVideos then samples
   * every one of them (np.arange(0, n, 1)), so the embedding is encodeVideos' of the file.
   */
  private async videoEmbedding(image: StoredImage, frames: PreparedFrame[]): Promise<ImageEmbedding> {
    const order = this.videoEmbeddings;
    if (order.includes(image.id)) order.splice(order.indexOf(image.id), 1);
    order.push(image.id);
    while (order.length > VIDEO_EMBEDDINGS) {
      const old = this.images.find((i) => i.id === order[0]);
      old?.embedding?.dispose();
      if (old) old.embedding = undefined;
      order.shift();
    }
    if (!image.embedding) {
      const pixels = frames.map((f) => ({ ...f.modelInput, channels: 3 as const }));
      [image.embedding] = await this.model.encodeVideos([pixels], { frames: frames.length });
    }
    return image.embedding;
  }

  /** ITM and ITC scores of one image with each text. `signal`: drop the job if the caller gives up while it waits. */
  score(id: number, texts: unknown, encToken: boolean, signal?: AbortSignal): Promise<ScoreResult> {
    const image = this.image(id);
    const checked = this.checkTexts(texts);
    const label = `scoring ${checked.length} caption${checked.length === 1 ? '' : 's'}`;
    return this.queue.run(
      label,
      async () => {
        const embedding = await this.embedding(image);
        const match = await this.model.match([embedding], checked, { encToken });
        const itc = await this.model.similarity([embedding], checked, { encToken });
        return { image: id, encToken, texts: checked, probs: match.probs[0], logits: match.logits[0], itc: itc[0] };
      },
      signal,
    );
  }

  gradcam(id: number, text: unknown, layer: unknown, encToken: boolean, signal?: AbortSignal): Promise<GradcamView> {
    const image = this.image(id);
    const [caption] = this.checkTexts([text]);
    const checkedLayer = this.checkLayer(layer);
    const label = `Grad-CAM, text layer ${checkedLayer ?? defaultGradcamLayer(this.model.config.text.numHiddenLayers)}`;
    return this.queue.run(
      label,
      async () => {
        const r = await this.model.gradcam(await this.embedding(image), caption, { layer: checkedLayer, encToken });
        const withMap = (s: WordSpan): WordMap => ({ ...s, map: Array.from(meanRows(r.maps, s.positions), compact) });
        const { words, caption: whole } = spans(caption, r.tokens);
        return {
          image: id,
          text: caption,
          encToken,
          layer: r.layer,
          grid: r.grid,
          frames: r.frames,
          probability: r.probability,
          tokens: r.tokens,
          maps: r.maps.map((m) => Array.from(m, compact)),
          words: words.map(withMap),
          caption: withMap(whole),
        };
      },
      signal,
    );
  }

  attention(id: number, text: unknown, encToken: boolean, signal?: AbortSignal): Promise<AttentionView> {
    const image = this.image(id);
    if (image.video) {
      throw new RequestError(400, `${image.name} is a video: attention maps are for images only; Grad-CAM shows one map per sampled frame`);
    }
    const [caption] = this.checkTexts([text]);
    const key = JSON.stringify([id, caption, encToken]);
    return this.queue.run(
      'attention maps',
      async () => {
        let set = this.attentionCache.get(key);
        if (!set) {
          set = await attentionSet(this.model, { ...image.modelInput, channels: 3 }, caption, encToken);
          this.attentionCache.set(key, set);
          for (const old of this.attentionCache.keys()) {
            if (this.attentionCache.size <= ATTENTION_CACHE) break;
            this.attentionCache.delete(old);
          }
        }
        return { image: id, text: caption, encToken, ...set, ...spans(caption, set.tokens) };
      },
      signal,
    );
  }

  /** Waits for running work, then frees the cached image embeddings (the model is the caller's). */
  async close(): Promise<void> {
    await this.queue.idle();
    for (const image of this.images) image.embedding?.dispose();
    this.images.length = 0;
    this.attentionCache.clear();
    await this.preparer.close?.();
  }
}

function info({ id, name, width, height, video }: StoredImage): ImageInfo {
  return video ? { id, name, width, height, video } : { id, name, width, height };
}

/** The size of bytes or of a Blob (browser), when the input says. */
function byteLength(input: VideoInput): number | undefined {
  if (input instanceof Uint8Array) return input.length;
  const size = typeof input === 'object' && input !== null && 'size' in input ? input.size : undefined;
  return typeof size === 'number' ? size : undefined;
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
