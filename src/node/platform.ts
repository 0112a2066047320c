/**
 * Node: BlipItm from a model directory on disk or a hub id (the model itself: src/model).
 *
 * How the Node API keeps its shape while the core stays free of Node built-ins: the core classes
 * (BlipItm, BertTokenizer, ImageProcessor, SafetensorsFile) only build from bytes, text or parts;
 * the modules of src/node add the file-system constructors (`load`, `fromDir`, `open`) as static
 * methods when Node code loads them, and export the result typed with those methods. src/index.ts
 * (the Node entry), the CLI and Node features import from here; the browser bundle never does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { HubOptions, resolveModel } from '../hub';
import { BlipItm } from '../model/blip-itm';
import { WeightStore } from '../weights/view';
import { openCheckpoint } from './checkpoint';
import { BackendName, useBackend } from './backend';
import { readConfig } from './read-config';
import { processorFromDir } from './image';
import { tokenizerFromDir } from './tokenizer';

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

/** Loads a local directory on the backend already selected. */
export function blipItmFromDir(dir: string, backend = tf.getBackend()): BlipItm {
  const config = readConfig(dir);
  const tokenizer = tokenizerFromDir(dir, { vocabSize: config.text.vocabSize });
  const processor = processorFromDir(dir);
  const { source, file } = openCheckpoint(dir);
  try {
    return BlipItm.fromParts({ config, tokenizer, processor, weights: new WeightStore(source, file), origin: dir }, backend);
  } finally {
    source.close();
  }
}

/** Loads from a local model directory or a hub id (fetched once into the Hugging Face cache). */
export async function loadBlipItm(source: string, opts: LoadOptions = {}): Promise<BlipItm> {
  const { dir, backend } = await prepareModelSource(source, opts);
  return blipItmFromDir(dir, backend);
}

/** The Node entry's BlipItm: the core class plus `load(source)` and `fromDir(dir)`. */
export const NodeBlipItm: typeof BlipItm & { load: typeof loadBlipItm; fromDir: typeof blipItmFromDir } = Object.assign(BlipItm, {
  load: loadBlipItm,
  fromDir: blipItmFromDir,
});
export type NodeBlipItm = BlipItm;
