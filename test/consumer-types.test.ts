import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from './helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const SOURCES = path.join(ROOT, 'test', 'consumer');

/** The files `npm pack` would ship (package.json's "files", as npm reads it; no scripts run). */
function packedFiles(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed: ${r.stderr.trim().split('\n').pop()}`);
  const [pack] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return pack.files.map((f) => f.path);
}

/** What npm installs with these packages: their dependencies, transitively (this checkout's node_modules is flat). */
function installedWith(roots: string[]): string[] {
  const seen = new Set<string>();
  const visit = (dir: string): void => {
    const deps = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> })
      .dependencies;
    for (const dep of Object.keys(deps ?? {})) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      visit(path.join(ROOT, 'node_modules', dep));
    }
  };
  for (const name of roots) {
    if (name !== 'blip-itm') seen.add(name);
    visit(name === 'blip-itm' ? ROOT : path.join(ROOT, 'node_modules', name));
  }
  return [...seen];
}

/**
 * A fresh project with blip-itm installed as npm pack would ship it: the packed files copied into
 * node_modules/blip-itm, what npm would install with it linked from this checkout's node_modules,
 * and @types/node. No `lib` or `types` set: tsc's defaults, as in a project `tsc --init` made.
 */
function consumerProject(): string {
  const dir = tempDir('blip-itm-consumer-');
  const pkg = path.join(dir, 'node_modules', 'blip-itm');
  for (const file of packedFiles()) {
    fs.mkdirSync(path.dirname(path.join(pkg, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(pkg, file));
  }
  for (const name of installedWith(['blip-itm', '@types/node'])) {
    fs.mkdirSync(path.dirname(path.join(dir, 'node_modules', name)), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(dir, 'node_modules', name));
  }
  for (const f of fs.readdirSync(SOURCES)) fs.copyFileSync(path.join(SOURCES, f), path.join(dir, f));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  return dir;
}

function tsc(dir: string, name: string, compilerOptions: Record<string, unknown>, files: string[]): string {
  const config = path.join(dir, `tsconfig.${name}.json`);
  const strict = { strict: true, skipLibCheck: false, noEmit: true, target: 'es2022' };
  fs.writeFileSync(config, JSON.stringify({ compilerOptions: { ...strict, ...compilerOptions }, files }));
  const r = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [ROOT] }), '-p', config], {
    cwd: dir,
    encoding: 'utf8',
  });
  return `${r.stdout}${r.stderr}`.trim();
}

/**
 * Our published .d.ts must compile in a consumer's strictest setup: `--strict` and no
 * `skipLibCheck`, so every declaration file reachable from ours is checked too (once, the
 * @tensorflow/tfjs umbrella's layers types brought 15 errors).
 */
describe('types in a fresh consumer project (the packed .d.ts, tsc --strict, skipLibCheck false)', function () {
  this.timeout(180_000);
  let dir: string;
  before(function () {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'src', 'index.d.ts'))) throw new Error('dist/src/index.d.ts missing: run npm run build');
    dir = consumerProject();
  });

  it('module nodenext: ESM import and CommonJS require', () => {
    expect(tsc(dir, 'nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, ['esm.mts', 'cjs.cts'])).to.equal('');
  });

  it('moduleResolution bundler: the Node and browser entries', () => {
    const out = tsc(dir, 'bundler', { module: 'preserve', moduleResolution: 'bundler' }, ['esm.mts', 'cjs.cts', 'browser.mts']);
    expect(out).to.equal('');
  });
});
