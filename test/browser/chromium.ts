import * as fs from 'fs';
import type { Browser, Page } from 'puppeteer-core';
import puppeteer from 'puppeteer-core';

/**
 * The one Chromium setup of every browser test: one executable (CHROMIUM_PATH, default Debian's
 * /usr/bin/chromium), one CI detection, one launcher. Headless, with WebGL2 and WebGPU on
 * SwiftShader (a CPU emulation of a GPU).
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** CI (CI=true or 1) must run the browser tests: a missing browser fails there instead of skipping. */
export const IN_CI = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI.toLowerCase());

const FLAGS = [
  '--no-sandbox',
  '--disable-dev-shm-usage',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

/** Why the browser tests cannot run here (no Chromium, or a build output missing), or null. */
export function missingBrowser(...builtFiles: string[]): string | null {
  if (!fs.existsSync(CHROMIUM)) return `Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  const missing = builtFiles.find((f) => !fs.existsSync(f));
  return missing ? `${missing} is missing (npm run build writes it)` : null;
}

/** In a `before` hook: skips the suite when the browser or a built file is missing, or fails in CI. */
export function requireBrowser(ctx: Mocha.Context, ...builtFiles: string[]): void {
  const missing = missingBrowser(...builtFiles);
  if (!missing) return;
  if (IN_CI) throw new Error(`browser tests must run in CI: ${missing}`);
  console.log(`      (skipped outside CI: ${missing})`);
  ctx.skip();
}

/** `protocolTimeout` (ms, 0 = none) bounds one page.evaluate; puppeteer's default is 180 s. */
export function launch(opts: { protocolTimeout?: number } = {}): Promise<Browser> {
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, protocolTimeout: opts.protocolTimeout });
}

/**
 * Collects what should never happen on a page we ship: console errors (and warnings when asked),
 * uncaught errors, failed requests and HTTP errors. The test expects the list empty at its end.
 */
export function watchProblems(page: Page, opts: { warnings?: boolean } = {}): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || (opts.warnings && m.type() === 'warn')) problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
  });
  return problems;
}

interface AxeResult {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs axe-core (WCAG 2 A/AA rules) on the page as it is now; resolves with one line per
 * violation (rule, impact, the elements), empty when none. axe is injected as a script
 * (evaluated, so the pages' CSP needs no exception).
 */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  const source = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const violations = (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then((r) => r.violations)`,
  )) as AxeResult[];
  return violations.map(
    (v) =>
      `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => `${n.target.join(' ')}${n.failureSummary ? ` [${n.failureSummary.replace(/\s+/g, ' ')}]` : ''}`).join('; ')}`,
  );
}

/** Opens the test page and waits for the bundle to load; page errors fail loudly. */
export async function openHarness(browser: Browser, baseUrl: string): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${baseUrl}/pages/index.html`);
  try {
    await page.waitForFunction('window.harnessReady === true', { timeout: 60000 });
  } catch (e) {
    throw new Error(`the test page did not load the bundle: ${errors.join('; ') || (e as Error).message}`, { cause: e });
  }
  return page;
}

/** Calls `window[module][fn](...args)` in the page (a test page's module of helpers) and returns its JSON result. */
export function callInPage<T>(page: Page, module: string, fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    (mod, name, list) => (window as unknown as Record<string, Record<string, (...a: unknown[]) => Promise<unknown>>>)[mod][name](...list),
    module,
    fn,
    args,
  ) as Promise<T>;
}
