// In-page side of test/browser/*.test.ts: imports the bundle exactly as a user's page would
// and returns plain JSON (numbers, not typed arrays) for the Node side to check.
import * as blip from '/dist/browser/blip-itm.js';

const { tf } = blip;
let model = null;
const fetched = new Map();

async function bytesOf(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function safetensors(url) {
  if (!fetched.has(url)) {
    const file = blip.SafetensorsFile.fromBytes(new blip.MemoryBytes(url, [await bytesOf(url)]));
    const out = new Map(file.keys().map((k) => [k, file.read(k)]));
    fetched.set(url, { tensors: out, metadata: file.metadata });
    file.close();
  }
  return fetched.get(url);
}

/** Read asynchronously: webgpu's synchronous read loses the device in headless Chromium. */
async function plain(t) {
  return { shape: t.shape, dtype: t.dtype, data: Array.from(await t.data()) };
}

/** Tensors alive (0 before any backend has started: tf.memory() would start one). */
export function numTensors() {
  return tf.engine().backendName ? tf.memory().numTensors : 0;
}

export async function load(source, opts = {}) {
  model?.dispose();
  const events = [];
  const t0 = performance.now();
  model = await blip.BlipItm.load(source, { ...opts, progress: (e) => events.push(e) });
  return {
    backend: model.backend,
    ms: performance.now() - t0,
    progress: events,
    unused: model.unusedWeights,
    f16Textures: tf.env().getBool('WEBGL_FORCE_F16_TEXTURES'),
    renderFloat32: model.backend.name === 'webgl' ? tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED') : null,
  };
}

export async function loadError(source, opts = {}) {
  try {
    const m = await blip.BlipItm.load(source, opts);
    m.dispose();
    return null;
  } catch (e) {
    return String(e.message);
  }
}

/** Every activation on the reference file's own pixels and ids (isolates the model). */
export async function forwardOnReference(refUrl, opts) {
  const ref = (await safetensors(refUrl)).tensors;
  const pix = ref.get('pixel_values');
  const rows = (t) => Array.from({ length: t.shape[0] }, (_, i) => Array.from(t.data.subarray(i * t.shape[1], (i + 1) * t.shape[1])));
  const before = numTensors();
  const t0 = performance.now();
  const out = await model.forward(
    { pixelValues: pix.data, shape: pix.shape },
    { inputIds: rows(ref.get('input_ids')), attentionMask: rows(ref.get('attention_mask')) },
    opts,
  );
  const ms = performance.now() - t0;
  const result = {};
  for (const [k, t] of out) {
    result[k] = await plain(t);
    t.dispose();
  }
  return { result, ms, leaked: numTensors() - before };
}

/** match/similarity/gradcam/encodeImages from image bytes, with the tensor count around each call. */
export async function publicCalls(imageUrls, texts, opts = {}) {
  const images = await Promise.all(imageUrls.map(bytesOf));
  const leaks = {};
  const timed = {};
  const run = async (name, fn) => {
    const before = numTensors();
    const t0 = performance.now();
    const r = await fn();
    timed[name] = performance.now() - t0;
    leaks[name] = numTensors() - before;
    return r;
  };
  const match = await run('match', () => model.match(images, texts));
  const similarity = await run('similarity', () => model.similarity(images, texts));
  if (opts.scoresOnly) return { match, similarity, leaks, timed };
  const blob = new Blob([images[0]]);
  const fromBlob = await run('match(Blob)', () => model.match([blob], texts.slice(0, 1)));
  const gradcam = await run('gradcam', () => model.gradcam(images[0], texts[0]));
  const emb = await run('encodeImages', () => model.encodeImages([images[0]]));
  const before = numTensors();
  emb.forEach((e) => e.dispose());
  leaks['encodeImages+dispose'] = numTensors() - before + leaks.encodeImages;
  return {
    match,
    similarity,
    fromBlob,
    gradcam: summary(gradcam),
    leaks,
    timed,
  };
}

/** The image pipeline at 384 px against images-384.safetensors: max |difference| per image. */
export async function imagePipeline(refUrl, imageDir, preprocessorUrl) {
  const { tensors, metadata } = await safetensors(refUrl);
  const files = JSON.parse(metadata.files);
  const config = await (await fetch(preprocessorUrl)).json();
  const proc = blip.ImageProcessor.fromConfig(config, { size: 384 });
  const out = [];
  for (const [i, f] of files.entries()) {
    const { resized, pixelValues } = proc.preprocess([await bytesOf(imageDir + f)]);
    const ref = tensors.get(`resized.${i}`).data;
    let maxResized = resized[0].data.length === ref.length ? 0 : Infinity;
    for (let j = 0; j < ref.length; j++) maxResized = Math.max(maxResized, Math.abs(resized[0].data[j] - ref[j]));
    let maxPixels = null;
    const pv = tensors.get(`pixel_values.${i}`);
    if (pv) {
      maxPixels = 0;
      for (let j = 0; j < pv.data.length; j++) maxPixels = Math.max(maxPixels, Math.abs(pixelValues[j] - pv.data[j]));
    }
    out.push({ file: f, maxResized, maxPixels });
  }
  return out;
}

/** A DOM image (decoded by the browser) is accepted; its scores are returned for a sanity check. */
export async function domImage(url, text) {
  const img = new Image();
  img.src = url;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  canvas.getContext('2d').drawImage(img, 0, 0);
  const bitmap = await createImageBitmap(img);
  const imageData = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  const before = numTensors();
  const r = await model.match([img, canvas, bitmap, imageData], [text]);
  return { probs: r.probs.map((row) => row[0]), leaked: numTensors() - before };
}

export function dispose() {
  model?.dispose();
  model = null;
  return numTensors();
}

function summary(g) {
  return { layer: g.layer, grid: g.grid, probability: g.probability, tokens: g.tokens, maps: g.maps.map((m) => Array.from(m)) };
}

/** The loaded model (for measurement scripts). */
export function current() {
  return model;
}
