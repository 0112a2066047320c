/** Node: the weight files of a model directory on disk (names and parsing: src/weights/weight-files.ts). */
import * as fs from 'fs';
import * as path from 'path';
import { ShardIndex, WEIGHT_FILES, chooseWeightFile, isShardIndex, parseShardIndex } from '../weights/weight-files';

/** The weight file a model directory would be loaded from (path), or an error naming the directory. */
export function findWeightFile(dir: string): string {
  const found = chooseWeightFile((name) => fs.existsSync(path.join(dir, name)));
  if (!found) throw new Error(`${dir}: no weights found (looked for ${WEIGHT_FILES.join(', ')})`);
  return path.join(dir, found);
}

/** The files a model directory's weights consist of, relative to it: the weight file, then any shards. */
export function weightFilesOf(dir: string): string[] {
  const file = findWeightFile(dir);
  if (!isShardIndex(file)) return [path.basename(file)];
  return [path.basename(file), ...readShardIndex(file).shards];
}

/** Parses a shard index file and checks every shard it names exists beside it. */
export function readShardIndex(indexFile: string): ShardIndex {
  let text: string;
  try {
    text = fs.readFileSync(indexFile, 'utf8');
  } catch (e) {
    throw new Error(`${indexFile}: cannot read shard index (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  const index = parseShardIndex(text, indexFile);
  const dir = path.dirname(indexFile);
  for (const shard of index.shards) {
    if (!fs.existsSync(path.join(dir, shard))) throw new Error(`${indexFile}: shard ${shard} is missing (named by the index)`);
  }
  return index;
}
