/**
 * Image size from the header alone, for every format we decode: what lets a caller (the CLI, the
 * WebP and GIF decoders) apply the pixel limit before any pixel is decoded or the model is loaded.
 */

export interface HeaderSize {
  width: number;
  height: number;
}

/**
 * The width and height that the header of `bytes` declares; `null` when the bytes end before the
 * size (give more of the file), `undefined` when the format has no size we read (not one we decode).
 * JPEG: the first SOFn frame header; PNG: IHDR; GIF: the logical screen (what Pillow reports);
 * WebP: VP8X's canvas, else the VP8 or VP8L frame header.
 */
export function headerSize(b: Uint8Array, format: string): HeaderSize | null | undefined {
  switch (format) {
    case 'PNG':
      return b.length < 24 ? null : { width: u32be(b, 16), height: u32be(b, 20) };
    case 'GIF':
      return b.length < 10 ? null : { width: b[6] | (b[7] << 8), height: b[8] | (b[9] << 8) };
    case 'WebP':
      return webpSize(b);
    case 'JPEG':
      return jpegSize(b);
    default:
      return undefined;
  }
}

function u32be(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function u24le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8) | (b[o + 2] << 16);
}

function webpSize(b: Uint8Array): HeaderSize | null {
  if (b.length < 30) return null;
  const chunk = String.fromCharCode(b[12], b[13], b[14], b[15]);
  if (chunk === 'VP8X') return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
  if (chunk === 'VP8L') {
    const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (chunk === 'VP8 ') return { width: (b[26] | (b[27] << 8)) & 0x3fff, height: (b[28] | (b[29] << 8)) & 0x3fff };
  return { width: 0, height: 0 }; // an unknown first chunk: the decoder names the problem
}

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpegSize(b: Uint8Array): HeaderSize | null {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return { width: 0, height: 0 }; // not a marker: the decoder names the problem
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return { width: 0, height: 0 }; // no frame header before the scan
    const length = (b[i + 2] << 8) | b[i + 3];
    if (isSof(marker)) {
      if (i + 9 > b.length) return null;
      return { width: (b[i + 7] << 8) | b[i + 8], height: (b[i + 5] << 8) | b[i + 6] };
    }
    i += 2 + length;
  }
  return null;
}
