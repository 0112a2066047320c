import * as crypto from 'crypto';
import type * as Arrow from 'apache-arrow';
import { arrow } from './lance';
import { FORMAT_NAME, FORMAT_VERSION, IMAGES_ONLY_VERSION, IndexEntry, IndexMeta, MediaKind } from './schema';

/**
 * How the image index's rows sit in the LanceDB table (FORMAT.md): its schema and metadata, the
 * row checksums, and reading entries, vectors and metadata back from Arrow.
 */

export const TABLE = 'images';
export const META_KEY = 'blip-itm';

/** The columns format 4 added: nullable, so a format-3 table gains them in one metadata-only commit (null: an image, 1 frame). */
export function mediaFields(): Arrow.Field[] {
  const a = arrow();
  return [new a.Field('kind', new a.Utf8(), true), new a.Field('frames', new a.Int32(), true)];
}

/** The table's schema; `media`: with the kind and frames columns (all but format-3 tables). */
export function schemaFor(meta: IndexMeta, media = true): Arrow.Schema {
  const a = arrow();
  const utf8 = (name: string) => new a.Field(name, new a.Utf8(), false);
  const f64 = (name: string) => new a.Field(name, new a.Float64(), false);
  return new a.Schema(
    [
      utf8('path'),
      f64('size'),
      f64('mtime_ms'),
      utf8('sha256'),
      new a.Field('vector', new a.FixedSizeList(meta.dims.embed, new a.Field('item', new a.Float32(), true)), false),
      new a.Field('states', new a.Binary(), false),
      utf8('vector_sum'),
      utf8('states_sum'),
      utf8('model'),
      utf8('run'),
      ...(media ? mediaFields() : []),
    ],
    new Map([[META_KEY, JSON.stringify(meta)]]),
  );
}

export const ENTRY_COLUMNS = ['path', 'size', 'mtime_ms', 'sha256', 'run'];

/**
 * A row's checksum: sha256 over every column a result is built from (path, size, mtime, file
 * hash, run, and for anything but a 1-frame image its kind and frames) and the stored bytes, so a
 * flipped bit in a path or kind is caught like one in a vector. An image row sums exactly what
 * format 3 summed: upgrading a format-3 table rewrites no row.
 */
export function checksum(part: 'vector' | 'states', e: IndexEntry, bytes: Uint8Array): string {
  const base = [e.path, e.size, e.mtimeMs, e.sha256, e.run];
  const fields = JSON.stringify(e.kind === 'image' && e.frames === 1 ? base : [...base, e.kind, e.frames]);
  return crypto.createHash('sha256').update(`${part} ${fields}\n`).update(bytes).digest('hex');
}

export function bytesOf(a: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The first line of a LanceDB error, which may run to a Rust backtrace. */
export function lanceMessage(e: unknown): string {
  return String((e as Error).message ?? e)
    .split('\n')[0]
    .slice(0, 300);
}

/** The rows of a fixed_size_list<float32> column as copies, read from its value buffers (vector.get(i) per row is slow). */
export function fixedSizeRows(column: Arrow.Vector, width: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (const chunk of column.data) {
    const child = chunk.children[0];
    const values = child.values as Float32Array;
    for (let r = 0; r < chunk.length; r++) {
      const start = child.offset + (chunk.offset + r) * width;
      out.push(values.slice(start, start + width));
    }
  }
  return out;
}

/** Reads row i's entry; a table without the kind and frames columns (format 3), or a null in them, holds an image. */
export function entryReader(t: Arrow.Table): (i: number) => IndexEntry {
  const [path, size, mtime, sha256, run] = ENTRY_COLUMNS.map((c) => t.getChild(c) as Arrow.Vector);
  const kind = t.getChild('kind');
  const frames = t.getChild('frames');
  return (i) => ({
    path: path.get(i),
    size: size.get(i),
    mtimeMs: mtime.get(i),
    sha256: sha256.get(i),
    run: run.get(i),
    kind: (kind?.get(i) as MediaKind | null) ?? 'image',
    frames: (frames?.get(i) as number | null) ?? 1,
  });
}

/**
 * What readMeta needs of a LanceDB table. Stated here rather than as `Table` from @lancedb/lancedb because this
 * module's declarations reach the package's public types, and @lancedb/lancedb is an optional
 * peer a consumer's tsc may not find.
 */
interface SchemaHolder {
  schema(): Promise<Arrow.Schema>;
}

export async function readMeta(uri: string, table: SchemaHolder): Promise<{ meta: IndexMeta; media: boolean }> {
  let raw: string | undefined;
  let media: boolean;
  try {
    const schema = await table.schema();
    raw = schema.metadata.get(META_KEY);
    media = schema.fields.some((f) => f.name === 'kind');
  } catch (e) {
    throw new Error(`${uri}: cannot read the image index (${lanceMessage(e)})`, { cause: e });
  }
  const meta = raw ? (JSON.parse(raw) as IndexMeta) : null;
  if (!meta || meta.format !== FORMAT_NAME) throw new Error(`${uri}: the table ${TABLE} is not a blip-itm image index`);
  if (meta.version !== FORMAT_VERSION && meta.version !== IMAGES_ONLY_VERSION) {
    throw new Error(
      `${uri}: an image index in format version ${meta.version}; this blip-itm reads versions ${IMAGES_ONLY_VERSION} and ${FORMAT_VERSION}: rebuild it with blip-itm index --rebuild`,
    );
  }
  return { meta, media };
}
