import * as crypto from 'crypto';

/** Part `index` of `count` (`--shard i/N`): which images a writer encodes. */
export interface Shard {
  index: number;
  count: number;
}

export const WHOLE: Shard = { index: 0, count: 1 };

/** Parses "i/N" (0 ≤ i < N). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new Error(`shard must be i/N with 0 ≤ i < N (e.g. 0/2), got "${text}"`);
  return { index, count };
}

/**
 * Whether `file` belongs to the shard: by the first 6 bytes of sha256(path), so the parts are
 * disjoint, cover every path, need no coordination and do not depend on what else exists.
 */
export function inShard(file: string, shard: Shard): boolean {
  if (shard.count === 1) return true;
  const h = crypto.createHash('sha256').update(file).digest();
  return h.readUIntBE(0, 6) % shard.count === shard.index;
}
