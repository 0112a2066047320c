/// <reference lib="dom" />
import { LoadOptions, ModelParts, ModelSource, NamedBlob } from '../model/platform';
import { BlipConfig, parseConfig } from '../config';
import { ImageProcessor } from '../image/processor';
import { BertTokenizer } from '../tokenizer';
import { TensorSource } from '../weights/raw-tensor';
import { WeightStore } from '../weights/view';
import { SafetensorsFile, ShardedSafetensors } from '../weights/safetensors';
import { drain } from '../weights/source';
import { TorchBinFile } from '../weights/torch-bin';
import { parseShardIndex } from '../weights/weight-files';
import { BlobSource, DEFAULT_CACHE, FetchOptions, Fetched, HtmlInsteadOfFile, ProgressCallback, fetchFile } from './fetch';

/** The parts of LoadOptions that say where and how model files are fetched. */
export type FetchModelOptions = Pick<
  LoadOptions,
  'revision' | 'endpoint' | 'cache' | 'progress' | 'fetchInit' | 'signal' | 'fetchTimeoutMs' | 'maxFileBytes'
>;

export const DEFAULT_MAX_WEIGHT_BYTES = 4 * 1024 ** 3;
/** config.json, vocab.txt, tokenizer and shard-index JSON: no real one comes near this. */
export const MAX_TEXT_BYTES = 16 * 1024 * 1024;

/** Weight files in the order they are preferred (as Node's checkpoint.ts). */
const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'] as const;
const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** One file of a model: its bytes, and how to keep (commit) or drop (evict) a cached copy. */
type Got = Pick<Fetched, 'bytes' | 'fromCache' | 'commit' | 'evict'>;

/** Reads the files of one model, whatever the source; null for a file that is not there. */
interface ModelFiles {
  name: string;
  /** Where a cached copy lives, for error messages. */
  cacheName: string | null;
  get(file: string, kind: 'text' | 'weights'): Promise<Got | null>;
}

function urlFiles(base: string, opts: FetchModelOptions): ModelFiles {
  const dir = base.endsWith('/') ? base : `${base}/`;
  const maxWeights = opts.maxFileBytes ?? DEFAULT_MAX_WEIGHT_BYTES;
  if (!(Number.isSafeInteger(maxWeights) && maxWeights > 0))
    throw new Error(`maxFileBytes must be a positive whole number, got ${maxWeights}`);
  return {
    name: dir,
    cacheName: opts.cache === false || typeof caches === 'undefined' ? null : (opts.cache ?? DEFAULT_CACHE),
    get: (file, kind) => {
      const fetchOpts: FetchOptions = {
        cache: opts.cache,
        init: opts.fetchInit,
        signal: opts.signal,
        timeoutMs: opts.fetchTimeoutMs,
        maxBytes: kind === 'text' ? MAX_TEXT_BYTES : maxWeights,
        declaredSize: file.endsWith('.safetensors') ? safetensorsDeclaredSize : undefined,
        progress: kind === 'weights' ? progressCallback(opts) : undefined,
      };
      return fetchFile(dir + file, file, fetchOpts);
    },
  };
}

const noop = async (): Promise<void> => undefined;

function fileListFiles(list: ArrayLike<NamedBlob>, opts: FetchModelOptions): ModelFiles {
  const byName = new Map<string, NamedBlob>();
  for (const f of Array.from(list)) byName.set(f.name, f);
  return {
    name: 'the chosen files',
    cacheName: null,
    get: async (file) => {
      const f = byName.get(file);
      if (!f) return null;
      const bytes = await drain(new BlobSource(file, f), {
        progress: (loaded, total) => progressCallback(opts)?.({ file, loaded, total, fromCache: false }),
      });
      return { bytes, fromCache: false, commit: noop, evict: noop };
    },
  };
}

/** A safetensors file's size from its first bytes: 8 + header length + the end of its last tensor. */
export function safetensorsDeclaredSize(head: Uint8Array): number | null {
  if (head.length < 8) return null;
  const headerLen = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > 100 * 1024 * 1024) throw new Error(`not a valid safetensors file: header length ${headerLen} is implausible`);
  if (8 + headerLen > head.length) return null;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(head.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new Error(`not a valid safetensors file: header is not JSON (${(e as Error).message})`, { cause: e });
  }
  let end = 0;
  for (const [name, v] of Object.entries((header ?? {}) as Record<string, { data_offsets?: unknown }>)) {
    const offs = v?.data_offsets;
    if (name !== '__metadata__' && Array.isArray(offs) && typeof offs[1] === 'number') end = Math.max(end, offs[1]);
  }
  return 8 + headerLen + end;
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

/** The browser has no progress bar of its own: only a callback is used. */
function progressCallback(opts: FetchModelOptions): ProgressCallback | undefined {
  return typeof opts.progress === 'function' ? opts.progress : undefined;
}

function modelFiles(source: ModelSource, opts: FetchModelOptions): ModelFiles {
  if (typeof source === 'string') return urlFiles(modelBaseUrl(source, opts), opts);
  if (typeof source === 'object' && source !== null && typeof source.length === 'number') return fileListFiles(source, opts);
  throw new Error('model source must be a hub id, a directory URL, or an array of Files');
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
}

/** Files read so far: committed to the cache once the model is built, evicted if anything fails. */
class Session {
  private readonly got: Got[] = [];
  constructor(readonly files: ModelFiles) {}

  /** The file, or null when missing (or, for `optional` files, when a web page stands in for it). */
  async get(file: string, kind: 'text' | 'weights', optional: boolean, skipped?: string[]): Promise<Got | null> {
    try {
      const got = await this.files.get(file, kind);
      if (got) this.got.push(got);
      return got;
    } catch (e) {
      if (!(e instanceof HtmlInsteadOfFile) || !optional) throw e;
      skipped?.push(e.message);
      return null;
    }
  }

  async text(file: string, optional: boolean): Promise<string | null> {
    const got = await this.get(file, 'text', optional);
    if (!got) return null;
    const all = new Uint8Array(got.bytes.size);
    got.bytes.readAt(all, 0);
    return new TextDecoder().decode(all);
  }

  /** Runs a parse of `got`'s bytes; a failure evicts the file and says so when it came from the cache. */
  async parse<T>(got: Got | null, fn: () => T): Promise<T> {
    try {
      return fn();
    } catch (e) {
      return this.fail(e, got ? [got] : []);
    }
  }

  async fail(e: unknown, suspects: Got[] = this.got): Promise<never> {
    for (const g of suspects) await g.evict().catch(() => undefined);
    const cached = suspects.some((g) => g.fromCache);
    if (cached && e instanceof Error && this.files.cacheName) {
      throw new Error(
        `${e.message} (read from the browser cache "${this.files.cacheName}"; removed from it, load again to download it afresh)`,
        {
          cause: e,
        },
      );
    }
    throw e;
  }

  async commitAll(): Promise<void> {
    for (const g of this.got) await g.commit();
  }
}

async function required(s: Session, file: string, why: string): Promise<string> {
  const text = await s.text(file, false);
  if (text === null) throw new Error(`${s.files.name}${file}: not found (${why})`);
  return text;
}

async function optionalJson(s: Session, file: string): Promise<object | undefined> {
  const text = await s.text(file, true);
  return text === null ? undefined : (parseJson(text, s.files.name + file) as object);
}

async function openWeights(s: Session): Promise<{ source: TensorSource; file: string }> {
  const skipped: string[] = [];
  for (const file of WEIGHT_FILES) {
    if (file.endsWith('.index.json')) {
      const got = await s.get(file, 'text', true, skipped);
      if (!got) continue;
      const all = new Uint8Array(got.bytes.size);
      got.bytes.readAt(all, 0);
      return { source: await openShards(s, new TextDecoder().decode(all), s.files.name + file), file: s.files.name + file };
    }
    const got = await s.get(file, 'weights', true, skipped);
    if (!got) continue;
    const bytes = got.bytes;
    const source = await s.parse(got, () => (file.endsWith('.bin') ? TorchBinFile.fromBytes(bytes) : SafetensorsFile.fromBytes(bytes)));
    return { source, file: s.files.name + file };
  }
  const also = skipped.length ? `; ${skipped.join('; ')}` : '';
  throw new Error(`${s.files.name}: no weights found (looked for ${WEIGHT_FILES.join(', ')})${also}`);
}

async function openShards(s: Session, indexText: string, where: string): Promise<TensorSource> {
  const index = parseShardIndex(indexText, where); // refuses shard names that leave the model directory
  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const shard of index.shards) {
      const got = await s.get(shard, 'weights', false);
      if (!got) throw new Error(`${where}: shard ${shard} is missing (named by the index)`);
      shards.set(shard, await s.parse(got, () => SafetensorsFile.fromBytes(got.bytes)));
    }
    return ShardedSafetensors.fromShards(where, index.weightMap, shards);
  } catch (e) {
    for (const f of shards.values()) f.close();
    throw e;
  }
}

/**
 * Reads config, tokenizer, processor and weights (the weight file stays open until
 * BlipItm.fromParts releases it). Files are committed to the cache once every one of them has
 * been parsed; a failure evicts them, and says so when they came from the cache.
 */
export async function readModelParts(source: ModelSource, opts: FetchModelOptions = {}): Promise<ModelParts> {
  const s = new Session(modelFiles(source, opts));
  const name = s.files.name;
  let parts: ModelParts;
  try {
    const configText = await required(s, 'config.json', 'a model directory needs config.json');
    const config: BlipConfig = parseConfig(parseJson(configText, name + 'config.json'), name + 'config.json');
    const vocab = await required(s, 'vocab.txt', 'the tokenizer needs vocab.txt');
    const tokenizer = BertTokenizer.fromFiles(
      {
        vocab,
        config: await optionalJson(s, 'tokenizer_config.json'),
        specialTokens: await optionalJson(s, 'special_tokens_map.json'),
      },
      { vocabSize: config.text.vocabSize },
    );
    const preText = await required(
      s,
      'preprocessor_config.json',
      'a model directory needs the preprocessor_config.json that transformers saves',
    );
    const processor = ImageProcessor.fromConfig(parseJson(preText, name + 'preprocessor_config.json') as object);
    const { source: weights, file } = await openWeights(s);
    parts = { config, tokenizer, processor, weights: new WeightStore(weights, file), origin: name, release: () => weights.close() };
  } catch (e) {
    // Network errors and aborts say nothing about the cached files; anything else may come from them.
    if (e instanceof DOMException || /: (cannot fetch|no data from|the connection to) /.test((e as Error).message)) throw e;
    return s.fail(e);
  }
  await s.commitAll();
  return parts;
}
