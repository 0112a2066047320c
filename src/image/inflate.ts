import { Unzlib } from 'fflate';
import { nativeZlib } from '../zlib';

/**
 * zlib inflation with a bound on the output, stopping early. Node's native zlib (installed by
 * src/node/zlib.ts, see src/zlib.ts) does it
 * (maxOutputLength stops a bomb at the bound); elsewhere, or when a stream holds more than is
 * wanted (which libpng ignores and native zlib can only refuse), fflate's pure-JS streaming
 * inflater is fed small slices so that a bomb is cut off after at most one slice's output.
 */

/** Input slice for image data: at most ~16 MB of output past what is wanted (deflate's ratio is at most 1032:1). */
export const IMAGE_SLICE = 16384;
/** Input slice for text chunks, whose cap (1 MB) is small: about 1 MB past it at most. */
export const TEXT_SLICE = 1024;

export interface InflateResult {
  /** The first `wanted` bytes of output (fewer when the stream ends early or is cut short). */
  data: Uint8Array;
  /** Whether the stream produced more than `wanted` bytes (the rest was not inflated). */
  overflow: boolean;
}

/** Thrown for data that is not a valid zlib stream; the message is ours, not fflate's. */
export class InflateError extends Error {}

/**
 * Inflates zlib `parts` (concatenated) into at most `wanted` bytes. Data after the end of the
 * stream is ignored (fflate stops at the final block), as libpng and Python's zlib do. `stopWhenFull`: stop reading once `wanted`
 * bytes exist (image data: the rows are complete, later bytes are not looked at).
 */
export function inflateBounded(parts: Uint8Array[], wanted: number, stopWhenFull: boolean, slice = IMAGE_SLICE): InflateResult {
  const nodeZlib = nativeZlib();
  if (nodeZlib && wanted < 2 ** 31) {
    const input = parts.length === 1 ? parts[0] : concat(parts);
    try {
      // Z_SYNC_FLUSH: a stream cut short gives what it holds instead of an error.
      const data = nodeZlib.inflateSync(input, { finishFlush: nodeZlib.constants.Z_SYNC_FLUSH, maxOutputLength: wanted });
      return { data, overflow: false };
    } catch (e) {
      if (!(e instanceof RangeError)) throw new InflateError(`invalid compressed data (${describe(e)})`);
      if (!stopWhenFull) return { data: new Uint8Array(0), overflow: true };
      // More data than wanted: fall through and keep the first `wanted` bytes.
    }
  }
  return inflateSliced(parts, wanted, stopWhenFull, slice);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function inflateSliced(parts: Uint8Array[], wanted: number, stopWhenFull: boolean, slice: number): InflateResult {
  const out = new Uint8Array(wanted);
  let have = 0;
  let overflow = false;
  const stream = new Unzlib((chunk) => {
    const room = wanted - have;
    if (chunk.length > room) overflow = true;
    const n = Math.min(room, chunk.length);
    out.set(chunk.subarray(0, n), have);
    have += n;
  });
  try {
    outer: for (const part of parts) {
      for (let p = 0; p < part.length; p += slice) {
        stream.push(part.subarray(p, Math.min(part.length, p + slice)), false);
        if (overflow || (stopWhenFull && have === wanted)) break outer;
      }
    }
  } catch (e) {
    throw new InflateError(`invalid compressed data (${describe(e)})`);
  }
  return { data: have === wanted ? out : out.subarray(0, have), overflow };
}

function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/invalid zlib|incorrect header/i.test(msg)) return 'bad zlib header';
  if (/block type/i.test(msg)) return 'bad block type';
  if (/distance/i.test(msg)) return 'bad back-reference distance';
  if (/length/i.test(msg)) return 'bad length code';
  return 'corrupt deflate stream';
}
