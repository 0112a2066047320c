import * as path from 'path';
import { ImageIndex } from '../../retrieval';
import { Command, MODEL_OPTIONS, UsageError, VISION_BATCH_OPTION } from '../command';
import { loadModel, modelSource } from '../inputs';

/** The server's own pixel limit: a 32 MB body must not decode into gigabytes. */
const SERVE_MAX_PIXELS = 50_000_000;
const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

export const serve: Command = {
  name: 'serve',
  summary: 'Runs the HTTP service: scores, rerank (Cohere), embeddings (OpenAI), search, Grad-CAM. Prints its URL first.',
  usage:
    'serve --model DIR|HUB_ID [--port 8080] [--host 127.0.0.1] [--max-queue N] [--max-batch N] [--batch-wait-ms N] ' +
    '[--api-key K] [--index PATH|URI] [--grace-s S] [--max-body-mb MB]',
  options: {
    ...MODEL_OPTIONS,
    ...VISION_BATCH_OPTION,
    port: { type: 'string', arg: 'N', help: 'port to listen on (default 8080; 0 = any free port)' },
    host: { type: 'string', arg: 'ADDR', help: 'address to bind (default 127.0.0.1; anything else exposes the service to the network)' },
    'max-queue': {
      type: 'string',
      arg: 'N',
      help: 'requests that may wait for the model; one more gets 429 with Retry-After (default 64)',
    },
    'max-batch': {
      type: 'string',
      arg: 'N',
      help: 'most images (or texts) of concurrent requests encoded in one call (default 16; 1 = no batching)',
    },
    'batch-wait-ms': { type: 'string', arg: 'MS', help: 'how long a batch waits for more requests when the model is idle (default 5)' },
    'api-key': {
      type: 'string',
      arg: 'KEY',
      help: 'require Authorization: Bearer KEY on /v1 and /v2 (default $BLIP_ITM_API_KEY; /health, /ready, /metrics stay open)',
    },
    index: {
      type: 'string',
      arg: 'INDEX',
      help: 'an index made by blip-itm index (folder or URI such as s3://bucket/x) for POST /v1/search',
    },
    'grace-s': { type: 'string', arg: 'S', help: 'on SIGTERM/SIGINT, seconds to let requests in flight finish (default 30)' },
    'max-body-mb': { type: 'string', arg: 'MB', help: 'largest request body (default 32; 413 above)' },
    'model-id': { type: 'string', arg: 'NAME', help: 'model name reported by /v1/models (default: the hub id or the folder name)' },
  },
  details: [
    'The first line of output is the URL. Request logs go to standard error, one JSON line each.',
    'Images in requests are data:image/(jpeg|png);base64,... strings; any other string is a text.',
    `Images over --max-pixels (default ${SERVE_MAX_PIXELS.toLocaleString('en')} here) are refused with 422.`,
    'Routes: POST /v1/score, /v1/rerank, /v2/rerank, /v1/embeddings, /v1/search, /v1/explain; GET /v1/models,',
    '/health, /ready, /metrics, /openapi.json, /docs. See docs/serve.md.',
  ].join('\n'),
  async run(args) {
    const port = args.bounded('port', 0, 65535) ?? 8080;
    const host = args.string('host') ?? '127.0.0.1';
    const maxQueue = args.bounded('max-queue', 0, 1_000_000) ?? 64;
    const maxBatch = args.bounded('max-batch', 1, 4096) ?? 16;
    const batchWaitMs = args.bounded('batch-wait-ms', 0, 60_000) ?? 5;
    const visionBatch = args.visionBatch();
    const graceS = args.number('grace-s', 30) as number;
    if (!(graceS >= 0 && graceS <= 3600)) throw new UsageError(`serve: --grace-s must be 0..3600, got ${graceS}`);
    const maxBodyMb = args.number('max-body-mb', 32) as number;
    if (!(maxBodyMb > 0 && maxBodyMb <= 4096))
      throw new UsageError(`serve: --max-body-mb must be more than 0 and at most 4096, got ${maxBodyMb}`);
    const apiKey = args.string('api-key') ?? (process.env.BLIP_ITM_API_KEY || undefined);
    if (apiKey !== undefined && !/^\S+$/.test(apiKey)) throw new UsageError('serve: the API key must be one word without spaces');
    const maxPixels =
      args.integer('max-pixels') ?? (process.env.BLIP_ITM_MAX_PIXELS ? Number(process.env.BLIP_ITM_MAX_PIXELS) : SERVE_MAX_PIXELS);
    const source = modelSource(args);
    const modelId =
      args.string('model-id') ??
      (source.includes('/') && !path.isAbsolute(source) && !source.startsWith('.') ? source : path.basename(path.resolve(source)));
    const indexWhere = args.string('index');
    const index = indexWhere ? await ImageIndex.open(indexWhere) : undefined; // a bad index fails before the model loads
    const model = await loadModel(args);
    try {
      // Loaded here, not at the top: Fastify, its OpenAPI plugins and prom-client cost ~0.5 s, which
      // every other command would pay at start-up.
      const { ServeEngine, buildService } = await import('../../serve');
      const engine = new ServeEngine(model, { maxQueue, maxBatch, batchWaitMs, visionBatch }, index);
      const service = await buildService({ engine, modelId, apiKey, maxBodyMb, maxPixels });
      const url = await service.app.listen({ host, port });
      process.stdout.write(`${url}\n`);
      if (!LOOPBACK.includes(host) && apiKey === undefined) {
        process.stderr.write(`blip-itm: warning: listening on ${host} without --api-key: anyone who can reach it can use the model\n`);
      }
      const signal = await new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      process.stderr.write(`blip-itm: ${signal}: draining (at most ${graceS} s)\n`);
      const clean = await service.drain(graceS * 1000);
      if (!clean) {
        process.stderr.write(`blip-itm: requests still running after ${graceS} s were cut off\n`);
        process.exitCode = 1;
      }
    } finally {
      model.dispose();
      index?.close();
    }
  },
};
