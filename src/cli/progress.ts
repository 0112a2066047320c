import type { BarStream } from '../hub/progress';

const REDRAW_MS = 100;

/**
 * A status line on stderr for long work (loading the model, scoring many pairs), redrawn in place
 * and erased when the work ends, so that what stays on the terminal is the result. Only on a
 * terminal: when stderr is a file or a pipe, or with --quiet, it writes nothing.
 */
export class StatusLine {
  private shown = false;
  private lastDraw = 0;
  private started = Date.now();

  constructor(
    private readonly stream: BarStream,
    readonly enabled: boolean,
  ) {}

  /** The status line of a verb: on when stderr is a terminal and --quiet was not given. */
  static forStderr(quiet: boolean): StatusLine {
    return new StatusLine(process.stderr, !!process.stderr.isTTY && !quiet);
  }

  /** Starts a new stage (its clock restarts) with `text`. */
  stage(text: string): void {
    this.started = Date.now();
    this.draw(text);
  }

  /** `label done/total`, with the elapsed time and an estimate of what is left; redrawn at most every 100 ms. */
  count(label: string, done: number, total: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (done < total && now - this.lastDraw < REDRAW_MS) return;
    const seconds = (now - this.started) / 1000;
    const left = done > 0 && done < total ? `, about ${formatSeconds((seconds * (total - done)) / done)} left` : '';
    this.draw(`${label} ${done}/${total} (${formatSeconds(seconds)}${left})`);
  }

  /** Erases the line. */
  clear(): void {
    if (!this.enabled || !this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }

  private draw(text: string): void {
    if (!this.enabled) return;
    this.lastDraw = Date.now();
    const width = (this.stream.columns ?? 80) - 1;
    this.stream.write(`\r\x1b[K${text.length > width ? text.slice(0, width - 1) + '…' : text}`);
    this.shown = true;
  }
}

function formatSeconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
