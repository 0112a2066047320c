/// <reference lib="dom" />
import { NamedBlob } from '../model/platform';
import { ByteSource, MemoryBytes, PIECE_BYTES } from '../weights/source';
import { Transfer } from './transfer';

/**
 * Downloads in pieces (HTTP Range requests, PIECE_BYTES each) into Cache Storage, so a second
 * visit reads the pieces back from the cache. Every download is bounded: no more bytes than the
 * file's kind allows (`maxBytes`), than the response claims (Content-Length, Content-Range) or
 * than the file's own header declares; and timed: a response that brings nothing for `timeoutMs`
 * is dropped. A file counts as cached only once its manifest is written, and that happens only
 * when the caller has validated the bytes (`commit`); a cached file is revalidated with its
 * ETag or Last-Modified before use.
 */

export type ProgressCallback = (event: { file: string; loaded: number; total: number; fromCache: boolean }) => void;

export interface FetchOptions {
  /** Cache Storage name; false to neither read nor write the cache. Default 'blip-itm'. */
  cache?: string | false;
  progress?: ProgressCallback;
  pieceBytes?: number;
  /** Passed to fetch (e.g. headers with a token). */
  init?: RequestInit;
  /** Stops the download (the error is the signal's reason). */
  signal?: AbortSignal;
  /** Milliseconds without a byte before the download is given up. Default 30000. */
  timeoutMs?: number;
  /** Most bytes the file may have; more is refused. */
  maxBytes: number;
  /** The file's size as its first bytes declare it (null: unknown); may throw for bytes that cannot be the file. */
  declaredSize?: (head: Uint8Array) => number | null;
}

export const DEFAULT_CACHE = 'blip-itm';
export const DEFAULT_TIMEOUT_MS = 30_000;

/** A downloaded (or cached) file, not yet trusted: `commit` once it has been read successfully. */
export interface Fetched {
  bytes: MemoryBytes;
  fromCache: boolean;
  /** Records the file as complete in the cache (a no-op for cached files and without a cache). */
  commit(): Promise<void>;
  /** Removes the file from the cache, after it failed validation. */
  evict(): Promise<void>;
}

/** The server answered with a web page where a model file was expected (a single-page app's fallback). */
export class HtmlInsteadOfFile extends Error {}

interface Manifest {
  size: number;
  pieces: [number, number][];
  etag?: string;
  lastModified?: string;
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

/** Content-Length when it counts the body we read (not with a content encoding), else null. */
function bodyLength(res: Response): number | null {
  const enc = res.headers.get('Content-Encoding');
  const len = res.headers.get('Content-Length');
  if ((enc && enc !== 'identity') || len === null || !/^\d+$/.test(len)) return null;
  return Number(len);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** `<!doctype html` or `<html` (after a BOM and whitespace), or an HTML content type. */
function looksLikeHtml(res: Response, head: Uint8Array): boolean {
  if (/^\s*text\/html\b/i.test(res.headers.get('Content-Type') ?? '')) return true;
  const text = new TextDecoder()
    .decode(head.subarray(0, 256))
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  return text.startsWith('<!doctype html') || text.startsWith('<html');
}

function htmlError(url: string, file: string): HtmlInsteadOfFile {
  return new HtmlInsteadOfFile(`${file}: ${url} answered with an HTML page, not the model file (a web app's fallback for a missing file?)`);
}

async function readCached(
  cache: Cache,
  url: string,
  manifest: Manifest,
  file: string,
  progress?: ProgressCallback,
): Promise<MemoryBytes | null> {
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
  return loaded === manifest.size ? new MemoryBytes(url, pieces) : null;
}

async function readManifest(cache: Cache, url: string): Promise<Manifest | null> {
  const res = await cache.match(withQuery(url, 'manifest'));
  if (!res) return null;
  try {
    const m = (await res.json()) as Manifest;
    return Number.isSafeInteger(m?.size) && Array.isArray(m.pieces) ? m : null;
  } catch {
    return null;
  }
}

async function evictAll(cache: Cache | null, url: string, pieces: readonly [number, number][]): Promise<void> {
  if (!cache) return;
  await cache.delete(withQuery(url, 'manifest'));
  for (const [start, end] of pieces) await cache.delete(withQuery(url, `piece=${start}-${end}`));
}

/**
 * Whether the cached copy is still what the server has: a conditional one-byte request. Offline
 * (the request fails) the cached copy serves; a server without validators is trusted.
 */
async function stillFresh(t: Transfer, manifest: Manifest, opts: FetchOptions): Promise<boolean> {
  if (!manifest.etag && !manifest.lastModified) return true;
  const conditional: Record<string, string> = { Range: 'bytes=0-0' };
  if (manifest.etag) conditional['If-None-Match'] = manifest.etag;
  else if (manifest.lastModified) conditional['If-Modified-Since'] = manifest.lastModified;
  let res: Response;
  try {
    res = await t.fetch({ ...opts.init, cache: 'no-store', headers: { ...headersOf(opts.init), ...conditional } });
  } catch (e) {
    if (t.aborted) throw e;
    return true;
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status === 304) return true;
  if (!res.ok) return false;
  const etag = res.headers.get('ETag');
  const lastModified = res.headers.get('Last-Modified');
  if (manifest.etag && etag) return etag === manifest.etag;
  if (manifest.lastModified && lastModified) return lastModified === manifest.lastModified;
  return false;
}

/**
 * The whole file at `url` as pieces in memory (from the cache when complete and still current);
 * null on 404. Throws HtmlInsteadOfFile for a web page, and one line naming the file and URL for
 * anything else.
 */
export async function fetchFile(url: string, file: string, opts: FetchOptions): Promise<Fetched | null> {
  const cache = await openCache(opts.cache);
  const t = new Transfer(url, file, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, opts.signal);
  try {
    if (cache) {
      const manifest = await readManifest(cache, url);
      if (manifest) {
        const cached = (await stillFresh(t, manifest, opts)) ? await readCached(cache, url, manifest, file, opts.progress) : null;
        if (cached)
          return { bytes: cached, fromCache: true, commit: async () => undefined, evict: () => evictAll(cache, url, manifest.pieces) };
        await cache.delete(withQuery(url, 'manifest')); // stale or damaged: never mixed with new pieces
      }
    }
    return await download(t, cache, url, file, opts);
  } finally {
    t.finish();
  }
}

async function download(t: Transfer, cache: Cache | null, url: string, file: string, opts: FetchOptions): Promise<Fetched | null> {
  const step = opts.pieceBytes ?? PIECE_BYTES;
  const first = await t.fetch({ ...opts.init, headers: { ...headersOf(opts.init), Range: `bytes=0-${step - 1}` } });
  if (first.status === 404) {
    await first.body?.cancel().catch(() => undefined);
    return null;
  }
  if (!first.ok) {
    await first.body?.cancel().catch(() => undefined);
    throw new Error(`${file}: HTTP ${first.status} from ${url}`);
  }
  if (/^\s*text\/html\b/i.test(first.headers.get('Content-Type') ?? '')) {
    await first.body?.cancel().catch(() => undefined);
    throw htmlError(url, file);
  }
  const pieces: Uint8Array[] = [];
  const ranges: [number, number][] = [];
  let limit = opts.maxBytes;
  let limitWhy = `more than a ${file} can be (limit ${formatBytes(opts.maxBytes)})`;
  const lower = (n: number, why: string): void => {
    if (n < limit) {
      limit = n;
      limitWhy = why;
    }
  };
  const add = async (piece: Uint8Array, total: number): Promise<void> => {
    const start = ranges.length ? ranges[ranges.length - 1][1] : 0;
    if (start === 0) {
      if (looksLikeHtml(first, piece)) throw htmlError(url, file);
      const declared = opts.declaredSize?.(piece) ?? null;
      if (declared !== null) {
        if (Number.isFinite(total) && total > declared)
          throw new Error(`${file}: ${url} claims ${total} bytes but the file's header declares ${declared}`);
        lower(declared, `more than the ${declared} bytes its header declares`);
      }
    }
    if (start + piece.length > limit) throw new Error(`${file}: ${url} sent ${limitWhy}`);
    pieces.push(piece);
    ranges.push([start, start + piece.length]);
    if (cache) await cache.put(withQuery(url, `piece=${start}-${start + piece.length}`), new Response(piece as Uint8Array<ArrayBuffer>));
    opts.progress?.({ file, loaded: start + piece.length, total: Number.isFinite(total) ? total : limit, fromCache: false });
  };
  try {
    if (first.status === 206) {
      // Without an exposed Content-Range the size is unknown: read until a short piece.
      const claimed = rangeTotal(first);
      if (claimed !== null && claimed > limit) {
        await first.body?.cancel().catch(() => undefined);
        throw new Error(`${file}: ${url} claims ${formatBytes(claimed)}, ${limitWhy}`);
      }
      const total = claimed ?? Number.NaN;
      const firstPiece = await t.readBody(first, Math.min(step, Number.isNaN(total) ? step : total), 'exact-or-less');
      await add(firstPiece, total);
      let at = firstPiece.length;
      let last = firstPiece.length;
      while (Number.isNaN(total) ? last === step : at < total) {
        const end = Number.isNaN(total) ? at + step : Math.min(at + step, total);
        const res = await t.fetch({ ...opts.init, headers: { ...headersOf(opts.init), Range: `bytes=${at}-${end - 1}` } });
        if (res.status !== 206) {
          await res.body?.cancel().catch(() => undefined);
          throw new Error(`${file}: ${url} ignored a Range request (HTTP ${res.status})`);
        }
        const piece = await t.readBody(res, end - at, Number.isNaN(total) ? 'exact-or-less' : 'exact');
        if (piece.length === 0) break;
        await add(piece, total);
        at += piece.length;
        last = piece.length;
      }
    } else {
      const length = bodyLength(first);
      if (length !== null && length > limit) {
        await first.body?.cancel().catch(() => undefined);
        throw new Error(`${file}: ${url} claims ${formatBytes(length)}, ${limitWhy}`);
      }
      if (length !== null) lower(length, `more than the ${length} bytes its Content-Length says`);
      await t.streamPieces(
        first,
        step,
        () => limit,
        async (piece) => add(piece, length ?? Number.NaN),
      );
      const got = ranges.length ? ranges[ranges.length - 1][1] : 0;
      if (length !== null && got < length)
        throw new Error(`${file}: the body from ${url} ended after ${got} of ${length} bytes (truncated)`);
    }
  } catch (e) {
    await evictAll(cache, url, ranges).catch(() => undefined);
    throw e;
  }
  const bytes = new MemoryBytes(url, pieces);
  const manifest: Manifest = {
    size: bytes.size,
    pieces: ranges,
    etag: first.headers.get('ETag') ?? undefined,
    lastModified: first.headers.get('Last-Modified') ?? undefined,
  };
  return {
    bytes,
    fromCache: false,
    commit: async () => {
      if (cache) await cache.put(withQuery(url, 'manifest'), new Response(JSON.stringify(manifest)));
    },
    evict: () => evictAll(cache, url, ranges),
  };
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
