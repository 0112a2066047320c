/// <reference lib="dom" />
import { NamedBlob } from '../model/platform';
import { ByteSource, MemoryBytes, PIECE_BYTES } from '../weights/source';

/**
 * Downloads in pieces (HTTP Range requests, PIECE_BYTES each) into Cache Storage, so a second
 * visit reads the pieces back from the cache and makes no request. A file counts as cached
 * only once its manifest (written after its last piece) is there.
 */

export type ProgressCallback = (event: { file: string; loaded: number; total: number; fromCache: boolean }) => void;

export interface FetchOptions {
  /** Cache Storage name; false to neither read nor write the cache. Default 'blip-itm'. */
  cache?: string | false;
  progress?: ProgressCallback;
  pieceBytes?: number;
  /** Passed to fetch (e.g. headers with a token). */
  init?: RequestInit;
}

export const DEFAULT_CACHE = 'blip-itm';

interface Manifest {
  size: number;
  pieces: [number, number][];
}

function withQuery(url: string, key: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}blip-itm-${key}`;
}

async function openCache(name: string | false | undefined): Promise<Cache | null> {
  if (name === false || typeof caches === 'undefined') return null; // Cache Storage needs a secure context
  try {
    return await caches.open(name ?? DEFAULT_CACHE);
  } catch {
    return null;
  }
}

/** Total size from `Content-Range: bytes 0-0/SIZE`, or null when the server hides it. */
function rangeTotal(res: Response): number | null {
  const m = /\/(\d+)\s*$/.exec(res.headers.get('Content-Range') ?? '');
  return m ? Number(m[1]) : null;
}

async function fetchOk(url: string, init: RequestInit, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    throw new Error(`${url}: cannot fetch ${what} (${(e as Error).message}; a cross-origin server must allow it)`, { cause: e });
  }
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} fetching ${what}`);
  return res;
}

async function readCached(cache: Cache, url: string, file: string, progress?: ProgressCallback): Promise<MemoryBytes | null> {
  const manifestRes = await cache.match(withQuery(url, 'manifest'));
  if (!manifestRes) return null;
  const manifest = (await manifestRes.json()) as Manifest;
  const pieces: Uint8Array[] = [];
  let loaded = 0;
  for (const [start, end] of manifest.pieces) {
    const res = await cache.match(withQuery(url, `piece=${start}-${end}`));
    if (!res) return null; // evicted: download again
    const piece = new Uint8Array(await res.arrayBuffer());
    if (piece.length !== end - start) return null;
    pieces.push(piece);
    loaded += piece.length;
    progress?.({ file, loaded, total: manifest.size, fromCache: true });
  }
  return new MemoryBytes(url, pieces);
}

/**
 * The whole file at `url` as pieces in memory, from the cache when complete there; null on 404.
 * Servers without Range support send the whole body, which is streamed into pieces.
 */
export async function fetchPieces(url: string, file: string, opts: FetchOptions = {}): Promise<MemoryBytes | null> {
  const cache = await openCache(opts.cache);
  if (cache) {
    const cached = await readCached(cache, url, file, opts.progress);
    if (cached) return cached;
  }
  const step = opts.pieceBytes ?? PIECE_BYTES;
  const first = await fetch(url, { ...opts.init, headers: { ...headersOf(opts.init), Range: `bytes=0-${step - 1}` } }).catch((e: Error) => {
    throw new Error(`${url}: cannot fetch ${file} (${e.message}; a cross-origin server must allow it)`);
  });
  if (first.status === 404) return null;
  if (!first.ok) throw new Error(`${url}: HTTP ${first.status} fetching ${file}`);
  const pieces: Uint8Array[] = [];
  const ranges: [number, number][] = [];
  const add = async (piece: Uint8Array, total: number): Promise<void> => {
    const start = ranges.length ? ranges[ranges.length - 1][1] : 0;
    pieces.push(piece);
    ranges.push([start, start + piece.length]);
    if (cache) await cache.put(withQuery(url, `piece=${start}-${start + piece.length}`), new Response(piece as Uint8Array<ArrayBuffer>)); // made by arrayBuffer() or new Uint8Array(step)
    opts.progress?.({ file, loaded: start + piece.length, total, fromCache: false });
  };
  if (first.status === 206) {
    const firstPiece = new Uint8Array(await first.arrayBuffer());
    // Without an exposed Content-Range the size is unknown: read until a short piece.
    const total = rangeTotal(first) ?? Number.NaN;
    await add(firstPiece, total);
    let at = firstPiece.length;
    let last = firstPiece.length;
    while (Number.isNaN(total) ? last === step : at < total) {
      const end = Number.isNaN(total) ? at + step : Math.min(at + step, total);
      const res = await fetchOk(url, { ...opts.init, headers: { ...headersOf(opts.init), Range: `bytes=${at}-${end - 1}` } }, file);
      if (res.status !== 206) throw new Error(`${url}: the server ignored a Range request for ${file} (HTTP ${res.status})`);
      const piece = new Uint8Array(await res.arrayBuffer());
      if (!Number.isNaN(total) && piece.length !== end - at)
        throw new Error(`${url}: got ${piece.length} bytes at ${at}, expected ${end - at}`);
      if (piece.length === 0) break;
      await add(piece, total);
      at += piece.length;
      last = piece.length;
    }
  } else {
    await streamPieces(first, step, async (piece, total) => add(piece, total));
  }
  const bytes = new MemoryBytes(url, pieces);
  if (cache) {
    const manifest: Manifest = { size: bytes.size, pieces: ranges };
    await cache.put(withQuery(url, 'manifest'), new Response(JSON.stringify(manifest)));
  }
  return bytes;
}

/** A whole small text file (config, vocabulary), cached like the weights; null on 404. */
export async function fetchText(url: string, file: string, opts: FetchOptions = {}): Promise<string | null> {
  const bytes = await fetchPieces(url, file, { ...opts, progress: undefined });
  if (!bytes) return null;
  const all = new Uint8Array(bytes.size);
  bytes.readAt(all, 0);
  return new TextDecoder().decode(all);
}

async function streamPieces(res: Response, step: number, onPiece: (piece: Uint8Array, total: number) => Promise<void>): Promise<void> {
  const length = Number(res.headers.get('Content-Length') ?? Number.NaN);
  if (!res.body) {
    await onPiece(new Uint8Array(await res.arrayBuffer()), length);
    return;
  }
  const reader = res.body.getReader();
  let buf = new Uint8Array(step);
  let fill = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    let from = 0;
    while (from < value.length) {
      const n = Math.min(step - fill, value.length - from);
      buf.set(value.subarray(from, from + n), fill);
      fill += n;
      from += n;
      if (fill === step) {
        await onPiece(buf, length);
        buf = new Uint8Array(step);
        fill = 0;
      }
    }
  }
  if (fill > 0) await onPiece(buf.slice(0, fill), length);
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const h = init?.headers;
  if (!h) return {};
  if (h instanceof Headers) {
    const out: Record<string, string> = {};
    h.forEach((value, key) => {
      out[key] = value;
    });
    return out;
  }
  if (Array.isArray(h)) return Object.fromEntries(h);
  return { ...h };
}

/** A Blob (a user's File) read with Blob.slice. */
export class BlobSource implements ByteSource {
  readonly size: number;
  constructor(
    readonly name: string,
    private readonly blob: Pick<NamedBlob, 'size' | 'slice'>,
  ) {
    this.size = blob.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    return new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer());
  }
}

/** Removes every cached download (all models) from Cache Storage. */
export async function clearCache(name: string = DEFAULT_CACHE): Promise<boolean> {
  return typeof caches === 'undefined' ? false : caches.delete(name);
}
