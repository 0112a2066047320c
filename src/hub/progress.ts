/** Progress of one file transfer; `done` counts bytes already on disk, resumed ones included. */
export interface ProgressEvent {
  file: string;
  done: number;
  total: number;
}

export type ProgressCallback = (e: ProgressEvent) => void;

/** true: a bar on stderr when it is a TTY (the default); false: silence; a function: events. */
export type ProgressSetting = boolean | ProgressCallback;

export interface FileProgress {
  update(done: number): void;
  /** Called once; `ok` false leaves the bar where it stopped (the error tells the rest). */
  end(ok: boolean): void;
}

/** What the bar needs from a stream; process.stderr in practice, a fake in tests. */
export interface BarStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): boolean;
}

const NOOP: FileProgress = { update: () => undefined, end: () => undefined };
const REDRAW_MS = 100;

export function createProgress(
  setting: ProgressSetting | undefined,
  file: string,
  total: number,
  initial: number,
  stream: BarStream = process.stderr,
): FileProgress {
  if (typeof setting === 'function') {
    return {
      update: (done) => setting({ file, done, total }),
      end: (ok) => {
        if (ok) setting({ file, done: total, total });
      },
    };
  }
  if (setting === false || !stream.isTTY) return NOOP;
  return new Bar(stream, file, total, initial);
}

/** One line, redrawn in place with \r: name, percent, bytes, rate, ETA. */
class Bar implements FileProgress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private done: number;

  constructor(
    private readonly stream: BarStream,
    private readonly file: string,
    private readonly total: number,
    private readonly initial: number,
  ) {
    this.done = initial;
    this.draw();
  }

  update(done: number): void {
    this.done = done;
    if (Date.now() - this.lastDraw >= REDRAW_MS) this.draw();
  }

  end(ok: boolean): void {
    if (ok) this.done = this.total;
    this.draw();
    this.stream.write('\n');
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const seconds = (this.lastDraw - this.started) / 1000;
    // Rate over this session's bytes only, so a resumed file does not look impossibly fast.
    const rate = seconds > 0 ? (this.done - this.initial) / seconds : 0;
    const pct = this.total > 0 ? Math.floor((100 * this.done) / this.total) : 100;
    const eta = rate > 0 ? formatDuration((this.total - this.done) / rate) : '--:--';
    const stats =
      ` ${String(pct).padStart(3)}% ${formatBytes(this.done)}/${formatBytes(this.total)}` + ` ${formatBytes(rate)}/s ETA ${eta}`;
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    const nameRoom = Math.max(8, width - stats.length);
    const name = this.file.length > nameRoom ? `…${this.file.slice(-(nameRoom - 1))}` : this.file;
    this.stream.write(`\r${name}${stats}\x1b[K`);
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
