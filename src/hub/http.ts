import * as http from 'http';
import * as https from 'https';

/** What every request needs: where the hub is (the token goes only there) and how long to wait. */
export interface HttpClient {
  endpoint: URL;
  token: string | undefined;
  timeoutMs: number;
}

/** What a request was about, for error messages. */
export interface Target {
  repoId: string;
  revision: string;
  file?: string;
}

export interface Response {
  res: http.IncomingMessage;
  url: URL;
  /** Why the connection died after the headers came (timeout, reset), if it did. */
  failure(): Error | undefined;
}

/** An HTTP status the hub answered with; `errorCode` is its X-Error-Code (RepoNotFound, ...). */
export class HubHttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: string | undefined,
  ) {
    super(message);
    this.name = 'HubHttpError';
  }

  /** The repo and revision exist but the file does not: optional files are skipped on this. */
  get isMissingEntry(): boolean {
    return this.status === 404 && this.errorCode !== 'RepoNotFound' && this.errorCode !== 'RevisionNotFound';
  }
}

const USER_AGENT = `blip-itm/0.1; node/${process.versions.node}`;
const MAX_REDIRECTS = 10;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

/**
 * One request, no redirects followed. The token is sent only to the hub's own origin: a CDN on
 * another host gets signed URLs and must not see it.
 */
export function send(client: HttpClient, method: 'GET' | 'HEAD', url: URL, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
    if (!lib) {
      reject(new Error(`unsupported URL: ${url.href}`));
      return;
    }
    const all: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...headers };
    if (client.token && url.origin === client.endpoint.origin) all.authorization = `Bearer ${client.token}`;
    let failure: Error | undefined;
    const req = lib.request(url, { method, headers: all });
    req.setTimeout(client.timeoutMs, () => {
      req.destroy(
        new Error(
          `timed out after ${client.timeoutMs} ms waiting for ${url.origin}${url.pathname}; ` +
            'check the network or set HF_HUB_OFFLINE=1 to use the cache',
        ),
      );
    });
    req.on('error', (e) => {
      failure = describeNetworkError(e, url);
      reject(failure); // no-op once resolved; the body reader asks failure() instead
    });
    req.on('response', (res) => resolve({ res, url, failure: () => failure }));
    req.end();
  });
}

/**
 * Follow redirects (relative or absolute) until a final answer, or until `stop` says a redirect
 * is itself the answer (the hub's LFS redirect carries the file's metadata headers).
 */
export async function request(
  client: HttpClient,
  method: 'GET' | 'HEAD',
  url: URL,
  headers: Record<string, string> = {},
  stop: (res: http.IncomingMessage) => boolean = () => false,
): Promise<Response> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const r = await send(client, method, current, headers);
    const location = r.res.headers.location;
    if (!isRedirect(r.res.statusCode) || !location || stop(r.res)) return r;
    r.res.resume();
    current = new URL(location, current);
  }
  throw new Error(`too many redirects fetching ${url.href}`);
}

export function isRedirect(status: number | undefined): boolean {
  return status !== undefined && [301, 302, 303, 307, 308].includes(status);
}

export async function readBody(r: Response, limit = 64 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of r.res) {
      const b = chunk as Buffer;
      size += b.length;
      if (size > limit) throw new Error(`response from ${r.url.href} is larger than ${limit} bytes`);
      chunks.push(b);
    }
  } catch (e) {
    throw r.failure() ?? e;
  }
  return Buffer.concat(chunks);
}

/** One clear line for an HTTP error status, with the hub's X-Error-Code taken into account. */
export function statusError(r: Response, target: Target, hasToken: boolean): HubHttpError {
  const status = r.res.statusCode ?? 0;
  const code = headerValue(r.res, 'x-error-code');
  const repo = target.repoId;
  const where = target.file ? `${target.file} in ${repo}@${target.revision}` : `${repo}@${target.revision}`;
  r.res.resume();
  const tokenHint = hasToken ? 'check that HF_TOKEN has access to it' : 'set HF_TOKEN to a token with access';
  let msg: string;
  if (code === 'GatedRepo') {
    msg = `${repo} is a gated repo: accept its conditions on the hub, then ${tokenHint}`;
  } else if (code === 'RepoNotFound') {
    msg = `repository not found: ${repo} (if it is private or gated, ${tokenHint})`;
  } else if (code === 'RevisionNotFound') {
    msg = `revision not found: ${target.revision} in ${repo}`;
  } else if (status === 401) {
    msg = hasToken
      ? `authentication failed for ${repo} (HTTP 401): the token was rejected; check HF_TOKEN`
      : `authentication required for ${repo} (HTTP 401): private or gated repo; set HF_TOKEN`;
  } else if (status === 403) {
    msg = `access denied to ${repo} (HTTP 403): private or gated repo; ${tokenHint}`;
  } else if (status === 404) {
    msg = target.file ? `file not found: ${where}` : `not found: ${where}`;
  } else {
    const detail = headerValue(r.res, 'x-error-message') ?? r.res.statusMessage ?? '';
    msg = `HTTP ${status} ${detail} fetching ${r.url.origin}${r.url.pathname}`.replace(/\s+/g, ' ').trim();
  }
  return new HubHttpError(msg, status, code);
}

export function headerValue(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function describeNetworkError(e: Error, url: URL): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code && NETWORK_CODES.has(code)) {
    return new Error(`cannot reach ${url.origin}: ${code}; set HF_HUB_OFFLINE=1 to use the cache`);
  }
  return e;
}
