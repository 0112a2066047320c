// The page's only door to the model. Every call the page makes goes through here, so a build that
// runs the model in the browser can replace this one module (same functions, same result shapes).

/** @typedef {{running: string|null, elapsedMs: number, waiting: number}} QueueStatus */

/**
 * Serverless when the page says so (?model=<url or hub id>, or ?serverless) or when it is the
 * static copy that `npm run build` writes to dist/browser/inspector/ (marked by a meta tag there,
 * so no request probes for a server): then api-local.js runs the model in this page and answers
 * every call below with the same shapes.
 */
function serverless() {
  const params = new URLSearchParams(location.search);
  if (params.has('model') || params.has('serverless')) return true;
  return document.querySelector('meta[name="blip-itm-inspector"]')?.getAttribute('content') === 'serverless';
}
const local = serverless() ? await import('./api-local.js') : null;

const listeners = new Set();
let pending = 0;
let poll = null;

/** Calls `fn(busy, status)` whenever work starts, progresses or ends. */
export function onProgress(fn) {
  if (local) return local.onProgress(fn);
  listeners.add(fn);
}

function notify(status) {
  for (const fn of listeners) fn(pending > 0, status);
}

async function pollStatus() {
  try {
    const res = await fetch('/api/status');
    if (res.ok && pending > 0) notify(await res.json());
  } catch {
    // the next poll or the request itself reports a dead server
  }
}

async function request(path, body) {
  pending++;
  notify(null);
  if (!poll) poll = setInterval(pollStatus, 250);
  try {
    const res = await fetch(
      path,
      body === undefined
        ? {}
        : {
            method: 'POST',
            headers: {
              'Content-Type': body instanceof Blob ? 'application/octet-stream' : 'application/json',
              ...(body instanceof File ? { 'X-Image-Name': body.name.replace(/[^\w.\- ]+/g, '_') } : {}),
            },
            body: body instanceof Blob ? body : JSON.stringify(body),
          },
    );
    const data = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
    if (!res.ok) throw new Error(data.error ?? `${res.status} ${res.statusText}`);
    return data;
  } finally {
    pending--;
    if (pending === 0) {
      clearInterval(poll);
      poll = null;
    }
    notify(null);
  }
}

/** { model, images: [{id, name, width, height}], texts, limits } */
export function session() {
  if (local) return local.session();
  return request('/api/session');
}

/** { name, lut: 768 numbers 0..255 } */
export function colormap(name) {
  if (local) return local.colormap(name);
  return request(`/api/colormap?name=${encodeURIComponent(name)}`);
}

/** A URL the page can put in an <img>: the image as the model sees it (upright RGB). */
export function imageUrl(id) {
  if (local) return local.imageUrl(id);
  return `/api/images/${id}.png`;
}

/** Uploads a File; resolves to {id, name, width, height}. */
export function upload(file) {
  if (local) return local.upload(file);
  return request('/api/images', file);
}

/** { probs, logits, itc } per text. */
export function score(image, texts, encToken) {
  if (local) return local.score(image, texts, encToken);
  return request('/api/score', { image, texts, encToken });
}

/** { layer, grid, probability, tokens, maps, words, caption } */
export function gradcam(image, text, layer, encToken) {
  if (local) return local.gradcam(image, text, layer, encToken);
  return request('/api/gradcam', { image, text, layer, encToken });
}

/** { tokens, probability, grid, cross, textSelf, vision, rollout } */
export function attention(image, text, encToken) {
  if (local) return local.attention(image, text, encToken);
  return request('/api/attention', { image, text, encToken });
}
