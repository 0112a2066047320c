/// <reference lib="dom" />
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ImageInput } from '../image/types';
import { BackendInUse, ImageSource, LoadOptions, ModelParts, ModelSource, Platform } from '../model/platform';
import { BrowserBackendName, currentBrowserBackend, useBrowserBackend } from './backend';
import { toImageInput } from './images';
import { readModelParts } from './model-files';

/** LoadOptions that only Node honours (the browser reaches the hub through fetch and Cache Storage). */
const NODE_ONLY = ['token', 'cacheDir', 'offline'] as const;

/**
 * The browser platform: models from a hub id, a directory URL or the user's Files (fetched
 * into Cache Storage), the backends webgpu, webgl (float32 or float16), wasm and cpu, and every
 * image the browser can hand over (see BrowserImage). src/browser/index.ts installs it.
 */
export const browserPlatform: Platform = {
  name: 'browser',
  async selectBackend(opts: LoadOptions): Promise<BackendInUse> {
    for (const key of NODE_ONLY) {
      if (opts[key] !== undefined)
        throw new Error(`BlipItm.load: option "${key}" is for Node; in the browser use fetchInit (headers) and cache`);
    }
    if (opts.backend === 'tensorflow')
      throw new Error('BlipItm.load: backend "tensorflow" (tfjs-node) is Node only (browser: auto, webgpu, webgl, wasm, cpu)');
    if (opts.wasmPaths) setWasmPaths(opts.wasmPaths);
    return useBrowserBackend((opts.backend ?? 'auto') as BrowserBackendName, opts.dtype ?? 'float32', { threads: opts.threads });
  },
  currentBackend: currentBrowserBackend,
  readModel(source: ModelSource, opts: LoadOptions): Promise<ModelParts> {
    return readModelParts(source, opts);
  },
  imageInput(image: ImageSource): Promise<ImageInput> {
    return toImageInput(image);
  },
};
