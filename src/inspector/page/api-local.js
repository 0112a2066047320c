// @ts-check
// The serverless back end: the inspector's own session (src/inspector/session.ts, from the browser
// bundle dist/browser/blip-itm.js) run in this page. Only the transport is here: loading the
// model (picker or ?model=), reading files and URLs, and turning display copies into image URLs.
import { pickModel, showLoadProgress } from './model-picker.js';

/** @typedef {typeof import('../../browser/index')} Bundle */
/** @typedef {import('../../browser/index').BlipItm} BrowserBlipItm */
/** @typedef {import('../session').InspectorSession} InspectorSession */
/** @typedef {import('./api.js').Backend} Backend */

const params = new URLSearchParams(location.search);
/** The bundle: ?bundle=<url>, else the build's layout (dist/browser/inspector/ beside dist/browser/blip-itm.js). */
const BUNDLE_URL = new URL(params.get('bundle') ?? '../blip-itm.js', location.href).href;

/** @type {Promise<Bundle> | null} */
let bundle = null;
/** @returns {Promise<Bundle>} */
function lib() {
  bundle ??= import(BUNDLE_URL);
  return bundle;
}

/** @type {InspectorSession | null} */
let current = null;
/** Display copies as data URLs, made once per image (a video's per sampled frame), by "id-frame". @type {Map<string, string>} */
const urls = new Map();

/** @returns {InspectorSession} */
function live() {
  if (!current) throw new Error('no model loaded yet');
  return current;
}

/** @param {string | File[]} source */
function displayName(source) {
  if (typeof source !== 'string') return `${source.length} chosen files`;
  if (/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(source)) return source; // hub id
  const parts = new URL(source, location.href).pathname.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? source;
}

/**
 * @param {import('./model-picker.js').ModelChoice} choice
 * @returns {Promise<BrowserBlipItm>}
 */
async function loadModel({ source, backend, dtype }) {
  const { BlipItm } = await lib();
  /** @type {Map<string, { loaded: number, total: number }>} */
  const bytes = new Map();
  const progress = showLoadProgress(displayName(source));
  try {
    return await BlipItm.load(source, {
      backend: /** @type {import('../../browser/index').BrowserBackendName} */ (backend || 'auto'),
      dtype: dtype === 'float16' ? 'float16' : 'float32',
      progress: (e) => {
        bytes.set(e.file, e);
        let loaded = 0;
        let total = 0;
        for (const f of bytes.values()) {
          loaded += f.loaded;
          total += f.total;
        }
        progress.update(e.file, loaded, total);
      },
    });
  } finally {
    progress.done();
  }
}

/**
 * The file at a URL (?image=, ?video=), named by its last path segment.
 * @param {string} url
 */
async function fetched(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  const name = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() || 'file');
  return { name, blob: await res.blob() };
}

/** The model from ?model= (and ?backend=), or from the picker until one loads; then ?image= and ?video= URLs (&frames=). */
async function openSession() {
  const defaults = { backend: params.get('backend') ?? 'auto', dtype: params.get('dtype') ?? 'float32' };
  const named = params.get('model');
  /** @type {import('./model-picker.js').ModelChoice | null} */
  let choice = named ? { source: named, ...defaults } : null;
  let failure = '';
  /** @type {BrowserBlipItm} */
  let model;
  for (;;) {
    choice ??= await pickModel(defaults, failure);
    try {
      model = await loadModel(choice);
      break;
    } catch (e) {
      // A wrong URL or file set: say why and ask again rather than leave a dead page.
      choice = null;
      failure = `Could not load the model: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  const source = choice.source;
  const { InspectorSession, BrowserVideoDecoder, DEFAULT_LIMITS } = await lib();
  const session = new InspectorSession(
    model,
    { source: displayName(source), backend: [model.backend.name, model.backend.dtype === 'float16' ? 'float16' : ''].join(' ').trim() },
    params.getAll('text'),
    // The browser's decoder refuses oversized frames and overlong videos before it reads their pixels.
    { videoDecoder: new BrowserVideoDecoder({ maxPixels: DEFAULT_LIMITS.maxFramePixels, maxFrames: DEFAULT_LIMITS.maxVideoLength }) },
  );
  for (const url of params.getAll('image')) {
    const { name, blob } = await fetched(url);
    await session.addImage(new Uint8Array(await blob.arrayBuffer()), name);
  }
  const frames = params.has('frames') ? Number(params.get('frames')) : undefined;
  for (const url of params.getAll('video')) {
    const { name, blob } = await fetched(url);
    await session.addVideo(blob, name, { frames });
  }
  current = session;
  return session;
}

/**
 * An upright RGB image as a PNG data URL (drawn through a canvas: no PNG encoder needed here).
 * @param {{ data: Uint8Array, width: number, height: number }} rgb
 */
function dataUrl(rgb) {
  const canvas = document.createElement('canvas');
  canvas.width = rgb.width;
  canvas.height = rgb.height;
  const rgba = new ImageData(rgb.width, rgb.height);
  for (let i = 0, j = 0; i < rgb.width * rgb.height; i++, j += 3) {
    rgba.data[i * 4] = rgb.data[j];
    rgba.data[i * 4 + 1] = rgb.data[j + 1];
    rgba.data[i * 4 + 2] = rgb.data[j + 2];
    rgba.data[i * 4 + 3] = 255;
  }
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2D canvas');
  ctx.putImageData(rgba, 0, 0);
  return canvas.toDataURL('image/png');
}

/** @type {Backend} */
export const local = {
  session: async () => (current ?? (await openSession())).info(),
  status: async () => live().status(),
  colormap: async (name) => live().colormap(name),
  imageUrl: (id, frame = 0) => {
    const key = `${id}-${frame}`;
    let url = urls.get(key);
    if (!url) {
      url = dataUrl(live().display(id, frame));
      const kept = new Set(
        live()
          .imageList()
          .map((i) => String(i.id)),
      );
      for (const old of urls.keys()) if (!kept.has(old.split('-')[0])) urls.delete(old);
      urls.set(key, url);
    }
    return url;
  },
  upload: async (file) => live().addImage(new Uint8Array(await file.arrayBuffer()), file.name),
  // The File itself: the browser's decoder reads it, and the session checks its size.
  uploadVideo: (file, frames) => live().addVideo(file, file.name, { frames }),
  score: (image, texts, encToken) => live().score(image, texts, encToken),
  gradcam: (image, text, layer, encToken) => live().gradcam(image, text, layer, encToken),
  attention: (image, text, encToken) => live().attention(image, text, encToken),
};
