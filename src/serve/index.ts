/** `blip-itm serve`: the HTTP service (Node only; the CLI verb is src/cli/verbs/serve.ts). */
export { ServeEngine, cosines } from './engine';
export type { EngineOptions } from './engine';
export { ServeMetrics } from './metrics';
export { buildService, bearerMatches } from './server';
export type { ServerOptions, Service } from './server';
export { HttpError } from './errors';
export { float32Base64 } from './routes';
