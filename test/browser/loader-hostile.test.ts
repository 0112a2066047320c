import { expect } from 'chai';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import * as zlib from 'zlib';
import type { Browser, Page } from 'puppeteer-core';
import { launch, missingBrowser, openHarness } from './chromium';
import { StaticServer, startServer } from './static-server';

/**
 * The browser loader against servers that misbehave (issue 24), in headless Chromium: a zip-bomb
 * pytorch_model.bin, an endless config.json, a Content-Range claiming 1 TB, a stalled body, an
 * aborted load, and a single-page app that answers missing files with HTML, fixed between two
 * loads. Each server is written here, on loopback; every load is bounded in time.
 */

const BUNDLE = path.resolve(__dirname, '../../../dist/browser/blip-itm.js');
const FIXTURES = path.resolve(__dirname, '../../../test/fixtures');
const MB = 1024 * 1024;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A cross-origin server (the page is on another port): CORS open, every header readable. */
async function hostile(handler: { current: Handler }): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', '*');
    res.setHeader('Access-Control-Expose-Headers', '*');
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    res.on('error', () => undefined);
    handler.current(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Serves files of a fixture folder by name (whole bodies, no Range), 404 for the rest unless `missing` answers. */
function serveDir(dir: string, missing?: Handler, override: Record<string, Buffer> = {}): Handler {
  return (req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname.split('/').pop() ?? '');
    const file = path.join(dir, name);
    const body = override[name] ?? (name && fs.existsSync(file) ? fs.readFileSync(file) : undefined);
    if (body) return void res.writeHead(200, { 'Content-Length': body.length, 'Content-Type': 'application/octet-stream' }).end(body);
    if (missing) return missing(req, res);
    res.writeHead(404).end();
  };
}

/** A zip with one deflated member whose stream inflates to `outputBytes` zeros but declares `declared`. */
export function zipBomb(outputBytes: number, declared: number): Buffer {
  const chunk = zlib.deflateRawSync(Buffer.alloc(MB), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  const data = Buffer.concat([...Array<Buffer>(Math.ceil(outputBytes / MB)).fill(chunk), Buffer.from([0x03, 0x00])]);
  const name = Buffer.from('archive/data.pkl');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(declared, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(declared, 24);
  central.writeUInt16LE(name.length, 28);
  const cdOffset = local.length + name.length + data.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(central.length + name.length, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, name, data, central, name, eocd]);
}

interface Outcome {
  ok: boolean;
  message: string;
  name: string;
  ms: number;
  fromCache: boolean[];
}

function load(page: Page, url: string, opts: Record<string, unknown> = {}, abortAfterMs = 0): Promise<Outcome> {
  return page.evaluate(
    async (src, o, abortMs) => {
      // A real dynamic import in the page (tsc would turn `import()` into require).
      const importer = new Function('u', 'return import(u)') as (u: string) => Promise<unknown>;
      const blip = (await importer('/dist/browser/blip-itm.js')) as {
        BlipItm: { load(s: string, o: object): Promise<{ dispose(): void }> };
      };
      const events: { fromCache: boolean }[] = [];
      const controller = new AbortController();
      if (abortMs) setTimeout(() => controller.abort(new Error('stopped by the test')), abortMs);
      const t0 = performance.now();
      try {
        const m = await blip.BlipItm.load(src, {
          backend: 'cpu',
          ...o,
          signal: controller.signal,
          progress: (e: { fromCache: boolean }) => events.push(e),
        });
        m.dispose();
        return { ok: true, message: '', name: '', ms: performance.now() - t0, fromCache: events.map((e) => e.fromCache) };
      } catch (e) {
        const err = e as Error;
        return { ok: false, message: err.message, name: err.name, ms: performance.now() - t0, fromCache: [] };
      }
    },
    url,
    opts,
    abortAfterMs,
  );
}

describe('browser loader against hostile servers (headless Chromium)', function () {
  this.timeout(120_000);
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  const handler: { current: Handler } = { current: (_req, res) => void res.writeHead(404).end() };
  let evil: { url: string; close: () => Promise<void> };

  before(async function () {
    const missing = missingBrowser(BUNDLE);
    if (missing) {
      if (process.env.CI === 'true') throw new Error(`browser tests cannot run in CI: ${missing}`);
      console.log(`      skipped (not in CI): ${missing}`);
      this.skip();
    }
    server = await startServer();
    evil = await hostile(handler);
    browser = await launch();
    page = await openHarness(browser, server.url);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await evil?.close();
  });

  it('refuses a pytorch_model.bin whose data.pkl is a deflate bomb within 10 s (1 GiB under a 15 MB or 1 KB declared size; 4 GiB declared)', async () => {
    for (const [output, declared, why] of [
      [1024 * MB, 15 * MB, /data\.pkl: cannot inflate/],
      [1024 * MB, 1000, /data\.pkl: cannot inflate/],
      [1024 * MB, 0xfffffff0, /data\.pkl of 4294967280 bytes is implausibly large/],
    ] as const) {
      handler.current = serveDir(path.join(FIXTURES, 'blip-itm-tiny-bin'), undefined, { 'pytorch_model.bin': zipBomb(output, declared) });
      const r = await load(page, `${evil.url}/bomb-${declared}/`, { cache: false });
      expect(r.ok).to.equal(false);
      expect(r.message, r.message).to.match(why);
      expect(r.ms).to.be.below(10_000);
      console.log(`      bomb of ${output / MB} MiB declared as ${declared} bytes: refused in ${Math.round(r.ms)} ms`);
    }
    const metrics = await page.metrics();
    expect(metrics.JSHeapUsedSize ?? 0).to.be.below(200 * MB);
  });

  it('caps an endless config.json and refuses a Content-Range total of 1 TB without reading it', async () => {
    const tiny = path.join(FIXTURES, 'blip-itm-tiny');
    let sentJson = 0;
    handler.current = (req, res) => {
      if (req.url?.endsWith('/config.json')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const piece = Buffer.alloc(MB, 0x20);
        const pump = (): void => {
          while (sentJson < 4096 * MB && !res.destroyed) {
            sentJson += piece.length;
            if (!res.write(piece)) return void res.once('drain', pump);
          }
        };
        res.write('{"a": "');
        pump();
        return;
      }
      serveDir(tiny)(req, res);
    };
    const endless = await load(page, `${evil.url}/endless/`, { cache: false });
    expect(endless.message, endless.message).to.match(/^config\.json: http:\/\/127\.0\.0\.1:\d+\/endless\/config\.json sent more than/);
    expect(endless.ms).to.be.below(10_000);
    expect(sentJson).to.be.below(200 * MB);
    console.log(
      `      endless config.json: refused in ${Math.round(endless.ms)} ms after the server sent ${Math.round(sentJson / MB)} MiB`,
    );

    let sentWeights = 0;
    handler.current = serveDir(tiny, undefined, {});
    const files = handler.current;
    handler.current = (req, res) => {
      if (req.url?.endsWith('/model.safetensors')) {
        const piece = Buffer.alloc(MB);
        res.writeHead(206, { 'Content-Range': `bytes 0-${MB - 1}/1099511627776`, 'Content-Length': MB });
        sentWeights += MB;
        return void res.end(piece);
      }
      files(req, res);
    };
    const huge = await load(page, `${evil.url}/huge/`, { cache: false });
    expect(huge.message, huge.message).to.match(
      /^model\.safetensors: http:\/\/127\.0\.0\.1:\d+\/huge\/model\.safetensors claims 1\.0 TB, more than a model\.safetensors can be \(limit 4\.0 GB\)/,
    );
    expect(sentWeights).to.equal(MB);
  });

  it('gives up on a stalled body with an error naming the file, and honours an AbortSignal', async () => {
    const tiny = path.join(FIXTURES, 'blip-itm-tiny');
    const files = serveDir(tiny);
    handler.current = (req, res) => {
      if (req.url?.endsWith('/model.safetensors')) {
        res.writeHead(200, { 'Content-Length': 10 * MB });
        return void res.write(Buffer.alloc(100)); // then nothing
      }
      files(req, res);
    };
    const stalled = await load(page, `${evil.url}/stall/`, { cache: false, fetchTimeoutMs: 500 });
    expect(stalled.message, stalled.message).to.match(
      /^model\.safetensors: no data from http:\/\/127\.0\.0\.1:\d+\/stall\/model\.safetensors for 0\.5 s \(the server stalled\); gave up$/,
    );
    expect(stalled.ms).to.be.below(5000);

    const aborted = await load(page, `${evil.url}/stall2/`, { cache: false }, 300);
    expect(aborted.message).to.equal('stopped by the test');
    expect(aborted.ms).to.be.below(5000);
  });

  it('a model URL that served HTML loads once the server is fixed, without clearCache()', async () => {
    const tinyBin = path.join(FIXTURES, 'blip-itm-tiny-bin');
    const spa: Handler = (_req, res) => {
      const html = Buffer.from('<!DOCTYPE html><html><body><div id="app"></div></body></html>');
      res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': html.length }).end(html);
    };
    // Broken: the app's fallback page for every missing file, and for the weights too.
    handler.current = serveDir(tinyBin, spa, { 'pytorch_model.bin': Buffer.from('<!doctype html><p>hi</p>') });
    const first = await load(page, `${evil.url}/spa/`);
    expect(first.ok).to.equal(false);
    expect(first.message, first.message).to.match(/no weights found .*pytorch_model\.bin: .* answered with an HTML page/);

    handler.current = serveDir(tinyBin, spa); // fixed: the real weights, HTML still for files it lacks
    const second = await load(page, `${evil.url}/spa/`);
    expect(second.message).to.equal('');
    expect(second.ok).to.equal(true);

    // Cached now, and revalidated: a changed file (new ETag) is downloaded again.
    let etag = '"v1"';
    handler.current = (req, res) => {
      res.setHeader('ETag', etag);
      if (req.headers['if-none-match'] === etag) return void res.writeHead(304).end();
      serveDir(tinyBin, spa)(req, res);
    };
    await load(page, `${evil.url}/etag/`);
    const cached = await load(page, `${evil.url}/etag/`);
    expect(cached.ok).to.equal(true);
    expect(cached.fromCache.every(Boolean)).to.equal(true);
    etag = '"v2"';
    const updated = await load(page, `${evil.url}/etag/`);
    expect(updated.ok).to.equal(true);
    expect(updated.fromCache.some((c) => !c)).to.equal(true);
  });
});
