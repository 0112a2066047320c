import * as fs from 'fs';
import { PNG } from 'pngjs';
import { RgbImage } from '../image';

/** Encodes an 8-bit RGB image as a PNG (colour type 2, no alpha). */
export function encodePng(image: RgbImage): Buffer {
  const { width, height, data } = image;
  if (data.length !== width * height * 3) throw new Error(`png: ${data.length} bytes do not make a ${width}x${height} RGB image`);
  // pngjs takes RGBA input; it drops the alpha when writing colour type 2.
  const png = new PNG({ width, height, colorType: 2, inputHasAlpha: true });
  for (let p = 0; p < width * height; p++) {
    png.data[p * 4] = data[p * 3];
    png.data[p * 4 + 1] = data[p * 3 + 1];
    png.data[p * 4 + 2] = data[p * 3 + 2];
    png.data[p * 4 + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 2, inputHasAlpha: true, deflateLevel: 9 });
}

/** Writes the image as a PNG file, with an error that names the file. */
export function writePng(file: string, image: RgbImage): void {
  const bytes = encodePng(image);
  try {
    fs.writeFileSync(file, bytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such directory'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (e as Error).message;
    throw new Error(`${file}: cannot write the PNG (${why})`, { cause: e });
  }
}
