import { BackendName, useBackend } from './backend';
import { HubOptions, resolveModel } from './hub';

export interface LoadOptions extends HubOptions {
  /** tfjs backend: 'auto' (a hardware GPU via tfjs-node-gpu or WebGPU, else tensorflow, else wasm), 'webgpu', 'tensorflow', 'wasm' or 'cpu'. */
  backend?: BackendName;
  /** wasm only: threads of its multi-threaded build (default: every core, at most 8; 1 = the single-threaded build). */
  threads?: number;
}

/**
 * Node: selects the backend and resolves a local directory or a hub id (fetched once into the
 * Hugging Face cache) to a model directory. BlipItm.load is this followed by BlipItm.fromDir.
 */
export async function prepareModelSource(source: string, opts: LoadOptions = {}): Promise<{ dir: string; backend: string }> {
  const backend = await useBackend(opts.backend ?? 'auto', { threads: opts.threads });
  const dir = await resolveModel(source, opts);
  return { dir, backend };
}
