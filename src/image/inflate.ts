import { Unzlib } from 'fflate';

/**
 * zlib inflation with a bound on the output, stopping early: pure JS (fflate), so the same code
 * runs in browsers. Input is fed in small slices so that a stream that inflates far past what
 * is wanted (a zlib bomb) is cut off after at most one slice's worth of output.
 */

const SLICE = 4096;

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
export function inflateBounded(parts: Uint8Array[], wanted: number, stopWhenFull: boolean): InflateResult {
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
      for (let p = 0; p < part.length; p += SLICE) {
        stream.push(part.subarray(p, Math.min(part.length, p + SLICE)), false);
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
  if (/invalid zlib/i.test(msg)) return 'bad zlib header';
  if (/block type/i.test(msg)) return 'bad block type';
  if (/distance/i.test(msg)) return 'bad back-reference distance';
  if (/length/i.test(msg)) return 'bad length code';
  return 'corrupt deflate stream';
}
