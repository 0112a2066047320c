import { BarStream, formatDuration } from '../hub/progress';
import { FilterProgress, FilterReport } from './job';

/**
 * The filter's progress on stderr: on a terminal one line redrawn in place (bar by bytes of the
 * inputs read, samples, samples/s, ETA); elsewhere (logs of a batch job) a plain line every
 * `everySeconds`.
 */
export class FilterProgressDisplay {
  private readonly started = Date.now();
  private last = Date.now();
  private drawn = false;

  constructor(
    private readonly stream: BarStream,
    private readonly everySeconds = 30,
  ) {}

  readonly update = (p: FilterProgress): void => {
    const now = Date.now();
    const tty = !!this.stream.isTTY;
    if (now - this.last < (tty ? 100 : this.everySeconds * 1000)) return;
    this.last = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? p.samples / seconds : 0;
    const fraction = p.totalBytes > 0 ? Math.min(1, p.bytes / p.totalBytes) : 0;
    const eta = fraction > 0 && fraction < 1 ? formatDuration((seconds * (1 - fraction)) / fraction) : '--:--';
    const stats = `${p.samples} samples, ${p.rows} rows (${p.errors} errors), ${rate.toFixed(rate < 10 ? 2 : 1)} samples/s, ETA ${eta}`;
    if (!tty) {
      this.stream.write(`filter: ${(fraction * 100).toFixed(1)}% of input read, ${stats}\n`);
      return;
    }
    const barWidth = 20;
    const filled = Math.round(barWidth * fraction);
    this.stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${stats}\x1b[K`);
    this.drawn = true;
  };

  /** Ends the bar's line, if one was drawn. */
  break(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

/** The closing summary: counts, where the rows are, and a histogram of itm_prob to pick a threshold by. */
export function summaryLines(r: FilterReport, threshold: number): string[] {
  const scored = r.kept + r.dropped;
  const lines = [
    `filter: ${r.rows} rows: ${r.kept} kept, ${r.dropped} dropped (itm_prob < ${threshold}), ${r.errors} errors` +
      ` → ${r.file ?? '(not written)'}${r.keptFile ? ` and ${r.keptFile}` : ''}`,
    `filter: ${r.added} rows added by this run${r.resumed ? ` (${r.resumed} samples were committed before)` : ''} in ${r.seconds.toFixed(1)} s`,
  ];
  if (scored) {
    const max = Math.max(...r.histogram);
    lines.push('itm_prob histogram:');
    r.histogram.forEach((n, i) => {
      const bar = '#'.repeat(max ? Math.round((30 * n) / max) : 0);
      lines.push(`  ${(i / 10).toFixed(1)}-${((i + 1) / 10).toFixed(1)} ${String(n).padStart(8)} ${bar}`);
    });
  }
  return lines;
}
