import * as fs from 'fs';

import { COMMIT_RE, RepoCache, validateRepoFile } from './cache';
import { FetchContext, fetchFile } from './download';
import { HubHttpError, request, readBody, statusError } from './http';
import { HubSettings } from './options';
import { PYTORCH_BIN, SAFETENSORS, SAFETENSORS_INDEX, WEIGHT_FILES, parseShardIndex } from '../weights/weight-files';

/** The files a BLIP ITM checkpoint needs; tf_model.h5 and the like are never fetched. */
export const CONFIG_FILE = 'config.json';
export const OPTIONAL_FILES = ['preprocessor_config.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt'];

/** The commit and file list of a revision, from the hub API (absent when the API is not there). */
interface RevisionInfo {
  commit: string;
  files: Set<string>;
}

/**
 * snapshot_download restricted to the model files: returns snapshots/{commit}. Offline it reads
 * refs/{revision}; with a commit-sha revision already complete in the cache it makes no request.
 */
export async function downloadSnapshot(s: HubSettings, repoId: string): Promise<string> {
  const cache = new RepoCache(s.cacheDir, repoId);
  if (s.offline) return fromCache(cache, s);
  if (COMMIT_RE.test(s.revision) && missingLocally(cache, s.revision, true).length === 0) {
    return cache.snapshotDir(s.revision);
  }
  try {
    return await fetchSnapshot(s, repoId, cache);
  } catch (e) {
    // Like huggingface_hub: when the hub cannot be reached at all, a complete cached snapshot serves.
    if (e instanceof HubHttpError) throw e;
    try {
      const dir = fromCache(cache, s);
      if (s.progress !== false) process.stderr.write(`note: ${(e as Error).message.split(';')[0]}; using the cached ${repoId}\n`);
      return dir;
    } catch {
      // Nothing usable is cached, so "use the cache" is no advice.
      const msg = (e as Error).message;
      const advice = /; (check the network or )?set HF_HUB_OFFLINE=1 to use the cache/;
      if (!advice.test(msg)) throw e;
      throw new Error(`${msg.replace(advice, '')}; ${repoId}@${s.revision} is not in the cache ${s.cacheDir} either`, { cause: e });
    }
  }
}

async function fetchSnapshot(s: HubSettings, repoId: string, cache: RepoCache): Promise<string> {
  const ctx: FetchContext = {
    client: { endpoint: s.endpoint, token: s.token, timeoutMs: s.timeoutMs },
    cache,
    repoId,
    progress: s.progress,
    maxFileBytes: s.maxFileBytes,
  };
  const info = await revisionInfo(ctx, s.revision);
  const where = `${repoId}@${s.revision}`;
  const notAModel = new Error(`${CONFIG_FILE} not found in ${where}: not a model repo or revision`);
  if (info && !info.files.has(CONFIG_FILE)) throw notAModel;

  // config.json first: without the API its HEAD is what pins the commit for all other files.
  let commit: string;
  try {
    commit = (await fetchFile(ctx, info?.commit ?? s.revision, CONFIG_FILE)).commit;
  } catch (e) {
    throw e instanceof HubHttpError && e.isMissingEntry ? notAModel : e;
  }
  const listed = (file: string): boolean | undefined => (info ? info.files.has(file) : undefined);

  for (const file of OPTIONAL_FILES) await fetchOptional(ctx, commit, file, listed(file));

  let weights: string | undefined;
  for (const file of WEIGHT_FILES) {
    const local = await fetchOptional(ctx, commit, file, listed(file));
    if (!local) continue;
    if (file === SAFETENSORS_INDEX) {
      for (const shard of shardsOf(local)) await fetchFile(ctx, commit, shard);
    }
    weights = file;
    break;
  }
  if (!weights) throw new Error(`no weights in ${where}: looked for ${WEIGHT_FILES.join(', ')}`);

  cache.writeRef(s.revision, commit);
  return cache.snapshotDir(commit);
}

/** A file the revision may lack: a 404 (or absence from the API listing) is remembered and skipped. */
async function fetchOptional(ctx: FetchContext, commit: string, file: string, listed: boolean | undefined): Promise<string | undefined> {
  if (ctx.cache.hasFile(commit, file)) return ctx.cache.pointerPath(commit, file);
  if (listed === false || ctx.cache.isMarkedMissing(commit, file)) {
    ctx.cache.markMissing(commit, file);
    return undefined;
  }
  try {
    return (await fetchFile(ctx, commit, file)).path;
  } catch (e) {
    if (!(e instanceof HubHttpError && e.isMissingEntry)) throw e;
    ctx.cache.markMissing(commit, file);
    return undefined;
  }
}

/**
 * GET /api/models/{repo}/revision/{rev}. Auth and not-found answers are final; anything else
 * (a mirror without the API, an odd body) returns undefined and we probe file by file instead.
 */
async function revisionInfo(ctx: FetchContext, revision: string): Promise<RevisionInfo | undefined> {
  const base = ctx.client.endpoint.href.replace(/\/$/, '');
  const url = new URL(`${base}/api/models/${ctx.repoId}/revision/${encodeURIComponent(revision)}`);
  const r = await request(ctx.client, 'GET', url, { accept: 'application/json' });
  const status = r.res.statusCode ?? 0;
  if (status !== 200) {
    const err = statusError(r, { repoId: ctx.repoId, revision }, ctx.client.token !== undefined);
    if (status === 401 || status === 403 || (status === 404 && !err.isMissingEntry)) throw err;
    return undefined;
  }
  try {
    const body = JSON.parse((await readBody(r)).toString('utf8')) as { sha?: unknown; siblings?: unknown };
    if (typeof body.sha !== 'string' || !COMMIT_RE.test(body.sha) || !Array.isArray(body.siblings)) return undefined;
    const files = new Set<string>();
    for (const sib of body.siblings as unknown[]) {
      const name = (sib as { rfilename?: unknown } | null)?.rfilename;
      if (typeof name === 'string') files.add(name);
    }
    return { commit: body.sha, files };
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
}

function fromCache(cache: RepoCache, s: HubSettings): string {
  const where = `${cache.repoId}@${s.revision}`;
  const commit = COMMIT_RE.test(s.revision) ? s.revision : cache.readRef(s.revision);
  if (!commit || !fs.existsSync(cache.snapshotDir(commit))) {
    throw new Error(
      `offline mode: ${where} is not in the cache ${s.cacheDir}; download it once with network access (unset HF_HUB_OFFLINE)`,
    );
  }
  const missing = missingLocally(cache, commit, false);
  if (missing.length > 0) {
    throw new Error(`offline mode: the cached snapshot of ${where} lacks ${missing.join(', ')}; download it again with network access`);
  }
  return cache.snapshotDir(commit);
}

/**
 * What a cached snapshot lacks: config.json and usable weights always; with `strict`, also the
 * optional files that are neither present nor known to be absent (so the network must decide).
 */
function missingLocally(cache: RepoCache, commit: string, strict: boolean): string[] {
  const missing: string[] = [];
  if (!cache.hasFile(commit, CONFIG_FILE)) missing.push(CONFIG_FILE);
  if (strict) {
    for (const f of OPTIONAL_FILES) if (!cache.hasFile(commit, f) && !cache.isMarkedMissing(commit, f)) missing.push(f);
  }
  if (!hasLocalWeights(cache, commit)) missing.push(`weights (${WEIGHT_FILES.join(' / ')})`);
  return missing;
}

function hasLocalWeights(cache: RepoCache, commit: string): boolean {
  if (cache.hasFile(commit, SAFETENSORS) || cache.hasFile(commit, PYTORCH_BIN)) return true;
  if (!cache.hasFile(commit, SAFETENSORS_INDEX)) return false;
  try {
    return shardsOf(cache.pointerPath(commit, SAFETENSORS_INDEX)).every((f) => cache.hasFile(commit, f));
  } catch {
    return false;
  }
}

/** Shard file names from model.safetensors.index.json's weight_map (each one a safe repo file name). */
function shardsOf(indexPath: string): string[] {
  const { shards } = parseShardIndex(fs.readFileSync(indexPath, 'utf8'), SAFETENSORS_INDEX);
  shards.forEach(validateRepoFile);
  return shards;
}
