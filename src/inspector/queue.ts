/** What the model is doing now, for the page's progress line. */
export interface QueueStatus {
  /** Label of the running job, or null when idle. */
  running: string | null;
  /** Milliseconds the running job has run. */
  elapsedMs: number;
  /** Jobs waiting behind it. */
  waiting: number;
}

/** A queued job whose caller gave up (e.g. its HTTP client disconnected) before it started. */
export class JobCancelled extends Error {
  constructor(label: string) {
    super(`${label}: cancelled before it started (the client went away)`);
    this.name = 'JobCancelled';
  }
}

/**
 * Runs jobs one at a time, in arrival order: one model must not run two passes at once (they
 * would compete for the same threads and memory, and tfjs backends are not re-entrant). A job
 * whose signal is aborted while it waits is dropped without running; a running job runs to its
 * end (a tfjs pass cannot be interrupted).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private current: { label: string; started: number } | null = null;
  private pending = 0;
  /** Jobs dropped because their signal was aborted before they started. */
  cancelled = 0;

  run<T>(label: string, job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.pending++;
    const result = this.tail.then(async () => {
      this.pending--;
      if (signal?.aborted) {
        this.cancelled++;
        throw new JobCancelled(label);
      }
      this.current = { label, started: Date.now() };
      try {
        // One macrotask first: a page paints its progress line, a server answers /api/status,
        // before the (mostly synchronous) model work holds the thread.
        await new Promise((resolve) => setTimeout(resolve, 0));
        return await job();
      } finally {
        this.current = null;
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  status(): QueueStatus {
    return {
      running: this.current?.label ?? null,
      elapsedMs: this.current ? Date.now() - this.current.started : 0,
      waiting: this.pending,
    };
  }

  /** Resolves when every job queued so far has finished. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
