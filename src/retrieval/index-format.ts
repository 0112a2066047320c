import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * The on-disk index (see FORMAT.md): a directory holding `manifest.json` and one generation of
 * data files, `<data>.itc` (rows × embed float32) and `<data>.states` (rows × tokens × hidden,
 * float32 or float16; absent when states are not stored). The manifest is the only thing
 * ever replaced, always by an atomic rename, so a reader sees either the old index or the new.
 */

export const FORMAT_NAME = 'blip-itm-image-index';
export const FORMAT_VERSION = 1;
export const MANIFEST = 'manifest.json';

export type StatesStorage = 'float32' | 'float16' | 'none';
export const STATES_STORAGES: readonly StatesStorage[] = ['float32', 'float16', 'none'];

export interface IndexEntry {
  /** Absolute path of the image file. */
  path: string;
  size: number;
  mtimeMs: number;
  /** sha256 of the file's bytes, hex. */
  sha256: string;
  /** Row of the data files holding its features (entries with equal bytes share a row). */
  row: number;
}

export interface WeightFileRecord {
  /** File name inside the model directory. */
  name: string;
  size: number;
  mtimeMs: number;
  sha256: string;
}

export interface ModelRecord {
  /** sha256 over the model's config, image processor config and weight file hashes. */
  fingerprint: string;
  /** Where the model was loaded from when the index was last written (informational). */
  dir: string;
  /** The weight files as last seen: lets a later check skip rehashing an unchanged file. */
  files: WeightFileRecord[];
}

export interface Dims {
  /** ITC embedding width (image_text_hidden_size). */
  embed: number;
  /** Image tokens: (image_size / patch_size)^2 + 1. */
  tokens: number;
  /** Vision hidden size. */
  hidden: number;
}

export interface Manifest {
  format: typeof FORMAT_NAME;
  version: number;
  model: ModelRecord;
  dims: Dims;
  states: StatesStorage;
  /** Base name of the data files of this generation. */
  data: string;
  /** Rows of the data files that belong to this manifest (bytes past them are ignored). */
  rows: number;
  /** Sorted by path. */
  entries: IndexEntry[];
  updated: string;
}

export function itcFile(dir: string, data: string): string { return path.join(dir, `${data}.itc`); }
export function statesFile(dir: string, data: string): string { return path.join(dir, `${data}.states`); }

export function itcRowBytes(dims: Dims): number { return dims.embed * 4; }
export function statesRowBytes(dims: Dims, storage: StatesStorage): number {
  return storage === 'none' ? 0 : dims.tokens * dims.hidden * (storage === 'float16' ? 2 : 4);
}

/** The data files are raw little-endian floats, read through typed arrays. */
export function checkEndianness(): void {
  if (os.endianness() !== 'LE') throw new Error('the image index format needs a little-endian host');
}

/** Reads DIR/manifest.json; null when the directory or the manifest does not exist. */
export function readManifest(dir: string): Manifest | null {
  const file = path.join(dir, MANIFEST);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ENOTDIR') throw new Error(`${dir}: not an index directory (it is a file)`);
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return validateManifest(json, file);
}

function validateManifest(json: unknown, file: string): Manifest {
  const fail = (why: string): never => { throw new Error(`${file}: not a blip-itm image index: ${why}`); };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('not a JSON object');
  const m = json as Record<string, unknown>;
  if (m.format !== FORMAT_NAME) fail(`"format" is ${JSON.stringify(m.format)}`);
  if (m.version !== FORMAT_VERSION) {
    throw new Error(`${file}: index format version ${JSON.stringify(m.version)} is not supported (this blip-itm reads version ${FORMAT_VERSION}); rebuild the index`);
  }
  const nat = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const model = m.model as ModelRecord | undefined;
  if (!model || typeof model.fingerprint !== 'string' || !Array.isArray(model.files)) fail('bad "model"');
  const dims = m.dims as Dims | undefined;
  if (!dims || !nat(dims.embed) || !nat(dims.tokens) || !nat(dims.hidden)) fail('bad "dims"');
  if (!STATES_STORAGES.includes(m.states as StatesStorage)) fail(`bad "states" ${JSON.stringify(m.states)}`);
  if (typeof m.data !== 'string' || !/^data-[0-9a-f]+$/.test(m.data)) fail(`bad "data" ${JSON.stringify(m.data)}`);
  if (!nat(m.rows)) fail('bad "rows"');
  if (!Array.isArray(m.entries)) fail('bad "entries"');
  const rows = m.rows as number;
  (m.entries as unknown[]).forEach((x, i) => {
    const e = x as IndexEntry;
    if (typeof e?.path !== 'string' || !nat(e.size) || typeof e.mtimeMs !== 'number' || typeof e.sha256 !== 'string'
      || !nat(e.row) || e.row >= rows) {
      fail(`bad entry ${i}`);
    }
  });
  return m as unknown as Manifest;
}

/** Writes the manifest to a temporary name, flushes it, then renames it over the old one. */
export function writeManifest(dir: string, manifest: Manifest): void {
  const file = path.join(dir, MANIFEST);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, JSON.stringify(manifest, null, 1) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDir(dir);
}

/** Makes a rename durable (best effort: some file systems refuse to fsync a directory). */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // not supported here; the rename is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
