/**
 * Where weight bytes come from. The parsers (safetensors, zip, torch-bin) read through the
 * synchronous `ByteReader`, because the model is built synchronously from a TensorSource and
 * Node reads a file descriptor synchronously anyway (file-bytes.ts). The browser's sources
 * (HTTP Range requests, Blob.slice, Cache Storage) can only answer asynchronously: they are
 * `ByteSource`s, drained piece by piece into a `MemoryBytes` before parsing, so no read is ever
 * larger than one piece and no weight file is ever one string or one 900 MB buffer.
 */

/** Random access to bytes, synchronously. */
export interface ByteReader {
  /** Shown in error messages: a path or URL. */
  readonly name: string;
  readonly size: number;
  /** Reads up to target.length bytes at `position` into target; returns how many (0 at the end). */
  readAt(target: Uint8Array, position: number): number;
  close(): void;
}

/** Random access to bytes, asynchronously (HTTP Range, Blob.slice). */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Bytes held in memory as consecutive pieces (each at most a few tens of MB). */
export class MemoryBytes implements ByteReader {
  readonly size: number;
  private readonly starts: number[] = [];
  private pieces: Uint8Array[] | null;

  constructor(readonly name: string, pieces: Uint8Array[]) {
    this.pieces = pieces;
    let at = 0;
    for (const p of pieces) { this.starts.push(at); at += p.length; }
    this.size = at;
  }

  readAt(target: Uint8Array, position: number): number {
    if (this.pieces === null) throw new Error(`${this.name}: already closed`);
    if (position >= this.size) return 0;
    const want = Math.min(target.length, this.size - position);
    let i = this.pieceAt(position);
    let done = 0;
    while (done < want) {
      const piece = this.pieces[i];
      const from = position + done - this.starts[i];
      const n = Math.min(piece.length - from, want - done);
      target.set(piece.subarray(from, from + n), done);
      done += n;
      i++;
    }
    return done;
  }

  close(): void { this.pieces = null; }

  /** Index of the piece holding byte `position` (binary search). */
  private pieceAt(position: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= position) lo = mid; else hi = mid - 1;
    }
    return lo;
  }
}

/** Default piece size for draining a ByteSource: large enough for few requests, small enough to retry. */
export const PIECE_BYTES = 16 * 1024 * 1024;

/** Reads a whole ByteSource in pieces, reporting bytes done after each. */
export async function drain(source: ByteSource, opts: { pieceBytes?: number; progress?: (done: number, total: number) => void } = {}): Promise<MemoryBytes> {
  const step = opts.pieceBytes ?? PIECE_BYTES;
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < source.size; at += step) {
    const want = Math.min(step, source.size - at);
    const piece = await source.read(at, want);
    if (piece.length !== want) throw new Error(`${source.name}: got ${piece.length} bytes at ${at}, expected ${want}`);
    pieces.push(piece);
    opts.progress?.(at + want, source.size);
  }
  return new MemoryBytes(source.name, pieces);
}

/** Reads exactly target.length bytes at position, failing with `what` on a short read. */
export function readExactly(reader: ByteReader, target: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < target.length) {
    const n = reader.readAt(target.subarray(done), position + done);
    if (n === 0) throw new Error(`${reader.name}: unexpected end of file reading ${what} (truncated?)`);
    done += n;
  }
}
