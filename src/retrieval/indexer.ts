import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BlipItm } from '../model/blip-itm';
import { ImageDecodeError } from '../image';
import { Dataset, NewRow, TABLE, isLocal, makeRow, resolveUri } from './dataset';
import { modelDims } from './embedding';
import { checkSameModel, modelRecord, sha256File } from './fingerprint';
import { FORMAT_NAME, FORMAT_VERSION, IndexEntry, IndexMeta, STATES_STORAGES, StatesStorage, checkEndianness } from './schema';
import { Shard, WHOLE, inShard } from './shard';
import { FoundFile, findImages } from './walk';

export interface BuildProgress {
  /** Files processed of those needing work (new or changed). */
  done: number;
  total: number;
  /** The file just processed ('' before the first). */
  file: string;
  /** Images run through the vision encoder so far. */
  encoded: number;
}

export interface BuildOptions {
  /** How to store each image's states for re-ranking: float32 (default; exact) or float16 (half the size). Fixed when the index is created. */
  states?: StatesStorage;
  /** Also compare content hashes of files whose size and mtime are unchanged (reads every file). */
  hash?: boolean;
  /** Start afresh, discarding an existing index (needed when it was made by another model). */
  rebuild?: boolean;
  /** Encode only this part of the inputs (several writers fill one index at once). Default: all. */
  shard?: Shard;
  /** Save the work done so far at least this often, in seconds (default 30). */
  checkpointSeconds?: number;
  /** ... and after this many encoded files (default 64). */
  checkpointEvery?: number;
  /** Build the ANN (IVF-PQ) vector index once the table has this many rows (default 50,000). */
  annMinRows?: number;
  /** Aborting stops after the current image, saves what was done and throws IndexInterrupted. */
  signal?: AbortSignal;
  onProgress?: (p: BuildProgress) => void;
  /** Skipped files and other problems, one line each (default: ignored; see the report). */
  onWarning?: (message: string) => void;
}

export interface BuildReport {
  /** Images of this writer's part in the index after the run. */
  files: number;
  /** Images run through the vision encoder. */
  encoded: number;
  /** Kept as they were: same path, size and mtime (and content, with `hash`). */
  unchanged: number;
  /** New or changed files whose exact bytes were already indexed: features copied, not encoded again. */
  reused: number;
  /** Entries dropped: the file is gone or no longer readable. */
  removed: number;
  /** Files that could not be read or decoded, with why. */
  skipped: { path: string; reason: string }[];
  /** Whether the table was compacted (small fragments merged, vector index updated). */
  compacted: boolean;
  seconds: number;
}

/** Thrown by a build whose signal was aborted; the index holds the work done until then. */
export class IndexInterrupted extends Error {
  constructor(readonly report: BuildReport) {
    super(`interrupted: ${report.files} images are in the index (${report.encoded} encoded in this run)`);
    this.name = 'IndexInterrupted';
  }
}

export const DEFAULT_ANN_MIN_ROWS = 50_000;

/** A run id that sorts by start time: the newest row wins when two writers added one path. */
function newRunId(): string {
  return `${Date.now().toString(36).padStart(9, '0')}-${crypto.randomBytes(4).toString('hex')}`;
}

/** A local output folder must be new, empty or an index: never litter a photo folder. */
function checkLocalDir(dir: string): void {
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir}: exists and is not a folder`);
  // __manifest: LanceDB's table list; eval_itm.lance: scores saved by `blip-itm eval` next to its images.
  const foreign = fs.readdirSync(dir).filter((n) => n !== `${TABLE}.lance` && n !== '__manifest' && n !== 'eval_itm.lance');
  if (foreign.length) throw new Error(`${dir}: exists and is not an image index (it holds ${foreign[0]}); choose another output folder`);
}

/** The row each path resolves to (newest run), and the older duplicates. */
export function latestByPath(rows: readonly IndexEntry[]): { latest: Map<string, IndexEntry>; older: IndexEntry[] } {
  const latest = new Map<string, IndexEntry>();
  const older: IndexEntry[] = [];
  for (const r of rows) {
    const cur = latest.get(r.path);
    if (!cur) latest.set(r.path, r);
    else if (r.run > cur.run) {
      older.push(cur);
      latest.set(r.path, r);
    } else older.push(r);
  }
  return { latest, older };
}

/**
 * Creates or updates the index at `out` (a folder, or an object store URI) from the images under
 * `paths` (of this writer's shard): the index then holds exactly those. Unchanged files are not
 * read again, new and changed ones are encoded and added, removed ones deleted. Rows are added
 * in commits (every `checkpointEvery` images or `checkpointSeconds`, on abort, at the end), each
 * atomic; a writer deletes only rows it saw, so writers running at once never undo each other.
 */
export async function buildIndex(model: BlipItm, out: string, paths: string[], opts: BuildOptions = {}): Promise<BuildReport> {
  checkEndianness();
  const started = Date.now();
  if (opts.states !== undefined && !STATES_STORAGES.includes(opts.states)) {
    throw new Error(`states must be ${STATES_STORAGES.join(' or ')}; got ${opts.states}`);
  }
  const shard = opts.shard ?? WHOLE;
  const warn = opts.onWarning ?? (() => undefined);
  const files = findImages(paths, warn).filter((f) => inShard(f.path, shard));
  const uri = resolveUri(out);
  if (isLocal(uri) && !fs.existsSync(path.join(uri, 'manifest.json'))) checkLocalDir(uri);
  if (opts.rebuild) await Dataset.drop(uri);
  const existing = await Dataset.open(uri);
  if (existing) {
    try {
      checkSameModel(model, existing.meta.model, uri);
      if (opts.states && opts.states !== existing.meta.states) {
        throw new Error(`${uri}: states are stored as ${existing.meta.states}, not ${opts.states}; rebuild it with --rebuild to change`);
      }
    } catch (e) {
      existing.close();
      throw e;
    }
  }
  const meta: IndexMeta = existing?.meta ?? {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    model: modelRecord(model),
    dims: modelDims(model),
    states: opts.states ?? 'float32',
  };
  const dataset = existing ?? (await Dataset.openOrCreate(uri, meta));
  try {
    if (dataset.meta.model.fingerprint !== meta.model.fingerprint) checkSameModel(model, dataset.meta.model, uri);
    return await new Build(model, dataset, shard, opts, started).go(files);
  } finally {
    dataset.close();
  }
}

class Build {
  private readonly run = newRunId();
  private readonly report: BuildReport = {
    files: 0,
    encoded: 0,
    unchanged: 0,
    reused: 0,
    removed: 0,
    skipped: [],
    compacted: false,
    seconds: 0,
  };
  private pending: NewRow[] = [];
  /** Rows the pending ones replace (changed files), deleted once those are committed. */
  private superseded: IndexEntry[] = [];
  private lastCommit = Date.now();
  private committed = false;

  constructor(
    private readonly model: BlipItm,
    private readonly dataset: Dataset,
    private readonly shard: Shard,
    private readonly opts: BuildOptions,
    private readonly started: number,
  ) {}

  async go(files: FoundFile[]): Promise<BuildReport> {
    const seen = await this.dataset.scanEntries();
    const mine = seen.filter((r) => inShard(r.path, this.shard));
    const { latest } = latestByPath(mine);
    const rowsOf = new Map<string, IndexEntry[]>();
    for (const r of mine) rowsOf.set(r.path, [...(rowsOf.get(r.path) ?? []), r]);
    const byHash = new Map([...latest.values()].map((e) => [e.sha256, e]));
    const present = new Set(files.map((f) => f.path));
    const todo: FoundFile[] = [];
    let kept = 0;
    for (const f of files) {
      const e = latest.get(f.path);
      if (e && e.size === f.size && e.mtimeMs === f.mtimeMs && (!this.opts.hash || hashOrNull(f.path) === e.sha256)) kept++;
      else todo.push(f);
    }
    this.report.unchanged = kept;
    const gone = mine.filter((r) => !present.has(r.path));
    this.report.removed = new Set(gone.map((r) => r.path)).size;

    const progress = (done: number, file: string) =>
      this.opts.onProgress?.({ done, total: todo.length, file, encoded: this.report.encoded });
    progress(0, '');
    for (let i = 0; i < todo.length; i++) {
      if (this.opts.signal?.aborted) {
        await this.commit();
        this.report.files = kept + this.report.encoded + this.report.reused;
        throw new IndexInterrupted(this.finish());
      }
      const f = todo[i];
      const row = await this.add(f, byHash);
      const old = rowsOf.get(f.path) ?? [];
      if (row) {
        this.pending.push(row);
        this.superseded.push(...old);
      } else if (old.length) {
        this.report.removed++; // was indexed, unreadable now
        gone.push(...old);
      }
      if (this.commitDue()) await this.commit();
      progress(i + 1, f.path);
      await new Promise((resolve) => setImmediate(resolve)); // let signal handlers and output run
    }
    await this.commit();
    if (gone.length) {
      await this.dataset.remove(gone);
      this.committed = true;
    }
    await this.settle();
    this.report.files = kept + this.report.encoded + this.report.reused;
    return this.finish();
  }

  /** Reads, hashes and (unless its bytes are indexed already) encodes one file; null when skipped. */
  private async add(f: FoundFile, byHash: Map<string, IndexEntry>): Promise<NewRow | null> {
    let bytes: Buffer;
    let st: fs.Stats;
    try {
      st = fs.statSync(f.path);
      bytes = fs.readFileSync(f.path);
    } catch (e) {
      return this.skip(f.path, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    // The hash, the vector and the states all come from these bytes, read once.
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    const entry: IndexEntry = { path: f.path, size: bytes.length, mtimeMs: st.mtimeMs, sha256, run: this.run };
    const same = byHash.get(sha256);
    const pending = this.pending.find((r) => r.sha256 === sha256);
    if (pending) {
      this.report.reused++;
      return { ...entry, vector: pending.vector, states: pending.states };
    }
    if (same) {
      const [stored] = await this.dataset.fetch([same]);
      if (stored) {
        this.report.reused++;
        return makeRow(entry, stored.vector, stored.states, this.dataset.meta.states);
      }
    }
    let embedding;
    try {
      [embedding] = await this.model.encodeImages([bytes]);
    } catch (e) {
      if (e instanceof ImageDecodeError) return this.skip(f.path, e.problem);
      throw e;
    }
    try {
      const states = (await embedding.states.data()) as Float32Array; // [1, T, D] → T×D row-major
      this.report.encoded++;
      const row = makeRow(entry, embedding.itcEmbedding, states, this.dataset.meta.states);
      byHash.set(sha256, entry);
      return row;
    } finally {
      embedding.dispose();
    }
  }

  private skip(file: string, reason: string): null {
    this.report.skipped.push({ path: file, reason });
    this.opts.onWarning?.(`${file}: ${reason}; skipped`);
    return null;
  }

  private commitDue(): boolean {
    const every = this.opts.checkpointEvery ?? 64;
    const seconds = this.opts.checkpointSeconds ?? 30;
    return this.pending.length > 0 && (this.pending.length >= every || Date.now() - this.lastCommit >= seconds * 1000);
  }

  /** Adds the pending rows in one atomic commit, then deletes the rows they replace. */
  private async commit(): Promise<void> {
    if (this.pending.length) {
      await this.dataset.add(this.pending);
      this.committed = true;
    }
    // A crash between the two leaves both rows; readers take the newest run, the next writer deletes the other.
    if (this.superseded.length) await this.dataset.remove(this.superseded);
    this.pending = [];
    this.superseded = [];
    this.lastCommit = Date.now();
  }

  /** After a run that changed something: drop duplicates of this part, compact, keep the ANN index current. */
  private async settle(): Promise<void> {
    if (!this.committed) return;
    const { older } = latestByPath((await this.dataset.scanEntries()).filter((r) => inShard(r.path, this.shard)));
    if (older.length) await this.dataset.remove(older);
    try {
      await this.dataset.optimize();
      this.report.compacted = true;
      const rows = await this.dataset.count();
      if (rows >= (this.opts.annMinRows ?? DEFAULT_ANN_MIN_ROWS) && !(await this.dataset.hasVectorIndex())) {
        await this.dataset.createVectorIndex(rows);
      }
    } catch (e) {
      // Another writer compacting or indexing at the same moment: the data is committed, tidying can wait.
      this.opts.onWarning?.(`${this.dataset.uri}: compaction left for a later run (${(e as Error).message})`);
    }
  }

  private finish(): BuildReport {
    this.report.seconds = (Date.now() - this.started) / 1000;
    return this.report;
  }
}

function hashOrNull(file: string): string | null {
  try {
    return sha256File(file);
  } catch {
    return null;
  }
}
