import * as fs from 'fs';
import { NodeBlipItm as BlipItm } from '../../src/node/platform';
import { ServeEngine, Service, buildService } from '../../src/serve';
import { EngineOptions } from '../../src/serve/engine';
import { ServerOptions } from '../../src/serve/server';

/** A file as a data:image/...;base64 string, as clients send images. */
export function dataUrl(file: string): string {
  const type = file.endsWith('.jpg') ? 'jpeg' : 'png';
  return `data:image/${type};base64,${fs.readFileSync(file).toString('base64')}`;
}

export interface TestService {
  url: string;
  service: Service;
  engine: ServeEngine;
  logs: string[];
}

/** The service on a free loopback port, in this process, logging into `logs`. */
export async function startService(
  model: BlipItm,
  engineOpts: Partial<EngineOptions> = {},
  serverOpts: Partial<ServerOptions> = {},
): Promise<TestService> {
  const engine = new ServeEngine(model, { maxQueue: 64, maxBatch: 16, batchWaitMs: 5, ...engineOpts });
  const logs: string[] = [];
  const service = await buildService({
    engine,
    modelId: 'blip-itm-tiny',
    maxBodyMb: 1,
    maxPixels: 300_000,
    log: (line) => logs.push(line),
    ...serverOpts,
  });
  const url = await service.app.listen({ host: '127.0.0.1', port: 0 });
  return { url, service, engine, logs };
}

export interface ErrorReply {
  error: { message: string; type: string };
}

/** POSTs JSON with fetch; answers status, headers and the parsed body (or text when not JSON). */
export async function post<T = ErrorReply>(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: T }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: r.status, headers: r.headers, body: parsed as T };
}
