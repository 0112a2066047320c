import { inflateSync as inflateRaw, unzlibSync } from 'fflate';
import { Buffer } from 'buffer';

/**
 * The three zlib functions the core calls (zip CRC and inflate, PNG text chunks), for the
 * browser bundle; fflate does the inflating. Results are Buffers, as Node's are.
 */
const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc32(data: Uint8Array, value = 0): number {
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export function inflateSync(data: Uint8Array): Buffer {
  const out = unzlibSync(data);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export function inflateRawSync(data: Uint8Array, opts: { maxOutputLength?: number } = {}): Buffer {
  const out = inflateRaw(data);
  if (opts.maxOutputLength !== undefined && out.length > opts.maxOutputLength)
    throw new Error('Cannot create a Buffer larger than maxOutputLength');
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
