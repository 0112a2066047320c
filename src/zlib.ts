import { Inflate } from 'fflate';

/**
 * Deflate support for the core (zip members of pytorch_model.bin, PNG data). The core imports no
 * Node built-in: it runs on fflate (pure JS) unless a platform installs a native zlib. The Node
 * modules that read models and images (src/node/zlib.ts) install Node's, which is faster and
 * stops a bomb at its output bound.
 */
export interface NativeZlib {
  inflateSync(data: Uint8Array, opts: { finishFlush: number; maxOutputLength: number }): Uint8Array;
  inflateRawSync(data: Uint8Array, opts: { maxOutputLength: number }): Uint8Array;
  crc32(data: Uint8Array): number;
  constants: { Z_SYNC_FLUSH: number };
}

let native: NativeZlib | null = null;

export function installNativeZlib(zlib: NativeZlib): void {
  native = zlib;
}

/** The installed native zlib, or null (then callers use fflate). */
export function nativeZlib(): NativeZlib | null {
  return native;
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (zip's), unsigned. */
export function crc32(data: Uint8Array): number {
  if (native) return native.crc32(data) >>> 0;
  let c = ~0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Input fed to fflate at a time: deflate expands at most 1032:1, so one step yields at most ~2 MB past the bound. */
const RAW_SLICE = 2048;

/**
 * Inflates a raw deflate stream; more than `maxOutputLength` bytes of output is an error. Without
 * native zlib, fflate is fed small slices and stopped as soon as the output passes the bound, so a
 * bomb costs at most the bound plus one slice's output, never its full expansion.
 */
export function inflateRaw(data: Uint8Array, maxOutputLength: number): Uint8Array {
  if (native) return native.inflateRawSync(data, { maxOutputLength });
  const chunks: Uint8Array[] = [];
  let have = 0;
  const stream = new Inflate((chunk) => {
    have += chunk.length;
    if (have <= maxOutputLength) chunks.push(chunk);
  });
  for (let p = 0; p < data.length && have <= maxOutputLength; p += RAW_SLICE) {
    stream.push(data.subarray(p, Math.min(data.length, p + RAW_SLICE)), p + RAW_SLICE >= data.length);
  }
  if (have > maxOutputLength) throw new Error('Cannot create a Buffer larger than maxOutputLength');
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(have);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
