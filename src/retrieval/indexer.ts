import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BlipItm } from '../model/blip-itm';
import { ImageDecodeError } from '../image';
import { ImageEmbedding } from '../model/image-embedding';
import { modelDims } from './embedding';
import { checkSameModel, modelRecord, sha256File } from './fingerprint';
import {
  Dims, FORMAT_NAME, FORMAT_VERSION, IndexEntry, MANIFEST, Manifest, ModelRecord, StatesStorage, STATES_STORAGES,
  checkEndianness, readManifest, statesFile, itcFile, writeManifest,
} from './index-format';
import { lockIndex } from './lock';
import { RowReader, RowWriter } from './store';
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
  /** How to store each image's states for re-ranking: float32 (default), float16 or none (re-encode at query time). Default: the existing index's. */
  states?: StatesStorage;
  /** Also compare content hashes of files whose size and mtime are unchanged (reads every file). */
  hash?: boolean;
  /** Start afresh, discarding an existing index (needed when it was made by another model). */
  rebuild?: boolean;
  /** Save the work done so far at least this often, in seconds (default 30). */
  checkpointSeconds?: number;
  /** ... and after this many processed files (default: no count limit). */
  checkpointEvery?: number;
  /** Aborting stops after the current image, saves what was done and throws IndexInterrupted. */
  signal?: AbortSignal;
  onProgress?: (p: BuildProgress) => void;
  /** Skipped files and other problems, one line each (default: ignored; see the report). */
  onWarning?: (message: string) => void;
}

export interface BuildReport {
  /** Images in the index after the run. */
  files: number;
  /** Images run through the vision encoder. */
  encoded: number;
  /** Kept as they were: same path, size and mtime (and content, with `hash`). */
  unchanged: number;
  /** New or changed files whose exact bytes were already indexed: not encoded again. */
  reused: number;
  /** Entries dropped: the file is gone or no longer readable. */
  removed: number;
  /** Files that could not be read or decoded, with why. */
  skipped: { path: string; reason: string }[];
  /** Whether the data files were rewritten without the rows no entry uses any more. */
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

const DATA_FILE = /^(data-[0-9a-f]+)\.(itc|states)$/;

function newDataName(): string { return `data-${crypto.randomBytes(4).toString('hex')}`; }

function byPath(a: IndexEntry, b: IndexEntry): number { return a.path < b.path ? -1 : a.path > b.path ? 1 : 0; }

/** Creates DIR, or checks that an existing DIR is an index (or empty): never litter a photo folder. */
function prepareDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(`${dir}: cannot create the index folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir}: exists and is not a folder`);
  const foreign = fs.readdirSync(dir).filter((n) => n !== MANIFEST && n !== '.lock' && !DATA_FILE.test(n) && !n.startsWith(`${MANIFEST}.tmp-`));
  if (foreign.length && !fs.existsSync(path.join(dir, MANIFEST))) {
    throw new Error(`${dir}: exists and is not an image index (it holds ${foreign[0]}); choose another output folder`);
  }
}

/** Deletes data files of other generations and temporary manifests (we hold the lock). */
function removeStrays(dir: string, keep: string | null): void {
  for (const name of fs.readdirSync(dir)) {
    const m = DATA_FILE.exec(name);
    if ((m && m[1] !== keep) || name.startsWith(`${MANIFEST}.tmp-`)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/**
 * Creates or updates the index in `dir` from the images under `paths` (the index then holds
 * exactly those). Unchanged files are not read again, new and changed ones are encoded and
 * appended, removed ones dropped; the manifest is replaced atomically at checkpoints and at
 * the end, so an interruption at any point leaves a valid index.
 */
export async function buildIndex(model: BlipItm, dir: string, paths: string[], opts: BuildOptions = {}): Promise<BuildReport> {
  checkEndianness();
  const started = Date.now();
  if (opts.states !== undefined && !STATES_STORAGES.includes(opts.states)) {
    throw new Error(`states must be ${STATES_STORAGES.join(', ')}; got ${opts.states}`);
  }
  const warn = opts.onWarning ?? (() => undefined);
  const files = findImages(paths, warn);
  prepareDir(dir);
  const unlock = lockIndex(dir);
  try {
    let old = readManifest(dir);
    // The generation the manifest on disk names stays until a new manifest replaces it.
    removeStrays(dir, old?.data ?? null);
    let record: ModelRecord;
    if (old && !opts.rebuild) {
      checkSameModel(model, old.model, dir);
      record = modelRecord(model, old.model.files);
    } else {
      record = modelRecord(model);
    }
    const storage = opts.states ?? old?.states ?? 'float32';
    if (old && old.states !== storage) {
      warn(`${dir}: states stored as ${old.states}, now ${storage}: every image is encoded again`);
      old = null;
    }
    if (opts.rebuild) old = null;
    const run = new Build(model, dir, record, storage, old, opts, started);
    return await run.go(files);
  } finally {
    unlock();
  }
}

class Build {
  private readonly dims: Dims;
  private data: string;
  private writer: RowWriter;
  private readonly report: BuildReport;
  private lastCheckpoint = Date.now();
  private sinceCheckpoint = 0;
  /** The manifest as last written (or found), to skip rewriting an unchanged one. */
  private onDisk: Manifest | null;

  constructor(
    private readonly model: BlipItm,
    private readonly dir: string,
    private readonly record: ModelRecord,
    private readonly storage: StatesStorage,
    private readonly old: Manifest | null,
    private readonly opts: BuildOptions,
    private readonly started: number,
  ) {
    this.dims = modelDims(model);
    this.onDisk = old;
    this.data = old?.data ?? newDataName();
    try {
      this.writer = RowWriter.open(dir, this.data, this.dims, storage, old?.rows ?? 0, !old);
    } catch (e) {
      throw new Error(`${dir}: cannot open the index data (${(e as Error).message}); rebuild it with --rebuild`);
    }
    this.report = { files: 0, encoded: 0, unchanged: 0, reused: 0, removed: 0, skipped: [], compacted: false, seconds: 0 };
  }

  async go(files: FoundFile[]): Promise<BuildReport> {
    try {
      const oldByPath = new Map((this.old?.entries ?? []).map((e) => [e.path, e]));
      const rowByHash = new Map((this.old?.entries ?? []).map((e) => [e.sha256, e.row]));
      const kept: IndexEntry[] = [];
      const todo: FoundFile[] = [];
      for (const f of files) {
        const e = oldByPath.get(f.path);
        if (e && e.size === f.size && e.mtimeMs === f.mtimeMs && (!this.opts.hash || hashOrNull(f.path) === e.sha256)) kept.push(e);
        else todo.push(f);
      }
      const present = new Set(files.map((f) => f.path));
      this.report.unchanged = kept.length;
      this.report.removed = [...oldByPath.keys()].filter((p) => !present.has(p)).length;

      const fresh = new Map<string, IndexEntry>();
      const progress = (done: number, file: string) => this.opts.onProgress?.({ done, total: todo.length, file, encoded: this.report.encoded });
      progress(0, '');
      for (let i = 0; i < todo.length; i++) {
        if (this.opts.signal?.aborted) {
          // Old entries of files not reached yet stay as they were.
          const pending = todo.slice(i).map((f) => oldByPath.get(f.path)).filter((e): e is IndexEntry => !!e);
          this.commit([...kept, ...fresh.values(), ...pending]);
          throw new IndexInterrupted(this.finish());
        }
        const f = todo[i];
        const entry = await this.add(f, rowByHash);
        if (entry) fresh.set(f.path, entry);
        else if (oldByPath.has(f.path)) this.report.removed++; // was indexed, unreadable now
        if (this.checkpointDue()) {
          const pending = todo.slice(i + 1).map((x) => oldByPath.get(x.path)).filter((e): e is IndexEntry => !!e);
          this.commit([...kept, ...fresh.values(), ...pending]);
        }
        progress(i + 1, f.path);
        await new Promise((resolve) => setImmediate(resolve)); // let SIGINT handlers and output run
      }
      this.commit([...kept, ...fresh.values()], true);
      return this.finish();
    } finally {
      this.writer.close();
    }
  }

  /** Reads, hashes and (unless its bytes are indexed already) encodes one file; null when skipped. */
  private async add(f: FoundFile, rowByHash: Map<string, number>): Promise<IndexEntry | null> {
    let bytes: Buffer;
    let st: fs.Stats;
    try {
      bytes = fs.readFileSync(f.path);
      st = fs.statSync(f.path);
    } catch (e) {
      return this.skip(f.path, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    let row = rowByHash.get(sha256);
    if (row !== undefined) {
      this.report.reused++;
    } else {
      let embedding: ImageEmbedding;
      try {
        [embedding] = await this.model.encodeImages([bytes]);
      } catch (e) {
        if (e instanceof ImageDecodeError) return this.skip(f.path, e.problem);
        throw e;
      }
      try {
        // [1, T, D] → T×D row-major
        const states = this.storage === 'none' ? null : (embedding.states.dataSync() as Float32Array);
        row = this.writer.append(embedding.itcEmbedding, states);
      } finally {
        embedding.dispose();
      }
      rowByHash.set(sha256, row);
      this.report.encoded++;
    }
    this.sinceCheckpoint++;
    // size and mtime after reading: a file rewritten meanwhile is caught by the next run.
    return { path: f.path, size: st.size, mtimeMs: st.mtimeMs, sha256, row };
  }

  private skip(file: string, reason: string): null {
    this.report.skipped.push({ path: file, reason });
    this.opts.onWarning?.(`${file}: ${reason}; skipped`);
    return null;
  }

  private checkpointDue(): boolean {
    const every = this.opts.checkpointEvery ?? Infinity;
    const seconds = this.opts.checkpointSeconds ?? 30;
    return this.sinceCheckpoint > 0 && (this.sinceCheckpoint >= every || Date.now() - this.lastCheckpoint >= seconds * 1000);
  }

  /** Flushes the data, then atomically replaces the manifest; at the end, compacts if worthwhile. */
  private commit(entries: IndexEntry[], final = false): void {
    entries.sort(byPath);
    const live = new Set(entries.map((e) => e.row));
    const dead = this.writer.rows - live.size;
    // Rows of removed or changed files stay in the data file until they are a quarter of it.
    if (final && dead > 0 && dead * 4 > this.writer.rows) entries = this.compact(entries);
    const manifest: Manifest = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      model: this.record,
      dims: this.dims,
      states: this.storage,
      data: this.data,
      rows: this.writer.rows,
      entries,
      updated: new Date().toISOString(),
    };
    // Nothing changed: leave the index untouched (its files keep their mtimes).
    if (!this.onDisk || !sameContent(manifest, this.onDisk)) {
      this.writer.sync();
      writeManifest(this.dir, manifest);
      this.onDisk = manifest;
      removeStrays(this.dir, this.data); // a replaced or compacted generation
    }
    this.report.files = entries.length;
    this.lastCheckpoint = Date.now();
    this.sinceCheckpoint = 0;
  }

  /** Copies the rows still used into a new generation of data files; returns the renumbered entries. */
  private compact(entries: IndexEntry[]): IndexEntry[] {
    this.writer.sync();
    const reader = RowReader.open(this.dir, this.data, this.dims, this.storage, this.writer.rows);
    const data = newDataName();
    const writer = RowWriter.open(this.dir, data, this.dims, this.storage, 0, true);
    const renumber = new Map<number, number>();
    try {
      for (const e of entries) {
        if (renumber.has(e.row)) continue;
        const itc = reader.itcRow(e.row);
        renumber.set(e.row, writer.appendRaw(new Uint8Array(itc.buffer, itc.byteOffset, itc.byteLength), reader.rawStates(e.row)));
      }
    } catch (e) {
      writer.close();
      fs.rmSync(itcFile(this.dir, data), { force: true });
      fs.rmSync(statesFile(this.dir, data), { force: true });
      throw e;
    } finally {
      reader.close();
    }
    // The old writer's files are deleted once the new manifest is in place.
    this.writer.close();
    this.writer = writer;
    this.data = data;
    this.report.compacted = true;
    return entries.map((e) => ({ ...e, row: renumber.get(e.row) as number }));
  }

  private finish(): BuildReport {
    this.report.seconds = (Date.now() - this.started) / 1000;
    return this.report;
  }
}

function sameContent(a: Manifest, b: Manifest): boolean {
  return JSON.stringify({ ...a, updated: '' }) === JSON.stringify({ ...b, updated: '' });
}

function hashOrNull(file: string): string | null {
  try {
    return sha256File(file);
  } catch {
    return null;
  }
}
