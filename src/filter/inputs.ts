import * as fs from 'fs';
import * as path from 'path';
import { arrow as loadArrow } from '../retrieval/lance';
import { parseCsv } from './csv';
import { readParquetFile } from './parquet';
import { Sample, captionsFromCell, decodeUtf8, groupMembers } from './sample';
import { readTar } from './tar';

export type InputKind = 'tar' | 'jsonl' | 'csv' | 'parquet';

export interface InputFile {
  path: string;
  kind: InputKind;
  size: number;
  mtimeMs: number;
}

export interface TableColumns {
  /** Image path column (default "image"). */
  image?: string;
  /** Caption column (default "caption", else "text"). */
  caption?: string;
  /** Key column (default "key" when the table has one, else the image path). */
  key?: string;
}

export interface ReadOptions {
  columns?: TableColumns;
  /** Largest tar member or image file read, in bytes. */
  maxBytes: number;
}

const KINDS: [RegExp, InputKind][] = [
  [/\.tar$/i, 'tar'],
  [/\.(jsonl|ndjson)$/i, 'jsonl'],
  [/\.csv$/i, 'csv'],
  [/\.parquet$/i, 'parquet'],
];

function kindOf(file: string): InputKind | undefined {
  return KINDS.find(([re]) => re.test(file))?.[1];
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      re += end > i ? pattern.slice(i, end + 1) : '\\[';
      i = end > i ? end : i;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string, out: string[]): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.isFile()) out.push(p);
  }
}

/**
 * The input files, in a stable order: files as given; folders searched recursively for .tar
 * files; globs (*, **, ?, [...]) matched below their fixed leading folders. Each expansion is
 * sorted, duplicates dropped. Throws one line naming the input that finds nothing or is unknown.
 */
export function expandInputs(inputs: string[]): InputFile[] {
  const files: string[] = [];
  for (const input of inputs) {
    if (/\.(tar\.gz|tgz|tar\.zst|tar\.xz|tar\.bz2)$/i.test(input))
      throw new Error(`${input}: compressed tars are not read; decompress them first (WebDataset shards are usually plain .tar)`);
    if (/[*?[]/.test(input)) {
      const parts = input.split('/');
      const fixed =
        parts
          .slice(
            0,
            parts.findIndex((p) => /[*?[]/.test(p)),
          )
          .join('/') || '.';
      const re = globToRegExp(path.posix.normalize(input));
      const found: string[] = [];
      if (fs.existsSync(fixed) && fs.statSync(fixed).isDirectory()) walk(fixed, found);
      const matched = found.filter((f) => re.test(path.posix.normalize(f)) && kindOf(f)).sort();
      if (!matched.length) throw new Error(`${input}: no .tar, .jsonl, .csv or .parquet file matches`);
      files.push(...matched);
      continue;
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(input);
    } catch {
      throw new Error(`${input}: no such file or folder`);
    }
    if (st.isDirectory()) {
      const found: string[] = [];
      walk(input, found);
      const tars = found.filter((f) => kindOf(f) === 'tar').sort();
      if (!tars.length) throw new Error(`${input}: folder holds no .tar file`);
      files.push(...tars);
    } else {
      if (!kindOf(input)) throw new Error(`${input}: not a .tar, .jsonl, .csv or .parquet file`);
      files.push(input);
    }
  }
  return [...new Set(files)].map((f) => {
    const st = fs.statSync(f);
    return { path: f, kind: kindOf(f) as InputKind, size: st.size, mtimeMs: st.mtimeMs };
  });
}

/**
 * Every sample of the inputs, in order. `onBytes` hears how many bytes of the inputs have been
 * read so far (for progress). Problems with one sample or one file's tail are error samples,
 * never exceptions; an unreadable table (bad Parquet, missing columns) throws.
 */
export function* readSamples(files: InputFile[], opts: ReadOptions, onBytes?: (bytes: number) => void): Generator<Sample> {
  let before = 0;
  for (const file of files) {
    const at = (offset: number) => onBytes?.(before + offset);
    if (file.kind === 'tar') {
      let problem: string | undefined;
      const members = function* () {
        problem = (yield* readTar(file.path, opts.maxBytes, at)).problem;
      };
      yield* groupMembers(members(), file.path);
      if (problem) yield { key: `${path.basename(file.path)}#tail`, source: file.path, captions: [], error: `${file.path}: ${problem}` };
    } else {
      yield* tableSamples(file, opts, at);
    }
    before += file.size;
    onBytes?.(before);
  }
}

/** Table rows as plain objects, with the 1-based line (JSONL, CSV) or row number (Parquet). */
function* tableRows(file: InputFile): Generator<{ row?: Record<string, unknown>; at: string; error?: string; offset?: number }> {
  if (file.kind === 'parquet') {
    const table = readParquetFile(file.path);
    for (let i = 0; i < table.numRows; i++) {
      const row: Record<string, unknown> = {};
      for (const f of table.schema.fields) row[f.name] = plain(table.getChild(f.name)?.get(i));
      yield { row, at: `row ${i + 1}` };
    }
    return;
  }
  const bytes = fs.readFileSync(file.path);
  if (file.kind === 'csv') {
    const text = decodeUtf8(bytes);
    if (text === undefined) throw new Error(`${file.path}: not valid UTF-8`);
    let header: string[] | undefined;
    for (const { fields, line } of parseCsvOrThrow(text, file.path)) {
      if (!header) {
        header = fields.map((h) => h.trim());
        continue;
      }
      if (fields.length !== header.length) {
        yield { at: `line ${line}`, error: `${header.length} columns expected, got ${fields.length}` };
        continue;
      }
      yield { row: Object.fromEntries(header.map((h, i) => [h, fields[i] === '' ? null : fields[i]])), at: `line ${line}` };
    }
    return;
  }
  let start = 0;
  for (let line = 1; start < bytes.length; line++) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    const text = decodeUtf8(bytes.subarray(start, end));
    start = end + 1;
    if (text === undefined) {
      yield { at: `line ${line}`, error: 'not valid UTF-8' };
      continue;
    }
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      yield { at: `line ${line}`, error: `not JSON (${(e as Error).message})` };
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) yield { at: `line ${line}`, error: 'not a JSON object' };
    else yield { row: value as Record<string, unknown>, at: `line ${line}`, offset: start };
  }
}

function* parseCsvOrThrow(text: string, file: string) {
  try {
    yield* parseCsv(text);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** Arrow values to plain JS (lists to arrays, bigint to number). */
function plain(v: unknown): unknown {
  if (v instanceof loadArrow().Vector) return [...v].map(plain);
  if (typeof v === 'bigint') return Number(v);
  return v;
}

function pickColumn(row: Record<string, unknown>, wanted: string | undefined, defaults: string[]): string | undefined {
  if (wanted) return wanted;
  return defaults.find((c) => c in row) ?? defaults[0];
}

function* tableSamples(file: InputFile, opts: ReadOptions, at: (offset: number) => void): Generator<Sample> {
  const dir = path.dirname(file.path);
  const cols = opts.columns ?? {};
  for (const { row, at: where, error, offset } of tableRows(file)) {
    if (offset !== undefined) at(offset);
    const fallbackKey = `${path.basename(file.path)}:${where.replace(/ /, '')}`;
    if (!row) {
      yield { key: fallbackKey, source: file.path, captions: [], error: `${where}: ${error}` };
      continue;
    }
    const imageCol = pickColumn(row, cols.image, ['image']) as string;
    const captionCol = pickColumn(row, cols.caption, ['caption', 'text']) as string;
    const keyCol = cols.key ?? ('key' in row ? 'key' : undefined);
    const imageCell = row[imageCol];
    const keyCell = keyCol ? row[keyCol] : undefined;
    const imagePath = typeof imageCell === 'string' && imageCell !== '' ? imageCell : undefined;
    const key =
      keyCell !== undefined && keyCell !== null && keyCell !== '' ? String(keyCell) : imagePath !== undefined ? imagePath : fallbackKey;
    const { captions, error: captionError } = captionsFromCell(row[captionCol], captionCol);
    const sample: Sample = { key, source: file.path, captions, row };
    if (imagePath === undefined) {
      sample.error = `${where}: no image path (column "${imageCol}" is ${imageCell === undefined ? 'missing' : 'empty'})`;
    } else {
      const read = readImageFile(path.resolve(dir, imagePath), imagePath, opts.maxBytes);
      if (read.error) sample.error = read.error;
      sample.image = read.bytes;
      sample.imageExt = path.extname(imagePath).slice(1).toLowerCase() || 'img';
    }
    sample.error ??= captionError;
    yield sample;
  }
}

function readImageFile(file: string, shown: string, maxBytes: number): { bytes?: Uint8Array; error?: string } {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(shown)) return { error: `image ${shown}: URLs are not fetched; download the images first` };
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return { error: `image ${shown}: not a file` };
    if (st.size > maxBytes) return { error: `image ${shown} is larger than the size limit (${st.size} > ${maxBytes} bytes)` };
    return { bytes: fs.readFileSync(file) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: `image ${shown}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}` };
  }
}
