import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import { COMMIT_RE, RepoCache, validateRepoFile } from './cache';
import { HttpClient, Response, Target, headerValue, isRedirect, request, statusError } from './http';
import { FileProgress, ProgressSetting, createProgress, formatBytes } from './progress';

/** What a HEAD on the resolve URL tells us about one file at one revision. */
export interface FileMeta {
  commit: string;
  etag: string;
  size: number;
  /** Where the bytes are: the CDN for LFS files, the resolve URL otherwise. */
  location: URL;
}

export interface FetchContext {
  client: HttpClient;
  cache: RepoCache;
  repoId: string;
  progress: ProgressSetting | undefined;
  /** Largest size a weight file may declare (HubOptions.maxFileBytes). */
  maxFileBytes: number;
}

/** Config, tokenizer and shard-index files: no BLIP one comes near this. */
export const MAX_SMALL_FILE_BYTES = 16 * 1024 * 1024;
/** A body bringing fewer bytes than this per timeout window counts as stalled (a trickle is no download). */
const MIN_BYTES_PER_WINDOW = 1024;
/**
 * ETags become blob file names: a hex content hash, or a plain name that starts with a letter or
 * digit (so never `.` or `..`) and holds no separator.
 */
const SAFE_ETAG = /^[A-Za-z0-9][\w.-]{0,199}$/;

/** Attempts per file within one run; an interrupted transfer resumes from what is on disk. */
const ATTEMPTS = 3;

export function resolveUrl(endpoint: URL, repoId: string, revision: string, file: string): URL {
  const encodedFile = file.split('/').map(encodeURIComponent).join('/');
  return new URL(`${endpoint.href.replace(/\/$/, '')}/${repoId}/resolve/${encodeURIComponent(revision)}/${encodedFile}`);
}

/**
 * hf_hub_download for one file: returns its commit and snapshot path. A commit-sha revision
 * already in the snapshot needs no network; otherwise one HEAD, then a download only if the blob
 * is not yet in the cache. Throws HubHttpError (status 404 etc.) for the caller to judge.
 */
export async function fetchFile(ctx: FetchContext, revision: string, file: string): Promise<{ commit: string; path: string }> {
  validateRepoFile(file);
  const { cache } = ctx;
  if (COMMIT_RE.test(revision) && cache.hasFile(revision, file)) {
    return { commit: revision, path: cache.pointerPath(revision, file) };
  }
  const meta = await fetchMeta(ctx, revision, file);
  if (cache.hasFile(meta.commit, file)) return { commit: meta.commit, path: cache.pointerPath(meta.commit, file) };
  if (!fs.existsSync(cache.blobPath(meta.etag))) await downloadBlob(ctx, meta, file);
  return { commit: meta.commit, path: cache.linkBlob(meta.etag, meta.commit, file) };
}

async function fetchMeta(ctx: FetchContext, revision: string, file: string): Promise<FileMeta> {
  const target: Target = { repoId: ctx.repoId, revision, file };
  const url = resolveUrl(ctx.client.endpoint, ctx.repoId, revision, file);
  // Stop at the redirect that carries X-Repo-Commit: the CDN's answer would not have the metadata.
  const r = await request(ctx.client, 'HEAD', url, {}, (res) => headerValue(res, 'x-repo-commit') !== undefined);
  r.res.resume();
  const status = r.res.statusCode ?? 0;
  const redirected = isRedirect(status);
  if (!(status >= 200 && status < 300) && !redirected) throw statusError(r, target, ctx.client.token !== undefined);

  const commit = headerValue(r.res, 'x-repo-commit');
  const etag = normalizeEtag(headerValue(r.res, 'x-linked-etag') ?? headerValue(r.res, 'etag'));
  const size = Number(headerValue(r.res, 'x-linked-size') ?? headerValue(r.res, 'content-length'));
  const from = `${r.url.origin}${r.url.pathname}`;
  if (!commit || !COMMIT_RE.test(commit))
    throw new Error(`no commit sha (X-Repo-Commit) in the answer from ${from}; is it a Hugging Face hub?`);
  if (!etag) throw new Error(`no ETag in the answer from ${from}`);
  if (!SAFE_ETAG.test(etag))
    throw new Error(`refusing the ETag ${JSON.stringify(etag.slice(0, 80))} from ${from}: it cannot name a cache file`);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`no file size in the answer from ${from}`);
  const limit = sizeLimit(ctx, file);
  if (size > limit) {
    throw new Error(
      `${file} in ${ctx.repoId}: the hub declares ${formatBytes(size)}, more than any BLIP ${limit === ctx.maxFileBytes ? 'weight file' : 'config or tokenizer file'} ` +
        `(limit ${formatBytes(limit)}${limit === ctx.maxFileBytes ? '; raise it with maxFileBytes or BLIP_ITM_MAX_DOWNLOAD_BYTES' : ''})`,
    );
  }
  const location = redirected ? new URL(headerValue(r.res, 'location') ?? '', r.url) : r.url;
  return { commit, etag, size, location };
}

/** The most bytes `file` may have: weights up to maxFileBytes, anything else a few MB. */
function sizeLimit(ctx: FetchContext, file: string): number {
  const weights = /\.(safetensors|bin)$/.test(file);
  return weights ? ctx.maxFileBytes : Math.min(ctx.maxFileBytes, MAX_SMALL_FILE_BYTES);
}

/** `W/"abc"` → `abc`: the hub quotes etags and proxies may weaken them. */
export function normalizeEtag(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  return raw
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}

/**
 * Bytes go to blobs/{etag}.incomplete, resumed with Range from whatever is there, then are
 * verified and renamed into place, so blobs/{etag} only ever holds a checked file.
 */
async function downloadBlob(ctx: FetchContext, meta: FileMeta, file: string): Promise<void> {
  const { cache } = ctx;
  const part = cache.incompletePath(meta.etag);
  fs.mkdirSync(path.dirname(part), { recursive: true });
  fs.closeSync(fs.openSync(part, 'a')); // an empty file needs no transfer but is verified and renamed all the same
  let have = fileSize(part);
  if (have > meta.size) {
    fs.truncateSync(part, 0);
    have = 0;
  }
  const progress = createProgress(ctx.progress, file, meta.size, have);
  let ok = false;
  try {
    for (let attempt = 1; have < meta.size; attempt++) {
      try {
        await transfer(ctx, meta, file, part, have, progress);
      } catch (e) {
        if (!(e instanceof Interrupted)) throw e;
        if (attempt >= ATTEMPTS) throw new Error(`${e.message}; run again to resume`, { cause: e });
      }
      have = fileSize(part);
    }
    await verify(part, meta, file);
    fs.renameSync(part, cache.blobPath(meta.etag));
    ok = true;
  } finally {
    progress.end(ok);
  }
}

/** The connection broke mid-body: worth another attempt from the new offset. */
class Interrupted extends Error {}

async function transfer(
  ctx: FetchContext,
  meta: FileMeta,
  file: string,
  part: string,
  start: number,
  progress: FileProgress,
): Promise<void> {
  const headers: Record<string, string> = start > 0 ? { range: `bytes=${start}-` } : {};
  const r = await request(ctx.client, 'GET', meta.location, headers);
  const status = r.res.statusCode ?? 0;
  let offset = start;
  if (status === 200) {
    offset = 0; // the server ignored Range: start over
  } else if (status === 206) {
    const range = /^bytes (\d+)-/.exec(headerValue(r.res, 'content-range') ?? '');
    if (!range || Number(range[1]) !== start) {
      r.res.resume();
      throw new Error(`bad Content-Range from ${r.url.origin} for ${file}: ${headerValue(r.res, 'content-range')}`);
    }
  } else if (status === 416 && start > 0) {
    // Our partial file is not a prefix the server recognises; discard it and let the caller retry.
    r.res.resume();
    fs.truncateSync(part, 0);
    throw new Interrupted(`range rejected for ${file}`);
  } else {
    throw statusError(r, { repoId: ctx.repoId, revision: meta.commit, file }, ctx.client.token !== undefined);
  }
  await writeBody(r, part, offset, meta, file, progress, ctx.client.timeoutMs);
}

async function writeBody(
  r: Response,
  part: string,
  offset: number,
  meta: FileMeta,
  file: string,
  progress: FileProgress,
  windowMs: number,
): Promise<void> {
  const fh = await fs.promises.open(part, offset > 0 ? 'a' : 'w');
  let done = offset;
  let windowStart = done;
  let stalled: Error | undefined;
  let oversize = false;
  // The socket's idle timeout is reset by every byte; this one wants real progress in each window.
  const watchdog = setInterval(() => {
    if (done - windowStart < Math.min(MIN_BYTES_PER_WINDOW, meta.size - done)) {
      stalled = new Error(`download of ${file} stalled: ${done - windowStart} bytes in ${windowMs} ms (server too slow or hung)`);
      r.res.destroy(stalled);
    }
    windowStart = done;
  }, windowMs);
  try {
    for await (const chunk of r.res) {
      const b = chunk as Buffer;
      const room = meta.size - done;
      if (b.length > room) {
        // Never write past the declared size: a server sending more is wrong, whatever it sends.
        if (room > 0) await fh.write(b.subarray(0, room));
        done += Math.max(room, 0);
        oversize = true;
        r.res.destroy();
        break;
      }
      await fh.write(b);
      done += b.length;
      progress.update(done);
    }
  } catch (e) {
    const cause = stalled ?? r.failure() ?? (e as NodeJS.ErrnoException);
    const reason = cause.message === 'aborted' ? 'connection lost' : cause.message;
    throw new Interrupted(`download of ${file} interrupted after ${formatBytes(done)} of ${formatBytes(meta.size)} (${reason})`);
  } finally {
    clearInterval(watchdog);
    await fh.close();
  }
  if (oversize) {
    fs.rmSync(part, { force: true });
    throw new Error(
      `corrupted download of ${file}: the server sent more than the ${formatBytes(meta.size)} it declared; stopped there and deleted the partial file`,
    );
  }
  if (done < meta.size) {
    throw new Interrupted(
      `download of ${file} interrupted after ${formatBytes(done)} of ${formatBytes(meta.size)} (connection closed early)`,
    );
  }
}

/** Size, then content: sha256 for LFS etags, the git blob sha1 for small files. */
async function verify(part: string, meta: FileMeta, file: string): Promise<void> {
  const fail = (what: string): never => {
    fs.rmSync(part, { force: true });
    throw new Error(`corrupted download of ${file}: ${what}; the partial file was deleted, run again to retry`);
  };
  const size = fileSize(part);
  if (size !== meta.size) fail(`size mismatch (expected ${meta.size} bytes, got ${size})`);
  let algo: 'sha256' | 'sha1' | undefined;
  if (/^[0-9a-f]{64}$/.test(meta.etag)) algo = 'sha256';
  else if (/^[0-9a-f]{40}$/.test(meta.etag)) algo = 'sha1';
  if (!algo) return; // an etag that is not a content hash: the size check is all we can do
  const hash = crypto.createHash(algo);
  if (algo === 'sha1') hash.update(`blob ${size}\0`);
  for await (const chunk of fs.createReadStream(part)) hash.update(chunk as Buffer);
  const got = hash.digest('hex');
  if (got !== meta.etag) fail(`${algo} mismatch (expected ${meta.etag}, got ${got})`);
}

function fileSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}
