/**
 * Which weight file of a checkpoint to use, and what a shard index names: the one place that
 * knows, for loading (checkpoint.ts), downloading (hub/) and fingerprinting (retrieval/).
 * Pure (names, choice, parsing); src/node/weight-files.ts reads a directory with it.
 */

export const SAFETENSORS = 'model.safetensors';
export const SAFETENSORS_INDEX = 'model.safetensors.index.json';
export const PYTORCH_BIN = 'pytorch_model.bin';

/** Weight files a model directory may hold, in the order they are preferred. */
export const WEIGHT_FILES = [SAFETENSORS, SAFETENSORS_INDEX, PYTORCH_BIN] as const;
export type WeightFileName = (typeof WEIGHT_FILES)[number];

/** The preferred weight file among those `exists` says are there, or undefined. */
export function chooseWeightFile(exists: (name: WeightFileName) => boolean): WeightFileName | undefined {
  return WEIGHT_FILES.find(exists);
}

export function isShardIndex(file: string): boolean {
  return file.endsWith('.index.json');
}

export interface ShardIndex {
  /** tensor name → shard file name (relative to the index's directory) */
  weightMap: Map<string, string>;
  /** distinct shard file names, sorted */
  shards: string[];
}

/**
 * Parses a `model.safetensors.index.json`. `indexFile` only names the file in errors. Shard names
 * must stay inside the model directory: an absolute path, a `..` segment, a backslash or a NUL
 * is refused (a downloaded index must not make us read /etc/passwd).
 */
export function parseShardIndex(text: string, indexFile: string): ShardIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${indexFile}: cannot read shard index (${(e as Error).message})`, { cause: e });
  }
  const map = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new Error(`${indexFile}: no weight_map`);
  const weightMap = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string') throw new Error(`${indexFile}: weight_map entry "${tensor}" is not a file name`);
    if (!isInsideDir(shard)) throw new Error(`${indexFile}: weight_map entry "${tensor}" names "${shard}", which is outside the model directory`);
    weightMap.set(tensor, shard);
  }
  if (weightMap.size === 0) throw new Error(`${indexFile}: weight_map is empty`);
  return { weightMap, shards: [...new Set(weightMap.values())].sort() };
}

/** A relative path with no way out: no leading '/', drive letter, '..' or empty segment, backslash or NUL. */
function isInsideDir(name: string): boolean {
  if (name === '' || /[\\\0]/.test(name) || name.startsWith('/') || /^[A-Za-z]:/.test(name)) return false;
  return name.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}
