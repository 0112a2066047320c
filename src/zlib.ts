import { inflateSync as fflateInflateRaw } from 'fflate';

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

/** Inflates a raw deflate stream; more than `maxOutputLength` bytes of output is an error. */
export function inflateRaw(data: Uint8Array, maxOutputLength: number): Uint8Array {
  if (native) return native.inflateRawSync(data, { maxOutputLength });
  const out = fflateInflateRaw(data);
  if (out.length > maxOutputLength) throw new Error('Cannot create a Buffer larger than maxOutputLength');
  return out;
}
