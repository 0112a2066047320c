import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { CohereClient, CohereClientV2 } from 'cohere-ai';
import OpenAI from 'openai';
import { encodePng } from '../src/pictures/png';
import { NodeBlipItm as BlipItm } from '../src/node/platform';
import { bearerMatches } from '../src/serve';
import { IMAGES, TEXTS, TINY, reference } from './helpers/fixtures';
import { httpCall } from './helpers/http-call';
import { TestService, dataUrl, post, startService } from './helpers/serve';

const URLS = IMAGES.map(dataUrl);

interface Scores {
  itm?: number[][];
  itc?: number[][];
}

function expectMatrix(got: number[][] | undefined, want: number[][], tol: number, what: string): void {
  expect(got, what).to.be.an('array').with.length(want.length);
  want.forEach((row, i) => row.forEach((w, j) => expect(got![i][j], `${what}[${i}][${j}]`).to.be.closeTo(w, tol)));
}

describe('blip-itm serve (HTTP service)', function () {
  this.timeout(120_000);
  let model: BlipItm;
  let s: TestService;
  /** The library's own numbers for IMAGES x TEXTS, unbatched. */
  let want: { itm: number[][]; itc: number[][]; textEmbeds: Float32Array[]; imageEmbeds: Float32Array[] };

  before(async () => {
    model = BlipItm.fromDir(TINY);
    const embeddings = await model.encodeImages(IMAGES);
    try {
      want = {
        itm: (await model.match(embeddings, TEXTS)).probs,
        itc: await model.similarity(embeddings, TEXTS),
        textEmbeds: await Promise.all(TEXTS.map(async (t) => (await model.encodeTexts([t]))[0])),
        imageEmbeds: embeddings.map((e) => e.itcEmbedding),
      };
    } finally {
      embeddings.forEach((e) => e.dispose());
    }
    s = await startService(model, { maxBatch: 8, batchWaitMs: 20 });
  });

  after(async () => {
    await s?.service.app.close();
    model?.dispose();
  });

  it('/v1/score equals the transformers reference within 1e-4 and the library within 1e-5', async () => {
    const r = await post<Scores>(`${s.url}/v1/score`, { images: URLS, texts: TEXTS });
    expect(r.status).to.equal(200);
    const ref = reference('tiny-activations.safetensors');
    const grid = (name: string) => [0, 1, 2].map((i) => [0, 1, 2].map((j) => ref.get(name)!.data[i * 3 + j]));
    expectMatrix(r.body.itm, grid('itm.probs'), 1e-4, 'itm vs transformers');
    expectMatrix(r.body.itc, grid('itc.cosine'), 1e-4, 'itc vs transformers');
    expectMatrix(r.body.itm, want.itm, 1e-5, 'itm vs library');
    expectMatrix(r.body.itc, want.itc, 1e-5, 'itc vs library');
    const itmOnly = await post<Scores>(`${s.url}/v1/score`, { images: [URLS[0]], texts: [''], mode: 'itm' });
    expect(Object.keys(itmOnly.body)).to.deep.equal(['itm']);
  });

  it('batches concurrent requests (metrics show it) with results equal to unbatched within 1e-5', async () => {
    const jobs = IMAGES.flatMap((_, i) => TEXTS.map((t, j) => ({ i, j, body: { images: [URLS[i]], texts: [t] } })));
    const replies = await Promise.all(jobs.map((job) => post<Scores>(`${s.url}/v1/score`, job.body)));
    replies.forEach((r, k) => {
      const { i, j } = jobs[k];
      expect(r.status).to.equal(200);
      expect(r.body.itm![0][0]).to.be.closeTo(want.itm[i][j], 1e-5);
      expect(r.body.itc![0][0]).to.be.closeTo(want.itc[i][j], 1e-5);
    });
    const metrics = (await httpCall(`${s.url}/metrics`)).body.toString();
    const count = (kind: string, le: string) =>
      Number(new RegExp(`blip_itm_batch_size_bucket\\{le="${le}",kind="${kind}"\\} (\\d+)`).exec(metrics)?.[1]);
    const total = (kind: string) => Number(new RegExp(`blip_itm_batch_size_count\\{kind="${kind}"\\} (\\d+)`).exec(metrics)?.[1]);
    // Some batch held more than one request's images (and texts): fewer than all batches are of size 1.
    expect(count('image', '1')).to.be.lessThan(total('image'));
    expect(count('text', '1')).to.be.lessThan(total('text'));
    expect(metrics)
      .to.match(/blip_itm_queue_depth 0/)
      .and.to.match(/blip_itm_queue_wait_seconds_count \d+/);
  });

  it('the stock OpenAI client gets the library embeddings (float and base64) for texts and images', async () => {
    const client = new OpenAI({ apiKey: 'unused', baseURL: `${s.url}/v1` });
    const float = await client.embeddings.create({ model: 'blip-itm', input: TEXTS, encoding_format: 'float' });
    const b64 = await client.embeddings.create({ model: 'blip-itm', input: [...TEXTS, URLS[0]] }); // the client asks base64
    expect(float.data).to.have.length(3);
    expect(float.model).to.equal('blip-itm-tiny');
    expect(float.usage.prompt_tokens).to.be.greaterThan(3);
    TEXTS.forEach((_, i) => {
      expect(float.data[i].index).to.equal(i);
      const lib = Array.from(want.textEmbeds[i]);
      float.data[i].embedding.forEach((v, k) => expect(v).to.be.closeTo(lib[k], 1e-5));
      // base64 carries the float32 bits: identical to the float answer's values.
      expect(Array.from(b64.data[i].embedding)).to.deep.equal(float.data[i].embedding.map((v) => Math.fround(v)));
    });
    expect(Array.from(b64.data[3].embedding)).to.deep.equal(Array.from(want.imageEmbeds[0]));
    const dot = b64.data[3].embedding.reduce((acc: number, v, k) => acc + v * float.data[0].embedding[k], 0);
    expect(dot).to.be.closeTo(want.itc[0][0], 1e-5);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).to.deep.equal(['blip-itm-tiny']);
  });

  it('the stock Cohere clients (v2 and v1) rerank by ITM probability with the library numbers', async () => {
    const v2 = new CohereClientV2({ token: 'unused', baseUrl: s.url });
    const byImages = await v2.rerank({ model: 'blip-itm', query: TEXTS[1], documents: URLS, topN: 2 });
    const column = want.itm.map((row) => row[1]);
    const best = [0, 1, 2].sort((a, b) => column[b] - column[a]).slice(0, 2);
    expect(byImages.results.map((r) => r.index)).to.deep.equal(best);
    byImages.results.forEach((r) => expect(r.relevanceScore).to.be.closeTo(column[r.index], 1e-5));
    const byTexts = await v2.rerank({ model: 'blip-itm', query: URLS[2], documents: TEXTS });
    expect(byTexts.results).to.have.length(3);
    byTexts.results.forEach((r) => {
      expect(r.relevanceScore).to.be.closeTo(want.itm[2][r.index], 1e-5);
      expect((r as unknown as { itc: number }).itc).to.be.closeTo(want.itc[2][r.index], 1e-5);
    });
    const v1 = new CohereClient({ token: 'unused', environment: s.url });
    const old = await v1.rerank({ query: TEXTS[0], documents: URLS, returnDocuments: true });
    expect(old.results[0].relevanceScore).to.be.closeTo(Math.max(...want.itm.map((row) => row[0])), 1e-5);
    expect(old.results[0].document?.text).to.match(/^data:image\//);
  });

  it('/v1/explain answers a PNG, or the Grad-CAM maps as JSON equal to the library', async () => {
    const png = await fetch(`${s.url}/v1/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: URLS[0], text: TEXTS[0] }),
    });
    expect(png.status).to.equal(200);
    expect(png.headers.get('content-type')).to.equal('image/png');
    expect(
      Buffer.from(await png.arrayBuffer())
        .subarray(1, 4)
        .toString(),
    ).to.equal('PNG');
    const json = await post<{ probability: number; layer: number; maps: number[][] }>(`${s.url}/v1/explain`, {
      image: URLS[0],
      text: TEXTS[0],
      layer: 1,
      format: 'json',
    });
    const lib = await model.gradcam(IMAGES[0], TEXTS[0], { layer: 1 });
    expect(json.body.layer).to.equal(1);
    expect(json.body.probability).to.be.closeTo(lib.probability, 1e-6);
    expect(json.body.maps[1][0]).to.be.closeTo(lib.maps[1][0], 1e-6);
  });

  it('answers every error as JSON with its status, and keeps serving', async () => {
    const u = `${s.url}/v1/score`;
    const bad = async (status: number, body: unknown, message: RegExp, headers: Record<string, string> = {}) => {
      const r = await post(u, body, headers);
      expect(r.status, JSON.stringify(r.body)).to.equal(status);
      expect(r.body.error.message).to.match(message);
      expect(r.body.error.type).to.be.a('string');
      expect(JSON.stringify(r.body)).not.to.match(/\s+at .*\.js:\d+/); // no stack
    };
    await bad(400, '{"images": [', /JSON/);
    await bad(422, { images: URLS }, /^texts: is required/);
    await bad(422, { images: URLS[0], texts: ['a'] }, /^images: must be an array/);
    await bad(422, { images: [URLS[0]], texts: ['a', 3] }, /^texts\[1\]: must be a string/);
    await bad(422, { images: [URLS[0]], texts: ['a'], mode: 'x' }, /^mode: must be/);
    await bad(422, { images: [URLS[0]], texts: ['a'], max_length: 0 }, /^max_length: /);
    await bad(422, { images: ['data:image/png;base64,AAAA'], texts: ['a'] }, /images\[0\]: not a JPEG, PNG/);
    await bad(422, { images: ['data:image/png;base64,@@@'], texts: ['a'] }, /images\[0\]: is not an image/);
    await bad(422, { images: ['a cat'], texts: ['a'] }, /images\[0\]: is not an image/);
    const huge = `data:image/png;base64,${encodePng({ data: new Uint8Array(600 * 600 * 3), width: 600, height: 600 }).toString('base64')}`;
    await bad(422, { images: [huge], texts: ['a'] }, /exceeds the 300000-pixel limit/);
    await bad(413, { images: ['x'.repeat(1_100_000)], texts: ['a'] }, /too large/i);
    const rr = await post(`${s.url}/v2/rerank`, { query: 'a', documents: ['b'] });
    expect(rr.status).to.equal(422);
    expect(rr.body.error.message).to.match(/^documents\[0\]: must be an image/);
    const search = await post(`${s.url}/v1/search`, { query: 'a' });
    expect(search.status).to.equal(404);
    const notFound = await httpCall(`${s.url}/v1/nothing`);
    expect(notFound.status).to.equal(404);
    expect(notFound.json()).to.have.nested.property('error.type', 'not_found');
    const wrongMethod = await httpCall(u);
    expect(wrongMethod.status).to.equal(405);
    expect(wrongMethod.headers.allow).to.equal('POST');
    const media = await httpCall(u, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' });
    expect(media.status).to.equal(415);
    const ok = await post<Scores>(u, { images: [URLS[0]], texts: [TEXTS[0]] });
    expect(ok.status).to.equal(200);
    expect(ok.body.itm![0][0]).to.be.closeTo(want.itm[0][0], 1e-5);
  });

  it('logs one JSON line per request and echoes X-Request-Id', async () => {
    const r = await post(`${s.url}/v1/score`, { images: [URLS[0]], texts: ['a', 'b'] }, { 'X-Request-Id': 'req-42' });
    expect(r.headers.get('x-request-id')).to.equal('req-42');
    const line = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.id === 'req-42');
    expect(line).to.include({ route: '/v1/score', status: 200, images: 1, texts: 2, method: 'POST' });
    expect(line!.ms).to.be.a('number');
    const fresh = await httpCall(`${s.url}/health`, { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(fresh.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
  });

  it('/health, /ready, /metrics, /openapi.json and /docs', async () => {
    expect((await httpCall(`${s.url}/health`)).status).to.equal(200);
    expect((await httpCall(`${s.url}/ready`)).json()).to.deep.equal({ status: 'ready' });
    const metrics = await httpCall(`${s.url}/metrics`);
    expect(metrics.headers['content-type']).to.match(/^text\/plain/);
    const text = metrics.body.toString();
    for (const name of [
      'blip_itm_requests_total',
      'blip_itm_request_duration_seconds',
      'blip_itm_queue_wait_seconds',
      'blip_itm_queue_depth',
    ]) {
      expect(text).to.contain(`# TYPE ${name}`);
    }
    expect(text).to.match(/blip_itm_requests_total\{route="\/v1\/score",status="200"\} \d+/);
    expect(text)
      .to.match(/blip_itm_images_total \d+/)
      .and.to.match(/blip_itm_texts_total \d+/);
    const api = (await httpCall(`${s.url}/openapi.json`)).json() as { openapi: string; paths: Record<string, unknown> };
    expect(api.openapi).to.match(/^3\./);
    for (const p of [
      '/v1/score',
      '/v1/rerank',
      '/v2/rerank',
      '/v1/embeddings',
      '/v1/models',
      '/v1/search',
      '/v1/explain',
      '/health',
      '/ready',
      '/metrics',
    ]) {
      expect(api.paths, p).to.have.property(p);
    }
    const docs = await httpCall(`${s.url}/docs`);
    expect([200, 302]).to.include(docs.status);
  });

  it('holds no tensors across requests', async () => {
    await post(`${s.url}/v1/score`, { images: [URLS[0]], texts: ['warm'] });
    const before = tf.memory().numTensors;
    await Promise.all([
      post(`${s.url}/v1/score`, { images: URLS, texts: TEXTS }),
      post(`${s.url}/v1/embeddings`, { input: [URLS[1], 'a text'] }),
      post(`${s.url}/v2/rerank`, { query: URLS[1], documents: TEXTS }),
      post(`${s.url}/v2/rerank`, { query: 'a text', documents: URLS }),
      post(`${s.url}/v1/explain`, { image: URLS[2], text: 'a horse' }),
      post(`${s.url}/v1/explain`, { image: URLS[2], text: 'a horse', format: 'json' }),
      post(`${s.url}/v1/score`, { images: [URLS[0], 'not an image'], texts: ['x'] }),
    ]);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('with a small --max-queue, 40 concurrent requests get only 200 or 429 (Retry-After), every 200 right', async () => {
    // The batcher holds the first requests for 1 s, so the 40 arrive while 2 already wait.
    const small = await startService(model, { maxQueue: 2, maxBatch: 4, batchWaitMs: 1000 });
    try {
      const replies = await Promise.all(
        Array.from({ length: 40 }, (_, k) => post<Scores>(`${small.url}/v1/score`, { images: [URLS[k % 3]], texts: [TEXTS[(k + 1) % 3]] })),
      );
      const statuses = replies.map((r) => r.status);
      expect(
        statuses.filter((c) => c !== 200 && c !== 429),
        String(statuses),
      ).to.deep.equal([]);
      expect(statuses).to.include(200).and.to.include(429);
      replies.forEach((r, k) => {
        if (r.status === 429) {
          expect(Number(r.headers.get('retry-after'))).to.be.at.least(1);
          expect((r.body as unknown as { error: { type: string } }).error.type).to.equal('rate_limit_exceeded');
        } else {
          expect(r.body.itm![0][0]).to.be.closeTo(want.itm[k % 3][(k + 1) % 3], 1e-5);
          expect(r.body.itc![0][0]).to.be.closeTo(want.itc[k % 3][(k + 1) % 3], 1e-5);
        }
      });
      expect(small.engine.admission.active).to.equal(0);
    } finally {
      await small.service.app.close();
    }
  });

  it('with an API key: /v1 and /v2 need Authorization: Bearer KEY, /health, /ready and /metrics stay open', async () => {
    const keyed = await startService(model, {}, { apiKey: 'sekret-1' });
    try {
      const body = { images: [URLS[0]], texts: ['a'] };
      expect((await post(`${keyed.url}/v1/score`, body)).status).to.equal(401);
      const wrong = await post(`${keyed.url}/v1/score`, body, { Authorization: 'Bearer sekret-2' });
      expect(wrong.status).to.equal(401);
      expect(wrong.body.error.type).to.equal('authentication_error');
      expect((await post(`${keyed.url}/v1/score`, body, { Authorization: 'Bearer sekret-1' })).status).to.equal(200);
      expect((await post(`${keyed.url}/v2/rerank`, { query: 'a', documents: [URLS[0]] })).status).to.equal(401);
      for (const p of ['/health', '/ready', '/metrics']) expect((await httpCall(`${keyed.url}${p}`)).status, p).to.equal(200);
      const client = new OpenAI({ apiKey: 'sekret-1', baseURL: `${keyed.url}/v1` });
      expect((await client.embeddings.create({ model: 'm', input: 'a' })).data).to.have.length(1);
      const v2 = new CohereClientV2({ token: 'sekret-1', baseUrl: keyed.url });
      expect((await v2.rerank({ model: 'm', query: 'a', documents: [URLS[0]] })).results).to.have.length(1);
    } finally {
      await keyed.service.app.close();
    }
    expect(bearerMatches('Bearer k', 'k')).to.equal(true);
    expect(bearerMatches('bearer k', 'k')).to.equal(true);
    expect(bearerMatches(undefined, 'k')).to.equal(false);
    expect(bearerMatches('Bearer ', '')).to.equal(false);
    expect(bearerMatches('Bearer kk', 'k')).to.equal(false);
  });

  it('draining: requests in flight finish with 200, new ones get 503, /ready 503', async () => {
    const d = await startService(model, { batchWaitMs: 1500, maxBatch: 64 });
    const inFlight = [0, 1, 2, 3].map((k) => post<Scores>(`${d.url}/v1/score`, { images: [URLS[k % 3]], texts: [TEXTS[0]] }));
    for (let t = 0; d.engine.admission.active < 4 && t < 1000; t++) await new Promise((r) => setTimeout(r, 5));
    expect(d.engine.admission.active, 'requests admitted before the drain').to.equal(4);
    const drained = d.service.drain(30_000);
    const late = await post(`${d.url}/v1/score`, { images: [URLS[0]], texts: ['a'] });
    expect(late.status).to.equal(503);
    expect((await httpCall(`${d.url}/ready`)).status).to.equal(503);
    const replies = await Promise.all(inFlight);
    replies.forEach((r, k) => {
      expect(r.status).to.equal(200);
      expect(r.body.itm![0][0]).to.be.closeTo(want.itm[k % 3][0], 1e-5);
    });
    expect(await drained).to.equal(true);
  });
});
