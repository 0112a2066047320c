import * as fs from 'fs';
import * as path from 'path';
import { RawImage, RgbImage, decodeImage } from '../image';
import { BlipItm, defaultGradcamLayer } from '../model/blip-itm';
import { ImageEmbedding } from '../model/image-embedding';
import { fitImage } from '../pictures/explain';
import { encodePng } from '../pictures/png';
import { defaultSelection, meanRows } from '../pictures/tokens';
import { AttentionSet, attentionSet, compact, groupWords } from './analysis';
import { declaredSize } from './image-size';
import { SerialQueue } from './queue';

export { groupWords };

/** An error the client caused: sent as this HTTP status with the message. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface InspectorLimits {
  /** Largest accepted upload, in bytes. */
  maxUploadBytes: number;
  /** Largest accepted image, in pixels (width x height as the file declares it). */
  maxPixels: number;
  /** Images kept at once; the oldest upload is dropped past this. */
  maxImages: number;
  /** Captions per request. */
  maxTexts: number;
  /** Characters per caption. */
  maxTextLength: number;
}

/**
 * The decoders accept up to Pillow's limit (~179 MP); a web page has no use for that much, and a
 * 50 MP upload already decodes to 150 MB of pixels, so the inspector stops there.
 */
export const DEFAULT_LIMITS: InspectorLimits = {
  maxUploadBytes: 32 * 1024 * 1024,
  maxPixels: 50_000_000,
  maxImages: 16,
  maxTexts: 64,
  maxTextLength: 2000,
};

export interface ImageInfo {
  id: number;
  name: string;
  width: number;
  height: number;
}

interface StoredImage extends ImageInfo {
  pixels: RawImage;
  embedding?: ImageEmbedding;
  /** Display copy, PNG-encoded once. */
  png?: Buffer;
}

export interface ScoreResult {
  image: number;
  encToken: boolean;
  texts: string[];
  /** ITM match probability per text. */
  probs: number[];
  /** ITM logits [no match, match] per text. */
  logits: [number, number][];
  /** ITC cosine per text. */
  itc: number[];
}

export interface WordMap {
  text: string;
  positions: number[];
  map: number[];
}

export interface GradcamView {
  image: number;
  text: string;
  encToken: boolean;
  layer: number;
  grid: number;
  probability: number;
  tokens: string[];
  /** One grid*grid map per token. */
  maps: number[][];
  /** Whole words (word pieces joined), each the mean of its pieces' maps. */
  words: WordMap[];
  /** The whole caption: mean over the word tokens (no [CLS]/[SEP]), as LAVIS compute_gradcam row 1. */
  caption: WordMap;
}

export interface ModelInfo {
  source: string;
  backend: string;
  textLayers: number;
  textHeads: number;
  visionLayers: number;
  visionHeads: number;
  imageSize: number;
  grid: number;
  defaultGradcamLayer: number;
}

/** Display copies are at most this many pixels on the longer side. */
const DISPLAY_SIDE = 768;
const ATTENTION_CACHE = 4;

/**
 * The model, the images the user named or uploaded, and every computation the page asks for,
 * run one at a time through a queue. Images are addressed by id only: nothing a request says is
 * ever used as a file path.
 */
export class InspectorSession {
  readonly queue = new SerialQueue();
  private readonly images: StoredImage[] = [];
  private nextId = 0;
  private readonly attentionCache = new Map<string, AttentionSet>();

  constructor(
    readonly model: BlipItm,
    readonly source: string,
    readonly texts: string[],
    readonly limits: InspectorLimits = DEFAULT_LIMITS,
  ) {}

  get modelInfo(): ModelInfo {
    const { text, vision } = this.model.config;
    return {
      // A local directory by its name (the page needs no path of this machine), a hub id as it is.
      source: fs.existsSync(this.source) ? path.basename(path.resolve(this.source)) : this.source,
      backend: this.model.backend,
      textLayers: text.numHiddenLayers,
      textHeads: text.numAttentionHeads,
      visionLayers: vision.numHiddenLayers,
      visionHeads: vision.numAttentionHeads,
      imageSize: vision.imageSize,
      grid: Math.floor(vision.imageSize / vision.patchSize),
      defaultGradcamLayer: defaultGradcamLayer(text.numHiddenLayers),
    };
  }

  imageList(): ImageInfo[] {
    return this.images.map(({ id, name, width, height }) => ({ id, name, width, height }));
  }

  /** Adds an image file named on the command line (the only files the inspector reads). */
  addFile(file: string): ImageInfo {
    return this.store(decodeImage(file), path.basename(file));
  }

  /** Adds uploaded bytes after checking their size and declared dimensions. */
  addUpload(bytes: Uint8Array, name: string): ImageInfo {
    this.checkBytes(bytes.length);
    const size = declaredSize(bytes);
    if (!size) throw new RequestError(415, `${name}: not a JPEG or PNG image (or its header is damaged)`);
    this.checkPixels(size.width, size.height, name);
    let rgb: RgbImage;
    try {
      rgb = decodeImage(bytes, name);
    } catch (e) {
      throw new RequestError(422, (e as Error).message);
    }
    this.checkPixels(rgb.width, rgb.height, name);
    return this.store(rgb, name);
  }

  checkBytes(length: number): void {
    const max = this.limits.maxUploadBytes;
    if (length > max) {
      throw new RequestError(413, `image too large: ${mb(length)} MB; the inspector accepts files up to ${mb(max)} MB`);
    }
  }

  private checkPixels(width: number, height: number, name: string): void {
    const max = this.limits.maxPixels;
    if (width * height > max) {
      throw new RequestError(
        413,
        `${name}: ${width}x${height} pixels (${((width * height) / 1e6).toFixed(1)} MP) ` +
          `is over the inspector's limit of ${(max / 1e6).toFixed(1)} MP; downscale it first`,
      );
    }
  }

  private store(rgb: RgbImage, name: string): ImageInfo {
    const image: StoredImage = { id: this.nextId++, name, width: rgb.width, height: rgb.height, pixels: { ...rgb, channels: 3 } };
    this.images.push(image);
    while (this.images.length > this.limits.maxImages) {
      const dropped = this.images.shift();
      dropped?.embedding?.dispose();
    }
    return { id: image.id, name, width: image.width, height: image.height };
  }

  image(id: unknown): StoredImage {
    const found = this.images.find((i) => i.id === id);
    if (!found) throw new RequestError(404, `no image with id ${JSON.stringify(id)} (images are chosen by id from /api/session)`);
    return found;
  }

  /** The display copy as PNG (longer side at most 768 px). */
  displayPng(id: number): Buffer {
    const image = this.image(id);
    if (!image.png)
      image.png = encodePng(
        fitImage(
          { data: Uint8Array.from(image.pixels.data), width: image.width, height: image.height },
          Math.min(DISPLAY_SIDE, Math.max(image.width, image.height)),
        ),
      );
    return image.png;
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

  private async embedding(image: StoredImage): Promise<ImageEmbedding> {
    if (!image.embedding) [image.embedding] = await this.model.encodeImages([image.pixels]);
    return image.embedding;
  }

  score(id: number, texts: string[], encToken: boolean): Promise<ScoreResult> {
    const image = this.image(id);
    return this.queue.run(`scoring ${texts.length} caption${texts.length === 1 ? '' : 's'}`, async () => {
      const embedding = await this.embedding(image);
      const match = await this.model.match([embedding], texts, { encToken });
      const itc = await this.model.similarity([embedding], texts, { encToken });
      return { image: id, encToken, texts, probs: match.probs[0], logits: match.logits[0], itc: itc[0] };
    });
  }

  gradcam(id: number, text: string, layer: number | undefined, encToken: boolean): Promise<GradcamView> {
    const image = this.image(id);
    const layers = this.model.config.text.numHiddenLayers;
    if (layer !== undefined && (!Number.isInteger(layer) || layer < 0 || layer >= layers)) {
      throw new RequestError(400, `layer ${layer} is out of range: the text encoder has layers 0..${layers - 1}`);
    }
    return this.queue.run(`Grad-CAM, text layer ${layer ?? defaultGradcamLayer(layers)}`, async () => {
      const r = await this.model.gradcam(await this.embedding(image), text, { layer, encToken });
      const maps = r.maps.map((m) => Array.from(m, compact));
      const selection = defaultSelection(r.tokens);
      const caption = { text, positions: selection.positions, map: Array.from(meanRows(r.maps, selection.positions), compact) };
      const words = groupWords(r.tokens).map((w) => ({ ...w, map: Array.from(meanRows(r.maps, w.positions), compact) }));
      return {
        image: id,
        text,
        encToken,
        layer: r.layer,
        grid: r.grid,
        probability: r.probability,
        tokens: r.tokens,
        maps,
        words,
        caption,
      };
    });
  }

  attention(id: number, text: string, encToken: boolean): Promise<AttentionSet & { image: number; text: string; encToken: boolean }> {
    const image = this.image(id);
    const key = JSON.stringify([id, text, encToken]);
    return this.queue.run('attention maps', async () => {
      let set = this.attentionCache.get(key);
      if (!set) {
        set = await attentionSet(this.model, image.pixels, text, encToken);
        this.attentionCache.set(key, set);
        for (const old of this.attentionCache.keys()) {
          if (this.attentionCache.size <= ATTENTION_CACHE) break;
          this.attentionCache.delete(old);
        }
      }
      return { image: id, text, encToken, ...set };
    });
  }

  /** Waits for running work, then frees the cached image embeddings (the model is the caller's). */
  async close(): Promise<void> {
    await this.queue.idle();
    for (const image of this.images) image.embedding?.dispose();
    this.images.length = 0;
    this.attentionCache.clear();
  }
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}
