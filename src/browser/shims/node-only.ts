/**
 * Stands in (in the browser bundle only) for the Node-only modules the Node facade
 * src/model/blip-itm.ts imports for BlipItm.load(dir): the hub download (file-system cache) and
 * Node backend selection. The browser's BlipItm.load (src/browser) replaces both.
 */
function nodeOnly(name: string): () => never {
  return () => { throw new Error(`${name} is Node-only; in the browser use BlipItm.load from the browser entry`); };
}
export const resolveModel = nodeOnly('resolveModel (Hugging Face cache folder)');
export const downloadModel = nodeOnly('downloadModel (Hugging Face cache folder)');
export const useBackend = nodeOnly('useBackend (Node backends)');
export const BACKENDS: readonly string[] = [];
