import { expect } from 'chai';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';

import { HubOptions, downloadModel } from '../src/hub';
import { rejection } from './helpers/expect';
import { tempDir } from './helpers/tmp';

/**
 * Hub servers that lie (issue 24): a weight file declared as 4 MB that streams 300 MB, a declared
 * size no BLIP file can have, an ETag of "..", and a body that trickles one byte at a time. Each
 * is a small loopback server written here; every transfer is bounded by the client under test.
 */

const REPO = 'acme/hostile';
const COMMIT = 'c'.repeat(40);
/** git's blob sha1 of an empty file: config.json is served empty, which is all the download needs. */
const EMPTY_SHA1 = 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391';

interface Weights {
  etag: string;
  declared: number;
  /** Writes the body (the real size is the server's business). */
  send(res: http.ServerResponse): void;
}

async function hostileHub(weights: Weights): Promise<{ url: string; sent: () => number; close: () => Promise<void> }> {
  let sent = 0;
  const server = http.createServer((req, res) => {
    const file = decodeURIComponent(/\/resolve\/[^/]+\/(.*)$/.exec(req.url ?? '')?.[1] ?? '');
    if (file === 'config.json') {
      res.writeHead(200, { 'x-repo-commit': COMMIT, etag: `"${EMPTY_SHA1}"`, 'content-length': 0 });
      return void res.end();
    }
    if (file === 'model.safetensors') {
      res.writeHead(200, { 'x-repo-commit': COMMIT, 'x-linked-etag': `"${weights.etag}"`, 'x-linked-size': String(weights.declared) });
      if (req.method === 'HEAD') return void res.end();
      const write = res.write.bind(res);
      res.write = ((chunk: Buffer, ...rest: never[]) => {
        sent += chunk.length;
        return write(chunk, ...rest);
      }) as typeof res.write;
      weights.send(res);
      return;
    }
    res.writeHead(404, { 'x-error-code': 'EntryNotFound' });
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent: () => sent,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

function dirBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.lstatSync(p).size;
  }
  return n;
}

describe('hub download against a hostile server', function () {
  this.timeout(15_000);
  let cacheDir: string;
  const opts = (url: string, extra: HubOptions = {}): HubOptions => ({
    cacheDir,
    endpoint: url,
    token: '',
    offline: false,
    progress: false,
    fetchTimeoutMs: 2000,
    ...extra,
  });

  beforeEach(() => {
    cacheDir = tempDir('hub-hostile-');
  });

  it('stops writing at the declared size when the server sends more (4 MB declared, 300 MB sent)', async () => {
    const MB = 1024 * 1024;
    const hub = await hostileHub({
      etag: 'a'.repeat(64),
      declared: 4 * MB,
      send(res) {
        let left = 300;
        const piece = Buffer.alloc(MB, 1);
        const pump = (): void => {
          while (left > 0) {
            left--;
            if (!res.write(piece)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => undefined);
        pump();
      },
    });
    try {
      const t0 = Date.now();
      const err = await rejection(downloadModel(REPO, opts(hub.url)));
      expect(err.message, err.message).to.match(
        /^corrupted download of model\.safetensors: the server sent more than the 4\.19 MB it declared; stopped there/,
      );
      expect(Date.now() - t0).to.be.below(5000);
      expect(dirBytes(cacheDir)).to.be.below(4 * MB + 1000); // nothing past the declared size, partial file deleted
      expect(hub.sent()).to.be.below(300 * MB);
    } finally {
      await hub.close();
    }
  });

  it('refuses a declared size no BLIP file can have, before any byte, and the limit can be raised', async () => {
    const hub = await hostileHub({ etag: 'b'.repeat(64), declared: 1.1e12, send: (res) => res.end() });
    try {
      const err = await rejection(downloadModel(REPO, opts(hub.url)));
      expect(err.message, err.message).to.match(
        /^model\.safetensors in acme\/hostile: the hub declares 1\.10 TB, more than any BLIP weight file \(limit 8\.59 GB; raise it with maxFileBytes/,
      );
      expect(hub.sent()).to.equal(0);
      const lower = await rejection(downloadModel(REPO, opts(hub.url, { maxFileBytes: 1000 })));
      expect(lower.message, lower.message).to.match(/limit 1\.00 kB/);
      const raised = await rejection(downloadModel(REPO, opts(hub.url, { maxFileBytes: 2e12 })));
      expect(raised.message, raised.message).to.match(/^download of model\.safetensors interrupted after 0 B of 1\.10 TB/);
    } finally {
      await hub.close();
    }
  });

  it('refuses an ETag that would become a path ("..")', async () => {
    const hub = await hostileHub({ etag: '..', declared: 10, send: (res) => res.end(Buffer.alloc(10)) });
    try {
      const err = await rejection(downloadModel(REPO, opts(hub.url)));
      expect(err.message, err.message).to.match(
        /^refusing the ETag "\.\." from http:\/\/127\.0\.0\.1:\d+\/acme\/hostile\/resolve\/c{40}\/model\.safetensors: it cannot name a cache file/,
      );
      const repoDir = path.join(cacheDir, 'models--acme--hostile');
      expect(fs.statSync(repoDir).isDirectory()).to.equal(true);
      expect(fs.existsSync(path.join(repoDir, 'blobs'))).to.equal(true);
    } finally {
      await hub.close();
    }
  });

  it('gives up on a body that trickles (1 byte every 40 ms) after its inactivity window', async () => {
    let timer: NodeJS.Timeout | undefined;
    const hub = await hostileHub({
      etag: 'd'.repeat(64),
      declared: 100_000,
      send(res) {
        res.on('error', () => undefined);
        timer = setInterval(() => res.write(Buffer.alloc(1)), 40);
        res.on('close', () => clearInterval(timer));
      },
    });
    try {
      const t0 = Date.now();
      const err = await rejection(downloadModel(REPO, opts(hub.url, { fetchTimeoutMs: 300 })));
      expect(err.message, err.message).to.match(
        /^download of model\.safetensors interrupted after \d+ B of 100\.0 kB \(download of model\.safetensors stalled: \d+ bytes in 300 ms/,
      );
      expect(Date.now() - t0).to.be.below(5000);
    } finally {
      clearInterval(timer);
      await hub.close();
    }
  });
});
