/**
 * GIF: the first frame, as Pillow opens it and convert('RGB') makes it (GifImagePlugin): a
 * logical-screen canvas of palette indices, filled with the frame's transparent index when it
 * has one (else index 0), the frame drawn into its rectangle, every index mapped through the
 * frame's palette (local, else global). LZW decoding is omggif's.
 */
import { GifReader } from 'omggif';
import { headerSize } from './header';
import { pixelLimitProblem } from './limits';
import { ImageDecodeError, RgbImage } from './types';

export function decodeGifFirstFrame(bytes: Uint8Array, source: string, maxPixels: number): RgbImage {
  const size = headerSize(bytes, 'GIF');
  if (!size) throw new ImageDecodeError(source, 'truncated GIF (the header ends early)');
  const { width, height } = size;
  if (width < 1 || height < 1) throw new ImageDecodeError(source, `zero-size image (${width}x${height})`);
  if (width * height > maxPixels) throw new ImageDecodeError(source, pixelLimitProblem(width, height, maxPixels));
  let reader: GifReader;
  try {
    reader = new GifReader(bytes);
  } catch (e) {
    throw new ImageDecodeError(source, `corrupt GIF (${(e as Error).message})`);
  }
  if (reader.numFrames() < 1) throw new ImageDecodeError(source, 'GIF without an image');
  const frame = reader.frameInfo(0);
  if (frame.palette_offset === null || frame.palette_size === null) throw new ImageDecodeError(source, 'GIF without a colour table');
  const palette = (index: number): [number, number, number] => {
    const at = frame.palette_offset! + 3 * index;
    return index < frame.palette_size! && at + 2 < bytes.length ? [bytes[at], bytes[at + 1], bytes[at + 2]] : [0, 0, 0];
  };
  // The canvas before the frame is drawn, in RGBA as omggif blits (it skips transparent pixels,
  // which keep the fill colour, i.e. the transparent index's own palette colour, as in Pillow).
  const [r, g, b] = palette(frame.transparent_index ?? 0);
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < rgba.length; i += 4) {
    rgba[i] = r;
    rgba[i + 1] = g;
    rgba[i + 2] = b;
    rgba[i + 3] = 255;
  }
  try {
    reader.decodeAndBlitFrameRGBA(0, rgba);
  } catch (e) {
    throw new ImageDecodeError(source, `corrupt GIF (${(e as Error).message})`);
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return { data: rgb, width, height };
}
