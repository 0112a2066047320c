import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import { AddressInfo } from 'net';
import * as path from 'path';
import { encodePng } from '../pictures/png';
import { BlipItm } from '../model/blip-itm';
import { FfmpegDecoder } from '../node/video';
import { workerPreparer } from './prepare-worker';
import { DEFAULT_LIMITS, InspectorLimits, InspectorSession, RequestError } from './session';

export interface ServeOptions {
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
}

export interface RunningInspector {
  url: string;
  server: http.Server;
  /** Stops accepting requests, drops open connections and waits for the model's running job. */
  close(): Promise<void>;
}

/**
 * A session for the Node server: image uploads decode in a worker thread; videos decode in
 * ffmpeg's own processes, checked against the inspector's limits before decoding. The model is
 * named by its folder's name (the page needs no path of this machine) or its hub id.
 */
export function nodeSession(model: BlipItm, source: string, texts: string[], limits: InspectorLimits = DEFAULT_LIMITS): InspectorSession {
  const name = fs.existsSync(source) ? path.basename(path.resolve(source)) : source;
  const videoDecoder = new FfmpegDecoder({ maxPixels: limits.maxFramePixels, maxFrames: limits.maxVideoLength });
  return new InspectorSession(model, { source: name, backend: model.backend.name }, texts, {
    limits,
    prepare: workerPreparer(),
    videoDecoder,
  });
}

/** Adds an image file named on the command line (the only files the inspector reads). */
export function addImageFile(session: InspectorSession, file: string): Promise<unknown> {
  return session.addImage(fs.readFileSync(file), path.basename(file), { trusted: true });
}

/** Adds a video file named on the command line: ffmpeg reads it in place, with the CLI's limits. */
export function addVideoFile(session: InspectorSession, file: string, frames?: number, decoder = new FfmpegDecoder()): Promise<unknown> {
  return session.addVideo(file, path.basename(file), { trusted: true, frames, decoder });
}

/** The page's files, plain HTML/CSS/ES modules shipped as they are. */
const PAGE_DIR = path.resolve(__dirname, '../../../src/inspector/page');
const PAGE_FILES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/style.css': 'style.css',
  '/app.js': 'app.js',
  '/api.js': 'api.js',
  '/draw.js': 'draw.js',
  '/views.js': 'views.js',
  '/favicon.svg': 'favicon.svg',
};
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};
/** JSON request bodies are small (captions and ids). */
const MAX_JSON_BYTES = 1024 * 1024;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // A foreign page may not embed our images (and so learn that they exist, or their sizes).
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** Starts the inspector's HTTP server for a session; resolves once it listens. */
export function serveInspector(session: InspectorSession, opts: ServeOptions = {}): Promise<RunningInspector> {
  const host = opts.host ?? '127.0.0.1';
  const server = http.createServer();
  let allowedHosts = new Set<string>();
  const pngs = new DisplayPngs(session);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // A client that goes away before its answer: its queued model work is dropped.
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    handle(session, pngs, allowedHosts, req, res, gone.signal).catch((e) => {
      req.resume(); // drain an unread body so the client reads the answer rather than a reset
      sendError(res, e);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(
        new Error(
          e.code === 'EADDRINUSE'
            ? `port ${opts.port} on ${host} is already in use (choose another with --port, or 0 for any)`
            : `cannot listen on ${host}:${opts.port}: ${e.message}`,
        ),
      );
    });
    server.listen(opts.port ?? 0, host, () => {
      const port = (server.address() as AddressInfo).port;
      allowedHosts = hostNames(host, port);
      const shown = WILDCARD.has(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shown}:${port}/`,
        server,
        close: async () => {
          await new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
          await session.close();
        },
      });
    });
  });
}

const WILDCARD = new Set(['0.0.0.0', '::']);

/**
 * The Host header values that name this server: its address, for loopback the usual aliases,
 * and for a wildcard bind every local address plus the machine's host name.
 */
function hostNames(host: string, port: number): Set<string> {
  const bracket = (a: string) => (a.includes(':') ? `[${a}]` : a);
  let names = [bracket(host)];
  if (LOOPBACK.has(host) || WILDCARD.has(host)) names = ['127.0.0.1', 'localhost', '[::1]'];
  if (WILDCARD.has(host)) {
    const local = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => bracket(i.address.replace(/%.*$/, ''))));
    names.push(...local, os.hostname());
  }
  return new Set(names.map((n) => `${n}:${port}`.toLowerCase()));
}

/**
 * DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 reaches us with
 * its own Host, so anything but our own name is refused; a cross-site request carries a
 * foreign Origin. Both checks run before any other work.
 */
function checkOrigin(allowed: Set<string>, req: http.IncomingMessage): void {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!allowed.has(host))
    throw new RequestError(421, `refused: Host "${req.headers.host ?? ''}" is not this server (DNS rebinding protection)`);
  const origin = req.headers.origin;
  if (origin !== undefined && !allowed.has(origin.toLowerCase().replace(/^http:\/\//, ''))) {
    throw new RequestError(403, `refused: Origin "${origin}" is not this server`);
  }
}

/** PNG encodings of the display copies (a video's: one per sampled frame), made once and dropped with their image. */
class DisplayPngs {
  private readonly cache = new Map<string, { id: number; png: Buffer }>();
  constructor(private readonly session: InspectorSession) {}

  get(id: number, frame: number): Buffer {
    const key = `${id}-${frame}`;
    let entry = this.cache.get(key);
    if (!entry) {
      entry = { id, png: encodePng(this.session.display(id, frame)) };
      const live = new Set(this.session.imageList().map((i) => i.id));
      for (const [old, e] of this.cache) if (!live.has(e.id)) this.cache.delete(old);
      this.cache.set(key, entry);
    }
    return entry.png;
  }
}

async function handle(
  session: InspectorSession,
  pngs: DisplayPngs,
  allowed: Set<string>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  checkOrigin(allowed, req);
  const url = new URL(req.url ?? '/', 'http://inspector.invalid');
  const route = `${req.method} ${url.pathname}`;
  const page = PAGE_FILES[url.pathname];
  if (req.method === 'GET' && page) return sendFile(res, page);
  const imageMatch = /^\/api\/images\/(\d+)(?:-(\d+))?\.png$/.exec(url.pathname);
  if (req.method === 'GET' && imageMatch) return send(res, 200, 'image/png', pngs.get(Number(imageMatch[1]), Number(imageMatch[2] ?? 0)));
  switch (route) {
    case 'GET /api/session':
      return sendJson(res, session.info());
    case 'GET /api/status':
      return sendJson(res, session.status());
    case 'GET /api/colormap':
      return sendJson(res, session.colormap(url.searchParams.get('name') ?? 'jet'));
    case 'POST /api/images': {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared)) session.checkBytes(declared);
      const bytes = await readBody(req, session.limits.maxUploadBytes, (n) => session.checkBytes(n));
      return sendJson(res, await session.addImage(bytes, uploadName(req)));
    }
    case 'POST /api/videos': {
      const frames = url.searchParams.has('frames') ? Number(url.searchParams.get('frames')) : undefined;
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared)) session.checkVideoBytes(declared);
      const bytes = await readBody(req, session.limits.maxVideoBytes, (n) => session.checkVideoBytes(n));
      return sendJson(res, await session.addVideo(bytes, uploadName(req), { frames }));
    }
    case 'POST /api/score': {
      const body = await readJson(req);
      return sendJson(res, await session.score(intField(body, 'image'), body.texts, body.encToken === true, signal));
    }
    case 'POST /api/gradcam': {
      const body = await readJson(req);
      const layer = body.layer === undefined || body.layer === null ? undefined : intField(body, 'layer');
      return sendJson(res, await session.gradcam(intField(body, 'image'), body.text, layer, body.encToken === true, signal));
    }
    case 'POST /api/attention': {
      const body = await readJson(req);
      return sendJson(res, await session.attention(intField(body, 'image'), body.text, body.encToken === true, signal));
    }
    default:
      throw new RequestError(404, `no such page or API: ${req.method} ${url.pathname}`);
  }
}

/** The upload's name for the page and messages: never a path, never markup. */
function uploadName(req: http.IncomingMessage): string {
  return (
    String(req.headers['x-image-name'] ?? 'upload')
      .replace(/[^\w.\- ]+/g, '_')
      .slice(0, 100) || 'upload'
  );
}

function intField(body: Record<string, unknown>, name: string): number {
  const v = body[name];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new RequestError(400, `"${name}" must be an integer, got ${JSON.stringify(v)}`);
  return v;
}

function readBody(req: http.IncomingMessage, max: number, tooBig: (n: number) => void): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > max) {
        req.removeAllListeners('data');
        req.resume(); // drain, then answer: the client sees the message instead of a reset
        try {
          tooBig(length);
        } catch (e) {
          reject(e);
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new RequestError(415, 'send the request as application/json');
  const bytes = await readBody(req, MAX_JSON_BYTES, (n) => {
    throw new RequestError(413, `request of ${n} bytes; JSON requests are limited to ${MAX_JSON_BYTES} bytes`);
  });
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new RequestError(400, 'the request body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new RequestError(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function sendFile(res: http.ServerResponse, name: string): void {
  send(res, 200, TYPES[path.extname(name)], fs.readFileSync(path.join(PAGE_DIR, name)));
}

function sendJson(res: http.ServerResponse, value: unknown): void {
  send(res, 200, 'application/json; charset=utf-8', Buffer.from(JSON.stringify(value)));
}

function send(res: http.ServerResponse, status: number, type: string, body: Buffer): void {
  if (res.headersSent) return;
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': body.length });
  res.end(body);
}

function sendError(res: http.ServerResponse, e: unknown): void {
  const status = e instanceof RequestError ? e.status : 500;
  const message = (e as Error).message ?? String(e);
  const body = Buffer.from(JSON.stringify({ error: message }));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': body.length,
    Connection: 'close',
  });
  res.end(body);
}
