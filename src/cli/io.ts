import * as fs from 'fs';
import * as path from 'path';
import { checkImageBytes, checkImageFile } from '../node/image';

/** A file-system failure in our words, naming the user's path: one line, no errno soup. */
export function fsProblem(file: string, e: unknown, doing = 'reading'): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const dir = path.dirname(file);
  const why: Record<string, string> = {
    ENOENT: doing === 'writing' ? `directory ${dir}${path.sep} does not exist` : 'no such file',
    EISDIR: 'is a directory; give a file name',
    ENOTDIR: `a part of the path ${dir} is not a directory`,
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOSPC: `disk full ${doing} ${file}`,
    EDQUOT: `disk quota exceeded ${doing} ${file}`,
    EROFS: 'read-only file system',
    EMFILE: 'too many open files',
  };
  return new Error(`${file}: ${why[code ?? ''] ?? `cannot be ${doing === 'writing' ? 'written' : 'read'} (${(e as Error).message})`}`);
}

/**
 * The first byte offset at which `bytes` stop being valid UTF-8 (overlong forms, surrogates and
 * code points past U+10FFFF included), or -1 when all of it is valid.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Decodes UTF-8, refusing invalid bytes with the source and byte offset (no silent U+FFFD). */
export function decodeUtf8(bytes: Uint8Array, source: string): string {
  const bad = invalidUtf8Offset(bytes);
  if (bad >= 0) {
    const shown = Array.from(bytes.subarray(bad, bad + 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
    throw new Error(`${source}: not valid UTF-8 at byte ${bad} (bytes ${shown}); save the text as UTF-8`);
  }
  const text = new TextDecoder('utf-8').decode(bytes);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text; // a byte-order mark is not text
}

/** Reads a UTF-8 text file, with an error that names it. */
export function readTextFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw fsProblem(file, e);
  }
  return decodeUtf8(bytes, file);
}

/** Lines as Python's text mode splits them: \r\n, \n and a lone \r all end a line; a final ending ends the last line. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** All of standard input as bytes. */
export async function readStdinBytes(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads all of standard input as UTF-8, refusing invalid bytes. */
export async function readStdin(): Promise<string> {
  return decodeUtf8(await readStdinBytes(), 'standard input');
}

/**
 * Refuses an output path that cannot be written, before any work: a directory, or a file in a
 * directory that does not exist.
 */
export function checkOutputPath(file: string): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    /* a new file */
  }
  if (st?.isDirectory()) throw new Error(`${file}: is a directory; give a file name`);
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new Error(`${file}: directory ${path.dirname(file)}${path.sep} does not exist`);
}

/**
 * Image arguments as decoder inputs: '-' is standard input's bytes (read once; at most one '-'),
 * anything else a path. Every input is checked from its header before it is returned (exists, is
 * a file, a format we decode, within the pixel limit), so a bad one fails before a model loads.
 */
export async function imageInputs(images: string[], verb: string): Promise<(string | Uint8Array)[]> {
  const dashes = images.filter((x) => x === '-').length;
  if (dashes > 1) throw new ImageArgumentError(`${verb}: '-' (standard input) can be given once`);
  for (const image of images) if (image !== '-') checkImageFile(image);
  if (!dashes) return images;
  const stdin = await readStdinBytes();
  if (!stdin.length) throw new Error(`${verb}: standard input is empty (expected an image after '-')`);
  checkImageBytes(stdin, 'standard input');
  return images.map((x) => (x === '-' ? new Uint8Array(stdin) : x));
}

/** A misuse of image arguments; the verb turns it into a usage error. */
export class ImageArgumentError extends Error {}

let tempCounter = 0;

/**
 * Writes a file whole or not at all: to a temporary name in the same directory, flushed to disk,
 * then renamed over `file`. On any failure the temporary is removed and the error names `file`
 * in our words. `write` gets the temporary's path (for writers that open files themselves) and
 * returns bytes to write, or nothing when it wrote the file itself.
 */
export function writeFileAtomic(file: string, write: Uint8Array | ((tmp: string) => Uint8Array | void)): void {
  const dir = path.dirname(path.resolve(file));
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    /* a new file */
  }
  if (st?.isDirectory()) throw new Error(`${file}: is a directory; give a file name`);
  if (st && !st.isFile()) {
    // A device or pipe (/dev/stdout, a FIFO) is written in place: renaming over it would replace
    // the device node itself.
    const bytes = typeof write === 'function' ? null : write;
    if (!bytes) throw new Error(`${file}: not a regular file; give a file name`);
    try {
      fs.writeFileSync(file, bytes);
    } catch (e) {
      throw fsProblem(file, e, 'writing');
    }
    return;
  }
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${file}: ${dir} is not a directory`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${file}: directory ${path.dirname(file)}${path.sep} does not exist`, { cause: e });
    if ((e as NodeJS.ErrnoException).code) throw fsProblem(file, e, 'writing');
    throw e;
  }
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${tempCounter++}`);
  try {
    const bytes = typeof write === 'function' ? write(tmp) : write;
    if (bytes) {
      const fd = fs.openSync(tmp, 'w');
      try {
        for (let off = 0; off < bytes.length;) off += fs.writeSync(fd, bytes, off, bytes.length - off);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } else {
      const fd = fs.openSync(tmp, 'r+');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    removeQuietly(tmp);
    removeQuietly(`${tmp}.tmp-${process.pid}`); // what writeSafetensors names its own temporary
    if ((e as NodeJS.ErrnoException).code) throw fsProblem(file, e, 'writing');
    throw e;
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    /* already gone */
  }
}

/**
 * Makes writing into a closed pipe (`blip-itm tokenize ... | head -2`) end the process quietly
 * with status 0, as Unix tools do, instead of a stack trace.
 */
let pipeGuarded = false;

export function quietOnClosedPipe(): void {
  if (pipeGuarded) return;
  pipeGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
}
