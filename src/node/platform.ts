/**
 * The Node platform: models from a local directory or the Hugging Face hub, the Node backends
 * (tfjs-node when installed, WebGPU through Dawn, multi-threaded wasm), images from files.
 * Node entry points (src/index.ts, the CLI) install it with usePlatform(nodePlatform); the
 * browser bundle never imports this module.
 */
import { HubOptions, resolveModel } from '../hub';
import { ImageInput } from '../image';
import { BlipItm } from '../model/blip-itm';
import { BackendInUse, ImageSource, LoadOptions, ModelParts, ModelSource, Platform, plainImageInput } from '../model/platform';
import { WeightStore } from '../weights/view';
import { BackendName, backendInfo, useBackend } from './backend';
import { openCheckpoint } from './checkpoint';
import { processorFromDir } from './image';
import { readConfig } from './read-config';
import { tokenizerFromDir } from './tokenizer';

export type { LoadOptions } from '../model/platform';

/** LoadOptions that only the browser honours. */
const BROWSER_ONLY = ['cache', 'fetchInit', 'wasmPaths', 'signal'] as const;

function checkNodeOptions(opts: LoadOptions): void {
  for (const key of BROWSER_ONLY) {
    if (opts[key] !== undefined) throw new Error(`BlipItm.load: option "${key}" is for the browser; Node has no use for it`);
  }
  if (opts.dtype !== undefined && opts.dtype !== 'float32') {
    throw new Error(`BlipItm.load: dtype "${opts.dtype}" needs the browser's webgl backend; Node computes in float32`);
  }
  if (opts.backend === 'webgl')
    throw new Error('BlipItm.load: backend "webgl" is browser only (Node: auto, webgpu, tensorflow, wasm, cpu)');
}

function hubOptions(opts: LoadOptions): HubOptions {
  const { progress } = opts;
  return {
    revision: opts.revision,
    cacheDir: opts.cacheDir,
    endpoint: opts.endpoint,
    token: opts.token,
    offline: opts.offline,
    fetchTimeoutMs: opts.fetchTimeoutMs,
    maxFileBytes: opts.maxFileBytes,
    progress: typeof progress === 'function' ? (e) => progress({ file: e.file, loaded: e.done, total: e.total }) : progress,
  };
}

/**
 * Node: selects the backend and resolves a local directory or a hub id (fetched once into the
 * Hugging Face cache) to a model directory. BlipItm.load is this followed by BlipItm.fromDir.
 */
export async function prepareModelSource(source: string, opts: LoadOptions = {}): Promise<{ dir: string; backend: string }> {
  checkNodeOptions(opts);
  const backend = await useBackend((opts.backend ?? 'auto') as BackendName, { threads: opts.threads });
  const dir = await resolveModel(source, hubOptions(opts));
  return { dir, backend };
}

/** Reads config, tokenizer, processor and weights of a local model directory. */
function readDir(dir: string): ModelParts {
  const config = readConfig(dir);
  const tokenizer = tokenizerFromDir(dir, { vocabSize: config.text.vocabSize });
  const processor = processorFromDir(dir);
  const { source, file } = openCheckpoint(dir);
  return { config, tokenizer, processor, weights: new WeightStore(source, file), origin: dir, release: () => source.close() };
}

function currentBackend(): BackendInUse {
  const info = backendInfo();
  return { name: info.backend, dtype: 'float32', threads: info.threads };
}

export const nodePlatform: Platform = {
  name: 'node',
  async selectBackend(opts: LoadOptions): Promise<BackendInUse> {
    checkNodeOptions(opts);
    await useBackend((opts.backend ?? 'auto') as BackendName, { threads: opts.threads });
    return currentBackend();
  },
  currentBackend,
  async readModel(source: ModelSource, opts: LoadOptions): Promise<ModelParts> {
    if (typeof source !== 'string') throw new Error('BlipItm.load in Node takes a directory or a hub id (Files are a browser source)');
    return readDir(await resolveModel(source, hubOptions(opts)));
  },
  readDir,
  imageInput(image: ImageSource): Promise<ImageInput> {
    return plainImageInput(image, 'node');
  },
};

/** The one BlipItm class, under the name Node modules written before the platform split import. */
export { BlipItm as NodeBlipItm };
