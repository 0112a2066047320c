import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BlipItm } from '../model/blip-itm';
import { FfmpegDecoder } from '../node/video';
import { DEFAULT_FRAMES, checkFrameCount } from '../video/sampling';
import { VideoDecoder } from '../video/source';
import { Dataset, NewRow, TABLE, isLocal, makeRow, resolveUri } from './dataset';
import { modelDims } from './embedding';
import { Encoded, SkipFile, encodeImageBytes, encodeVideoFile } from './encode';
import { checkSameModel, modelRecord, sha256File } from './fingerprint';
import {
  FORMAT_NAME,
  FORMAT_VERSION,
  IMAGES_ONLY_VERSION,
  IndexEntry,
  IndexMeta,
  STATES_STORAGES,
  StatesStorage,
  checkEndianness,
} from './schema';
import { Shard, WHOLE, inShard } from './shard';
import { FoundFile, findMedia } from './walk';

export interface BuildProgress {
  /** Files processed of those needing work (new or changed). */
  done: number;
  total: number;
  /** The file just processed ('' before the first). */
  file: string;
  /** Images and videos run through the vision encoder so far. */
  encoded: number;
}

export interface BuildOptions {
  /** How to store each image's states for re-ranking: float32 (default; exact) or float16 (half the size). Fixed when the index is created. */
  states?: StatesStorage;
  /** Also compare content hashes of files whose size and mtime are unchanged (reads every file). */
  hash?: boolean;
  /** Start afresh, discarding an existing index (needed when it was made by another model). */
  rebuild?: boolean;
  /**
   * Frames sampled per video (default 8, BLIP's; then the index's own). Fixed when the index is
   * created (or upgraded from format 3): a different count is refused, so every video row is alike.
   */
  frames?: number;
  /** How videos are decoded (default: `new FfmpegDecoder()`: ffmpeg on PATH or $BLIP_ITM_FFMPEG, its default limits). */
  videoDecoder?: VideoDecoder;
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
  /** Images and videos of this writer's part in the index after the run. */
  files: number;
  /** Of `files`, the videos. */
  videos: number;
  /** Images and videos run through the vision encoder. */
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
  /** Set when this run upgraded a format-3 (images only) index to hold videos: the version it had. */
  upgradedFrom?: number;
  seconds: number;
}

/** Thrown by a build whose signal was aborted; the index holds the work done until then. */
export class IndexInterrupted extends Error {
  constructor(readonly report: BuildReport) {
    const what = report.videos ? `${report.files - report.videos} images and ${report.videos} videos` : `${report.files} images`;
    super(`interrupted: ${what} are in the index (${report.encoded} encoded in this run)`);
    this.name = 'IndexInterrupted';
  }
}

export const DEFAULT_ANN_MIN_ROWS = 50_000;
/** Rows wait in memory for their commit up to this many bytes of states (64 base-model videos would be 0.9 GB). */
const PENDING_BYTES = 256 << 20;

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
  if (opts.frames !== undefined) checkFrameCount(opts.frames);
  const shard = opts.shard ?? WHOLE;
  const warn = opts.onWarning ?? (() => undefined);
  const files = findMedia(paths, warn).filter((f) => inShard(f.path, shard));
  const uri = resolveUri(out);
  if (isLocal(uri) && !fs.existsSync(path.join(uri, 'manifest.json'))) checkLocalDir(uri);
  if (opts.rebuild) await Dataset.drop(uri);
  let existing = await Dataset.open(uri);
  let upgradedFrom: number | undefined;
  if (existing) {
    try {
      checkSameModel(model, existing.meta.model, uri);
      checkSettings(uri, existing.meta, opts);
    } catch (e) {
      existing.close();
      throw e;
    }
    // A format-3 index stays readable by older releases until it is given a video.
    if (existing.meta.version === IMAGES_ONLY_VERSION && files.some((f) => f.kind === 'video')) {
      existing.close();
      await Dataset.upgrade(uri, opts.frames ?? DEFAULT_FRAMES);
      upgradedFrom = IMAGES_ONLY_VERSION;
      existing = await Dataset.open(uri);
      if (existing) checkSettings(uri, existing.meta, opts);
    }
  }
  const meta: IndexMeta = existing?.meta ?? {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    model: modelRecord(model),
    dims: modelDims(model),
    states: opts.states ?? 'float32',
    videoFrames: opts.frames ?? DEFAULT_FRAMES,
  };
  const dataset = existing ?? (await Dataset.openOrCreate(uri, meta));
  try {
    if (dataset.meta.model.fingerprint !== meta.model.fingerprint) checkSameModel(model, dataset.meta.model, uri);
    checkSettings(uri, dataset.meta, opts);
    const report = await new Build(model, dataset, shard, opts, started).go(files);
    return upgradedFrom ? { ...report, upgradedFrom } : report;
  } finally {
    dataset.close();
  }
}

/** Settings fixed when the index was created must not change: states storage, frames per video. */
function checkSettings(uri: string, meta: IndexMeta, opts: BuildOptions): void {
  if (opts.states && opts.states !== meta.states) {
    throw new Error(`${uri}: states are stored as ${meta.states}, not ${opts.states}; rebuild it with --rebuild to change`);
  }
  if (opts.frames !== undefined && meta.videoFrames !== undefined && opts.frames !== meta.videoFrames) {
    throw new Error(
      `${uri}: videos in this index are sampled at ${meta.videoFrames} frames, not ${opts.frames}; ` +
        `use --frames ${meta.videoFrames}, or --rebuild to change it`,
    );
  }
}

class Build {
  private readonly run = newRunId();
  private readonly report: BuildReport = {
    files: 0,
    videos: 0,
    encoded: 0,
    unchanged: 0,
    reused: 0,
    removed: 0,
    skipped: [],
    compacted: false,
    seconds: 0,
  };
  private pending: NewRow[] = [];
  private pendingBytes = 0;
  /** Videos kept unchanged or added by this run. */
  private videos = 0;
  private readonly decoder: VideoDecoder;
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
  ) {
    this.decoder = opts.videoDecoder ?? new FfmpegDecoder();
  }

  async go(files: FoundFile[]): Promise<BuildReport> {
    const seen = await this.dataset.scanEntries();
    const mine = seen.filter((r) => inShard(r.path, this.shard));
    const { latest } = latestByPath(mine);
    const rowsOf = new Map<string, IndexEntry[]>();
    for (const r of mine) rowsOf.set(r.path, [...(rowsOf.get(r.path) ?? []), r]);
    const byHash = new Map([...latest.values()].map((e) => [contentKey(e), e]));
    const present = new Set(files.map((f) => f.path));
    const todo: FoundFile[] = [];
    let kept = 0;
    for (const f of files) {
      const e = latest.get(f.path);
      const same = e && e.kind === f.kind && e.size === f.size && e.mtimeMs === f.mtimeMs;
      if (same && (!this.opts.hash || hashOrNull(f.path) === e.sha256)) {
        kept++;
        if (f.kind === 'video') this.videos++;
      } else todo.push(f);
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
      let row: NewRow | null;
      try {
        row = await this.add(f, byHash);
      } catch (e) {
        await this.commit(); // a fatal error (no ffmpeg, a failing backend): keep what was done
        throw e;
      }
      const old = rowsOf.get(f.path) ?? [];
      if (row) {
        this.pending.push(row);
        this.pendingBytes += row.states.byteLength;
        this.superseded.push(...old);
        if (row.kind === 'video') this.videos++;
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
    let bytes: Buffer | undefined;
    let st: fs.Stats;
    let sha256: string;
    try {
      st = fs.statSync(f.path);
      if (f.kind === 'image') {
        bytes = fs.readFileSync(f.path);
        sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
      } else {
        sha256 = sha256File(f.path); // streamed: a video is never held in memory, ffmpeg reads the file
      }
    } catch (e) {
      return this.skip(f.path, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    // An image's hash, vector and states all come from the bytes read once; a video's from a file
    // whose size and mtime are the same before hashing and after decoding.
    const entry: IndexEntry = {
      path: f.path,
      size: bytes?.length ?? st.size,
      mtimeMs: st.mtimeMs,
      sha256,
      run: this.run,
      kind: f.kind,
      frames: 1,
    };
    const pending = this.pending.find((r) => contentKey(r) === contentKey(entry));
    if (pending) {
      this.report.reused++;
      return { ...entry, frames: pending.frames, vector: pending.vector, states: pending.states };
    }
    const same = byHash.get(contentKey(entry));
    if (same) {
      const [stored] = await this.dataset.fetch([same]);
      if (stored) {
        this.report.reused++;
        return makeRow({ ...entry, frames: stored.frames }, stored.vector, stored.states, this.dataset.meta.states);
      }
    }
    let encoded: Encoded;
    try {
      encoded = bytes ? await encodeImageBytes(this.model, bytes) : await this.encodeVideo(f.path, st);
    } catch (e) {
      if (e instanceof SkipFile) return this.skip(f.path, e.message);
      throw e;
    }
    this.report.encoded++;
    const frames = encoded.states.length / (this.dataset.dims.tokens * this.dataset.dims.hidden);
    const row = makeRow({ ...entry, frames }, encoded.vector, encoded.states, this.dataset.meta.states);
    byHash.set(contentKey(row), row);
    return row;
  }

  private async encodeVideo(file: string, before: fs.Stats): Promise<Encoded> {
    const frames = this.dataset.meta.videoFrames ?? DEFAULT_FRAMES;
    const encoded = await encodeVideoFile(this.model, file, frames, this.decoder);
    const after = fs.statSync(file, { throwIfNoEntry: false });
    if (!after || after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new SkipFile('changed while it was being indexed (the next run will index it)');
    }
    return encoded;
  }

  private skip(file: string, reason: string): null {
    this.report.skipped.push({ path: file, reason });
    this.opts.onWarning?.(`${file}: ${reason}; skipped`);
    return null;
  }

  private commitDue(): boolean {
    const every = this.opts.checkpointEvery ?? 64;
    const seconds = this.opts.checkpointSeconds ?? 30;
    const due = this.pending.length >= every || this.pendingBytes >= PENDING_BYTES || Date.now() - this.lastCommit >= seconds * 1000;
    return this.pending.length > 0 && due;
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
    this.pendingBytes = 0;
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
    this.report.videos = this.videos;
    this.report.seconds = (Date.now() - this.started) / 1000;
    return this.report;
  }
}

/** Rows with the same key hold the same features: the same bytes read as the same kind. */
function contentKey(e: IndexEntry): string {
  return `${e.kind} ${e.sha256}`;
}

function hashOrNull(file: string): string | null {
  try {
    return sha256File(file);
  } catch {
    return null;
  }
}
