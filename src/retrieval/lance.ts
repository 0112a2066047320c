/**
 * LanceDB and Apache Arrow, loaded on first use: retrieval (`index`, `search`, `eval`) needs them,
 * scoring does not. They are optional peer dependencies, so `require('blip-itm')` neither loads
 * them (155 modules, about a second) nor makes every user install them (about 165 MB native).
 */
import type * as LanceDb from '@lancedb/lancedb';
import type * as Arrow from 'apache-arrow';

/** The versions blip-itm is tested with (package.json's peerDependencies). */
export const LANCEDB_INSTALL = 'npm install @lancedb/lancedb@0.31.0 apache-arrow@18.1.0';

function load<T>(pkg: string): T {
  try {
    return require(pkg) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    throw new Error(`retrieval (index, search, eval) needs ${pkg}, which is not installed: run \`${LANCEDB_INSTALL}\``, {
      cause: e,
    });
  }
}

let lancedbModule: typeof LanceDb | undefined;
let arrowModule: typeof Arrow | undefined;

export function lancedb(): typeof LanceDb {
  return (lancedbModule ??= load<typeof LanceDb>('@lancedb/lancedb'));
}

export function arrow(): typeof Arrow {
  return (arrowModule ??= load<typeof Arrow>('apache-arrow'));
}
