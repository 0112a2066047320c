/**
 * The pixel size an encoded JPEG or PNG declares in its header, read without decoding, so that an
 * oversized upload is refused before any pixel memory is allocated. null when no size is found.
 */
export function declaredSize(b: Uint8Array): { width: number; height: number } | null {
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    // PNG: the IHDR chunk comes first; width and height are its first two big-endian uint32s.
    return { width: u32(b, 16), height: u32(b, 20) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) return jpegSize(b);
  return null;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];
}

/** Walks the JPEG marker segments up to the first start-of-frame (SOF0..SOF15 but DHT, JPG, DAC). */
function jpegSize(b: Uint8Array): { width: number; height: number } | null {
  let at = 2;
  while (at + 4 <= b.length) {
    if (b[at] !== 0xff) return null;
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    } // fill byte
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    const length = (b[at + 2] << 8) + b[at + 3];
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isFrame) {
      if (at + 9 > b.length) return null;
      return { height: (b[at + 5] << 8) + b[at + 6], width: (b[at + 7] << 8) + b[at + 8] };
    }
    if (marker === 0xda || length < 2) return null; // scan data before any frame header
    at += 2 + length;
  }
  return null;
}
