import * as fs from 'fs';

import { validateRepoId } from './cache';
import { HubOptions, expandHome, resolveSettings } from './options';
import { downloadSnapshot } from './snapshot';

export type { HubOptions } from './options';
export type { ProgressCallback, ProgressEvent, ProgressSetting } from './progress';
export { HubHttpError } from './http';
export { RepoCache, validateRepoId } from './cache';

/**
 * A model source as users type it: an existing local directory is returned as is (with `~`
 * expanded); anything else must be a hub repo id `owner/name`, whose snapshot directory is
 * returned after downloading what the cache lacks.
 */
export async function resolveModel(source: string, opts: HubOptions = {}): Promise<string> {
  const local = expandHome(source);
  if (fs.existsSync(local)) {
    if (!fs.statSync(local).isDirectory()) throw new Error(`model path is not a directory: ${source}`);
    return local;
  }
  if (/^[.~/]/.test(source) || source.split('/').length !== 2) throw new Error(`model directory not found: ${source}`);
  try {
    return await downloadModel(source, opts);
  } catch (e) {
    // "owner/name" is also a relative path: say both readings failed.
    throw new Error(`model directory not found: ${source} (and as a hub id: ${(e as Error).message})`, { cause: e });
  }
}

/** `blip-itm download HUB_ID [--revision REV]`: fetch a hub model into the cache, return its snapshot dir. */
export async function downloadModel(repoId: string, opts: HubOptions & { revision?: string } = {}): Promise<string> {
  validateRepoId(repoId);
  return downloadSnapshot(resolveSettings(opts), repoId);
}
