/**
 * Node: images and preprocessor_config.json on disk (decoding and preprocessing: src/image).
 * Loading this module lets the core's decodeImage read file-path inputs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HEADER_BYTES, checkFormat, resolveMaxPixels, setImageFileReader } from '../image/decode';
import { headerSize } from '../image/header';
import { WebpModuleFactory, setWebpDecoderProvider, webpDecoderFrom } from '../image/webp';
import { pixelLimitProblem } from '../image/limits';
import { ImageProcessor, ProcessorOptions } from '../image/processor';
import { ImageDecodeError } from '../image/types';
import { readJsonFile } from './json';
import './zlib';

export { decodeImage } from '../image/decode';

function statImageFile(file: string, source: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(source, code === 'ENOENT' ? 'no such file' : `cannot read the file (${(e as Error).message})`);
  }
  if (st.isDirectory()) throw new ImageDecodeError(source, 'is a directory, not an image file');
  if (!st.isFile()) throw new ImageDecodeError(source, 'not a regular file');
  if (st.size === 0) throw new ImageDecodeError(source, 'empty file (0 bytes)');
  return st;
}

/** Reads an image file, checking its signature from the first bytes. */
function readImageFile(file: string, source: string): Uint8Array {
  const st = statImageFile(file, source);
  // The signature is checked from the first bytes before the rest is read: a huge file that is
  // not an image costs nothing.
  return withFile(file, source, (fd) => {
    checkFormat(readAt(fd, 0, Math.min(HEADER_BYTES, st.size)), source);
    return fs.readFileSync(fd);
  });
}

/** Bytes read first by checkImageFile: enough for the frame header of nearly every JPEG. */
const SIZE_PROBE_BYTES = 1 << 16;

/**
 * Checks an image file without decoding it: that it exists and is a non-empty file of a format we
 * decode, whose header declares at most `maxPixels` pixels (default: as decodeImage). Throws an
 * ImageDecodeError naming `source`. Cheap: it reads the first 64 KiB (all of it only for a JPEG
 * whose frame header lies further in).
 */
export function checkImageFile(file: string, source = file, maxPixels?: number): void {
  const limit = resolveMaxPixels(maxPixels);
  const st = statImageFile(file, source);
  withFile(file, source, (fd) => {
    let head = readAt(fd, 0, Math.min(SIZE_PROBE_BYTES, st.size));
    const format = checkFormat(head, source);
    if (headerSize(head, format) === null && head.length < st.size) head = fs.readFileSync(fd);
    checkImageBytes(head, source, limit);
  });
}

/** checkImageFile for bytes in memory (or the first bytes of a file): format and declared size. */
export function checkImageBytes(bytes: Uint8Array, source: string, maxPixels?: number): void {
  const limit = resolveMaxPixels(maxPixels);
  const size = headerSize(bytes, checkFormat(bytes, source));
  if (size && size.width * size.height > limit) throw new ImageDecodeError(source, pixelLimitProblem(size.width, size.height, limit));
}

function readAt(fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, out, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return out.subarray(0, done);
}

function withFile<T>(file: string, source: string, use: (fd: number) => T): T {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    return use(fd);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(source, `cannot read the file (${(e as Error).message})`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

setImageFileReader(readImageFile);

// libwebp's wasm and its Emscripten glue from the @jsquash/webp package, loaded on the first WebP.
setWebpDecoderProvider(() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const glue = require('@jsquash/webp/codec/dec/webp_dec.js') as { default: WebpModuleFactory };
  return webpDecoderFrom(glue.default, fs.readFileSync(require.resolve('@jsquash/webp/codec/dec/webp_dec.wasm')));
});

/** Reads DIR/preprocessor_config.json; `size` overrides both height and width. */
export function processorFromDir(dir: string, overrides?: ProcessorOptions): ImageProcessor {
  const file = path.join(dir, 'preprocessor_config.json');
  const json = readJsonFile(file, { why: 'a model directory needs the preprocessor_config.json that transformers saves' });
  try {
    return ImageProcessor.fromConfig(json as object, overrides);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * The Node entry's ImageProcessor: the core class plus `fromDir(dir)`. The core class stays free of
 * the file system (the browser bundle never loads this module); Node users keep `ImageProcessor.fromDir`.
 */
export const NodeImageProcessor: typeof ImageProcessor & { fromDir: typeof processorFromDir } = Object.assign(ImageProcessor, {
  fromDir: processorFromDir,
});
export type NodeImageProcessor = ImageProcessor;
