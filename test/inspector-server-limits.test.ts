import { expect } from 'chai';
import * as http from 'http';
import { PNG } from 'pngjs';
import * as zlib from 'zlib';
import { RunningInspector, nodeSession, serveInspector } from '../src/inspector/server';
import { DEFAULT_LIMITS, DISPLAY_SIDE, InspectorSession } from '../src/inspector/session';
import { BlipItm } from '../src/model/blip-itm';
import { TINY } from './helpers/fixtures';
import { httpCall } from './helpers/http-call';

/** A smooth RGB gradient as PNG: large in pixels, small on the wire. Written directly (pngjs takes seconds at 12 MP). */
function gradientPng(width: number, height: number): Buffer {
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const at = y * (width * 3 + 1); // filter byte 0 (None), then the row
    for (let x = 0; x < width; x++) {
      rows[at + 1 + x * 3] = (x * 255) / width;
      rows[at + 2 + x * 3] = (y * 255) / height;
      rows[at + 3 + x * 3] = ((x + y) * 127) / (width + height);
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(zlib.crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(rows, { level: 1 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function upload(url: string, bytes: Buffer, name: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return httpCall(`${url}api/images`, { method: 'POST', headers: { 'X-Image-Name': name }, body: bytes }).then((r) => ({
    status: r.status,
    ms: performance.now() - t0,
  }));
}

describe('inspector server: bounded memory, responsive, cancels abandoned work', function () {
  this.timeout(120_000);
  let model: BlipItm;
  let session: InspectorSession;
  let running: RunningInspector;
  let url: string;
  let gradcams = 0;

  before(async () => {
    model = BlipItm.fromDir(TINY);
    const gradcam = model.gradcam.bind(model);
    model.gradcam = (...args) => {
      gradcams++;
      return gradcam(...args);
    };
    session = nodeSession(model, TINY, [], { ...DEFAULT_LIMITS, maxImages: 2 });
    running = await serveInspector(session, { port: 0 });
    url = running.url;
  });

  after(async () => {
    await running?.close();
    model?.dispose();
  });

  it('keeps each image at the model input size plus a display copy, never the full decode', async () => {
    const big = gradientPng(2400, 1600); // 3.8 MP: 11.5 MB decoded
    for (let i = 0; i < 3; i++) expect((await upload(url, big, `big-${i}.png`)).status).to.equal(200);
    const images = session.imageList();
    expect(images.map((i) => i.name)).to.deep.equal(['big-1.png', 'big-2.png']); // the oldest dropped
    expect(images.every((i) => i.width === 2400 && i.height === 1600)).to.equal(true);
    const side = model.config.vision.imageSize;
    const perImage = side * side * 3 + DISPLAY_SIDE * Math.round((DISPLAY_SIDE * 1600) / 2400) * 3;
    expect(session.storedBytes()).to.equal(2 * perImage);
    expect(session.storedBytes()).to.be.lessThan((2 * 2400 * 1600 * 3) / 5);
    // The display copy is what the page shows: 768 px on the longer side.
    const png = await httpCall(`${url}api/images/${images[0].id}.png`);
    expect(PNG.sync.read(png.body).width).to.equal(DISPLAY_SIDE);
  });

  it('answers /api/status while a large upload decodes (the decode runs in a worker thread)', async () => {
    const big = gradientPng(3000, 2000); // 6 MP
    const latencies: number[] = [];
    let done = false;
    const uploaded = upload(url, big, 'huge.png').finally(() => {
      done = true;
    });
    while (!done) {
      const t0 = performance.now();
      expect((await httpCall(`${url}api/status`)).status).to.equal(200);
      latencies.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 10));
    }
    const { status, ms } = await uploaded;
    expect(status).to.equal(200);
    const worst = Math.max(...latencies);
    console.log(`      6 MP upload ${ms.toFixed(0)} ms; ${latencies.length} status calls meanwhile, slowest ${worst.toFixed(0)} ms`);
    expect(latencies.length, 'status calls answered during the decode').to.be.greaterThan(3);
    expect(worst).to.be.lessThan(Math.max(250, ms / 4));
  });

  it('drops queued model work whose client went away', async () => {
    const image = session.imageList()[0].id;
    let release = () => {};
    const blocker = session.queue.run('blocker', () => new Promise<void>((r) => (release = r)));
    const before = { gradcams, cancelled: session.queue.cancelled };
    const body = JSON.stringify({ image, text: 'a cat', layer: 0 });
    const requests = Array.from({ length: 20 }, () => {
      const req = http.request(`${url}api/gradcam`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
      req.on('error', () => undefined); // destroyed on purpose below
      req.end(body);
      return req;
    });
    for (let i = 0; i < 200 && session.status().waiting < 20; i++) await new Promise((r) => setTimeout(r, 20));
    expect(session.status().waiting).to.equal(20);
    for (const req of requests) req.destroy();
    await new Promise((r) => setTimeout(r, 200)); // the server sees the connections close
    release();
    await blocker;
    await session.queue.idle();
    expect(gradcams - before.gradcams, 'Grad-CAM passes run for gone clients').to.equal(0);
    expect(session.queue.cancelled - before.cancelled).to.equal(20);
    // A client that stays gets its answer.
    const live = await httpCall(`${url}api/gradcam`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect(live.status).to.equal(200);
    expect(gradcams - before.gradcams).to.equal(1);
  });

  it('sends Cross-Origin-Resource-Policy: same-origin with images, the page and the API', async () => {
    const id = session.imageList()[0].id;
    for (const path of [`api/images/${id}.png`, '', 'api/session', 'api/images/999.png']) {
      const r = await httpCall(url + path);
      expect(r.headers['cross-origin-resource-policy'], path || '/').to.equal('same-origin');
    }
  });
});
