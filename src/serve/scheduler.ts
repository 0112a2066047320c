import { HttpError } from './errors';

/**
 * How the service shares one model between concurrent requests: a serial executor (the model is
 * one device; its jobs run one at a time, in order), an admission gate that bounds the requests
 * waiting for it, and batchers that gather the images (or texts) of concurrent requests into one
 * model call.
 */

/** Runs jobs one at a time in submission order. */
export class SerialExecutor {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** What the gate reports to metrics. */
export interface AdmissionEvents {
  /** A request started its first model work after waiting this long. */
  started(waitSeconds: number): void;
}

/**
 * At most `maxQueue` admitted requests wait for their first model work; one more is refused at
 * once with 429 and a Retry-After estimated from recent service times.
 */
export class Admission {
  private waitingCount = 0;
  private activeCount = 0;
  private serviceMs = 1000;
  private idle: (() => void)[] = [];

  constructor(
    readonly maxQueue: number,
    private readonly events: AdmissionEvents = { started: () => undefined },
  ) {}

  get waiting(): number {
    return this.waitingCount;
  }
  /** Admitted requests not yet finished (waiting or in service). */
  get active(): number {
    return this.activeCount;
  }

  /** Admits a request (429 when the queue is full); the caller calls ticket.done() when it ends. */
  enter(): Ticket {
    if (this.waitingCount >= this.maxQueue) {
      const seconds = Math.max(1, Math.ceil(((this.waitingCount + 1) * this.serviceMs) / 1000));
      throw new HttpError(429, 'rate_limit_exceeded', `the queue is full (${this.maxQueue} requests waiting); retry later`, {
        'Retry-After': String(seconds),
      });
    }
    this.waitingCount++;
    this.activeCount++;
    return new Ticket(this);
  }

  /** Resolves once no admitted request is left. */
  whenIdle(): Promise<void> {
    if (this.activeCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** @internal */
  markStarted(waitMs: number): void {
    this.waitingCount--;
    this.events.started(waitMs / 1000);
  }

  /** @internal */
  markDone(started: boolean, serviceMs: number): void {
    if (!started) this.waitingCount--;
    else this.serviceMs = 0.8 * this.serviceMs + 0.2 * serviceMs;
    this.activeCount--;
    if (this.activeCount === 0) this.idle.splice(0).forEach((f) => f());
  }
}

/** One admitted request's place: waiting until start(), then in service until done(). */
export class Ticket {
  private readonly admittedAt = performance.now();
  private startedAt?: number;
  private finished = false;

  constructor(private readonly gate: Admission) {}

  start(): void {
    if (this.startedAt !== undefined || this.finished) return;
    this.startedAt = performance.now();
    this.gate.markStarted(this.startedAt - this.admittedAt);
  }

  done(): void {
    if (this.finished) return;
    this.finished = true;
    const started = this.startedAt !== undefined;
    this.gate.markDone(started, started ? performance.now() - (this.startedAt as number) : 0);
  }
}

interface Pending<I, O> {
  item: I;
  ticket: Ticket;
  resolve(out: O): void;
  reject(e: unknown): void;
}

/**
 * Gathers items from concurrent requests into one call of `runBatch` on the executor: a batch
 * goes when `maxBatch` items wait or `waitMs` after its first item, and takes what waits when the
 * executor reaches it (so under load batches fill while the model is busy).
 */
export class Batcher<I, O> {
  private pending: Pending<I, O>[] = [];
  private timer?: NodeJS.Timeout;
  private queued = false;

  constructor(
    private readonly executor: SerialExecutor,
    private readonly maxBatch: number,
    private readonly waitMs: number,
    private readonly runBatch: (items: I[]) => Promise<O[]>,
    private readonly onBatch: (size: number) => void = () => undefined,
  ) {}

  /** The outputs of `items`, in order. */
  submit(items: I[], ticket: Ticket): Promise<O[]> {
    const outs = items.map((item) => new Promise<O>((resolve, reject) => this.pending.push({ item, ticket, resolve, reject })));
    this.schedule();
    return Promise.all(outs);
  }

  private schedule(): void {
    if (this.queued || this.pending.length === 0) return;
    if (this.pending.length >= this.maxBatch || this.waitMs === 0) this.enqueue();
    else this.timer ??= setTimeout(() => this.enqueue(), this.waitMs);
  }

  private enqueue(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queued = true;
    void this.executor.run(async () => {
      this.queued = false;
      const batch = this.pending.splice(0, this.maxBatch);
      this.schedule();
      if (!batch.length) return;
      batch.forEach((p) => p.ticket.start());
      this.onBatch(batch.length);
      try {
        const outs = await this.runBatch(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(outs[i]));
      } catch (e) {
        batch.forEach((p) => p.reject(e));
      }
    });
  }
}
