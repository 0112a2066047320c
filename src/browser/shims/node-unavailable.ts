/**
 * Stands in for Node's fs, path, os and worker_threads in the browser bundle (see
 * scripts/build/browser.mjs). Only the Node paths of the core use them (reading a model
 * directory or an image file by path), so reaching one in a page is a usage error.
 */
function unavailable(name: string): () => never {
  return () => {
    throw new Error(
      `${name} is not available in the browser: load models with BlipItm.load(url, hub id or Files) and pass images as bytes, Blobs or DOM images`,
    );
  };
}

export const readFileSync = unavailable('fs.readFileSync');
export const existsSync = unavailable('fs.existsSync');
export const statSync = unavailable('fs.statSync');
export const openSync = unavailable('fs.openSync');
export const fstatSync = unavailable('fs.fstatSync');
export const readSync = unavailable('fs.readSync');
export const closeSync = unavailable('fs.closeSync');
export const writeSync = unavailable('fs.writeSync');
export const writeFileSync = unavailable('fs.writeFileSync');
export const renameSync = unavailable('fs.renameSync');
export const mkdirSync = unavailable('fs.mkdirSync');
export const readdirSync = unavailable('fs.readdirSync');
export const join = unavailable('path.join');
export const dirname = unavailable('path.dirname');
export const resolve = unavailable('path.resolve');
export const basename = unavailable('path.basename');
export const cpus = unavailable('os.cpus');
export default {};
