import * as http from 'http';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: () => Record<string, unknown>;
}

/**
 * One HTTP request with full control of the headers (fetch forbids setting Host), on its own
 * connection: a kept-alive socket that the server closes after its idle timeout, just as the
 * next request reuses it, fails with ECONNRESET (seen when a test pauses for a slow model call).
 */
export function httpCall(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string } = {},
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(body.toString('utf8')) as Record<string, unknown>,
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** POSTs a JSON body and parses the JSON answer. */
export async function postJson<T>(url: string, body: unknown): Promise<{ status: number; value: T }> {
  const r = await httpCall(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, value: r.json() as T };
}
