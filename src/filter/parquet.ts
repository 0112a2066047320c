import * as fs from 'fs';
import type * as Arrow from 'apache-arrow';
import { arrow as loadArrow } from '../retrieval/lance';
import type * as ParquetWasm from 'parquet-wasm/node/parquet_wasm';

// The package's "./node" export (CommonJS); this project's TypeScript resolution (node10) does
// not read "exports", so the types come from the file it points to.
let parquetWasm: typeof ParquetWasm | undefined;
/** Loaded on first use, so importing the library does not load the wasm. */
function pw(): typeof ParquetWasm {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (parquetWasm ??= require('parquet-wasm/node') as typeof ParquetWasm);
}

/**
 * Parquet through parquet-wasm (the Rust `parquet` crate, the Apache Arrow project's own
 * implementation, compiled to WebAssembly): a maintained writer whose files pyarrow, DuckDB
 * and Spark read, with no native binary to install (the 5 MB wasm module loads in any Node and
 * in browsers), and it exchanges tables with apache-arrow, already a dependency, as Arrow IPC.
 * DuckDB's Node API would write Parquet too, but brings a ~60 MB native library per platform.
 */

/** One output row (see docs/filter.md for the columns). */
export interface FilterRow {
  key: string;
  caption: string | null;
  caption_index: number | null;
  itm_prob: number | null;
  itm_logit: number | null;
  itc: number | null;
  keep: boolean;
  error: string | null;
  source: string;
  model_fingerprint: string;
}

export const COLUMNS: (keyof FilterRow)[] = [
  'key',
  'caption',
  'caption_index',
  'itm_prob',
  'itm_logit',
  'itc',
  'keep',
  'error',
  'source',
  'model_fingerprint',
];

function schemaType(column: keyof FilterRow): Arrow.DataType {
  const arrow = loadArrow();
  if (column === 'caption_index') return new arrow.Int32();
  if (column === 'keep') return new arrow.Bool();
  if (column === 'itm_prob' || column === 'itm_logit' || column === 'itc') return new arrow.Float64();
  return new arrow.Utf8();
}

/** The rows as an Arrow table with the output schema (non-null key, keep, source, model_fingerprint). */
export function rowsTable(rows: FilterRow[]): Arrow.Table {
  const arrow = loadArrow();
  const nonNull = new Set(['key', 'keep', 'source', 'model_fingerprint']);
  const fields = COLUMNS.map((c) => new arrow.Field(c, schemaType(c), !nonNull.has(c)));
  const schema = new arrow.Schema(fields);
  const vectors = Object.fromEntries(COLUMNS.map((c) => [c, arrow.vectorFromArray(rows.map((r) => r[c]) as unknown[], schemaType(c))]));
  const data = arrow.makeData({
    type: new arrow.Struct(fields),
    length: rows.length,
    nullCount: 0,
    children: COLUMNS.map((c) => vectors[c].data[0]),
  });
  return new arrow.Table(schema, new arrow.RecordBatch(schema, data));
}

/** Parquet bytes of an Arrow table: Snappy pages (every reader has it), row groups of 64k rows. */
export function toParquet(table: Arrow.Table): Uint8Array {
  const arrow = loadArrow();
  // writeParquet takes ownership of the properties: built afresh for each file.
  const properties = new (pw().WriterPropertiesBuilder)()
    .setCompression(pw().Compression.SNAPPY)
    .setMaxRowGroupSize(65536)
    .setCreatedBy('blip-itm filter (parquet-wasm)')
    .build();
  const wasmTable = pw().Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  return pw().writeParquet(wasmTable, properties);
}

/** A Parquet file as an Arrow table; throws one line naming the file when it is not Parquet. */
export function readParquetFile(file: string): Arrow.Table {
  const arrow = loadArrow();
  const bytes = fs.readFileSync(file);
  let ipc: Uint8Array;
  try {
    ipc = pw().readParquet(bytes).intoIPCStream();
  } catch (e) {
    throw new Error(`${file}: not a readable Parquet file (${String((e as Error).message ?? e).split('\n')[0]})`, { cause: e });
  }
  return arrow.tableFromIPC(ipc);
}

/** Writes bytes to `file` atomically: a temp file beside it, fsync, rename. */
export function writeFileAtomic(file: string, parts: Uint8Array | Uint8Array[]): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const p of Array.isArray(parts) ? parts : [parts]) fs.writeSync(fd, p);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}
