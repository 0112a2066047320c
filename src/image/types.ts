/** Decoded pixels supplied by the caller: row-major, channels interleaved, 8 bits per sample. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** 1 = gray, 2 = gray+alpha, 3 = RGB, 4 = RGBA (alpha is dropped, as Pillow's convert('RGB') does). */
  channels: 1 | 2 | 3 | 4;
}

/** An 8-bit RGB image, 3 channels interleaved, row-major. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A file path, the encoded bytes of a JPEG or PNG (a Buffer included), or raw pixels. */
export type ImageInput = string | Uint8Array | RawImage;

/** Every decoding problem is reported as this error, its message naming the source. */
export class ImageDecodeError extends Error {
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
    this.name = 'ImageDecodeError';
  }
}
