import * as path from 'path';
import { Mounts, StaticServer, startStaticServer } from '../../src/inspector/static-server';

export type { StaticServer };

/**
 * The browser tests' static server: the bundle (dist/browser), the fixtures and the test pages,
 * with Range requests answered as the hub's CDN does, and /hub/<org>/<name>/resolve/<rev>/<file>
 * served from test/fixtures/<name>/ so hub-id loading is tested without a network.
 */
const ROOT = path.resolve(__dirname, '../../..');
const MOUNTS: Mounts = [
  ['/dist/browser/', path.join(ROOT, 'dist/browser')],
  ['/fixtures/', path.join(ROOT, 'test/fixtures')],
  ['/pages/', path.join(ROOT, 'test/browser/pages')],
];

function fakeHub(urlPath: string): string | null {
  const hub = /^\/hub\/[^/]+\/([^/]+)\/resolve\/[^/]+\/(.+)$/.exec(urlPath);
  return hub && !hub[2].split('/').includes('..') ? path.join(ROOT, 'test/fixtures', hub[1], hub[2]) : null;
}

/** Starts the server on 127.0.0.1 (any free port). `isolate` adds COOP/COEP (threaded wasm); `mounts` come first. */
export function startServer(opts: { isolate?: boolean; mounts?: Mounts } = {}): Promise<StaticServer> {
  return startStaticServer({
    mounts: [...(opts.mounts ?? []).map(([p, d]): [string, string] => [p, path.resolve(ROOT, d)]), ...MOUNTS],
    isolate: opts.isolate,
    cors: true,
    resolve: fakeHub,
  });
}
