import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from './tmp';

export const ROOT = path.resolve(__dirname, '../../..');

/** The files `npm pack` would ship (package.json's "files", as npm reads it; no scripts run). */
function packedFiles(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed: ${r.stderr.trim().split('\n').pop()}`);
  const [pack] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return pack.files.map((f) => f.path);
}

/**
 * What npm installs with these packages: their dependencies, transitively. Returns the names to
 * link from this checkout's top-level node_modules; a dependency npm nested inside its parent
 * (node_modules/PARENT/node_modules/DEP, e.g. under an override) travels with the parent's link.
 */
function installedWith(roots: string[]): string[] {
  /** Where Node would find `dep` from package folder `from`: its own node_modules, then each folder above. */
  const locate = (dep: string, from: string): string => {
    for (let d = from; d.startsWith(ROOT) && d !== path.dirname(ROOT); d = path.dirname(d)) {
      const candidate = path.join(d, 'node_modules', dep);
      if (d !== ROOT && path.basename(d) === 'node_modules') continue;
      if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
      if (d === ROOT) break;
    }
    return path.join(ROOT, 'node_modules', dep);
  };
  const topLevel = new Set<string>();
  const visited = new Set<string>();
  const visit = (dir: string): void => {
    if (visited.has(dir)) return;
    visited.add(dir);
    const deps = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> })
      .dependencies;
    for (const dep of Object.keys(deps ?? {})) {
      const found = locate(dep, dir);
      if (found !== path.join(ROOT, 'node_modules', dep)) {
        visit(found); // nested inside a package that is linked whole
        continue;
      }
      topLevel.add(dep);
      visit(found);
    }
  };
  for (const name of roots) {
    if (name !== 'blip-itm') topLevel.add(name);
    visit(name === 'blip-itm' ? ROOT : path.join(ROOT, 'node_modules', name));
  }
  return [...topLevel];
}

/**
 * A fresh project with blip-itm installed as `npm pack` would ship it: the packed files copied
 * into node_modules/blip-itm, and what npm would install with it (plus `extra` packages) linked
 * from this checkout's node_modules. Needs a build (dist/).
 */
export function consumerProject(extra: string[] = []): string {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'src', 'index.d.ts'))) throw new Error('dist/ is missing: run npm run build');
  const dir = tempDir('blip-itm-consumer-');
  const pkg = path.join(dir, 'node_modules', 'blip-itm');
  for (const file of packedFiles()) {
    fs.mkdirSync(path.dirname(path.join(pkg, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(pkg, file));
  }
  for (const name of installedWith(['blip-itm', ...extra])) {
    fs.mkdirSync(path.dirname(path.join(dir, 'node_modules', name)), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(dir, 'node_modules', name));
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  return dir;
}
