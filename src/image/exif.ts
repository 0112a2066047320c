import { RgbImage } from './types';

/**
 * EXIF orientation as transformers' load_image applies it (PIL.ImageOps.exif_transpose):
 * the Orientation tag (0x0112) of IFD0 in the EXIF block; when absent, `tiff:Orientation`
 * in the XMP packet. Values 2..8 transpose the image; anything else leaves it as is.
 */

/** Reads IFD0's Orientation from an EXIF block (a TIFF stream, optionally after "Exif\0\0"). */
export function exifOrientation(exif: Uint8Array | null): number | null {
  if (!exif) return null;
  let b = exif;
  while (b.length >= 6 && b[0] === 0x45 && b[1] === 0x78 && b[2] === 0x69 && b[3] === 0x66 && b[4] === 0 && b[5] === 0) {
    b = b.subarray(6);
  }
  if (b.length < 8) return null;
  let le: boolean;
  if (b[0] === 0x49 && b[1] === 0x49 && b[2] === 42 && b[3] === 0) le = true;
  else if (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 42) le = false;
  else return null; // not a TIFF header: treated as no EXIF
  const u16 = (p: number) => (le ? b[p] | (b[p + 1] << 8) : (b[p] << 8) | b[p + 1]);
  const u32 = (p: number) =>
    le
      ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x1000000
      : b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
  const ifd = u32(4);
  if (ifd + 2 > b.length) return null;
  const n = u16(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > b.length) return null;
    if (u16(e) !== 0x0112) continue;
    const type = u16(e + 2);
    const count = u32(e + 4);
    // Pillow turns a single integer value into an int; several values make a tuple, which
    // exif_transpose does not recognise.
    if (count !== 1) return null;
    switch (type) {
      case 1:
        return b[e + 8]; // BYTE
      case 6:
        return (b[e + 8] << 24) >> 24; // SBYTE
      case 3:
        return u16(e + 8); // SHORT
      case 8:
        return (u16(e + 8) << 16) >> 16; // SSHORT
      case 4:
        return u32(e + 8); // LONG
      case 9:
        return u32(e + 8) | 0; // SLONG
      default:
        return null;
    }
  }
  return null;
}

/** Pillow's fallback: the first `tiff:Orientation="N"` or `tiff:Orientation>N` in the XMP text. */
export function xmpOrientation(xmp: Uint8Array | string | null): number | null {
  if (xmp === null) return null;
  const text = typeof xmp === 'string' ? xmp : Buffer.from(xmp.buffer, xmp.byteOffset, xmp.byteLength).toString('latin1');
  const m = /tiff:Orientation(="|>)([0-9])/.exec(text);
  return m ? Number(m[2]) : null;
}

export function orientationOf(exif: Uint8Array | null, xmp: Uint8Array | string | null): number {
  return exifOrientation(exif) ?? xmpOrientation(xmp) ?? 1;
}

/**
 * Applies an EXIF orientation to an RGB image, as PIL's transpose methods:
 * 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270,
 * 7 TRANSVERSE, 8 ROTATE_90. Other values return the image unchanged.
 */
export function applyOrientation(img: RgbImage, orientation: number): RgbImage {
  if (orientation < 2 || orientation > 8) return img;
  const { width: w, height: h, data } = img;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = new Uint8Array(data.length);
  // For output pixel (x, y): source column/row as a linear function of x and y.
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let sx: number, sy: number;
      switch (orientation) {
        case 2:
          sx = w - 1 - x;
          sy = y;
          break;
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;
        case 4:
          sx = x;
          sy = h - 1 - y;
          break;
        case 5:
          sx = y;
          sy = x;
          break;
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;
        default:
          sx = w - 1 - y;
          sy = x;
          break; // 8
      }
      const s = (sy * w + sx) * 3;
      const o = (y * ow + x) * 3;
      out[o] = data[s];
      out[o + 1] = data[s + 1];
      out[o + 2] = data[s + 2];
    }
  }
  return { data: out, width: ow, height: oh };
}
