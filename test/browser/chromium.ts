import * as fs from 'fs';
import type { Browser, Page } from 'puppeteer-core';
import puppeteer from 'puppeteer-core';

/** Headless Chromium with WebGL2 and WebGPU on SwiftShader (a CPU emulation of a GPU). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

/** Why the browser tests cannot run here, or null. In CI (CI=true) a missing browser is a failure, never a skip. */
export function missingBrowser(bundle: string): string | null {
  if (!fs.existsSync(CHROMIUM)) return `Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  if (!fs.existsSync(bundle)) return `${bundle} is missing (npm run build writes it)`;
  return null;
}

/** `protocolTimeout` (ms, 0 = none) bounds one page.evaluate; puppeteer's default is 180 s. */
export function launch(opts: { protocolTimeout?: number } = {}): Promise<Browser> {
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS, protocolTimeout: opts.protocolTimeout });
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
