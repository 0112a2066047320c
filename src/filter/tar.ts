import * as fs from 'fs';

/**
 * A small streaming tar reader and writer, enough for WebDataset shards (POSIX ustar, GNU long
 * names and pax `path`/`size` records; compressed tars are not read). Written here rather than
 * taken from npm because the filter needs what stream-based packages leave to the caller: the
 * reader holds one member at a time with a hard cap on its size (an oversized member is skipped,
 * never buffered), reports a truncated or corrupt archive as a value instead of an exception
 * (the members before it still count), and tells how far into the file it is (progress, ETA);
 * the writer only lays out regular files for a file the caller commits atomically.
 */

const BLOCK = 512;

export interface TarMember {
  name: string;
  size: number;
  /** The member's bytes; undefined when `oversized`. */
  data?: Uint8Array;
  /** The member was larger than the reader's limit: its bytes were skipped. */
  oversized?: boolean;
}

export interface TarEnd {
  /** Why reading stopped early (truncated file, bad header), or undefined at a clean end. */
  problem?: string;
}

/** Reads a file sequentially through a fixed buffer. */
class BlockReader {
  private readonly buf = Buffer.alloc(1 << 20);
  private start = 0;
  private end = 0;
  position = 0;

  constructor(private readonly fd: number) {}

  /** Exactly n bytes (a copy), or fewer at the end of the file. */
  read(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.start === this.end && !this.fill()) break;
      const take = Math.min(n - filled, this.end - this.start);
      out.set(this.buf.subarray(this.start, this.start + take), filled);
      this.start += take;
      filled += take;
    }
    this.position += filled;
    return filled === n ? out : out.subarray(0, filled);
  }

  /** Skips n bytes; false when the file ended first. */
  skip(n: number): boolean {
    let left = n;
    while (left > 0) {
      if (this.start === this.end && !this.fill()) return false;
      const take = Math.min(left, this.end - this.start);
      this.start += take;
      left -= take;
      this.position += take;
    }
    return true;
  }

  private fill(): boolean {
    this.start = 0;
    this.end = fs.readSync(this.fd, this.buf, 0, this.buf.length, null);
    return this.end > 0;
  }
}

function field(block: Uint8Array, offset: number, length: number): string {
  const bytes = block.subarray(offset, offset + length);
  const nul = bytes.indexOf(0);
  return Buffer.from(nul < 0 ? bytes : bytes.subarray(0, nul)).toString('utf8');
}

function octal(block: Uint8Array, offset: number, length: number): number {
  // GNU base-256 for sizes of 8 GiB and more.
  if (block[offset] & 0x80) {
    let v = 0;
    for (let i = offset + 1; i < offset + length; i++) v = v * 256 + block[i];
    return v;
  }
  const text = field(block, offset, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(block: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  return sum === octal(block, 148, 8);
}

/** pax records "LEN key=value\n" (LEN counts bytes, itself included). */
function paxRecords(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const bytes = Buffer.from(data);
  let i = 0;
  while (i < bytes.length) {
    const space = bytes.indexOf(32, i);
    const length = space < 0 ? NaN : parseInt(bytes.subarray(i, space).toString('ascii'), 10);
    if (!(length > 0) || i + length > bytes.length) break;
    const record = bytes.subarray(space + 1, i + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    i += length;
  }
  return out;
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/**
 * The regular files of a tar, in order. Members over `maxBytes` come back `oversized` without
 * data. `onPosition` hears the byte offset after each member. The generator's return value says
 * whether the archive ended cleanly.
 */
export function* readTar(file: string, maxBytes: number, onPosition?: (offset: number) => void): Generator<TarMember, TarEnd> {
  const fd = fs.openSync(file, 'r');
  try {
    const r = new BlockReader(fd);
    let longName: string | undefined;
    let pax = new Map<string, string>();
    for (;;) {
      const header = r.read(BLOCK);
      if (header.length === 0) return {};
      if (header.length < BLOCK) return { problem: `truncated at byte ${r.position}` };
      if (header.every((b) => b === 0)) return {};
      if (!checksumOk(header)) return { problem: `bad tar header at byte ${r.position - BLOCK}` };
      const type = String.fromCharCode(header[156] || 48);
      const size = pax.has('size') ? Number(pax.get('size')) : octal(header, 124, 12);
      if (type === 'L' || type === 'x' || type === 'g') {
        if (size > 1 << 20) return { problem: `oversized ${type} header at byte ${r.position - BLOCK}` };
        const data = r.read(size);
        if (data.length < size || !r.skip(padding(size))) return { problem: `truncated at byte ${r.position}` };
        if (type === 'L') longName = field(data, 0, data.length);
        if (type === 'x') pax = paxRecords(data);
        continue;
      }
      const prefix = field(header, 345, 155);
      const name = pax.get('path') ?? longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
      longName = undefined;
      pax = new Map();
      const regular = type === '0' || type === '7';
      if (!regular || size > maxBytes) {
        if (!r.skip(size + padding(size))) return { problem: `truncated at byte ${r.position}` };
        if (regular) yield { name, size, oversized: true };
        onPosition?.(r.position);
        continue;
      }
      const data = r.read(size);
      if (data.length < size || !r.skip(padding(size))) return { problem: `truncated at byte ${r.position} (in ${name})` };
      yield { name, size, data };
      onPosition?.(r.position);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  block.set(Buffer.from(value.toString(8).padStart(length - 1, '0') + '\0', 'ascii'), offset);
}

function header(name: string, size: number, type: string): Uint8Array {
  const h = new Uint8Array(BLOCK);
  h.set(Buffer.from(name, 'utf8').subarray(0, 100), 0);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, 0); // mtime 0: the same samples give the same bytes
  h[156] = type.charCodeAt(0);
  h.set(Buffer.from('ustar\x0000', 'latin1'), 257);
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  writeOctal(h, 148, 7, sum);
  h[155] = 32;
  return h;
}

/** One regular file as tar records (a pax header first when the name is long or not ASCII). */
export function tarEntry(name: string, data: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  if (Buffer.byteLength(name) > 100 || /[^\x20-\x7e]/.test(name)) {
    const rest = Buffer.byteLength(` path=${name}\n`);
    let length = rest + 1;
    while (String(length).length + rest !== length) length = String(length).length + rest;
    const record = Buffer.from(`${length} path=${name}\n`, 'utf8');
    parts.push(header('PaxHeader', record.length, 'x'), record, new Uint8Array(padding(record.length)));
  }
  parts.push(header(name, data.length, '0'), data, new Uint8Array(padding(data.length)));
  return parts;
}

/** The two zero blocks that end an archive. */
export const TAR_END = new Uint8Array(2 * BLOCK);
