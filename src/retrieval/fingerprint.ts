import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BlipItm } from '../model/blip-itm';
import { weightFilesOf } from '../node/checkpoint';
import { ModelRecord, WeightFileRecord } from './schema';

/**
 * What binds an index to a model: sha256 over the parsed config, the image processor config and
 * the full sha256 of every weight file. Hashing the base checkpoint (895 MB) takes about a
 * second, so a file whose name, size and mtime match the index's record reuses the recorded
 * hash, and hashes are cached per process: a moved or copied model is hashed once and accepted,
 * a model whose weights changed in place is refused.
 */

const hashCache = new Map<string, string>();

export function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(8 << 20);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function fileRecord(dir: string, name: string, known: readonly WeightFileRecord[]): WeightFileRecord {
  const file = path.join(dir, name);
  const st = fs.statSync(file);
  const same = known.find((k) => k.name === name && k.size === st.size && k.mtimeMs === st.mtimeMs);
  if (same) return { ...same };
  const key = `${fs.realpathSync(file)}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
  let sha256 = hashCache.get(key);
  if (!sha256) {
    sha256 = sha256File(file);
    hashCache.set(key, sha256);
  }
  return { name, size: st.size, mtimeMs: st.mtimeMs, sha256 };
}

/** The model's identity; `known` are the weight file records an existing index holds. */
export function modelRecord(model: BlipItm, known: readonly WeightFileRecord[] = []): ModelRecord {
  const files = weightFilesOf(model.dir).map((name) => fileRecord(model.dir, name, known));
  const h = crypto.createHash('sha256');
  h.update('blip-itm-image-index model v1\n');
  h.update(JSON.stringify(model.config) + '\n');
  h.update(JSON.stringify(model.processor.config) + '\n');
  for (const f of files) h.update(`${f.name} ${f.size} ${f.sha256}\n`);
  return { fingerprint: h.digest('hex'), dir: path.resolve(model.dir), files };
}

/** Throws a clear error unless the index at `where` was made by this model. */
export function checkSameModel(model: BlipItm, indexed: ModelRecord, where: string): void {
  const current = modelRecord(model, indexed.files);
  if (current.fingerprint === indexed.fingerprint) return;
  throw new Error(
    `${where}: this index was made by another model (${indexed.dir}, fingerprint ${indexed.fingerprint.slice(0, 12)}), ` +
      `not by ${current.dir} (fingerprint ${current.fingerprint.slice(0, 12)}); ` +
      'search it with that model, or rebuild it with `blip-itm index --rebuild`',
  );
}
