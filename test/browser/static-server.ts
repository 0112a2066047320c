import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';

/**
 * A plain static HTTP server for the browser tests and the demo (`npm run demo`): serves the
 * bundle (dist/browser), the fixtures, the test pages and the demo, answers Range requests
 * (206 + Content-Range) as the hub's CDN does, and serves /hub/<org>/<name>/resolve/<rev>/<file>
 * from test/fixtures/<name>/ so hub-id loading is tested without a network.
 */

const ROOT = path.resolve(__dirname, '../../..');
const MOUNTS: [string, string][] = [
  ['/dist/browser/', 'dist/browser'],
  ['/fixtures/', 'test/fixtures'],
  ['/pages/', 'test/browser/pages'],
  ['/demo/', 'examples/browser'],
];
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
};

export interface StaticServer {
  url: string;
  /** Paths requested so far (with a Range header when there was one). */
  requests: string[];
  close(): Promise<void>;
}

function resolveFile(urlPath: string, extraMounts: [string, string][]): string | null {
  const hub = /^\/hub\/[^/]+\/([^/]+)\/resolve\/[^/]+\/(.+)$/.exec(urlPath);
  if (hub) return path.join(ROOT, 'test/fixtures', hub[1], hub[2]);
  for (const [prefix, dir] of [...extraMounts, ...MOUNTS]) {
    if (!urlPath.startsWith(prefix)) continue;
    const base = path.isAbsolute(dir) ? dir : path.join(ROOT, dir);
    const file = path.normalize(path.join(base, urlPath.slice(prefix.length)));
    return file.startsWith(base) ? file : null;
  }
  return null;
}

/** Starts the server on 127.0.0.1 (port 0: any free one). `isolate` adds COOP/COEP (threaded wasm). */
export function startServer(opts: { port?: number; isolate?: boolean; mounts?: [string, string][] } = {}): Promise<StaticServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(req.headers.range ? `${urlPath} ${req.headers.range}` : urlPath);
    if (opts.isolate) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length');
    if (urlPath === '/') {
      res.writeHead(302, { Location: '/demo/index.html' });
      res.end();
      return;
    }
    const file = resolveFile(urlPath, opts.mounts ?? []);
    let size: number;
    try {
      if (!file) throw new Error('outside');
      const st = fs.statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': TYPES[path.extname(file!).toLowerCase()] ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-cache',
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : size - 1, size - 1);
      if (start >= size || end < start) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}` });
        res.end();
        return;
      }
      res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1 });
      fs.createReadStream(file!, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': size });
    fs.createReadStream(file!).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}`,
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

if (require.main === module) {
  const port = Number(process.argv[2] ?? 8080);
  const isolate = process.argv.includes('--isolate');
  startServer({ port, isolate }).then(
    (s) => {
      console.log(`blip-itm demo: ${s.url}/demo/index.html${isolate ? ' (cross-origin isolated: threaded wasm)' : ''}`);
      console.log(`test fixtures are served under ${s.url}/fixtures/ (e.g. model URL ${s.url}/fixtures/blip-itm-tiny/)`);
    },
    (e: Error) => {
      console.error(`cannot start the server: ${e.message}`);
      process.exit(1);
    },
  );
}
