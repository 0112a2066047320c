import { ByteReader, readExactly } from './source';
import {
  BYTES_PER_ELEMENT, RawTensor, TensorSource, decodeElements, numel, rawDTypeOf, shapeString,
} from './raw-tensor';

/**
 * safetensors: 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {..}}`, then the data.
 * Tensors are read one at a time from the open file, so loading never holds the whole file
 * and the backend's copy at once.
 */
interface Entry { dtype: string; shape: number[]; begin: number; end: number }

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsFile implements TensorSource {
  readonly metadata: Record<string, string>;
  private readonly entries: Map<string, Entry>;
  private bytes: ByteReader | null;

  private constructor(readonly file: string, bytes: ByteReader, entries: Map<string, Entry>, metadata: Record<string, string>) {
    this.bytes = bytes;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** Parses the header read through `bytes` (which the result then owns: close() closes it). */
  static fromBytes(bytes: ByteReader): SafetensorsFile {
    const file = bytes.name;
    try {
      const size = bytes.size;
      const fail = (why: string): never => { throw new Error(`${file}: not a valid safetensors file: ${why}`); };
      if (size < 8) fail(`${size} bytes, shorter than the 8-byte header length`);
      const lenBuf = new Uint8Array(8);
      readExactly(bytes, lenBuf, 0, 'the header length');
      const headerLen = Number(new DataView(lenBuf.buffer).getBigUint64(0, true));
      if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} is implausible`);
      if (8 + headerLen > size) fail(`header of ${headerLen} bytes runs past the end of the ${size}-byte file (truncated?)`);
      const headerBuf = new Uint8Array(headerLen);
      readExactly(bytes, headerBuf, 8, 'the header');
      let header: unknown;
      try { header = JSON.parse(new TextDecoder().decode(headerBuf)); } catch (e) { fail(`header is not JSON (${(e as Error).message})`); }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
      const dataStart = 8 + headerLen;
      const entries = new Map<string, Entry>();
      let metadata: Record<string, string> = {};
      let dataEnd = 0;
      for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') { metadata = (value ?? {}) as Record<string, string>; continue; }
        const v = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        const bytes = BYTES_PER_ELEMENT[String(v?.dtype)];
        if (!bytes) fail(`tensor ${name}: unknown dtype ${JSON.stringify(v?.dtype)}`);
        const shape = v.shape as number[];
        if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor ${name}: bad shape ${JSON.stringify(v.shape)}`);
        const offs = v.data_offsets as number[];
        if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[1] < offs[0]) {
          fail(`tensor ${name}: bad data_offsets ${JSON.stringify(v.data_offsets)}`);
        }
        if (offs[1] - offs[0] !== numel(shape) * bytes) {
          fail(`tensor ${name}: ${offs[1] - offs[0]} bytes for ${v.dtype} ${shapeString(shape)} (expected ${numel(shape) * bytes})`);
        }
        entries.set(name, { dtype: String(v.dtype), shape, begin: dataStart + offs[0], end: dataStart + offs[1] });
        dataEnd = Math.max(dataEnd, offs[1]);
      }
      if (dataStart + dataEnd > size) {
        fail(`truncated: the header describes ${dataStart + dataEnd} bytes but the file has ${size}`);
      }
      return new SafetensorsFile(file, bytes, entries, metadata);
    } catch (e) {
      bytes.close();
      throw e;
    }
  }

  keys(): string[] { return [...this.entries.keys()]; }
  has(key: string): boolean { return this.entries.has(key); }
  shape(key: string): number[] { return [...this.entry(key).shape]; }
  storedDType(key: string): string { return this.entry(key).dtype; }

  read(key: string): RawTensor {
    const e = this.entry(key);
    const count = numel(e.shape);
    if (e.dtype === 'F32') {
      // Read straight into the result: no intermediate buffer, no copy.
      const data = new Float32Array(count);
      this.readBytes(new Uint8Array(data.buffer), e.begin, key);
      return { dtype: 'float32', shape: [...e.shape], data };
    }
    const bytes = new Uint8Array(e.end - e.begin);
    this.readBytes(bytes, e.begin, key);
    const data = decodeElements(bytes, e.dtype, count, `${this.file}: ${key}`);
    return { dtype: rawDTypeOf(e.dtype), shape: [...e.shape], data };
  }

  /** Reads a stored F32 tensor's bytes into `target` (e.g. straight into a backend's heap). */
  readInto(key: string, target: Uint8Array): void {
    const e = this.entry(key);
    if (e.dtype !== 'F32') throw new Error(`${this.file}: ${key} is ${e.dtype}, not F32`);
    if (target.byteLength !== e.end - e.begin) {
      throw new Error(`${this.file}: ${key} has ${e.end - e.begin} bytes, the target ${target.byteLength}`);
    }
    this.readBytes(target, e.begin, key);
  }

  private readBytes(target: Uint8Array, position: number, key: string): void {
    if (this.bytes === null) throw new Error(`${this.file}: already closed`);
    readExactly(this.bytes, target, position, key);
  }

  close(): void {
    this.bytes?.close();
    this.bytes = null;
  }

  private entry(key: string): Entry {
    const e = this.entries.get(key);
    if (!e) throw new Error(`${this.file}: no tensor named ${key}`);
    return e;
  }
}

/** `model.safetensors.index.json` → the shards it names, presented as one source. */
export class ShardedSafetensors implements TensorSource {
  private constructor(private readonly owner: Map<string, SafetensorsFile>, private readonly shards: SafetensorsFile[]) {}

  /** The shards already opened (by name as the index's weight_map names them); closes none on failure. */
  static fromShards(indexFile: string, weightMap: ReadonlyMap<string, string>, files: Map<string, SafetensorsFile>): ShardedSafetensors {
    const owner = new Map<string, SafetensorsFile>();
    for (const [key, shard] of weightMap) {
      const f = files.get(shard);
      if (!f) throw new Error(`${indexFile}: shard ${shard} was not opened`);
      if (!f.has(key)) throw new Error(`${indexFile}: ${key} is mapped to ${shard}, which does not contain it`);
      owner.set(key, f);
    }
    return new ShardedSafetensors(owner, [...files.values()]);
  }

  keys(): string[] { return [...this.owner.keys()]; }
  has(key: string): boolean { return this.owner.has(key); }
  shape(key: string): number[] { return this.file(key).shape(key); }
  storedDType(key: string): string { return this.file(key).storedDType(key); }
  read(key: string): RawTensor { return this.file(key).read(key); }
  readInto(key: string, target: Uint8Array): void { this.file(key).readInto(key, target); }
  close(): void { for (const f of this.shards) f.close(); }
  private file(key: string): SafetensorsFile {
    const f = this.owner.get(key);
    if (!f) throw new Error(`no tensor named ${key} in the sharded checkpoint`);
    return f;
  }
}
