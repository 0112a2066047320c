import * as fs from 'fs';
import * as path from 'path';

const LOCK = '.lock';
/** Locks this process holds (a pid alone cannot tell two builds in one process apart). */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Takes DIR/.lock (holding our pid) so two indexers never append to the same data files;
 * a lock left by a process that no longer runs is taken over. Returns the release function.
 */
export function lockIndex(dir: string): () => void {
  const file = path.join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      held.add(file);
      return () => { held.delete(file); fs.rmSync(file, { force: true }); };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
      const ours = pid === process.pid;
      if ((ours && held.has(file)) || (!ours && Number.isInteger(pid) && alive(pid))) {
        throw new Error(`${dir}: being updated by process ${pid} (delete ${file} if that is wrong)`);
      }
      fs.rmSync(file, { force: true }); // stale
    }
  }
  throw new Error(`${dir}: cannot take the lock ${file}`);
}
