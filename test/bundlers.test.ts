import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'puppeteer-core';
import { launch, missingBrowser } from './browser/chromium';
import { StaticServer, startServer } from './browser/static-server';
import { ROOT, consumerProject } from './helpers/consumer';
import { TINY, fixture } from './helpers/fixtures';
import { NodeBlipItm as BlipItm } from '../src/node/platform';

const APP = path.join(ROOT, 'test', 'bundlers');
const IMAGE = fixture('images', 'chelsea.png');
const TEXTS = ['a cat', 'a rocket on the launch pad'];

/** The consumer's page in `dir`, importing `entry` ('blip-itm/browser' or a variant). */
function writeApp(dir: string, entry: string): void {
  fs.copyFileSync(path.join(APP, 'index.html'), path.join(dir, 'index.html'));
  fs.writeFileSync(
    path.join(dir, 'main.js'),
    fs.readFileSync(path.join(APP, 'main.js'), 'utf8').replace("'blip-itm/browser'", `'${entry}'`),
  );
}

/**
 * The browser entry as a user's app gets it: installed from the packed files, bundled again by
 * esbuild and by Vite (no files copied by hand), served, and run in headless Chromium on the
 * wasm backend. Scores must equal the Node entry's on the same fixture.
 */
describe('bundled by a consumer app (esbuild, Vite) in Chromium', function () {
  this.timeout(600_000);
  let project: string;
  let server: StaticServer;
  let browser: Browser;
  let expected: number[];
  const out = (name: string) => path.join(project, 'out', name);

  before(async function () {
    const missing = missingBrowser(path.join(ROOT, 'dist', 'browser', 'blip-itm.js'));
    if (missing) {
      if (process.env.CI) throw new Error(`bundler tests need ${missing}; CI must provide it`);
      console.log(`      (skipped: ${missing})`);
      return this.skip();
    }
    project = consumerProject();
    const model = BlipItm.fromDir(TINY);
    expected = (await model.match([IMAGE], TEXTS)).probs[0];
    model.dispose();
    server = await startServer({
      mounts: ['esbuild', 'esbuild-inline', 'vite'].map((name): [string, string] => [`/${name}/`, out(name)]),
    });
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function score(name: string): Promise<{ probs?: number[]; error?: string; failed: string[] }> {
    const page: Page = await browser.newPage();
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    try {
      await page.goto(`${server.url}/${name}/index.html`);
      await page.waitForFunction('window.ready === true', { timeout: 60_000 });
      const args = [`${server.url}/fixtures/blip-itm-tiny/`, `${server.url}/fixtures/images/chelsea.png`, TEXTS] as const;
      const result = await page.evaluate(
        async (modelUrl, imageUrl, texts) => {
          const w = window as unknown as { score(m: string, i: string, t: readonly string[]): Promise<number[]> };
          try {
            return { probs: await w.score(modelUrl, imageUrl, texts) };
          } catch (e) {
            return { error: (e as Error).message };
          }
        },
        ...args,
      );
      return { ...result, failed };
    } finally {
      await page.close();
    }
  }

  /** The app importing `entry`, bundled by esbuild into out(name) with its page. */
  async function buildWithEsbuild(name: string, entry: string): Promise<void> {
    const dir = path.join(project, `${name}-app`);
    fs.mkdirSync(dir);
    writeApp(dir, entry);
    await esbuild.build({ entryPoints: [path.join(dir, 'main.js')], bundle: true, format: 'esm', outdir: out(name), logLevel: 'error' });
    fs.copyFileSync(path.join(dir, 'index.html'), path.join(out(name), 'index.html'));
  }

  function expectScores(probs: number[] | undefined, error: string | undefined): void {
    expect(error, error).to.equal(undefined);
    expect(probs).to.have.length(TEXTS.length);
    probs!.forEach((p, i) => expect(p).to.be.closeTo(expected[i], 1e-4));
  }

  it('Vite (vite build): scores with the wasm files it copied as assets', async () => {
    const dir = path.join(project, 'vite-app');
    fs.mkdirSync(dir);
    writeApp(dir, 'blip-itm/browser');
    const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
    const r = spawnSync(process.execPath, [vite, 'build', '--base', './', '--outDir', out('vite'), '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr + r.stdout, 'Vite warned').to.not.match(/doesn't exist at build time/);
    expect(fs.readdirSync(path.join(out('vite'), 'assets')).filter((f) => f.endsWith('.wasm'))).to.have.length(3);
    const { probs, error, failed } = await score('vite');
    expectScores(probs, error);
    expect(failed).to.deep.equal([]);
  });

  it('esbuild with blip-itm/browser/inline-wasm: scores, nothing to copy or configure', async () => {
    await buildWithEsbuild('esbuild-inline', 'blip-itm/browser/inline-wasm');
    const { probs, error, failed } = await score('esbuild-inline');
    expectScores(probs, error);
    expect(failed).to.deep.equal([]);
  });

  it('esbuild with blip-itm/browser (wasm files not copied): the error names the URL tried and wasmPaths', async () => {
    await buildWithEsbuild('esbuild', 'blip-itm/browser');
    const { error } = await score('esbuild');
    expect(error).to.match(
      /^backend "wasm" failed to initialise: tfjs-backend-wasm[-a-z]*\.wasm could not be fetched from http:\/\/\S+\/esbuild\/tfjs-backend-wasm[-a-z]*\.wasm \(HTTP 404\)/,
    );
    expect(error).to.include('wasmPaths');
  });
});
