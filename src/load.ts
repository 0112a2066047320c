import { BackendName, useBackend } from './backend';
import { HubOptions, resolveModel } from './hub';

export interface LoadOptions extends HubOptions {
  /** tfjs backend: 'auto' (native TensorFlow if installed, else wasm), 'tensorflow', 'wasm' or 'cpu'. */
  backend?: BackendName;
  /** wasm only: run its multi-threaded build with this many threads (opt-in; default 1). */
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
