import * as fs from 'fs';
import * as path from 'path';
import type * as LanceDb from '@lancedb/lancedb';
import type * as Arrow from 'apache-arrow';
import {
  ENTRY_COLUMNS,
  META_KEY,
  TABLE,
  bytesOf,
  checksum,
  entryReader,
  fixedSizeRows,
  lanceMessage,
  mediaFields,
  readMeta,
  schemaFor,
} from './columns';
import { fromFloat16Bytes, toFloat16 } from './float16';
import { arrow, lancedb } from './lance';
import {
  Dims,
  FORMAT_VERSION,
  IMAGES_ONLY_VERSION,
  IndexEntry,
  IndexMeta,
  MEDIA_KINDS,
  MediaKind,
  StatesStorage,
  statesRowBytes,
} from './schema';

/**
 * The LanceDB side of the image index (layout in FORMAT.md): one table, `images`, one row per
 * image or video, its IndexMeta in the schema metadata. Every row carries checksums of its vector and
 * states bytes, bound to the sha256 of the file they were computed from, and readers verify them:
 * LanceDB itself notices a truncated data file but not flipped bytes inside one.
 */

export { TABLE };

/** `s3://bucket/x`, `gs://…`, `az://…`, `file://…` stay as they are; anything else is a local folder. */
export function resolveUri(where: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(where) ? where : path.resolve(where);
}

export function isLocal(uri: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(uri);
}

/** One image's or video's row, ready to add. */
export interface NewRow extends IndexEntry {
  vector: Float32Array;
  /** Stored form: little-endian float32 or float16 bytes. */
  states: Uint8Array;
}

export function makeRow(entry: IndexEntry, vector: Float32Array, states: Float32Array, storage: StatesStorage): NewRow {
  const stored = storage === 'float16' ? bytesOf(toFloat16(states)) : bytesOf(states);
  return { ...entry, vector: vector.slice(), states: new Uint8Array(stored) };
}

/** A row read back with its features, checksums verified. */
export interface FullRow extends IndexEntry {
  vector: Float32Array;
  /** Decoded to float32, [frames × tokens × hidden] row-major. */
  states: Float32Array;
}

/** Rows deleted by (path, run): what a writer saw, never what another added meanwhile. */
function rowPredicate(rows: readonly Pick<IndexEntry, 'path' | 'run'>[]): string {
  return rows.map((r) => `(path = ${sqlString(r.path)} AND run = ${sqlString(r.run)})`).join(' OR ');
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** An opened image index table. */
export class Dataset {
  private constructor(
    readonly uri: string,
    readonly meta: IndexMeta,
    private readonly table: LanceDb.Table,
    private readonly db: LanceDb.Connection,
    /** Whether the table has the kind and frames columns (a format-3 table has not: images only). */
    private readonly media: boolean,
  ) {}

  /** Opens the index at `uri`; null when there is none. */
  static async open(uri: string): Promise<Dataset | null> {
    if (isLocal(uri) && fs.existsSync(path.join(uri, 'manifest.json'))) {
      throw new Error(`${uri}: an image index in the retired format 1 (manifest.json); index the images again into a new folder`);
    }
    if (isLocal(uri) && !fs.existsSync(path.join(uri, `${TABLE}.lance`))) return null;
    const db = await lancedb().connect(uri);
    let table: LanceDb.Table;
    try {
      if (!(await db.tableNames()).includes(TABLE)) {
        db.close();
        return null;
      }
      table = await db.openTable(TABLE);
    } catch (e) {
      db.close();
      throw new Error(`${uri}: cannot open the image index (${lanceMessage(e)})`, { cause: e });
    }
    const { meta, media } = await readMeta(uri, table);
    return new Dataset(uri, meta, table, db, media);
  }

  /**
   * Brings a format-3 (images only) table to format 4 in one commit: the kind and frames columns
   * are added (null in the existing rows: images, 1 frame; no row is rewritten) together with the
   * new metadata. A concurrent upgrader may win: the table is then format 4 all the same.
   */
  static async upgrade(uri: string, videoFrames: number): Promise<void> {
    const found = await Dataset.open(uri);
    if (!found) return;
    try {
      if (found.meta.version !== IMAGES_ONLY_VERSION) return;
      const meta: IndexMeta = { ...found.meta, version: FORMAT_VERSION, videoFrames };
      const a = arrow();
      await found.table.addColumns(new a.Schema(mediaFields(), new Map([[META_KEY, JSON.stringify(meta)]]))).catch(async (e: unknown) => {
        const again = await Dataset.open(uri);
        again?.close();
        if (again?.meta.version !== FORMAT_VERSION)
          throw new Error(`${uri}: cannot upgrade the index to format ${FORMAT_VERSION} (${lanceMessage(e)})`);
      });
    } finally {
      found.close();
    }
  }

  /** Opens the index at `uri`, creating it with `meta` when there is none (two creators at once: one wins, both open it). */
  static async openOrCreate(uri: string, meta: IndexMeta): Promise<Dataset> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await Dataset.open(uri);
      if (found) return found;
      const db = await lancedb().connect(uri);
      try {
        const table = await db.createEmptyTable(TABLE, schemaFor(meta), { mode: 'create', existOk: false });
        return new Dataset(uri, meta, table, db, true);
      } catch {
        db.close(); // another writer created it first: open theirs
      }
    }
    throw new Error(`${uri}: cannot create the image index`);
  }

  /** Deletes the table (for --rebuild). */
  static async drop(uri: string): Promise<void> {
    const db = await lancedb().connect(uri);
    try {
      if ((await db.tableNames()).includes(TABLE)) await db.dropTable(TABLE);
    } finally {
      db.close();
    }
  }

  get dims(): Dims {
    return this.meta.dims;
  }

  close(): void {
    this.table.close();
    this.db.close();
  }

  async count(): Promise<number> {
    return this.guard(() => this.table.countRows());
  }

  /** The columns an IndexEntry is read from. */
  private get entryColumns(): string[] {
    return this.media ? [...ENTRY_COLUMNS, 'kind', 'frames'] : ENTRY_COLUMNS;
  }

  /** Every row's entry (no features), duplicates included, in table order. */
  async scanEntries(): Promise<IndexEntry[]> {
    const t = await this.guard(() => this.table.query().select(this.entryColumns).toArrow());
    const read = entryReader(t);
    return Array.from({ length: t.numRows }, (_, i) => read(i));
  }

  /** Every row's entry and verified ITC vector (no states), duplicates included. */
  async scanVectors(): Promise<{ entries: IndexEntry[]; vectors: Float32Array[] }> {
    const t = await this.guard(() =>
      this.table
        .query()
        .select([...this.entryColumns, 'vector', 'vector_sum'])
        .toArrow(),
    );
    return this.vectorsOf(t);
  }

  /** The ANN shortlist: the `limit` nearest rows by dot product through the vector index (exact when the table has none). */
  async nearest(
    query: Float32Array,
    limit: number,
    nprobes: number,
    refineFactor: number,
    kind?: MediaKind,
  ): Promise<{ entries: IndexEntry[]; vectors: Float32Array[] }> {
    if (kind === 'video' && !this.media) return { entries: [], vectors: [] };
    const search = this.table
      .vectorSearch(Array.from(query))
      .column('vector')
      .distanceType('dot')
      .limit(limit)
      .nprobes(nprobes)
      .refineFactor(refineFactor)
      .select([...this.entryColumns, 'vector', 'vector_sum', '_distance']);
    // Pre-filtered: the limit counts rows of that kind only.
    if (kind && this.media) search.where(kind === 'video' ? "kind = 'video'" : "(kind IS NULL OR kind = 'image')");
    const t = await this.guard(() => search.toArrow());
    return this.vectorsOf(t);
  }

  /** Rows with their vectors and states, verified; looked up by (path, run). */
  async fetch(keys: readonly Pick<IndexEntry, 'path' | 'run'>[]): Promise<FullRow[]> {
    if (!keys.length) return [];
    const t = await this.guard(() =>
      this.table
        .query()
        .where(rowPredicate(keys))
        .select([...this.entryColumns, 'vector', 'vector_sum', 'states', 'states_sum', 'model'])
        .toArrow(),
    );
    const { entries, vectors } = this.vectorsOf(t);
    const states = t.getChild('states') as Arrow.Vector;
    const sums = t.getChild('states_sum') as Arrow.Vector;
    const models = t.getChild('model') as Arrow.Vector;
    return entries.map((e, i) => {
      const bytes = states.get(i) as Uint8Array;
      const want = statesRowBytes(this.dims, this.meta.states, e.frames);
      if (models.get(i) !== this.meta.model.fingerprint) throw this.corrupt(e.path, 'a row made by another model');
      if (bytes.length !== want) throw this.corrupt(e.path, `states of ${bytes.length} bytes, expected ${want}`);
      if (checksum('states', e, bytes) !== sums.get(i)) throw this.corrupt(e.path, `checksum mismatch in its ${e.kind} states`);
      const copy = new Uint8Array(bytes); // aligned, owned
      const decoded =
        this.meta.states === 'float16' ? fromFloat16Bytes(copy, want / 2, this.uri) : new Float32Array(copy.buffer, 0, want / 4);
      return { ...e, vector: vectors[i], states: decoded };
    });
  }

  /** Adds rows in one commit (atomic: all or none are visible). */
  async add(rows: readonly NewRow[]): Promise<void> {
    if (!rows.length) return;
    const fp = this.meta.model.fingerprint;
    if (!this.media && rows.some((r) => r.kind !== 'image' || r.frames !== 1)) {
      throw new Error(`${this.uri}: a format-${IMAGES_ONLY_VERSION} index holds images only (upgrade it first)`);
    }
    const records = rows.map((r) => ({
      path: r.path,
      size: r.size,
      mtime_ms: r.mtimeMs,
      sha256: r.sha256,
      ...(this.media ? { kind: r.kind, frames: r.frames } : {}),
      vector: Array.from(r.vector),
      states: Buffer.from(r.states.buffer, r.states.byteOffset, r.states.byteLength),
      vector_sum: checksum('vector', r, bytesOf(r.vector)),
      states_sum: checksum('states', r, r.states),
      model: fp,
      run: r.run,
    }));
    await this.guard(() => this.table.add(lancedb().makeArrowTable(records, { schema: schemaFor(this.meta, this.media) })));
  }

  /** Deletes exactly these rows (by path and run), in chunks; retried, since a delete is idempotent and may lose a commit race. */
  async remove(rows: readonly Pick<IndexEntry, 'path' | 'run'>[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 256) {
      const predicate = rowPredicate(rows.slice(i, i + 256));
      for (let attempt = 1; ; attempt++) {
        try {
          await this.table.delete(predicate);
          break;
        } catch (e) {
          if (attempt === 3) await this.guard(() => Promise.reject(e));
          await new Promise((r) => setTimeout(r, 50 * attempt));
        }
      }
    }
  }

  async hasVectorIndex(): Promise<boolean> {
    return (await this.guard(() => this.table.listIndices())).some((ix) => ix.columns.includes('vector'));
  }

  /** Builds the IVF-PQ index on the vectors (dot product: they are normalised). */
  async createVectorIndex(rows: number): Promise<void> {
    const numPartitions = Math.max(1, Math.round(Math.sqrt(rows)));
    const numSubVectors = this.dims.embed % 16 === 0 ? this.dims.embed / 16 : this.dims.embed % 8 === 0 ? this.dims.embed / 8 : 1;
    await this.guard(() =>
      this.table.createIndex('vector', {
        config: lancedb().Index.ivfPq({ distanceType: 'dot', numPartitions, numSubVectors }),
        replace: false,
      }),
    );
  }

  /** Compacts small fragments and brings the vector index up to date with new rows. */
  async optimize(): Promise<void> {
    await this.guard(() => this.table.optimize());
  }

  private vectorsOf(t: Arrow.Table): { entries: IndexEntry[]; vectors: Float32Array[] } {
    if (t.numRows === 0) return { entries: [], vectors: [] };
    const read = entryReader(t);
    const vec = t.getChild('vector') as Arrow.Vector;
    const sums = t.getChild('vector_sum') as Arrow.Vector;
    const entries: IndexEntry[] = [];
    const vectors = fixedSizeRows(vec, this.dims.embed);
    for (let i = 0; i < t.numRows; i++) {
      const e = read(i);
      const most = e.kind === 'video' ? (this.meta.videoFrames ?? 0) + 1 : 1;
      if (!MEDIA_KINDS.includes(e.kind) || !Number.isInteger(e.frames) || e.frames < 1 || e.frames > most) {
        throw this.corrupt(e.path, `kind ${e.kind} with ${e.frames} frames`);
      }
      const v = vectors[i];
      if (v.length !== this.dims.embed) throw this.corrupt(e.path, `a vector of ${v.length} values, expected ${this.dims.embed}`);
      if (checksum('vector', e, bytesOf(v)) !== sums.get(i)) throw this.corrupt(e.path, 'checksum mismatch in its ITC vector');
      entries.push(e);
    }
    return { entries, vectors };
  }

  private corrupt(file: string, what: string): Error {
    return new Error(`${this.uri}: the index is corrupted (the row of ${file} has ${what}); rebuild it with blip-itm index --rebuild`);
  }

  /** LanceDB errors (a truncated or damaged data file) as one clear line naming the index. */
  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      throw new Error(`${this.uri}: cannot read or write the image index, it may be truncated or corrupted (${lanceMessage(e)})`, {
        cause: e,
      });
    }
  }
}
