import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import type { ProgressSetting } from './progress';

/** Options shared by `resolveModel` and `downloadModel`; explicit values beat the HF_* env vars. */
export interface HubOptions {
  /** Branch, tag, commit sha or `refs/pr/N`; default 'main'. */
  revision?: string;
  /** Hub cache directory (the `hub` folder itself); default $HF_HUB_CACHE or $HF_HOME/hub. */
  cacheDir?: string;
  /** Hub base URL; default $HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Access token for private/gated repos; default $HF_TOKEN. An empty string means none. */
  token?: string;
  /** Use the cache only; default $HF_HUB_OFFLINE. */
  offline?: boolean;
  /** Progress bar on stderr (default: when stderr is a TTY), false for silence, or a callback. */
  progress?: ProgressSetting;
  /** Idle timeout per connection in ms (default 10000, like huggingface_hub); a body that brings less than 1 KiB in this time counts as stalled. */
  fetchTimeoutMs?: number;
  /**
   * Largest file the hub may declare, in bytes (default $BLIP_ITM_MAX_DOWNLOAD_BYTES or 8 GiB: BLIP's
   * largest checkpoint, blip-itm-large in float32, is under 2 GB). Config, tokenizer and index files
   * are held to 16 MiB whatever this says.
   */
  maxFileBytes?: number;
}

/** HubOptions with every default and env var applied. */
export interface HubSettings {
  revision: string;
  cacheDir: string;
  endpoint: URL;
  token: string | undefined;
  offline: boolean;
  progress: ProgressSetting | undefined;
  timeoutMs: number;
  maxFileBytes: number;
}

/** Default for HubOptions.maxFileBytes. */
export const DEFAULT_MAX_FILE_BYTES = 8 * 1024 ** 3;
const DEFAULT_ENDPOINT = 'https://huggingface.co';
const DEFAULT_TIMEOUT_MS = 10_000;

export function resolveSettings(opts: HubOptions = {}, env: NodeJS.ProcessEnv = process.env): HubSettings {
  const revision = opts.revision ?? 'main';
  validateRevision(revision);
  const timeoutMs = opts.fetchTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new Error(`fetchTimeoutMs must be a positive number, got ${timeoutMs}`);
  const maxFileBytes = opts.maxFileBytes ?? maxBytesFromEnv(env);
  if (!(Number.isSafeInteger(maxFileBytes) && maxFileBytes > 0))
    throw new Error(`maxFileBytes must be a positive whole number, got ${maxFileBytes}`);
  return {
    revision,
    cacheDir: path.resolve(expandHome(opts.cacheDir ?? hubCacheFromEnv(env))),
    endpoint: parseEndpoint(opts.endpoint ?? nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_ENDPOINT),
    token: opts.token !== undefined ? nonEmpty(opts.token) : tokenFromEnv(env),
    offline: opts.offline ?? isTruthy(env.HF_HUB_OFFLINE),
    progress: opts.progress,
    timeoutMs,
    maxFileBytes,
  };
}

function maxBytesFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = nonEmpty(env.BLIP_ITM_MAX_DOWNLOAD_BYTES);
  if (raw === undefined) return DEFAULT_MAX_FILE_BYTES;
  const n = Number(raw);
  if (!(Number.isSafeInteger(n) && n > 0))
    throw new Error(`BLIP_ITM_MAX_DOWNLOAD_BYTES must be a positive whole number of bytes, got "${raw}"`);
  return n;
}

export function expandHome(p: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
  return p;
}

/** huggingface_hub's precedence: HF_HUB_CACHE, then the legacy name, then $HF_HOME/hub. */
function hubCacheFromEnv(env: NodeJS.ProcessEnv): string {
  const explicit = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  return explicit ?? path.join(hfHome(env), 'hub');
}

function hfHome(env: NodeJS.ProcessEnv): string {
  const home = nonEmpty(env.HF_HOME);
  if (home) return expandHome(home);
  const xdg = nonEmpty(env.XDG_CACHE_HOME) ?? path.join(os.homedir(), '.cache');
  return path.join(expandHome(xdg), 'huggingface');
}

/** HF_TOKEN, then the token file that `huggingface-cli login` writes. */
function tokenFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = nonEmpty(env.HF_TOKEN) ?? nonEmpty(env.HUGGING_FACE_HUB_TOKEN);
  if (fromEnv) return fromEnv;
  const file = expandHome(nonEmpty(env.HF_TOKEN_PATH) ?? path.join(hfHome(env), 'token'));
  try {
    return nonEmpty(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
}

function parseEndpoint(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw.replace(/\/+$/, ''));
  } catch {
    throw new Error(`invalid hub endpoint URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`invalid hub endpoint URL (http or https only): ${raw}`);
  }
  return url;
}

/** A revision becomes a path under refs/, so it must not climb out of it. */
function validateRevision(revision: string): void {
  const parts = revision.split('/');
  if (revision === '' || parts.some((p) => p === '' || p === '.' || p === '..') || /[\\\0]/.test(revision)) {
    throw new Error(`invalid revision: "${revision}"`);
  }
}

function isTruthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
