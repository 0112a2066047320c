// The page's only door to the model. Every call the page makes goes through here, so a build that
// runs the model in the browser can replace this one module (same functions, same result shapes).

/** @typedef {{running: string|null, elapsedMs: number, waiting: number}} QueueStatus */

const listeners = new Set();
let pending = 0;
let poll = null;

/** Calls `fn(busy, status)` whenever work starts, progresses or ends. */
export function onProgress(fn) {
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
  return request('/api/session');
}

/** { name, lut: 768 numbers 0..255 } */
export function colormap(name) {
  return request(`/api/colormap?name=${encodeURIComponent(name)}`);
}

/** A URL the page can put in an <img>: the image as the model sees it (upright RGB). */
export function imageUrl(id) {
  return `/api/images/${id}.png`;
}

/** Uploads a File; resolves to {id, name, width, height}. */
export function upload(file) {
  return request('/api/images', file);
}

/** { probs, logits, itc } per text. */
export function score(image, texts, encToken) {
  return request('/api/score', { image, texts, encToken });
}

/** { layer, grid, probability, tokens, maps, words, caption } */
export function gradcam(image, text, layer, encToken) {
  return request('/api/gradcam', { image, text, layer, encToken });
}

/** { tokens, probability, grid, cross, textSelf, vision, rollout } */
export function attention(image, text, encToken) {
  return request('/api/attention', { image, text, encToken });
}
