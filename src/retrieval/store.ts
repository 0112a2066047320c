import * as fs from 'fs';
import { fromFloat16Bytes, toFloat16 } from './float16';
import { Dims, StatesStorage, itcFile, itcRowBytes, statesFile, statesRowBytes } from './index-format';

/** Writes all of `bytes` at `position`. */
function writeAt(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
}

function readAt(fd: number, target: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < target.length) {
    const n = fs.readSync(fd, target, done, target.length - done, position + done);
    if (n === 0) throw new Error(`${what}: unexpected end of file (truncated index?)`);
    done += n;
  }
}

/** Truncates to `size` only when longer: a no-op update leaves the files (and their mtimes) alone. */
function cutTo(fd: number, size: number): void {
  if (fs.fstatSync(fd).size !== size) fs.ftruncateSync(fd, size);
}

function bytesOf(a: Float32Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Appends rows to one generation of data files. Rows before `rows` are never touched, so a
 * manifest that names this generation with fewer rows stays valid while we write.
 */
export class RowWriter {
  private constructor(
    private readonly itcFd: number,
    private readonly statesFd: number | null,
    private readonly dims: Dims,
    private readonly storage: StatesStorage,
    private count: number,
  ) {}

  /**
   * Opens `data` for appending after its first `rows` rows; bytes past them (left by an
   * interrupted run) are cut off. `create` makes new, empty files instead.
   */
  static open(dir: string, data: string, dims: Dims, storage: StatesStorage, rows: number, create: boolean): RowWriter {
    const flags = create ? 'wx+' : 'r+';
    const itcFd = fs.openSync(itcFile(dir, data), flags);
    let statesFd: number | null = null;
    try {
      if (storage !== 'none') statesFd = fs.openSync(statesFile(dir, data), flags);
      if (!create) {
        cutTo(itcFd, rows * itcRowBytes(dims));
        if (statesFd !== null) cutTo(statesFd, rows * statesRowBytes(dims, storage));
      }
    } catch (e) {
      fs.closeSync(itcFd);
      if (statesFd !== null) fs.closeSync(statesFd);
      throw e;
    }
    return new RowWriter(itcFd, statesFd, dims, storage, create ? 0 : rows);
  }

  get rows(): number { return this.count; }

  /** Appends one image's features; returns its row. */
  append(itc: Float32Array, states: Float32Array | null): number {
    const row = this.count;
    writeAt(this.itcFd, bytesOf(itc), row * itcRowBytes(this.dims));
    if (this.statesFd !== null) {
      if (!states) throw new Error('RowWriter: states are required for this index');
      const stored = this.storage === 'float16' ? toFloat16(states) : states;
      writeAt(this.statesFd, bytesOf(stored), row * statesRowBytes(this.dims, this.storage));
    }
    this.count++;
    return row;
  }

  /** Appends a row already in stored form (compaction copies bytes as they are). */
  appendRaw(itc: Uint8Array, states: Uint8Array | null): number {
    const row = this.count;
    writeAt(this.itcFd, itc, row * itcRowBytes(this.dims));
    if (this.statesFd !== null && states) writeAt(this.statesFd, states, row * statesRowBytes(this.dims, this.storage));
    this.count++;
    return row;
  }

  /** Flushes the data to disk: done before a manifest naming these rows is written. */
  sync(): void {
    fs.fsyncSync(this.itcFd);
    if (this.statesFd !== null) fs.fsyncSync(this.statesFd);
  }

  close(): void {
    fs.closeSync(this.itcFd);
    if (this.statesFd !== null) fs.closeSync(this.statesFd);
  }
}

/**
 * Reads one generation: the ITC embeddings all at once (small: rows × embed floats), the
 * states one row at a time from the open file.
 */
export class RowReader {
  private constructor(
    readonly itc: Float32Array,
    private statesFd: number | null,
    private readonly file: string,
    private readonly dims: Dims,
    private readonly storage: StatesStorage,
  ) {}

  static open(dir: string, data: string, dims: Dims, storage: StatesStorage, rows: number): RowReader {
    const itcPath = itcFile(dir, data);
    const itc = new Float32Array(rows * dims.embed);
    const fd = fs.openSync(itcPath, 'r');
    try {
      readAt(fd, new Uint8Array(itc.buffer), 0, itcPath);
    } finally {
      fs.closeSync(fd);
    }
    const sPath = statesFile(dir, data);
    let statesFd: number | null = null;
    if (storage !== 'none') {
      statesFd = fs.openSync(sPath, 'r');
      const need = rows * statesRowBytes(dims, storage);
      const size = fs.fstatSync(statesFd).size;
      if (size < need) {
        fs.closeSync(statesFd);
        throw new Error(`${sPath}: ${size} bytes, but the manifest needs ${need} (truncated index?)`);
      }
    }
    return new RowReader(itc, statesFd, sPath, dims, storage);
  }

  itcRow(row: number): Float32Array {
    return this.itc.subarray(row * this.dims.embed, (row + 1) * this.dims.embed);
  }

  /** The row's states as float32 [tokens × hidden]; null when the index stores none. */
  states(row: number): Float32Array | null {
    const raw = this.rawStates(row);
    if (!raw) return null;
    const count = this.dims.tokens * this.dims.hidden;
    if (this.storage === 'float16') return fromFloat16Bytes(raw, count, this.file);
    return new Float32Array(raw.buffer, raw.byteOffset, count);
  }

  /** The row's states bytes as stored. */
  rawStates(row: number): Uint8Array | null {
    if (this.statesFd === null) return null;
    const n = statesRowBytes(this.dims, this.storage);
    const buf = new Uint8Array(n);
    readAt(this.statesFd, buf, row * n, this.file);
    return buf;
  }

  close(): void {
    if (this.statesFd !== null) fs.closeSync(this.statesFd);
    this.statesFd = null;
  }
}
