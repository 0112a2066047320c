import { crc32 } from '../zlib';
import { InflateError, TEXT_SLICE, inflateBounded } from './inflate';
import { PngDataError, PngLayout, expectedDataSize, pngToRgb } from './png-pixels';
import { DEFAULT_MAX_PIXELS, pixelLimitProblem } from './limits';
import { RgbImage } from './types';

/**
 * PNG → RGB as Pillow opens it (see png-pixels.ts for the pixel conversion). This file checks the
 * chunk structure and CRCs as Pillow does, refuses images over the pixel limit before inflating
 * anything, inflates the image data with a bound (data after the end of the zlib stream is
 * ignored, as libpng does; data that ends before the last row is an error), and reads EXIF /
 * XMP for orientation. Compressed text chunks are inflated to at most 1 MB each (Pillow's
 * MAX_TEXT_CHUNK) and 64 MB in all (MAX_TEXT_MEMORY); more is refused, as Pillow refuses it.
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

interface Chunk {
  type: string;
  data: Uint8Array;
}

const MAX_TEXT_CHUNK = 1024 * 1024;
const MAX_TEXT_MEMORY = 64 * MAX_TEXT_CHUNK;

function u32(b: Uint8Array, p: number): number {
  return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
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
      const crc = crc32(buf.subarray(pos + 4, pos + 8 + len));
      if (crc !== u32(buf, pos + 8 + len)) throw new PngError(`corrupt PNG: bad CRC in the ${type} chunk`);
    }
    if (chunks.length === 0 && type !== 'IHDR') throw new PngError('corrupt PNG: the first chunk is not IHDR');
    if (type === 'IEND') break;
    // libpng and Pillow read the image data as one run of IDAT chunks: another chunk inside it is an error.
    if (type === 'IDAT' && sawIDAT && chunks[chunks.length - 1].type !== 'IDAT') {
      throw new PngError(`corrupt PNG: the image data (IDAT) is split by a ${chunks[chunks.length - 1].type} chunk`);
    }
    if (type === 'IDAT') sawIDAT = true;
    chunks.push({ type, data });
    pos = end;
  }
  if (!sawIDAT) throw new PngError('corrupt PNG: no image data (IDAT chunk)');
  return chunks;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** Pillow's _safe_zlib_decompress: at most MAX_TEXT_CHUNK bytes, else the file is refused. */
function inflateText(data: Uint8Array, type: string): Uint8Array | null {
  let r;
  try {
    r = inflateBounded([data], MAX_TEXT_CHUNK, false, TEXT_SLICE);
  } catch (e) {
    if (e instanceof InflateError) return null; // Pillow skips text it cannot decompress
    throw e;
  }
  if (r.overflow) throw new PngError(`a compressed ${type} text chunk inflates to more than 1 MB (refused, as Pillow's MAX_TEXT_CHUNK)`);
  return r.data;
}

/**
 * A text chunk's keyword and (inflated) value. Every compressed one is inflated, as Pillow
 * does, so that oversized text is refused whatever its keyword.
 */
function readText(c: Chunk): { key: string; value: Uint8Array } | null {
  const d = c.data;
  const nul = d.indexOf(0);
  if (nul <= 0) return null;
  const key = latin1(d.subarray(0, nul));
  if (c.type === 'tEXt') return { key, value: d.subarray(nul + 1) };
  if (c.type === 'zTXt') {
    if (d.length > nul + 1 && d[nul + 1] !== 0) throw new PngError(`unknown compression method ${d[nul + 1]} in a zTXt chunk`);
    const value = inflateText(d.subarray(nul + 2), 'zTXt');
    return value && { key, value };
  }
  // iTXt: keyword, compression flag, method, language\0, translated keyword\0, text
  const flag = d[nul + 1];
  const method = d[nul + 2];
  const l1 = d.indexOf(0, nul + 3);
  if (l1 < 0) return null;
  const l2 = d.indexOf(0, l1 + 1);
  if (l2 < 0) return null;
  const text = d.subarray(l2 + 1);
  if (!flag) return { key, value: text };
  if (method !== 0) return null;
  const value = inflateText(text, 'iTXt');
  return value && { key, value };
}

/** "Raw profile type exif": a header line, a length line, then hex digits over several lines. */
function rawProfileExif(text: Uint8Array): Uint8Array | null {
  const lines = latin1(text).split('\n');
  const hex = lines.slice(3).join('');
  if (!/^[0-9a-fA-F]*$/.test(hex) || hex.length % 2) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

export function decodePng(buf: Uint8Array, maxPixels = DEFAULT_MAX_PIXELS): PngDecoded {
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
  if (ihdr[12] > 1) throw new PngError(`unsupported PNG: interlace method ${ihdr[12]}`);
  if (width * height > maxPixels) throw new PngError(pixelLimitProblem(width, height, maxPixels));

  let exif: Uint8Array | null = null;
  let rawExif: Uint8Array | null = null;
  let xmp: string | null = null;
  let plte: Uint8Array | null = null;
  let textBytes = 0;
  const idat: Uint8Array[] = [];
  for (const c of chunks) {
    if (c.type === 'IDAT') idat.push(c.data);
    else if (c.type === 'PLTE' && !plte) plte = c.data;
    else if (c.type === 'eXIf') exif = c.data;
    else if (c.type === 'tEXt' || c.type === 'zTXt' || c.type === 'iTXt') {
      const t = readText(c);
      if (!t) continue;
      textBytes += t.value.length;
      if (textBytes > MAX_TEXT_MEMORY) throw new PngError("text chunks hold more than 64 MB (refused, as Pillow's MAX_TEXT_MEMORY)");
      if (t.key === 'XML:com.adobe.xmp') xmp = c.type === 'iTXt' ? new TextDecoder().decode(t.value) : latin1(t.value);
      else if (t.key === 'Raw profile type exif') rawExif = rawProfileExif(t.value);
    }
  }
  if (colorType === 3 && !plte) throw new PngError('corrupt PNG: palette image without a PLTE chunk');

  const layout: PngLayout = { width, height, depth, colorType, interlaced };
  const wanted = expectedDataSize(layout);
  let inflated;
  try {
    inflated = inflateBounded(idat, wanted, true);
  } catch (e) {
    if (e instanceof InflateError) throw new PngError(`corrupt PNG image data: ${e.message}`);
    throw e;
  }
  if (inflated.data.length === 0) throw new PngError('corrupt PNG: the image data (IDAT) is empty or holds no pixels');
  if (inflated.data.length < wanted) {
    const rows = Math.floor(inflated.data.length / Math.max(1, wanted / height));
    throw new PngError(
      `truncated PNG image data: it ends after ${inflated.data.length} of ${wanted} bytes (about ${rows} of ${height} rows)`,
    );
  }
  let image: RgbImage;
  try {
    image = pngToRgb(layout, inflated.data, plte);
  } catch (e) {
    if (e instanceof PngDataError) throw new PngError(`corrupt PNG image data: ${e.message}`);
    throw e;
  }
  return { image, exif: exif ?? rawExif, xmp, colorType, depth, interlaced };
}
