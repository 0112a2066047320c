/// <reference lib="dom" />
import { BlipItm as CoreBlipItm } from '../model/blip-itm';
import { BlipConfig, parseConfig } from '../config';
import { ImageProcessor } from '../image/processor';
import { BertTokenizer } from '../tokenizer';
import { TensorSource } from '../weights/raw-tensor';
import { WeightStore } from '../weights/view';
import { SafetensorsFile, ShardedSafetensors } from '../weights/safetensors';
import { ByteReader, drain } from '../weights/source';
import { TorchBinFile } from '../weights/torch-bin';
import { parseShardIndex } from '../weights/weight-files';
import { BlobSource, FetchOptions, ProgressCallback, fetchPieces, fetchText } from './fetch';

/**
 * Where a model comes from in the browser: a hub id ("Salesforce/blip-itm-base-coco"), the URL
 * of a directory holding the model files (absolute, or relative to the page), or the user's
 * own Files (from an <input type=file multiple> or a drop).
 */
export type ModelSource = string | File[] | FileList;

export interface FetchModelOptions {
  /** Hub revision (branch, tag or commit) for hub ids. Default 'main'. */
  revision?: string;
  /** Hub address for hub ids. Default https://huggingface.co. */
  endpoint?: string;
  /** Cache Storage name, or false for no cache. Default 'blip-itm'. */
  cache?: string | false;
  /** Bytes loaded so far, per file (weights: once per piece). */
  progress?: ProgressCallback;
  /** Extra fetch settings, e.g. { headers: { Authorization: 'Bearer …' } } for a gated repository. */
  fetchInit?: RequestInit;
}

/** Weight files in the order they are preferred (as Node's checkpoint.ts). */
const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'] as const;
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** Reads the files of one model, whatever the source. */
interface ModelFiles {
  name: string;
  text(file: string): Promise<string | null>;
  bytes(file: string): Promise<ByteReader | null>;
}

function urlFiles(base: string, opts: FetchModelOptions): ModelFiles {
  const dir = base.endsWith('/') ? base : `${base}/`;
  const fetchOpts: FetchOptions = { cache: opts.cache, init: opts.fetchInit };
  return {
    name: dir,
    text: (file) => fetchText(dir + file, file, fetchOpts),
    bytes: (file) => fetchPieces(dir + file, file, { ...fetchOpts, progress: opts.progress }),
  };
}

function fileListFiles(list: File[] | FileList, opts: FetchModelOptions): ModelFiles {
  const byName = new Map<string, File>();
  for (const f of Array.from(list)) byName.set(f.name, f);
  return {
    name: 'the chosen files',
    text: async (file) => (byName.has(file) ? byName.get(file)!.text() : null),
    bytes: async (file) => {
      const f = byName.get(file);
      if (!f) return null;
      return drain(new BlobSource(file, f), {
        progress: (loaded, total) => opts.progress?.({ file, loaded, total, fromCache: false }),
      });
    },
  };
}

/** The directory URL a string source names: a hub id, or a URL (relative to the page). */
export function modelBaseUrl(source: string, opts: FetchModelOptions = {}): string {
  if (HUB_ID.test(source) && !source.startsWith('.')) {
    const endpoint = (opts.endpoint ?? 'https://huggingface.co').replace(/\/+$/, '');
    return `${endpoint}/${source}/resolve/${encodeURIComponent(opts.revision ?? 'main')}/`;
  }
  const page = (globalThis as { location?: { href: string } }).location?.href;
  return new URL(source, page).href;
}

function modelFiles(source: ModelSource, opts: FetchModelOptions): ModelFiles {
  if (typeof source === 'string') return urlFiles(modelBaseUrl(source, opts), opts);
  if (Array.isArray(source) || (typeof FileList !== 'undefined' && source instanceof FileList)) return fileListFiles(source, opts);
  throw new Error('model source must be a hub id, a directory URL, or an array of Files');
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
}

async function required(files: ModelFiles, file: string, why: string): Promise<string> {
  const text = await files.text(file);
  if (text === null) throw new Error(`${files.name}${file}: not found (${why})`);
  return text;
}

async function optionalJson(files: ModelFiles, file: string): Promise<object | undefined> {
  const text = await files.text(file);
  return text === null ? undefined : (parseJson(text, files.name + file) as object);
}

async function openWeights(files: ModelFiles): Promise<{ source: TensorSource; file: string }> {
  for (const file of WEIGHT_FILES) {
    if (file.endsWith('.index.json')) {
      const text = await files.text(file);
      if (text === null) continue;
      return { source: await openShards(files, text, files.name + file), file: files.name + file };
    }
    const bytes = await files.bytes(file);
    if (!bytes) continue;
    const source = file.endsWith('.bin') ? TorchBinFile.fromBytes(bytes) : SafetensorsFile.fromBytes(bytes);
    return { source, file: files.name + file };
  }
  throw new Error(`${files.name}: no weights found (looked for ${WEIGHT_FILES.join(', ')})`);
}

async function openShards(files: ModelFiles, indexText: string, where: string): Promise<TensorSource> {
  const index = parseShardIndex(indexText, where); // refuses shard names that leave the model directory
  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const shard of index.shards) {
      const bytes = await files.bytes(shard);
      if (!bytes) throw new Error(`${where}: shard ${shard} is missing (named by the index)`);
      shards.set(shard, SafetensorsFile.fromBytes(bytes));
    }
    return ShardedSafetensors.fromShards(where, index.weightMap, shards);
  } catch (e) {
    for (const f of shards.values()) f.close();
    throw e;
  }
}

/** Reads config, tokenizer, processor and weights and builds the model on the current backend. */
export async function loadCore(source: ModelSource, opts: FetchModelOptions = {}): Promise<CoreBlipItm> {
  const files = modelFiles(source, opts);
  const configText = await required(files, 'config.json', 'a model directory needs config.json');
  const config: BlipConfig = parseConfig(parseJson(configText, files.name + 'config.json'), files.name + 'config.json');
  const vocab = await required(files, 'vocab.txt', 'the tokenizer needs vocab.txt');
  const tokenizer = BertTokenizer.fromFiles(
    {
      vocab,
      config: await optionalJson(files, 'tokenizer_config.json'),
      specialTokens: await optionalJson(files, 'special_tokens_map.json'),
    },
    { vocabSize: config.text.vocabSize },
  );
  const preText = await required(
    files,
    'preprocessor_config.json',
    'a model directory needs the preprocessor_config.json that transformers saves',
  );
  const processor = ImageProcessor.fromConfig(parseJson(preText, files.name + 'preprocessor_config.json') as object);
  const { source: weights, file } = await openWeights(files);
  try {
    return CoreBlipItm.fromParts({ config, tokenizer, processor, weights: new WeightStore(weights, file), origin: files.name });
  } finally {
    weights.close(); // the store has copied every tensor it uses onto the backend
  }
}
