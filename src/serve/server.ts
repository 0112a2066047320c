import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { createHash, randomUUID, timingSafeEqual } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ServeEngine } from './engine';
import { ERROR_TYPES, HttpError, errorBody } from './errors';
import { Answer, Call, embeddings, explain, models, rerank, score, search } from './routes';
import { SCHEMAS } from './schemas';

export interface ServerOptions {
  engine: ServeEngine;
  /** The name /v1/models and /v1/embeddings report. */
  modelId: string;
  /** Bearer key every /v1 and /v2 route requires (none: open). */
  apiKey?: string;
  /** Largest request body in MiB (413 above). */
  maxBodyMb: number;
  /** Largest image in pixels (422 above), checked from the header before decoding. */
  maxPixels: number;
  /** Where the one-line JSON request logs go (default: stderr). */
  log?: (line: string) => void;
}

export interface Service {
  app: FastifyInstance;
  /** Whether the service refuses new work (SIGTERM): /ready answers 503. */
  readonly draining: boolean;
  /** Stops taking work, lets requests in flight finish (at most `graceMs`), closes; false when the grace ran out. */
  drain(graceMs: number): Promise<boolean>;
}

type Handler = (body: unknown, call: Call) => Promise<Answer> | Answer;

interface Route {
  method: 'GET' | 'POST';
  url: string;
  summary: string;
  body?: object;
  handler: Handler;
}

const ROUTES: Route[] = [
  {
    method: 'POST',
    url: '/v1/score',
    summary: 'ITM match probabilities and ITC cosines, rows images, columns texts',
    body: SCHEMAS.score,
    handler: score,
  },
  {
    method: 'POST',
    url: '/v1/rerank',
    summary: 'Cohere v1 rerank: documents by ITM match probability',
    body: SCHEMAS.rerank,
    handler: (b, c) => rerank(b, c, 1),
  },
  {
    method: 'POST',
    url: '/v2/rerank',
    summary: 'Cohere v2 rerank: documents by ITM match probability',
    body: SCHEMAS.rerank,
    handler: (b, c) => rerank(b, c, 2),
  },
  {
    method: 'POST',
    url: '/v1/embeddings',
    summary: 'OpenAI embeddings: normalised ITC embeddings of texts and images',
    body: SCHEMAS.embeddings,
    handler: embeddings,
  },
  { method: 'GET', url: '/v1/models', summary: 'The model served', handler: (_b, c) => models(c) },
  {
    method: 'POST',
    url: '/v1/search',
    summary: 'Text to image search over the --index (as blip-itm search --json)',
    body: SCHEMAS.search,
    handler: search,
  },
  {
    method: 'POST',
    url: '/v1/explain',
    summary: 'Grad-CAM of the ITM match over the image: a PNG, or the maps as JSON',
    body: SCHEMAS.explain,
    handler: explain,
  },
];

/** A client's X-Request-Id when it is a sane token, else a fresh UUID. */
function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:@/+=-]{1,128}$/.test(given) ? given : randomUUID();
}

/** Whether the Authorization header carries `key` (compared in constant time, whatever the lengths). */
export function bearerMatches(header: string | undefined, key: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m ? m[1] : ''), digest(key)) && m !== null;
}

function packageVersion(): string {
  const file = path.resolve(__dirname, '../../../package.json'); // from dist/src/serve
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

function isApiPath(url: string): boolean {
  return url.startsWith('/v1/') || url.startsWith('/v2/');
}

/** Builds the service (routes, hooks, docs); the caller listens. */
export async function buildService(opts: ServerOptions): Promise<Service> {
  const { engine } = opts;
  const metrics = engine.metrics;
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const counts = new WeakMap<FastifyRequest, { images: number; texts: number }>();
  let draining = false;
  let inFlight = 0;
  let onIdle: (() => void) | undefined;

  const app = Fastify({
    logger: false,
    bodyLimit: Math.round(opts.maxBodyMb * 1024 * 1024),
    requestIdHeader: false,
    genReqId: requestId,
    forceCloseConnections: true,
  });
  // Bodies are checked by the handlers (422 naming the field); the schemas only document them.
  app.setValidatorCompiler(() => () => true);
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'blip-itm',
        description: 'BLIP image-text matching as a service: scores, Cohere-style rerank, OpenAI-style embeddings, search, Grad-CAM',
        version: packageVersion(),
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('onRequest', async (req, reply) => {
    inFlight++;
    reply.raw.once('close', () => {
      inFlight--;
      if (inFlight === 0) onIdle?.();
    });
    reply.header('X-Request-Id', req.id);
    const path = req.url.split('?')[0];
    if (!isApiPath(path)) return;
    if (draining) throw new HttpError(503, 'service_unavailable', 'the server is shutting down; retry on another replica');
    if (opts.apiKey !== undefined && !bearerMatches(req.headers.authorization, opts.apiKey)) {
      throw new HttpError(401, 'authentication_error', 'missing or wrong API key (send Authorization: Bearer KEY)', {
        'WWW-Authenticate': 'Bearer',
      });
    }
  });
  app.addHook('onSend', async (_req, reply) => {
    if (draining) reply.header('Connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const seconds = reply.elapsedTime / 1000;
    metrics.requests.inc({ route, status: String(status) });
    metrics.latency.observe({ route }, seconds);
    const c = counts.get(req) ?? { images: 0, texts: 0 };
    log(
      JSON.stringify({
        time: new Date().toISOString(),
        id: req.id,
        method: req.method,
        route,
        status,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        images: c.images,
        texts: c.texts,
      }),
    );
  });

  app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
    if (err instanceof HttpError) return reply.code(err.status).headers(err.headers).send(errorBody(err.message, err.type));
    const status = err.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // Fastify's own refusals (bad JSON, body too large, media type): their messages carry no internals.
      return reply.code(status).send(errorBody(err.message, ERROR_TYPES[status] ?? 'invalid_request_error'));
    }
    log(JSON.stringify({ time: new Date().toISOString(), level: 'error', id: req.id, error: err.message, stack: err.stack }));
    return reply.code(500).send(errorBody(`internal error (request id ${req.id}); the server log has the details`, 'internal_error'));
  });

  const allowed = new Map<string, string[]>();
  const allow = (url: string, method: string) => allowed.set(url, [...(allowed.get(url) ?? []), method]);
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const methods = allowed.get(path);
    if (methods) {
      return reply
        .code(405)
        .header('Allow', methods.join(', '))
        .send(errorBody(`${req.method} is not allowed on ${path} (allowed: ${methods.join(', ')})`, 'method_not_allowed'));
    }
    return reply.code(404).send(errorBody(`no route ${req.method} ${path} (see /docs)`, 'not_found'));
  });

  for (const r of ROUTES) {
    allow(r.url, r.method);
    app.route({
      method: r.method,
      url: r.url,
      schema: { summary: r.summary, ...(r.body ? { body: r.body } : {}), security: opts.apiKey ? [{ bearer: [] }] : [] },
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const call: Call = {
          engine,
          modelId: opts.modelId,
          maxPixels: opts.maxPixels,
          count: (images, texts) => counts.set(req, { images, texts }),
        };
        const answer = await r.handler(req.body, call);
        if ('json' in answer) return reply.send(answer.json);
        return reply.type(answer.contentType).send(answer.bytes);
      },
    });
  }
  const openGet = (url: string, summary: string, handler: (reply: FastifyReply) => unknown) => {
    allow(url, 'GET');
    app.get(url, { schema: { summary } }, async (_req, reply) => handler(reply));
  };
  openGet('/health', 'The process lives (liveness)', () => ({ status: 'ok' }));
  openGet('/ready', 'The model is loaded and the server takes work (readiness); 503 while draining', (reply) =>
    draining ? reply.code(503).send(errorBody('draining: the server is shutting down', 'service_unavailable')) : { status: 'ready' },
  );
  openGet('/metrics', 'Prometheus metrics', async (reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  openGet('/openapi.json', 'This OpenAPI document', () => app.swagger());
  await app.ready();

  return {
    app,
    get draining() {
      return draining;
    },
    async drain(graceMs: number): Promise<boolean> {
      draining = true;
      const idle = new Promise<boolean>((resolve) => {
        if (inFlight === 0 && engine.admission.active === 0) return resolve(true);
        onIdle = () => resolve(true);
      });
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
      const clean = await Promise.race([idle, expired]);
      clearTimeout(timer);
      await app.close();
      return clean;
    },
  };
}
