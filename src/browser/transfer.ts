/// <reference lib="dom" />

/**
 * One file's requests and body reads, under one inactivity timer and the caller's AbortSignal:
 * every fetch and every body chunk restarts the timer; when it fires, or the signal aborts, the
 * request in flight is aborted and the error names the file and URL. Network failures become one
 * line that says what went wrong where it can be told (a cross-origin refusal or an unreachable
 * host look the same to fetch, so a no-cors probe tells them apart).
 */
export class Transfer {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timedOut = false;
  private readonly onAbort = (): void => this.controller.abort(this.signal?.reason);

  constructor(
    readonly url: string,
    readonly file: string,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (!(timeoutMs > 0)) throw new Error(`timeoutMs must be a positive number, got ${timeoutMs}`);
    signal?.throwIfAborted();
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** True once the caller aborted or the timer fired. */
  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  finish(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  async fetch(init: RequestInit): Promise<Response> {
    this.arm();
    try {
      return await fetch(this.url, { ...init, signal: this.controller.signal });
    } catch (e) {
      throw await this.explain(e, 'request');
    } finally {
      clearTimeout(this.timer);
    }
  }

  /**
   * The body, at most `max` bytes; more is an error. 'exact': fewer is an error too (a Range
   * answer shorter than asked).
   */
  async readBody(res: Response, max: number, mode: 'exact' | 'exact-or-less'): Promise<Uint8Array> {
    const out = new Uint8Array(max);
    let fill = 0;
    await this.read(res, (chunk) => {
      if (fill + chunk.length > max) throw new Error(`${this.file}: ${this.url} sent more than the ${max} bytes asked for`);
      out.set(chunk, fill);
      fill += chunk.length;
    });
    if (mode === 'exact' && fill !== max)
      throw new Error(`${this.file}: ${this.url} sent ${fill} bytes where ${max} were asked for (truncated?)`);
    return fill === max ? out : out.slice(0, fill);
  }

  /** Streams the body into pieces of `step` bytes, refusing to go past `limit()` (checked per chunk). */
  async streamPieces(res: Response, step: number, limit: () => number, onPiece: (piece: Uint8Array) => Promise<void>): Promise<void> {
    let buf = new Uint8Array(step);
    let fill = 0;
    let total = 0;
    const full: Uint8Array[] = [];
    await this.read(
      res,
      (value) => {
        total += value.length;
        if (total > limit() + step) throw new Error(`${this.file}: ${this.url} sent more than ${limit()} bytes`);
        let from = 0;
        while (from < value.length) {
          const n = Math.min(step - fill, value.length - from);
          buf.set(value.subarray(from, from + n), fill);
          fill += n;
          from += n;
          if (fill === step) {
            full.push(buf);
            buf = new Uint8Array(step);
            fill = 0;
          }
        }
      },
      async () => {
        // Pieces are handed on between reads, so their checks (the limit, HTML) run as data arrives.
        for (const piece of full.splice(0)) await onPiece(piece);
      },
    );
    if (fill > 0) await onPiece(buf.slice(0, fill));
  }

  private async read(res: Response, onChunk: (chunk: Uint8Array) => void, between?: () => Promise<void>): Promise<void> {
    if (!res.body) {
      onChunk(new Uint8Array(await res.arrayBuffer()));
      await between?.();
      return;
    }
    const reader = res.body.getReader();
    let got = 0;
    try {
      for (;;) {
        this.arm();
        let step: ReadableStreamReadResult<Uint8Array>;
        try {
          step = await reader.read();
        } catch (e) {
          throw await this.explain(e, `body after ${got} bytes`);
        }
        if (step.done) break;
        got += step.value.length;
        onChunk(step.value);
        await between?.();
      }
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      throw e;
    } finally {
      clearTimeout(this.timer);
    }
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, this.timeoutMs);
  }

  private async explain(e: unknown, stage: string): Promise<Error> {
    if (this.timedOut) {
      return new Error(`${this.file}: no data from ${this.url} for ${this.timeoutMs / 1000} s (the server stalled); gave up`, { cause: e });
    }
    if (this.signal?.aborted) {
      const reason: unknown = this.signal.reason;
      return reason instanceof Error ? reason : new DOMException(`loading ${this.file} was aborted`, 'AbortError');
    }
    const msg = e instanceof Error ? e.message : String(e);
    if (stage !== 'request') {
      return new Error(
        `${this.file}: the connection to ${this.url} broke while reading the ${stage} (${msg}; a wrong Content-Length or a cut connection)`,
        {
          cause: e,
        },
      );
    }
    return new Error(`${this.file}: cannot fetch ${this.url}: ${await this.diagnose()} (${msg})`, { cause: e });
  }

  /** Why fetch() failed: same origin, or a no-cors probe that fails too, means the host cannot be reached. */
  private async diagnose(): Promise<string> {
    const page = (globalThis as { location?: { origin: string } }).location?.origin;
    const target = new URL(this.url, page);
    const unreachable = `${target.host} cannot be reached (name lookup, connection or TLS failed, or the network is offline)`;
    if (!page || target.origin === page) return unreachable;
    try {
      await fetch(this.url, { mode: 'no-cors', method: 'HEAD', signal: AbortSignal.timeout(Math.min(this.timeoutMs, 10_000)) });
      return `${target.origin} answered but does not allow this page to read it (a cross-origin server must send Access-Control-Allow-Origin)`;
    } catch {
      return unreachable;
    }
  }
}
