import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, consumerProject } from './helpers/consumer';

const SOURCES = path.join(ROOT, 'test', 'consumer');

/** A fresh project (see consumerProject) with @types/node and the consumer's sources. */
function typesProject(): string {
  const dir = consumerProject(['@types/node']);
  for (const f of fs.readdirSync(SOURCES)) fs.copyFileSync(path.join(SOURCES, f), path.join(dir, f));
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
    dir = typesProject();
  });

  it('module nodenext: ESM import and CommonJS require', () => {
    expect(tsc(dir, 'nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }, ['esm.mts', 'cjs.cts'])).to.equal('');
  });

  it('moduleResolution bundler: the Node and browser entries', () => {
    const out = tsc(dir, 'bundler', { module: 'preserve', moduleResolution: 'bundler' }, ['esm.mts', 'cjs.cts', 'browser.mts']);
    expect(out).to.equal('');
  });
});
