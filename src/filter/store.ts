import * as fs from 'fs';
import * as path from 'path';
import { arrow as loadArrow } from '../retrieval/lance';
import { FilterRow, readParquetFile, rowsTable, toParquet, writeFileAtomic } from './parquet';
import { TAR_END } from './tar';

/**
 * Where one shard's rows go, committed in batches so that a killed job loses at most the batch
 * in flight and a rerun neither repeats nor skips a sample.
 *
 *   OUT/part-0000i-of-0000N.parquet          the result, renamed into place when the shard is done
 *   OUT/.blip-itm-filter/part-…/job.json      what the run is (inputs, options, model)
 *   OUT/.blip-itm-filter/part-…/rows-S-E.parquet  committed rows of samples S..E-1 (atomic renames)
 *   OUT/.blip-itm-filter/part-…/kept-S.tar    the kept samples of that batch (--write-kept)
 *   OUT/.blip-itm-filter/part-….done.json     written before the final merge: the shard is complete
 *
 * Samples are numbered in the order the shard reads them; batches are committed in order, so
 * the committed files always cover 0..E-1 and a rerun starts at E. Readers (pyarrow, DuckDB,
 * Spark) skip dot-folders, so the staging area never shows up as data.
 */

export interface JobIdentity {
  inputs: { path: string; size: number; mtimeMs: number }[];
  options: Record<string, unknown>;
  model: string;
}

export interface Totals {
  rows: number;
  kept: number;
  dropped: number;
  errors: number;
  /** itm_prob counts in ten bins [0, 0.1), ..., [0.9, 1]. */
  histogram: number[];
}

const pad = (n: number) => String(n).padStart(5, '0');
const ordinal = (n: number) => String(n).padStart(12, '0');
const STAGING = '.blip-itm-filter';

export function partName(index: number, count: number): string {
  return `part-${pad(index)}-of-${pad(count)}`;
}

export function totalsOf(rows: Iterable<Pick<FilterRow, 'keep' | 'error' | 'itm_prob'>>): Totals {
  const t: Totals = { rows: 0, kept: 0, dropped: 0, errors: 0, histogram: new Array(10).fill(0) };
  for (const r of rows) {
    t.rows++;
    if (r.error !== null) t.errors++;
    else if (r.keep) t.kept++;
    else t.dropped++;
    if (r.itm_prob !== null) t.histogram[Math.min(9, Math.floor(r.itm_prob * 10))]++;
  }
  return t;
}

export class ShardStore {
  readonly final: string;
  readonly keptFinal?: string;
  private readonly staging: string;
  private readonly marker: string;

  constructor(
    private readonly out: string,
    index: number,
    private readonly count: number,
    private readonly identity: JobIdentity,
    keptDir?: string,
  ) {
    const name = partName(index, count);
    this.final = path.join(out, `${name}.parquet`);
    this.keptFinal = keptDir ? path.join(keptDir, `${name}.tar`) : undefined;
    this.staging = path.join(out, STAGING, name);
    this.marker = path.join(out, STAGING, `${name}.done.json`);
  }

  /**
   * Prepares the folder: 'done' when this shard was finished by the same job (its totals),
   * else the number of samples already committed. A different job's work is refused unless
   * `restart`, which discards it.
   */
  open(restart: boolean): { done: Totals } | { resumeAt: number } {
    this.checkShardCount();
    if (restart) this.discard();
    const same = (file: string) => JSON.stringify(readJson(file)?.identity) === JSON.stringify(this.identity);
    if (fs.existsSync(this.marker)) {
      if (!same(this.marker)) throw this.otherJob(this.final);
      if (!fs.existsSync(this.staging) && fs.existsSync(this.final)) return { done: readJson(this.marker)?.totals as Totals };
      if (!fs.existsSync(this.staging))
        throw new Error(`${this.final}: missing although ${this.marker} says the shard is done; rerun with --restart`);
      return { resumeAt: this.committed().end };
    }
    if (fs.existsSync(this.final)) throw this.otherJob(this.final);
    const job = path.join(this.staging, 'job.json');
    if (fs.existsSync(job)) {
      if (!same(job)) throw this.otherJob(this.staging);
      return { resumeAt: this.committed().end };
    }
    fs.mkdirSync(this.staging, { recursive: true });
    if (this.keptFinal) fs.mkdirSync(path.dirname(this.keptFinal), { recursive: true });
    writeFileAtomic(job, Buffer.from(JSON.stringify({ identity: this.identity }, null, 1)));
    return { resumeAt: 0 };
  }

  /** Commits the rows of samples start..end-1 (and their kept-sample tar records): all or nothing. */
  commit(start: number, end: number, rows: FilterRow[], kept: Uint8Array[]): void {
    if (this.keptFinal) writeFileAtomic(path.join(this.staging, `kept-${ordinal(start)}.tar`), kept);
    writeFileAtomic(path.join(this.staging, `rows-${ordinal(start)}-${ordinal(end)}.parquet`), toParquet(rowsTable(rows)));
  }

  /** Merges the committed batches into the shard's file (and kept tar), then removes the staging area. */
  finish(): Totals {
    const { files } = this.committed();
    const tables = files.map((f) => readParquetFile(path.join(this.staging, f)));
    const table = tables.length ? new (loadArrow().Table)(tables.flatMap((t) => t.batches)) : rowsTable([]);
    const totals = totalsOf(table.toArray() as FilterRow[]);
    writeFileAtomic(this.marker, Buffer.from(JSON.stringify({ identity: this.identity, totals }, null, 1)));
    if (this.keptFinal) {
      const parts = files.map((f) => fs.readFileSync(path.join(this.staging, f.replace(/^rows-(\d+)-\d+\.parquet$/, 'kept-$1.tar'))));
      writeFileAtomic(this.keptFinal, [...parts, TAR_END]);
    }
    writeFileAtomic(this.final, toParquet(table));
    fs.rmSync(this.staging, { recursive: true, force: true });
    return totals;
  }

  /** The committed batch files in order, and the first sample not yet committed. */
  private committed(): { files: string[]; end: number } {
    const files: string[] = [];
    let end = 0;
    const names = fs.existsSync(this.staging) ? fs.readdirSync(this.staging).sort() : [];
    for (const name of names) {
      const m = /^rows-(\d{12})-(\d{12})\.parquet$/.exec(name);
      if (!m) {
        if (name.includes('.tmp-')) fs.rmSync(path.join(this.staging, name), { force: true }); // a write a kill interrupted
        continue;
      }
      if (Number(m[1]) !== end) throw new Error(`${this.staging}: batch files do not follow on at ${name}; rerun with --restart`);
      files.push(name);
      end = Number(m[2]);
    }
    return { files, end };
  }

  private discard(): void {
    fs.rmSync(this.staging, { recursive: true, force: true });
    fs.rmSync(this.marker, { force: true });
    fs.rmSync(this.final, { force: true });
    if (this.keptFinal) fs.rmSync(this.keptFinal, { force: true });
  }

  private otherJob(where: string): Error {
    return new Error(
      `${where}: made by another run (other inputs, options or model); rerun that command to finish it, use another --out, or add --restart to discard it`,
    );
  }

  /** Refuses a folder that holds parts of a run split another way (--shard i/M with M ≠ N). */
  private checkShardCount(): void {
    if (!fs.existsSync(this.out)) return;
    for (const name of fs.readdirSync(this.out)) {
      const m = /^part-\d{5}-of-(\d{5})\.parquet$/.exec(name);
      if (m && Number(m[1]) !== this.count) {
        throw new Error(`${this.out}: holds ${name}, from a run split into ${Number(m[1])} shards, not ${this.count}; use another --out`);
      }
    }
  }
}

function readJson(file: string): { identity?: unknown; totals?: unknown } | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as { identity?: unknown; totals?: unknown };
  } catch {
    return undefined;
  }
}
