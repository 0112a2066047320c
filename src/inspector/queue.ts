/** What the model is doing now, for the page's progress line. */
export interface QueueStatus {
  /** Label of the running job, or null when idle. */
  running: string | null;
  /** Milliseconds the running job has run. */
  elapsedMs: number;
  /** Jobs waiting behind it. */
  waiting: number;
}

/**
 * Runs jobs one at a time, in arrival order: one model must not run two passes at once (they
 * would compete for the same threads and memory, and tfjs backends are not re-entrant).
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private current: { label: string; started: number } | null = null;
  private pending = 0;

  run<T>(label: string, job: () => Promise<T>): Promise<T> {
    this.pending++;
    const result = this.tail.then(async () => {
      this.pending--;
      this.current = { label, started: Date.now() };
      try {
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
