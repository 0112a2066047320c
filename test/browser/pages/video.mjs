// In-page side of test/browser/video.test.ts: videos through the bundle's decoder, as a page
// would pass them (File, Blob, URL, <video>, bytes); returns plain JSON.
import * as blip from '/dist/browser/blip-itm.js';

const { tf } = blip;
let model = null;

export async function load(url) {
  model = await blip.BlipItm.load(url, { backend: 'wasm' });
  return model.backend;
}

function numTensors() {
  return tf.engine().backendName ? tf.memory().numTensors : 0;
}

function once(target, event) {
  return new Promise((resolve, reject) => {
    target.addEventListener(event, resolve, { once: true });
    target.addEventListener('error', () => reject(new Error(`${event}: media error`)), { once: true });
  });
}

/** A page's own <video>, playing position moved off 0, to check the decoder leaves it alone. */
async function pageVideo(url) {
  const video = document.createElement('video');
  video.muted = true;
  video.src = url;
  document.body.append(video);
  await once(video, 'loadeddata');
  video.currentTime = 0.05;
  await once(video, 'seeked');
  return video;
}

async function inputOf(url, kind) {
  if (kind === 'url') return url;
  if (kind === 'element') return pageVideo(url);
  const blob = await (await fetch(url)).blob();
  if (kind === 'blob') return blob;
  if (kind === 'bytes') return new Uint8Array(await blob.arrayBuffer());
  return new File([blob], url.split('/').pop(), { type: blob.type });
}

/** Frame count, BLIP's indices and the sampled frames' pixels, as the decoder gives them. */
export async function probe(url, frames) {
  const source = await new blip.BrowserVideoDecoder().open(await inputOf(url, 'file'), url);
  try {
    const count = await source.frameCount();
    const indices = blip.uniformFrameIndices(count, frames);
    const distinct = [...new Set(indices)];
    const images = await source.readFrames(distinct);
    const pixels = images.map((f) => ({ width: f.width, height: f.height, channels: f.channels, data: Array.from(f.data) }));
    return { count, indices, estimated: source.estimated, pixels };
  } finally {
    await source.close();
  }
}

/** match and similarity of videos given as `kinds`, with the tensors left behind and the page's <video> state. */
export async function score(urls, kinds, texts, frames) {
  const inputs = await Promise.all(urls.map((u, i) => inputOf(u, kinds[i])));
  const before = numTensors();
  const t0 = performance.now();
  const videos = await model.encodeVideos(inputs, { frames });
  const ms = performance.now() - t0;
  const match = await model.match(videos, texts);
  const itc = await model.similarity(videos, texts);
  videos.forEach((v) => v.dispose());
  const elements = inputs
    .filter((x) => x instanceof globalThis.HTMLVideoElement)
    .map((v) => ({ currentTime: v.currentTime, paused: v.paused }));
  return { probs: match.probs, itc, leaked: numTensors() - before, elements, ms };
}

/** The message encodeVideos refuses a video with (null when it does not), and the tensors left. */
export async function refusal(url, kind, decoderOptions) {
  const before = numTensors();
  try {
    const decoder = decoderOptions ? new blip.BrowserVideoDecoder(decoderOptions) : undefined;
    const videos = await model.encodeVideos([await inputOf(url, kind)], { decoder });
    videos.forEach((v) => v.dispose());
    return { message: null, leaked: numTensors() - before };
  } catch (e) {
    return { message: String(e.message), leaked: numTensors() - before };
  }
}

export function dispose() {
  model?.dispose();
  model = null;
  return numTensors();
}
