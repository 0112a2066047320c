/**
 * Node: images and preprocessor_config.json on disk (decoding and preprocessing: src/image).
 * Loading this module lets the core's decodeImage read file-path inputs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HEADER_BYTES, checkFormat, setImageFileReader } from '../image/decode';
import { ImageProcessor, ProcessorOptions } from '../image/processor';
import { ImageDecodeError } from '../image/types';
import { readJsonFile } from './json';
import './zlib';

export { decodeImage } from '../image/decode';

/** Reads an image file, checking its signature from the first bytes. */
function readImageFile(file: string, source: string): Uint8Array {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(source, code === 'ENOENT' ? 'no such file' : `cannot read the file (${(e as Error).message})`);
  }
  if (st.isDirectory()) throw new ImageDecodeError(source, 'is a directory, not an image file');
  if (st.size === 0) throw new ImageDecodeError(source, 'empty file (0 bytes)');
  // The signature is checked from the first bytes before the rest is read: a huge file that is
  // not an image costs nothing.
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = new Uint8Array(Math.min(HEADER_BYTES, st.size));
    fs.readSync(fd, head, 0, head.length, 0);
    checkFormat(head, source);
    return fs.readFileSync(fd);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(source, `cannot read the file (${(e as Error).message})`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

setImageFileReader(readImageFile);

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
