import { crc32, inflateRaw } from '../zlib';
import { ByteReader } from './source';

/**
 * A minimal read-only zip reader over an open file descriptor, enough for `torch.save`
 * archives: the central directory is read from the end of the file (ZIP64 included), and
 * member data is read by offset only when asked, so a 900 MB archive is never held whole.
 * Supports stored (method 0) and deflated (method 8) members; nothing else is needed.
 */
export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header; the data start is found from it lazily. */
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** Cap on the central directory we are willing to read (torch archives have ~1 entry per tensor). */
const MAX_CENTRAL_DIR_BYTES = 256 * 1024 * 1024;
/** torch.save stores members uncompressed; a deflated one (data.pkl of another writer) is held whole, so it is kept small. */
const MAX_DEFLATED_BYTES = 128 * 1024 * 1024;
/** Deflate expands at most 1032:1; a member declaring more than that of its compressed size is a lie. */
const MAX_DEFLATE_RATIO = 1032;

/** Thrown for anything wrong with the archive itself; messages start with the file path. */
export class ZipFormatError extends Error {}

export function readFully(bytes: ByteReader, buf: Uint8Array, position: number, file: string, what: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = bytes.readAt(buf.subarray(done), position + done);
    if (n === 0) throw new ZipFormatError(`${file}: unexpected end of file reading ${what} (truncated?)`);
    done += n;
  }
}

function u64(buf: Buffer, at: number, file: string, what: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError(`${file}: ${what} ${v} is implausibly large`);
  return Number(v);
}

export class ZipReader {
  readonly entries: Map<string, ZipEntry>;
  private readonly dataStarts = new Map<string, number>();

  private constructor(readonly file: string, private readonly bytes: ByteReader, readonly fileSize: number, entries: Map<string, ZipEntry>) {
    this.entries = entries;
  }

  /** Reads the central directory; `bytes` stays owned by the caller. */
  static open(bytes: ByteReader, file: string): ZipReader {
    const size = bytes.size;
    const fail = (why: string): never => { throw new ZipFormatError(`${file}: ${why}`); };
    if (size < EOCD_SIZE) fail(`${size} bytes is too short to be a zip archive`);

    // The end-of-central-directory record sits in the last 22 + up to 65,535 comment bytes.
    const tailLen = Math.min(size, EOCD_SIZE + MAX_COMMENT);
    const tail = Buffer.alloc(tailLen);
    readFully(bytes, tail, size - tailLen, file, 'the end of the archive');
    let eocd = -1;
    for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
      // Require the comment length to reach exactly the end, so stray signature bytes in data don't match.
      if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tailLen) { eocd = i; break; }
    }
    if (eocd < 0) {
      const head = Buffer.alloc(Math.min(4, size));
      readFully(bytes, head, 0, file, 'the header');
      if (head.length === 4 && head.readUInt32LE(0) === SIG_LOCAL) {
        fail('zip archive has no end-of-central-directory record (truncated or damaged)');
      }
      fail('not a zip archive (no end-of-central-directory record)');
    }
    const eocdPos = size - tailLen + eocd;
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    let cdEndLimit = eocdPos;

    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      // ZIP64: a 20-byte locator right before the EOCD points at the 56+-byte ZIP64 EOCD record.
      if (eocdPos < 20) fail('ZIP64 end-of-central-directory locator is missing');
      const loc = Buffer.alloc(20);
      readFully(bytes, loc, eocdPos - 20, file, 'the ZIP64 locator');
      if (loc.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) fail('ZIP64 end-of-central-directory locator is missing');
      const rec64Pos = u64(loc, 8, file, 'ZIP64 record offset');
      if (rec64Pos + 56 > eocdPos - 20) fail(`ZIP64 end-of-central-directory record offset ${rec64Pos} is out of range`);
      const rec = Buffer.alloc(56);
      readFully(bytes, rec, rec64Pos, file, 'the ZIP64 end-of-central-directory record');
      if (rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) fail('ZIP64 end-of-central-directory record has a bad signature');
      count = u64(rec, 32, file, 'entry count');
      cdSize = u64(rec, 40, file, 'central directory size');
      cdOffset = u64(rec, 48, file, 'central directory offset');
      cdEndLimit = rec64Pos;
    }
    if (cdOffset + cdSize > cdEndLimit) {
      fail(`central directory (${cdSize} bytes at ${cdOffset}) runs past its end record at ${cdEndLimit} (truncated or damaged)`);
    }
    if (cdSize > MAX_CENTRAL_DIR_BYTES) fail(`central directory of ${cdSize} bytes is implausibly large`);
    // Each central entry takes at least 46 bytes; a larger count is corrupt, and would make us loop for nothing.
    if (count * 46 > cdSize) fail(`central directory of ${cdSize} bytes cannot hold ${count} entries`);

    const cd = Buffer.alloc(cdSize);
    readFully(bytes, cd, cdOffset, file, 'the central directory');
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdSize || cd.readUInt32LE(p) !== SIG_CENTRAL) fail(`central directory entry ${i} is damaged`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc32 = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let usize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cdSize) fail(`central directory entry ${i} runs past the directory`);
      // Bit 11 says UTF-8; torch writes ASCII names, which read the same either way.
      const name = cd.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
      // ZIP64 extra (id 1): 8-byte values present only for the fields saturated at 0xffffffff, in this order.
      let x = p + 46 + nameLen;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = cd.readUInt16LE(x);
        const len = cd.readUInt16LE(x + 2);
        if (x + 4 + len > xEnd) fail(`entry ${name}: extra field runs past its entry`);
        if (id === 0x0001) {
          let q = x + 4;
          const take = (what: string): number => {
            if (q + 8 > x + 4 + len) fail(`entry ${name}: ZIP64 extra field is too short for the ${what}`);
            const v = u64(cd, q, file, `entry ${name} ${what}`);
            q += 8;
            return v;
          };
          if (usize === 0xffffffff) usize = take('size');
          if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('header offset');
        }
        x += 4 + len;
      }
      if (localHeaderOffset + 30 + compressedSize > cdOffset) {
        fail(`entry ${name}: ${compressedSize} bytes at ${localHeaderOffset} overlap the central directory (damaged)`);
      }
      if (entries.has(name)) fail(`entry ${name} appears twice`);
      entries.set(name, { name, method, flags, crc32, compressedSize, size: usize, localHeaderOffset });
      p = end;
    }
    return new ZipReader(file, bytes, size, entries);
  }

  get(name: string): ZipEntry | undefined { return this.entries.get(name); }

  /** Byte offset of the member's data, from its local header (whose extra field may differ from the central one). */
  dataStart(e: ZipEntry): number {
    const cached = this.dataStarts.get(e.name);
    if (cached !== undefined) return cached;
    const fail = (why: string): never => { throw new ZipFormatError(`${this.file}: entry ${e.name}: ${why}`); };
    if (e.flags & 0x1) fail('is encrypted');
    if (e.method !== 0 && e.method !== 8) fail(`uses compression method ${e.method} (only stored and deflate are supported)`);
    if (e.method === 0 && e.compressedSize !== e.size) fail(`stored entry has compressed size ${e.compressedSize} != size ${e.size}`);
    if (e.method === 8 && e.size > MAX_DEFLATED_BYTES) fail(`deflated entry of ${e.size} bytes is implausibly large (torch stores tensors uncompressed)`);
    if (e.method === 8 && e.size > e.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      fail(`declares ${e.size} bytes from ${e.compressedSize} compressed, more than deflate can produce`);
    }
    const h = Buffer.alloc(30);
    readFully(this.bytes, h, e.localHeaderOffset, this.file, `the local header of ${e.name}`);
    if (h.readUInt32LE(0) !== SIG_LOCAL) fail(`bad local header signature at ${e.localHeaderOffset}`);
    const start = e.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (start + e.compressedSize > this.fileSize) {
      fail(`${e.compressedSize} bytes at ${start} run past the end of the ${this.fileSize}-byte file (truncated?)`);
    }
    this.dataStarts.set(e.name, start);
    return start;
  }

  /**
   * Reads `length` bytes at `offset` within the member's uncompressed data into `into`
   * (or a fresh buffer). Stored members are read straight from the file; deflated ones
   * are inflated whole first, which is fine for the small members we expect that way.
   */
  readRange(e: ZipEntry, offset: number, length: number, into?: Uint8Array): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > e.size) {
      throw new ZipFormatError(`${this.file}: entry ${e.name}: range ${offset}+${length} is outside its ${e.size} bytes`);
    }
    // Not allocUnsafe: small ones come from a shared pool, and callers keep the buffer as tensor data.
    const out = into ?? Buffer.allocUnsafeSlow(length);
    if (out.length < length) throw new Error(`readRange: target buffer of ${out.length} bytes is smaller than ${length}`);
    const start = this.dataStart(e);
    if (e.method === 0) {
      readFully(this.bytes, out.subarray(0, length), start + offset, this.file, e.name);
    } else {
      const whole = this.inflate(e);
      out.set(whole.subarray(offset, offset + length));
    }
    return out;
  }

  /** Reads a whole member and checks its CRC-32 (use for small members such as data.pkl). */
  readChecked(e: ZipEntry): Buffer {
    const r = this.readRange(e, 0, e.size);
    const data = Buffer.from(r.buffer, r.byteOffset, r.byteLength);
    const crc = crc32(data);
    if (crc !== e.crc32 >>> 0) {
      throw new ZipFormatError(`${this.file}: entry ${e.name} is corrupt (CRC-32 ${hex(crc)}, expected ${hex(e.crc32)})`);
    }
    return data;
  }

  private inflate(e: ZipEntry): Buffer {
    const raw = Buffer.allocUnsafe(e.compressedSize);
    readFully(this.bytes, raw, this.dataStart(e), this.file, e.name);
    let out: Buffer;
    try {
      const inflated = inflateRaw(raw, Math.max(e.size, 1));
      out = Buffer.from(inflated.buffer, inflated.byteOffset, inflated.byteLength);
    } catch (err) {
      throw new ZipFormatError(`${this.file}: entry ${e.name}: cannot inflate (${(err as Error).message})`);
    }
    if (out.length !== e.size) throw new ZipFormatError(`${this.file}: entry ${e.name}: inflated to ${out.length} bytes, expected ${e.size}`);
    return out;
  }
}

function hex(n: number): string { return `0x${(n >>> 0).toString(16).padStart(8, '0')}`; }
