// @ts-check
// The page's only door to the model: an InspectorSession (src/inspector/session.ts), reached over
// HTTP from the inspector server, or run in this page by api-local.js. Both answer with the same
// shapes (the session's types), and both report progress through the queue's status.

/** @typedef {import('../session').SessionInfo} SessionInfo */
/** @typedef {import('../session').QueueStatus} QueueStatus */
/** @typedef {import('../session').ImageInfo} ImageInfo */
/** @typedef {import('../session').ScoreResult} ScoreResult */
/** @typedef {import('../session').GradcamView} GradcamView */
/** @typedef {import('../session').AttentionView} AttentionView */
/** @typedef {import('../session').Colormap} Colormap */

/**
 * What a back end answers; every call may reject with an Error whose message the page shows.
 * @typedef {object} Backend
 * @property {() => Promise<SessionInfo>} session
 * @property {() => Promise<QueueStatus>} status
 * @property {(name: string) => Promise<Colormap>} colormap
 * @property {(id: number, frame?: number) => string} imageUrl a URL for an <img>: the display copy, upright RGB (a video's sampled frame `frame`, default the first)
 * @property {(file: File) => Promise<ImageInfo>} upload
 * @property {(file: File, frames: number) => Promise<ImageInfo>} uploadVideo `frames` sampled as encodeVideos samples them
 * @property {(image: number, texts: string[], encToken: boolean) => Promise<ScoreResult>} score
 * @property {(image: number, text: string, layer: number | undefined, encToken: boolean) => Promise<GradcamView>} gradcam
 * @property {(image: number, text: string, encToken: boolean) => Promise<AttentionView>} attention
 */

/**
 * Serverless when the page says so (?model=<url or hub id>, or ?serverless) or when it is the
 * static copy that `npm run build` writes to dist/browser/inspector/ (marked by a meta tag there,
 * so no request probes for a server): then api-local.js runs the session in this page.
 */
function serverless() {
  const params = new URLSearchParams(location.search);
  if (params.has('model') || params.has('serverless')) return true;
  return document.querySelector('meta[name="blip-itm-inspector"]')?.getAttribute('content') === 'serverless';
}

/**
 * Whether a chosen or dropped file is a video: its type, or (when the browser gives none, e.g.
 * Matroska) its extension. Anything else goes to the image upload, which names what it accepts.
 * @param {File} file
 */
export function isVideoFile(file) {
  return file.type.startsWith('video/') || /\.(mp4|m4v|mov|mkv|webm|avi|ogv|mpe?g|3gp)$/i.test(file.name);
}

/**
 * @param {string} path
 * @param {unknown} [body] JSON, or a File to upload
 */
async function request(path, body) {
  /** @type {RequestInit} */
  let init = {};
  if (body instanceof File) {
    init = {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream', 'X-Image-Name': body.name.replace(/[^\w.\- ]+/g, '_') },
      body,
    };
  } else if (body !== undefined) {
    init = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
  }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({ error: `${res.status} ${res.statusText}` }));
  if (!res.ok) throw new Error(data.error ?? `${res.status} ${res.statusText}`);
  return data;
}

/** @type {Backend} */
const remote = {
  session: () => request('/api/session'),
  status: () => request('/api/status'),
  colormap: (name) => request(`/api/colormap?name=${encodeURIComponent(name)}`),
  imageUrl: (id, frame = 0) => `/api/images/${id}${frame ? `-${frame}` : ''}.png`,
  upload: (file) => request('/api/images', file),
  uploadVideo: (file, frames) => request(`/api/videos?frames=${frames}`, file),
  score: (image, texts, encToken) => request('/api/score', { image, texts, encToken }),
  gradcam: (image, text, layer, encToken) => request('/api/gradcam', { image, text, layer, encToken }),
  attention: (image, text, encToken) => request('/api/attention', { image, text, encToken }),
};

/** @type {Backend} */
const backend = serverless() ? (await import('./api-local.js')).local : remote;

/** @type {Set<(busy: boolean, status: QueueStatus | null) => void>} */
const listeners = new Set();
let pending = 0;
/** @type {ReturnType<typeof setInterval> | null} */
let poll = null;

/**
 * Calls `fn(busy, status)` whenever work starts, progresses or ends.
 * @param {(busy: boolean, status: QueueStatus | null) => void} fn
 */
export function onProgress(fn) {
  listeners.add(fn);
}

/** @param {QueueStatus | null} status */
function notify(status) {
  for (const fn of listeners) fn(pending > 0, status);
}

async function pollStatus() {
  try {
    const status = await backend.status();
    if (pending > 0) notify(status);
  } catch {
    // the next poll or the call itself reports a dead server
  }
}

/**
 * Runs one call with the progress line shown until it ends.
 * @template T
 * @param {() => Promise<T>} call
 * @returns {Promise<T>}
 */
async function tracked(call) {
  pending++;
  notify(null);
  poll ??= setInterval(pollStatus, 250);
  try {
    return await call();
  } finally {
    pending--;
    if (pending === 0 && poll) {
      clearInterval(poll);
      poll = null;
    }
    notify(null);
  }
}

/** @returns {Promise<SessionInfo>} the model, the images, the preloaded captions and the limits */
export const session = () => backend.session();
/** @param {string} name */
export const colormap = (name) => tracked(() => backend.colormap(name));
/** @type {Backend['imageUrl']} */
export const imageUrl = (id, frame) => backend.imageUrl(id, frame);
/**
 * An image, or a video with `frames` sampled frames.
 * @param {File} file
 * @param {number} frames
 */
export const upload = (file, frames) => tracked(() => (isVideoFile(file) ? backend.uploadVideo(file, frames) : backend.upload(file)));
/** @type {Backend['score']} */
export const score = (image, texts, encToken) => tracked(() => backend.score(image, texts, encToken));
/** @type {Backend['gradcam']} */
export const gradcam = (image, text, layer, encToken) => tracked(() => backend.gradcam(image, text, layer, encToken));
/** @type {Backend['attention']} */
export const attention = (image, text, encToken) => tracked(() => backend.attention(image, text, encToken));
