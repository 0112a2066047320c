/**
 * Stands in (in the browser bundle only) for src/load.ts, the Node loader that the Node facade
 * src/model/blip-itm.ts imports for BlipItm.load(dir): Node backend selection and the hub
 * download into the file-system cache. The browser's BlipItm.load (src/browser) replaces both.
 */
export function prepareModelSource(): never {
  throw new Error('BlipItm.load from the Node entry is Node-only; in the browser use BlipItm.load from the browser entry');
}
