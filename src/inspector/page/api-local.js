// The serverless api.js: the same calls and result shapes as the inspector server's HTTP API
// (src/inspector/session.ts), answered in the page by the browser build (dist/browser/blip-itm.js).
// The maps come from the server's own analysis code, which the bundle exports.
import { pickModel, showLoadProgress } from './model-picker.js';

const params = new URLSearchParams(location.search);
/** The bundle: ?bundle=<url>, else the build's layout (dist/browser/inspector/ beside dist/browser/blip-itm.js). */
const BUNDLE_URL = new URL(params.get('bundle') ?? '../blip-itm.js', location.href).href;

// As DEFAULT_LIMITS in session.ts: a page has no use for more, and the tab's memory is the user's.
const LIMITS = { maxUploadBytes: 32 * 1024 * 1024, maxPixels: 50_000_000, maxImages: 16, maxTexts: 64, maxTextLength: 2000 };
const DISPLAY_SIDE = 768;
const ATTENTION_CACHE = 4;

let lib = null;
let model = null;
let sourceName = '';
const images = [];
let nextId = 0;
const attentionCache = new Map();

// ---- one job at a time, with the status the server's /api/status would report --------------

const listeners = new Set();
let chain = Promise.resolve();
let running = null;
let startedAt = 0;
let waiting = 0;
let ticker = null;

export function onProgress(fn) {
  listeners.add(fn);
}

function notify() {
  const busy = running !== null || waiting > 0;
  const status = running ? { running, elapsedMs: performance.now() - startedAt, waiting } : null;
  for (const fn of listeners) fn(busy, status);
}

/** Runs model work one job at a time (as the server's SerialQueue), yielding to the page between jobs. */
function run(label, job) {
  waiting++;
  notify();
  const result = chain.then(async () => {
    waiting--;
    running = label;
    startedAt = performance.now();
    notify();
    ticker ??= setInterval(notify, 250);
    // Let the progress bar paint before the (synchronous-heavy) model work starts.
    await new Promise((resolve) => setTimeout(resolve, 0));
    try {
      return await job();
    } finally {
      running = null;
      if (waiting === 0) {
        clearInterval(ticker);
        ticker = null;
      }
      notify();
    }
  });
  chain = result.catch(() => {});
  return result;
}

// ---- session ---------------------------------------------------------------------------------

function displayName(source) {
  if (typeof source !== 'string') return `${source.length} chosen files`;
  if (/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(source)) return source; // hub id
  const parts = new URL(source, location.href).pathname.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? source;
}

async function loadModel(source, backend) {
  lib ??= await import(BUNDLE_URL);
  const bytes = new Map();
  const progress = showLoadProgress(displayName(source));
  try {
    model = await lib.BlipItm.load(source, {
      backend: backend || 'auto',
      dtype: params.get('dtype') ?? 'float32',
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
  sourceName = displayName(source);
}

function modelInfo() {
  const { text, vision } = model.config;
  return {
    source: sourceName,
    backend: model.backend.name,
    textLayers: text.numHiddenLayers,
    textHeads: text.numAttentionHeads,
    visionLayers: vision.numHiddenLayers,
    visionHeads: vision.numAttentionHeads,
    imageSize: vision.imageSize,
    grid: Math.floor(vision.imageSize / vision.patchSize),
    defaultGradcamLayer: lib.defaultGradcamLayer(text.numHiddenLayers),
  };
}

function imageList() {
  return images.map(({ id, name, width, height }) => ({ id, name, width, height }));
}

/** { model, images, texts, limits }: the model from ?model= (and ?backend=), or from the picker. */
export async function session() {
  let source = params.get('model');
  let backend = params.get('backend');
  let failure = '';
  for (;;) {
    if (!source) ({ source, backend } = await pickModel(params.get('backend') ?? 'auto', failure));
    try {
      await loadModel(source, backend);
      break;
    } catch (e) {
      // A wrong URL or file set: say why and ask again rather than leave a dead page.
      source = null;
      failure = `Could not load the model: ${e.message ?? e}`;
    }
  }
  for (const url of params.getAll('image')) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
    const name = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() || 'image');
    await addBytes(new Uint8Array(await res.arrayBuffer()), name);
  }
  return { model: modelInfo(), images: imageList(), texts: params.getAll('text'), limits: LIMITS };
}

/** { name, lut: 768 numbers 0..255 } */
export async function colormap(name) {
  lib ??= await import(BUNDLE_URL);
  return { name, lut: Array.from(lib.getColormap(name).lut, (x) => Math.round(x * 255)) };
}

// ---- images ----------------------------------------------------------------------------------

/** The display copy (longer side at most 768 px) as a data URL, made once at upload. */
function displayUrl(rgb) {
  const full = document.createElement('canvas');
  full.width = rgb.width;
  full.height = rgb.height;
  const rgba = new ImageData(rgb.width, rgb.height);
  for (let i = 0, j = 0; i < rgb.width * rgb.height; i++, j += 3) {
    rgba.data[i * 4] = rgb.data[j];
    rgba.data[i * 4 + 1] = rgb.data[j + 1];
    rgba.data[i * 4 + 2] = rgb.data[j + 2];
    rgba.data[i * 4 + 3] = 255;
  }
  full.getContext('2d').putImageData(rgba, 0, 0);
  const scale = Math.min(1, DISPLAY_SIDE / Math.max(rgb.width, rgb.height));
  if (scale === 1) return full.toDataURL('image/png');
  const small = document.createElement('canvas');
  small.width = Math.max(1, Math.round(rgb.width * scale));
  small.height = Math.max(1, Math.round(rgb.height * scale));
  const ctx = small.getContext('2d');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(full, 0, 0, small.width, small.height);
  return small.toDataURL('image/png');
}

async function addBytes(bytes, name) {
  if (bytes.length > LIMITS.maxUploadBytes) {
    const mb = (n) => (n / 1024 / 1024).toFixed(1);
    throw new Error(`image too large: ${mb(bytes.length)} MB; the inspector accepts files up to ${mb(LIMITS.maxUploadBytes)} MB`);
  }
  // Our own decoders (as Node's), so the pixels and scores equal the library's for the same file.
  const rgb = lib.decodeImage(bytes, name, { maxPixels: LIMITS.maxPixels });
  const image = { id: nextId++, name, width: rgb.width, height: rgb.height, pixels: { ...rgb, channels: 3 }, url: displayUrl(rgb) };
  images.push(image);
  while (images.length > LIMITS.maxImages) images.shift().embedding?.dispose();
  return { id: image.id, name, width: image.width, height: image.height };
}

function image(id) {
  const found = images.find((i) => i.id === id);
  if (!found) throw new Error(`no image with id ${JSON.stringify(id)}`);
  return found;
}

/** A URL the page can put in an <img>: the image as the model sees it (upright RGB). */
export function imageUrl(id) {
  return image(id).url;
}

/** Reads a File; resolves to {id, name, width, height}. */
export async function upload(file) {
  return addBytes(new Uint8Array(await file.arrayBuffer()), file.name);
}

// ---- model work ------------------------------------------------------------------------------

function checkTexts(texts) {
  if (texts.length === 0) throw new Error('no captions given');
  if (texts.length > LIMITS.maxTexts) throw new Error(`${texts.length} captions; at most ${LIMITS.maxTexts} per request`);
  const long = texts.find((t) => t.length > LIMITS.maxTextLength);
  if (long !== undefined) throw new Error(`a caption of ${long.length} characters; at most ${LIMITS.maxTextLength}`);
}

async function embedding(im) {
  if (!im.embedding) [im.embedding] = await model.encodeImages([im.pixels]);
  return im.embedding;
}

/** { image, encToken, texts, probs, logits, itc } */
export function score(id, texts, encToken) {
  const im = image(id);
  checkTexts(texts);
  return run(`scoring ${texts.length} caption${texts.length === 1 ? '' : 's'}`, async () => {
    const e = await embedding(im);
    const match = await model.match([e], texts, { encToken });
    const itc = await model.similarity([e], texts, { encToken });
    return { image: id, encToken, texts, probs: match.probs[0], logits: match.logits[0], itc: itc[0] };
  });
}

/** { image, text, encToken, layer, grid, probability, tokens, maps, words, caption } */
export function gradcam(id, text, layer, encToken) {
  const im = image(id);
  checkTexts([text]);
  const layers = model.config.text.numHiddenLayers;
  if (layer !== undefined && layer !== null && (!Number.isInteger(layer) || layer < 0 || layer >= layers)) {
    throw new Error(`layer ${layer} is out of range: the text encoder has layers 0..${layers - 1}`);
  }
  return run(`Grad-CAM, text layer ${layer ?? lib.defaultGradcamLayer(layers)}`, async () => {
    const r = await model.gradcam(await embedding(im), text, { layer: layer ?? undefined, encToken });
    const mean = (positions) => Array.from(lib.meanRows(r.maps, positions), lib.compact);
    const selection = lib.defaultSelection(r.tokens);
    return {
      image: id,
      text,
      encToken,
      layer: r.layer,
      grid: r.grid,
      probability: r.probability,
      tokens: r.tokens,
      maps: r.maps.map((m) => Array.from(m, lib.compact)),
      words: lib.groupWords(r.tokens).map((w) => ({ ...w, map: mean(w.positions) })),
      caption: { text, positions: selection.positions, map: mean(selection.positions) },
    };
  });
}

/** { image, text, encToken, tokens, probability, grid, cross, textSelf, vision, rollout } */
export function attention(id, text, encToken) {
  const im = image(id);
  checkTexts([text]);
  const key = JSON.stringify([id, text, encToken]);
  return run('attention maps', async () => {
    let set = attentionCache.get(key);
    if (!set) {
      set = await lib.attentionSet(model, im.pixels, text, encToken);
      attentionCache.set(key, set);
      for (const old of attentionCache.keys()) {
        if (attentionCache.size <= ATTENTION_CACHE) break;
        attentionCache.delete(old);
      }
    }
    return { image: id, text, encToken, ...set };
  });
}
