import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import { RgbImage } from './types';

/**
 * PNG → RGB as Pillow opens it and `convert('RGB')` converts it (what transformers sees):
 *  - gray 1/2/4-bit scaled to 0..255 (×255, ×85, ×17); 8-bit as is; 16-bit is Pillow mode
 *    "I;16", whose RGB conversion clips to 255 (a 16-bit gray PNG mostly turns white there, and so here);
 *  - 16-bit RGB / RGBA / gray+alpha keep the high byte of each sample (rawmodes "RGB;16B", "LA;16B");
 *  - alpha and tRNS transparency are dropped, not composited: convert('RGB') ignores them;
 *  - palette indices past the PLTE entries are black, as in Pillow.
 * pngjs does the inflating, unfiltering, Adam7 and bit unpacking. It is handed a rebuilt file
 * (header, palette padded to 256, transparency, image data, end) so that chunks Pillow ignores
 * (unknown ones, data after IEND, a missing IEND) cannot make it fail, while this file checks the
 * chunk structure and CRCs itself, and reads EXIF / XMP for orientation.
 */

export interface PngDecoded {
  image: RgbImage;
  /** eXIf chunk (as Pillow's info["exif"]) or the "Raw profile type exif" text chunk, decoded. */
  exif: Uint8Array | null;
  /** The "XML:com.adobe.xmp" text. */
  xmp: string | null;
  colorType: number;
  depth: number;
  interlaced: boolean;
}

/** A problem Pillow would also refuse the file for; the caller adds the file name. */
export class PngError extends Error {}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

interface Chunk { type: string; data: Uint8Array }

/** The fields of pngjs's result that its type declarations leave out or type loosely. */
interface PngjsResult {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  data: Uint8Array | Uint16Array;
  transColor?: number[];
}

function u32(b: Uint8Array, p: number): number {
  return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}

function chunkBytes(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Splits the file into chunks, checking what Pillow checks; stops at IEND. */
function readChunks(buf: Uint8Array): Chunk[] {
  for (let i = 0; i < 8; i++) if (buf[i] !== SIGNATURE[i]) throw new PngError('not a PNG file');
  const chunks: Chunk[] = [];
  let pos = 8;
  let sawIDAT = false;
  for (;;) {
    if (pos === buf.length) {
      if (!sawIDAT) throw new PngError('truncated PNG: the file ends before any image data');
      break; // no IEND: Pillow accepts a file whose image data is complete
    }
    if (pos + 8 > buf.length) {
      if (!sawIDAT) throw new PngError('truncated PNG: the file ends inside a chunk header');
      break;
    }
    const len = u32(buf, pos);
    const type = String.fromCharCode(buf[pos + 4], buf[pos + 5], buf[pos + 6], buf[pos + 7]);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new PngError(`corrupt PNG: bad chunk type at byte ${pos + 4}`);
    const end = pos + 8 + len + 4;
    if (end > buf.length) {
      // A cut inside the image data (or before it) is a truncated image; a cut inside a
      // trailing chunk after complete image data is not, for Pillow.
      if (!sawIDAT || type === 'IDAT') throw new PngError(`truncated PNG: the file ends inside the ${type} chunk`);
      break;
    }
    const data = buf.subarray(pos + 8, pos + 8 + len);
    // Pillow verifies the CRCs of the chunks before the image data, and only those.
    if (!sawIDAT && type !== 'IDAT') {
      const crc = zlib.crc32(buf.subarray(pos + 4, pos + 8 + len));
      if (crc !== u32(buf, pos + 8 + len)) throw new PngError(`corrupt PNG: bad CRC in the ${type} chunk`);
    }
    if (chunks.length === 0 && type !== 'IHDR') throw new PngError('corrupt PNG: the first chunk is not IHDR');
    if (type === 'IEND') break;
    if (type === 'IDAT') sawIDAT = true;
    chunks.push({ type, data });
    pos = end;
  }
  if (!sawIDAT) throw new PngError('corrupt PNG: no image data (IDAT chunk)');
  return chunks;
}

/** Text chunks Pillow reads orientation from: "Raw profile type exif" and "XML:com.adobe.xmp". */
function readText(c: Chunk): { key: string; value: Uint8Array } | null {
  const d = c.data;
  const nul = d.indexOf(0);
  if (nul <= 0) return null;
  const key = Buffer.from(d.subarray(0, nul)).toString('latin1');
  if (key !== 'Raw profile type exif' && key !== 'XML:com.adobe.xmp') return null;
  try {
    if (c.type === 'tEXt') return { key, value: d.subarray(nul + 1) };
    if (c.type === 'zTXt') return { key, value: zlib.inflateSync(d.subarray(nul + 2)) };
    // iTXt: keyword, compression flag, method, language\0, translated keyword\0, text
    const flag = d[nul + 1];
    let p = nul + 3;
    const l1 = d.indexOf(0, p);
    if (l1 < 0) return null;
    const l2 = d.indexOf(0, l1 + 1);
    if (l2 < 0) return null;
    p = l2 + 1;
    return { key, value: flag ? zlib.inflateSync(d.subarray(p)) : d.subarray(p) };
  } catch {
    return null; // Pillow skips text it cannot decompress
  }
}

/** "Raw profile type exif": a header line, a length line, then hex digits over several lines. */
function rawProfileExif(text: Uint8Array): Uint8Array | null {
  const lines = Buffer.from(text).toString('latin1').split('\n');
  const hex = lines.slice(3).join('');
  if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2) return null;
  return Buffer.from(hex, 'hex');
}

export function decodePng(buf: Uint8Array): PngDecoded {
  const chunks = readChunks(buf);
  const ihdr = chunks[0].data;
  if (ihdr.length < 13) throw new PngError('corrupt PNG: short IHDR chunk');
  const width = u32(ihdr, 0);
  const height = u32(ihdr, 4);
  const depth = ihdr[8];
  const colorType = ihdr[9];
  const interlaced = ihdr[12] === 1;
  if (width === 0 || height === 0) throw new PngError(`zero-size image (${width}x${height})`);
  const valid: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
  if (!valid[colorType]?.includes(depth)) throw new PngError(`unsupported PNG: bit depth ${depth} with colour type ${colorType}`);

  let exif: Uint8Array | null = null;
  let rawExif: Uint8Array | null = null;
  let xmp: string | null = null;
  let plte: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  for (const c of chunks) {
    if (c.type === 'IDAT') idat.push(c.data);
    else if (c.type === 'PLTE' && !plte) plte = c.data;
    else if (c.type === 'tRNS') trns = c.data;
    else if (c.type === 'eXIf') exif = c.data;
    else if (c.type === 'tEXt' || c.type === 'zTXt' || c.type === 'iTXt') {
      const t = readText(c);
      if (t?.key === 'XML:com.adobe.xmp') xmp = Buffer.from(t.value).toString(c.type === 'iTXt' ? 'utf8' : 'latin1');
      else if (t) rawExif = rawProfileExif(t.value);
    }
  }
  if (colorType === 3 && !plte) throw new PngError('corrupt PNG: palette image without a PLTE chunk');

  // The file pngjs sees: header, padded palette, transparency, image data, end.
  const parts: Buffer[] = [Buffer.from(SIGNATURE), chunkBytes('IHDR', ihdr)];
  if (colorType === 3 && plte) {
    const padded = new Uint8Array(768); // missing entries are black, as Pillow's palette
    padded.set(plte.subarray(0, Math.min(plte.length - (plte.length % 3), 768)));
    parts.push(chunkBytes('PLTE', padded));
  }
  // Transparency only matters to restore colours pngjs zeroes (gray/RGB); palette alpha is dropped.
  if (trns && (colorType === 0 || colorType === 2) && trns.length >= (colorType === 0 ? 2 : 6)) {
    parts.push(chunkBytes('tRNS', trns));
  }
  for (const d of idat) parts.push(chunkBytes('IDAT', d));
  parts.push(chunkBytes('IEND', new Uint8Array(0)));

  let png: PngjsResult;
  try {
    png = PNG.sync.read(Buffer.concat(parts), { skipRescale: true }) as unknown as PngjsResult;
  } catch (e) {
    const msg = (e as Error).message;
    throw new PngError(`truncated or corrupt PNG image data (${msg})`);
  }
  return { image: toRgb(png, colorType, depth), exif: exif ?? rawExif, xmp, colorType, depth, interlaced };
}

/** pngjs's RGBA samples (raw values at the file's bit depth) to Pillow's convert('RGB'). */
function toRgb(png: PngjsResult, colorType: number, depth: number): RgbImage {
  const n = png.width * png.height;
  const src = png.data;
  if (src.length < n * 4) throw new PngError('truncated or corrupt PNG image data (too few pixels)');
  const out = new Uint8Array(n * 3);
  const trans = png.transColor;
  if (colorType === 0) {
    const scale = depth === 1 ? 255 : depth === 2 ? 85 : depth === 4 ? 17 : 1;
    for (let i = 0; i < n; i++) {
      // pngjs zeroes pixels equal to the tRNS colour; Pillow keeps their value.
      let g = trans && src[i * 4 + 3] === 0 ? trans[0] : src[i * 4];
      g = depth === 16 ? (g > 255 ? 255 : g) : g * scale;
      out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = g;
    }
  } else if (colorType === 2 && trans) {
    const shift = depth === 16 ? 8 : 0;
    for (let i = 0; i < n; i++) {
      const t = src[i * 4 + 3] === 0;
      out[i * 3] = (t ? trans[0] : src[i * 4]) >> shift;
      out[i * 3 + 1] = (t ? trans[1] : src[i * 4 + 1]) >> shift;
      out[i * 3 + 2] = (t ? trans[2] : src[i * 4 + 2]) >> shift;
    }
  } else {
    // RGB, RGBA, gray+alpha (already replicated to R, G, B by pngjs) and palette colours.
    const shift = depth === 16 ? 8 : 0;
    for (let i = 0; i < n; i++) {
      out[i * 3] = src[i * 4] >> shift;
      out[i * 3 + 1] = src[i * 4 + 1] >> shift;
      out[i * 3 + 2] = src[i * 4 + 2] >> shift;
    }
  }
  return { data: out, width: png.width, height: png.height };
}
