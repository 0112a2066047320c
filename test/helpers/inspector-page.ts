import type { Page } from 'puppeteer-core';

// Page-side code is passed as strings: the tests compile without the DOM library.
export async function inPage<T>(page: Page, expression: string): Promise<T> {
  return (await page.evaluate(expression)) as T;
}

/** Runs the action and waits until the inspector page has drawn its main picture again. */
export async function redrawsAfter(page: Page, action: () => Promise<unknown>, timeout = 60_000): Promise<void> {
  const before = await inPage<number>(page, 'window.inspector.redraws');
  await action();
  await page.waitForFunction(`window.inspector.redraws > ${before}`, { timeout });
}

/** The main canvas as a PNG data URL (to tell whether a redraw changed the picture). */
export function canvasPixels(page: Page): Promise<string> {
  return inPage(page, `document.getElementById('canvas').toDataURL('image/png')`);
}
