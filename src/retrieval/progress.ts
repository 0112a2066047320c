import { BarStream, formatDuration } from '../hub/progress';
import { BuildProgress, BuildReport } from './indexer';

const REDRAW_MS = 100;

/**
 * The `index` progress display: on a TTY one line redrawn in place (bar, count, files (images and videos) per
 * second, ETA, current file); elsewhere nothing until the summary line.
 */
export class IndexProgressBar {
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(private readonly stream: BarStream = process.stderr) {}

  readonly update = (p: BuildProgress): void => {
    if (!this.stream.isTTY || p.total === 0) return;
    const now = Date.now();
    if (p.done < p.total && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? p.done / seconds : 0;
    const eta = rate > 0 ? formatDuration((p.total - p.done) / rate) : '--:--';
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    const barWidth = 20;
    const filled = Math.round((barWidth * p.done) / p.total);
    const stats = `[${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${p.done}/${p.total} ${rate.toFixed(rate < 10 ? 2 : 1)} files/s ETA ${eta} `;
    const room = Math.max(0, width - stats.length);
    const name = p.file.length > room ? (room > 1 ? `…${p.file.slice(-(room - 1))}` : '') : p.file;
    this.stream.write(`\r${stats}${name}\x1b[K`);
    this.drawn = true;
  };

  /** Ends the bar's line, if one was drawn, so the next message starts on its own. */
  break(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

export function summaryLine(dir: string, r: BuildReport): string {
  const parts = [`${r.encoded} encoded`, `${r.unchanged} unchanged`];
  if (r.reused) parts.push(`${r.reused} already indexed under another name`);
  if (r.removed) parts.push(`${r.removed} removed`);
  if (r.skipped.length) parts.push(`${r.skipped.length} skipped`);
  const what = r.videos ? `${r.files - r.videos} images and ${r.videos} videos` : `${r.files} images`;
  return `${dir}: ${what} (${parts.join(', ')}) in ${r.seconds.toFixed(1)} s`;
}
