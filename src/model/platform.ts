import { BlipConfig } from '../config';
import { ImageInput, ImageProcessor } from '../image';
import { BertTokenizer } from '../tokenizer';
import { WeightStore } from '../weights/view';

/**
 * What differs between Node and the browser, supplied by the entry point (src/index.ts and the
 * CLI for Node, src/browser/index.ts for the browser) through usePlatform(): where model files
 * come from, which tfjs backends exist and how one is chosen, and which image objects the
 * platform decodes itself. The model (BlipItm) is one class everywhere and asks the platform;
 * what a platform lacks is refused with an error that says so.
 */

/** tfjs backends by name. Node: auto, webgpu, tensorflow, wasm, cpu. Browser: auto, webgpu, webgl, wasm, cpu. */
export type BackendName = 'auto' | 'webgpu' | 'webgl' | 'tensorflow' | 'wasm' | 'cpu';

/** float32 everywhere; float16 only on the browser's webgl backend (half-float textures). */
export type ComputeDType = 'float32' | 'float16';

/** The backend a model computes on: `model.backend`, the same shape on every platform. */
export interface BackendInUse {
  /** tfjs backend name: 'wasm', 'cpu', 'webgpu', 'webgl' or 'tensorflow'. */
  name: string;
  /** 'float16' only on webgl with half-float textures. */
  dtype: ComputeDType;
  /** wasm: threads of its pool (1 = the single-threaded build); other backends: 0 (they manage their own). */
  threads: number;
}

/** A File or Blob with a name (what <input type=file> gives), described structurally so Node code needs no DOM types. */
export interface NamedBlob {
  readonly name: string;
  readonly size: number;
  slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> };
  text(): Promise<string>;
}

/**
 * Where a model comes from. Node: a local directory or a hub id ("Salesforce/blip-itm-base-coco").
 * Browser: a hub id, a directory URL (absolute or relative to the page), or the user's Files.
 */
export type ModelSource = string | ArrayLike<NamedBlob>;

/** Progress of one file being fetched (bytes so far of total). */
export interface LoadProgress {
  file: string;
  loaded: number;
  total: number;
  /** Browser: served from Cache Storage. */
  fromCache?: boolean;
}

/** Options of BlipItm.load. Each platform refuses settings it cannot honour. */
export interface LoadOptions {
  /** 'auto' (default) or a backend name; see BackendName for what each platform has. */
  backend?: BackendName;
  /** Browser only: 'float16' runs webgl with half-float textures. Default 'float32'. */
  dtype?: ComputeDType;
  /** wasm threads (Node default: every core, at most 8; browser: every core in a cross-origin isolated page). Fixed when wasm first starts. */
  threads?: number;
  /** Hub revision (branch, tag, commit sha or refs/pr/N). Default 'main'. */
  revision?: string;
  /** Hub base URL. Default $HF_ENDPOINT (Node) or https://huggingface.co. */
  endpoint?: string;
  /** Node: access token for private/gated repos; default $HF_TOKEN. Browser: use fetchInit's headers. */
  token?: string;
  /** Node: hub cache directory; default $HF_HUB_CACHE or $HF_HOME/hub. */
  cacheDir?: string;
  /** Node: use the hub cache only; default $HF_HUB_OFFLINE. */
  offline?: boolean;
  /** Idle timeout in ms: Node, per hub connection (default 10000); browser, per response (default 30000). */
  fetchTimeoutMs?: number;
  /** Largest weight file accepted, in bytes (Node hub download: default 8 GiB; browser: 4 GiB). */
  maxFileBytes?: number;
  /** Browser: stops loading; the load rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Node: a bar on stderr when true (default: when stderr is a TTY). Both: a callback gets every step. */
  progress?: boolean | ((event: LoadProgress) => void);
  /** Browser: Cache Storage name, or false for no cache. Default 'blip-itm'. */
  cache?: string | false;
  /** Browser: extra fetch settings, e.g. { headers: { Authorization: 'Bearer …' } } for a gated repository. */
  fetchInit?: RequestInit;
  /** Browser: where tfjs-backend-wasm finds its .wasm files (a URL prefix ending in '/'). */
  wasmPaths?: string;
}

/** What a model is built from, already read (see BlipItm.fromParts). */
export interface ModelParts {
  config: BlipConfig;
  tokenizer: BertTokenizer;
  processor: ImageProcessor;
  /** The checkpoint's tensors. The model takes ownership: its dispose() frees them (also when fromParts fails). */
  weights: WeightStore;
  /** Where the parts came from, for messages and `model.dir` (default: the store's origin). */
  origin?: string;
  /** Called once fromParts has copied every tensor it uses onto the backend (e.g. to close the checkpoint file). */
  release?: () => void;
}

/** Something with a width and height that a platform draws itself (browser: <img>, <canvas>, <video>, ImageBitmap, ImageData). */
export interface DrawableImage {
  readonly width: number;
  readonly height: number;
}

/**
 * What the model accepts as an image: a file path (Node), encoded bytes (Uint8Array, ArrayBuffer,
 * Blob/File) through our own decoders, raw pixels, or (browser) an image the browser decoded.
 */
export type ImageSource = ImageInput | ArrayBuffer | { arrayBuffer(): Promise<ArrayBuffer>; readonly type: string } | DrawableImage;

export interface Platform {
  readonly name: 'node' | 'browser';
  /** Selects (and starts) the backend the options ask for. */
  selectBackend(opts: LoadOptions): Promise<BackendInUse>;
  /** The backend tfjs runs on now, in the shape of BackendInUse. */
  currentBackend(): BackendInUse;
  /** Reads config, tokenizer, processor and weights of a model. */
  readModel(source: ModelSource, opts: LoadOptions): Promise<ModelParts>;
  /** Node: reads a local model directory synchronously. Absent in the browser. */
  readDir?(dir: string): ModelParts;
  /** Turns an image the platform knows into the core's ImageInput; refuses the others. */
  imageInput(image: ImageSource): Promise<ImageInput>;
}

let current: Platform | undefined;

/** Installs the platform (entry points call this once; a later call replaces it). */
export function usePlatform(platform: Platform): void {
  current = platform;
}

/** The installed platform, or undefined (a model built from parts needs none). */
export function installedPlatform(): Platform | undefined {
  return current;
}

/** The installed platform, or an error naming the call that needs one. */
export function requirePlatform(call: string): Platform {
  if (!current) {
    throw new Error(`${call} needs a platform: import BlipItm from 'blip-itm' (Node) or 'blip-itm/browser', not from an internal module`);
  }
  return current;
}

/** Bytes, pixels and paths pass as they are; ArrayBuffers and Blobs become bytes. Platforms add their own kinds. */
export async function plainImageInput(image: ImageSource, platform: string): Promise<ImageInput> {
  if (typeof image === 'string' || image instanceof Uint8Array) return image;
  if (image instanceof ArrayBuffer) return new Uint8Array(image);
  if (typeof image === 'object' && image !== null) {
    if ('data' in image && 'channels' in image) return image;
    if ('arrayBuffer' in image && typeof image.arrayBuffer === 'function') return new Uint8Array(await image.arrayBuffer());
  }
  throw new Error(
    platform === 'node'
      ? 'unsupported image in Node: pass a file path, encoded bytes (Uint8Array, ArrayBuffer, Blob) or raw pixels ({data, width, height, channels})'
      : 'unsupported image: pass encoded bytes (Uint8Array, ArrayBuffer, Blob, File), ImageData, an <img>, <canvas>, <video>, ImageBitmap or OffscreenCanvas',
  );
}
