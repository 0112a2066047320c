// Node only: a small static file server for the serverless inspector (`npm run demo`), and the
// file serving that the browser tests build their server on.
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
};

/** URL prefix → folder. A request maps to a file inside the folder or to nothing (no `..` escapes). */
export type Mounts = [prefix: string, dir: string][];

export interface StaticOptions {
  /** Address (default 127.0.0.1) and port (default 0: any free one). */
  host?: string;
  port?: number;
  mounts: Mounts;
  /** Where GET / redirects. */
  home?: string;
  /** COOP/COEP headers: a cross-origin isolated page, so wasm runs with threads. */
  isolate?: boolean;
  /** Access-Control-Allow-Origin: * (tests load models cross-origin). */
  cors?: boolean;
  /** Maps a path to a file before the mounts (tests: a fake hub). */
  resolve?: (urlPath: string) => string | null;
}

export interface StaticServer {
  url: string;
  /** Paths requested so far (with the Range header when there was one). */
  requests: string[];
  close(): Promise<void>;
}

/** The file a URL path names under the mounts, or null. */
export function mountedFile(urlPath: string, mounts: Mounts): string | null {
  for (const [prefix, dir] of mounts) {
    if (!urlPath.startsWith(prefix)) continue;
    const base = path.resolve(dir);
    let file = path.normalize(path.join(base, urlPath.slice(prefix.length)));
    if (file !== base && !file.startsWith(base + path.sep)) return null;
    if (urlPath.endsWith('/')) file = path.join(file, 'index.html');
    return file;
  }
  return null;
}

/** Serves files with Range support (206 + Content-Range, as the hub's CDN answers); binds loopback unless told. */
export function startStaticServer(opts: StaticOptions): Promise<StaticServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://static.invalid').pathname);
    } catch {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('bad URL');
      return;
    }
    requests.push(req.headers.range ? `${urlPath} ${req.headers.range}` : urlPath);
    if (opts.isolate) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    if (opts.cors) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length');
    }
    if (urlPath === '/' && opts.home) {
      res.writeHead(302, { Location: opts.home }).end();
      return;
    }
    const file = opts.resolve?.(urlPath) ?? mountedFile(urlPath, opts.mounts);
    let size: number;
    try {
      const st = file ? fs.statSync(file) : null;
      if (!st?.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': TYPES[path.extname(file!).toLowerCase()] ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : size - 1, size - 1);
      if (start >= size || end < start) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 });
      fs.createReadStream(file!, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': size });
    fs.createReadStream(file!).pipe(res);
  });
  const host = opts.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `port ${opts.port} on ${host} is already in use` : `cannot listen: ${e.message}`)),
    );
    server.listen(opts.port ?? 0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** The built bundle and the serverless inspector beside it (scripts/build-browser.mjs writes them). */
export const BROWSER_DIST = path.resolve(__dirname, '../../browser');

/** `npm run demo`: the serverless inspector, served from the build, at /inspector/. */
async function demo(argv: string[]): Promise<void> {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const port = Number(value('--port') ?? 8080);
  const models = value('--models');
  const isolate = argv.includes('--isolate');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${value('--port')}`);
  if (!fs.existsSync(path.join(BROWSER_DIST, 'inspector', 'index.html')))
    throw new Error(`${BROWSER_DIST}/inspector/index.html is missing: run npm run build first`);
  if (models && !fs.statSync(models, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--models ${models}: no such folder`);
  const mounts: Mounts = [['/', BROWSER_DIST]];
  if (models) mounts.unshift(['/models/', models]);
  const s = await startStaticServer({ port, mounts, home: '/inspector/', isolate });
  console.log(`${s.url}/inspector/`);
  console.log(
    `blip-itm inspector, in the browser (no server-side model)${isolate ? '; cross-origin isolated: threaded wasm' : ''}. ` +
      (models ? `Models in ${models} load by URL, e.g. /models/<folder>/. ` : 'Serve local models with --models DIR. ') +
      'Ctrl-C stops.',
  );
}

if (require.main === module) {
  demo(process.argv.slice(2)).catch((e: Error) => {
    console.error(`blip-itm demo: ${e.message}`);
    process.exit(1);
  });
}
