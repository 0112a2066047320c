// @ts-check
// The inspector page: state, controls and views. Data comes only from api.js; pictures from draw.js.
import * as api from './api.js';
import { drawColourbar, drawFrames, drawMatrix, drawOverlay, fitCanvas } from './draw.js';
import { picture, wordSelections } from './views.js';

/** @typedef {import('./views.js').ViewName} ViewName */
/** @typedef {import('./views.js').Head} Head */
/** @typedef {import('./views.js').Selection} Selection */
/** @typedef {import('./api.js').GradcamView} GradcamView */
/** @typedef {import('./api.js').AttentionView} AttentionView */
/** @typedef {GradcamView | AttentionView} ViewData */

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id */
const canvasEl = (id) => /** @type {HTMLCanvasElement} */ ($(id));
/** @param {string} id */
const selectEl = (id) => /** @type {HTMLSelectElement} */ ($(id));
/** @param {string} id */
const inputEl = (id) => /** @type {HTMLInputElement} */ ($(id));
const MAIN_SIDE = 448;
const THUMB_SIDE = 72;
/** @type {Record<ViewName, { layers: 'text' | 'vision', heads: boolean, tokens: boolean }>} */
const VIEWS = {
  gradcam: { layers: 'text', heads: false, tokens: true },
  cross: { layers: 'text', heads: true, tokens: true },
  vision: { layers: 'vision', heads: true, tokens: false },
  text: { layers: 'text', heads: true, tokens: false },
};

/**
 * @typedef {object} Shown what the main picture shows (window.inspector.shown, and Save JSON)
 * @property {ViewName} view
 * @property {number} layer
 * @property {Head} head
 * @property {Selection | null} selection
 * @property {string[]} tokens
 * @property {number[][]} [matrix]
 * @property {number} [grid]
 * @property {number[]} [map] grid x grid values (a video: frames of them, frame-major)
 * @property {number} [frames]
 */
/** @typedef {{ index: number, text: string, prob: number, logitNo: number, logitYes: number, itc: number }} Row */
/** @typedef {'index' | 'text' | 'prob' | 'logitNo' | 'logitYes' | 'itc'} SortKey */

/**
 * @type {{
 *   info: import('./api.js').SessionInfo['model'] | null, images: import('./api.js').ImageInfo[], image: number | null,
 *   imageEl: HTMLImageElement | null, frameEls: HTMLImageElement[] | null, texts: string[], encToken: boolean, scores: import('./api.js').ScoreResult | null,
 *   sort: { key: SortKey, dir: number }, caption: number, view: ViewName, layer: Record<ViewName, number>,
 *   head: Record<ViewName, Head>, token: Selection | null, hover: Selection | null, lut: number[] | null, alpha: number,
 *   redraws: number, shown: Shown | null, renderSeq: number, gradcams: Map<string, GradcamView>, attentions: Map<string, AttentionView>,
 * }}
 */
const state = {
  info: null,
  images: [],
  image: null,
  imageEl: null,
  /** A video's sampled frames (display copies), in order; null for an image. */
  frameEls: null,
  texts: [],
  encToken: false,
  scores: null,
  sort: { key: 'index', dir: 1 },
  caption: 0,
  view: 'gradcam',
  layer: { gradcam: 0, cross: 0, vision: 0, text: 0 },
  head: { gradcam: 'mean', cross: 'mean', vision: 'mean', text: 'mean' },
  /** Pinned token selection {label, positions} or null for the whole caption. */
  token: null,
  /** Selection under the mouse, shown while hovering. */
  hover: null,
  lut: null,
  alpha: 0.8,
  redraws: 0,
  shown: null,
  renderSeq: 0,
  gradcams: new Map(),
  attentions: new Map(),
};
// For tests and the curious: how many times the main picture was drawn.
/** @type {Window & { inspector?: { redraws: number, shown: Shown | null } }} */ (window).inspector = {
  get redraws() {
    return state.redraws;
  },
  get shown() {
    return state.shown;
  },
};

api.onProgress((busy, status) => {
  $('progress').hidden = !busy;
  if (!busy) return;
  const text = status?.running
    ? `${status.running} · ${(status.elapsedMs / 1000).toFixed(1)} s${status.waiting ? ` · ${status.waiting} waiting` : ''}`
    : 'working…';
  $('progress-text').textContent = text;
});

/** @type {ReturnType<typeof setTimeout> | undefined} */
let errorTimer;
/** @param {unknown} e */
function showError(e) {
  $('error').textContent = e instanceof Error ? e.message : String(e);
  $('error').hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => {
    $('error').hidden = true;
  }, 10000);
}

/**
 * @param {string} src
 * @returns {Promise<HTMLImageElement>}
 */
function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`could not load ${src}`));
    img.src = src;
  });
}

// ---- images ----------------------------------------------------------------------------

function renderImageList() {
  const list = $('image-list');
  list.replaceChildren(
    ...state.images.map((info) => {
      const b = document.createElement('button');
      const video = info.video;
      b.title = video
        ? `${info.name} (video, ${info.width}x${info.height}, ${video.frameCount} frames, ${video.sampled.length} sampled: ${video.sampled.join(', ')})`
        : `${info.name} (${info.width}x${info.height})`;
      b.classList.toggle('active', info.id === state.image);
      const img = document.createElement('img');
      img.src = api.imageUrl(info.id);
      img.alt = info.name;
      b.append(img);
      if (video) {
        // A video shows its first frame, marked with the number of frames sampled.
        const badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = `▶ ${video.sampled.length}`;
        badge.title = `video: ${video.sampled.length} sampled frames`;
        b.append(badge);
      }
      b.addEventListener('click', () => selectImage(info.id).catch(showError));
      return b;
    }),
  );
}

/** @param {number} id */
async function selectImage(id) {
  state.image = id;
  const video = state.images.find((i) => i.id === id)?.video;
  const image = await loadImage(api.imageUrl(id));
  state.imageEl = image;
  state.frameEls = video ? await Promise.all(video.sampled.map((_, k) => loadImage(api.imageUrl(id, k)))) : null;
  /** @type {HTMLImageElement} */ ($('preview')).src = image.src;
  /** @type {HTMLImageElement} */ ($('preview')).alt = video ? 'the first sampled frame of the selected video' : 'the selected image';
  // The plain image (or frames) at once; the maps follow when the model has computed them.
  if (state.frameEls) {
    drawFrames(canvasEl('canvas'), state.frameEls, null, 1, state.lut ?? [], 0, { side: MAIN_SIDE, labels: frameLabels() });
  } else {
    fitCanvas(canvasEl('canvas'), image, MAIN_SIDE);
    drawOverlay(canvasEl('canvas'), image, null, 1, state.lut ?? [], 0);
  }
  if (video && state.view !== 'gradcam') state.view = 'gradcam';
  syncControls();
  renderImageList();
  await rescore();
}

/** "frame N" under each of the current video's sampled frames. */
function frameLabels() {
  const video = state.images.find((i) => i.id === state.image)?.video;
  return video ? video.sampled.map((n) => `frame ${n}`) : null;
}

/** @param {File[]} files */
async function uploadFiles(files) {
  for (const file of files) {
    const info = await api.upload(file, Number(inputEl('frames').value));
    state.images.push(info);
    await selectImage(info.id);
  }
}

function setUpDrop() {
  const zone = $('dropzone');
  for (const type of ['dragenter', 'dragover']) {
    document.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add('over');
    });
  }
  document.addEventListener('dragleave', (e) => {
    if (e.target === document.documentElement || e.target === zone) zone.classList.remove('over');
  });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    uploadFiles([...(e.dataTransfer?.files ?? [])]).catch(showError);
  });
  inputEl('file').addEventListener('change', () => uploadFiles([...(inputEl('file').files ?? [])]).catch(showError));
}

// ---- scores ------------------------------------------------------------------------------

async function rescore() {
  if (state.image === null || !state.texts.length) return;
  state.scores = await api.score(state.image, state.texts, state.encToken);
  state.caption = Math.min(state.caption, state.texts.length - 1);
  renderScores();
  await render();
}

/** @returns {Row[]} the score table's rows in the chosen order */
function rows() {
  const s = state.scores;
  if (!s) return [];
  const out = s.texts.map((text, index) => ({
    index,
    text,
    prob: s.probs[index],
    logitNo: s.logits[index][0],
    logitYes: s.logits[index][1],
    itc: s.itc[index],
  }));
  const { key, dir } = state.sort;
  return out.sort((a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : 0));
}

/**
 * @param {string} text
 * @param {string} [className]
 */
function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderScores() {
  const table = /** @type {HTMLTableElement} */ ($('scores'));
  const body = table.tBodies[0];
  body.replaceChildren(
    ...rows().map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.index = String(r.index);
      tr.classList.toggle('selected', r.index === state.caption);
      const prob = cell(r.prob.toFixed(4), 'num prob');
      const bar = document.createElement('div');
      bar.className = 'pbar';
      bar.style.width = `${(r.prob * 100).toFixed(1)}%`;
      prob.append(bar);
      tr.append(
        cell(String(r.index + 1), 'num muted'),
        cell(r.text || '(empty)'),
        prob,
        cell(r.logitNo.toFixed(3), 'num'),
        cell(r.logitYes.toFixed(3), 'num'),
        cell(r.itc.toFixed(4), 'num'),
      );
      tr.addEventListener('click', () => {
        state.caption = r.index;
        state.token = null;
        renderScores();
        render().catch(showError);
      });
      return tr;
    }),
  );
  for (const th of headerCells()) {
    th.classList.toggle('sorted-asc', th.dataset.key === state.sort.key && state.sort.dir > 0);
    th.classList.toggle('sorted-desc', th.dataset.key === state.sort.key && state.sort.dir < 0);
  }
}

function headerCells() {
  const head = /** @type {HTMLTableElement} */ ($('scores')).tHead;
  return head ? [...head.rows[0].cells] : [];
}

function setUpTable() {
  for (const th of headerCells()) {
    th.addEventListener('click', () => {
      const key = /** @type {SortKey} */ (th.dataset.key);
      const numeric = key !== 'text' && key !== 'index';
      state.sort = state.sort.key === key ? { key, dir: -state.sort.dir } : { key, dir: numeric ? -1 : 1 };
      if (state.scores) renderScores();
    });
  }
}

// ---- data for the views ------------------------------------------------------------------

function caption() {
  return state.texts[state.caption];
}

/**
 * @param {number} image
 * @returns {Promise<GradcamView>}
 */
async function gradcamData(image) {
  const key = JSON.stringify([image, caption(), state.layer.gradcam, state.encToken]);
  let data = state.gradcams.get(key);
  if (!data) {
    data = await api.gradcam(image, caption(), state.layer.gradcam, state.encToken);
    state.gradcams.set(key, data);
  }
  return data;
}

/**
 * @param {number} image
 * @returns {Promise<AttentionView>}
 */
async function attentionData(image) {
  const key = JSON.stringify([image, caption(), state.encToken]);
  let data = state.attentions.get(key);
  if (!data) {
    const oldest = state.attentions.keys().next();
    if (state.attentions.size >= 3 && !oldest.done) state.attentions.delete(oldest.value);
    data = await api.attention(image, caption(), state.encToken);
    state.attentions.set(key, data);
  }
  return data;
}

/**
 * The chip under the mouse, else the pinned one, else the whole caption.
 * @param {ViewData} data
 */
function selection(data) {
  const options = wordSelections(data);
  const pick = state.hover ?? state.token;
  return (pick && options.find((o) => o.label === pick.label && o.positions.join() === pick.positions.join())) ?? options[0];
}

/** @type {{ key: string, list: { o: Selection, chip: HTMLButtonElement }[] }} */
let chips = { key: '', list: [] };

/** @param {ViewData} data */
function renderChips(data) {
  const key = JSON.stringify(data.tokens);
  if (chips.key !== key) {
    chips = {
      key,
      list: wordSelections(data).map((o) => {
        const chip = document.createElement('button');
        chip.className = 'chip';
        chip.textContent = o.label;
        chip.classList.toggle('special', Boolean(o.special || o.caption));
        chip.title = `token position${o.positions.length > 1 ? 's' : ''} ${o.positions.join(', ')}`;
        chip.addEventListener('mouseenter', () => {
          state.hover = o;
          render().catch(showError);
        });
        chip.addEventListener('mouseleave', () => {
          state.hover = null;
          render().catch(showError);
        });
        chip.addEventListener('click', () => {
          state.token = o.caption ? null : o;
          state.hover = null;
          render().catch(showError);
        });
        return { o, chip };
      }),
    };
    $('tokens').replaceChildren(...chips.list.map((c) => c.chip));
  }
  const current = selection(data);
  for (const { o, chip } of chips.list) {
    const token = state.token;
    const pinned = token ? o.positions.join() === token.positions.join() : Boolean(o.caption);
    chip.classList.toggle('active', pinned);
    chip.classList.toggle('hover', o.positions.join() === current.positions.join() && !pinned);
  }
}

// ---- the views -----------------------------------------------------------------------------

/**
 * @param {HTMLCanvasElement} canvas
 * @param {ReturnType<typeof picture>} pic
 * @param {ViewData} data
 * @param {number} side
 * @param {boolean} labels
 */
function drawPicture(canvas, pic, data, side, labels) {
  const lut = state.lut ?? [];
  if (pic.matrix) {
    drawMatrix(canvas, pic.matrix, data.tokens, lut, { side, labels });
  } else if (state.frameEls && 'frames' in data && data.frames === state.frameEls.length) {
    drawFrames(canvas, state.frameEls, pic.map, data.grid, lut, state.alpha, { side, labels: labels ? frameLabels() : null });
  } else if (state.imageEl) {
    fitCanvas(canvas, state.imageEl, side);
    drawOverlay(canvas, state.imageEl, pic.map, data.grid, lut, state.alpha);
  }
}

/**
 * @param {ViewName} view
 * @param {ViewData} data
 * @param {Selection} sel
 */
function thumbnailGrid(view, data, sel) {
  const info = state.info;
  if (!info) return;
  const thumbs = $('thumbs');
  const items = [];
  if (view === 'gradcam') {
    const options = wordSelections(data).filter((o) => !o.special);
    const side = state.frameEls ? 2 * THUMB_SIDE : THUMB_SIDE; // a video's thumbnail is a sheet of its frames
    thumbs.style.gridTemplateColumns = `repeat(auto-fill, ${side + 8}px)`;
    for (const o of options) {
      const fig = document.createElement('figure');
      const canvas = document.createElement('canvas');
      drawPicture(canvas, picture(view, data, 0, 'mean', o), data, side, false);
      canvas.classList.toggle('active', o.positions.join() === sel.positions.join());
      canvas.addEventListener('mouseenter', () => {
        state.hover = o;
        render().catch(showError);
      });
      canvas.addEventListener('mouseleave', () => {
        state.hover = null;
        render().catch(showError);
      });
      canvas.addEventListener('click', () => {
        state.token = o.caption ? null : o;
        render().catch(showError);
      });
      const label = document.createElement('figcaption');
      label.textContent = o.label;
      fig.append(canvas, label);
      items.push(fig);
    }
    thumbs.replaceChildren(...items);
    return;
  }
  const layers = view === 'vision' ? info.visionLayers : info.textLayers;
  const heads = view === 'vision' ? info.visionHeads : info.textHeads;
  /** @type {Head[]} */
  const columns = [
    ...Array.from({ length: heads }, (_, h) => h),
    'mean',
    ...(view === 'vision' ? /** @type {Head[]} */ (['rollout']) : []),
  ];
  const side = Math.max(28, Math.min(THUMB_SIDE, Math.floor(820 / columns.length) - 6));
  thumbs.style.gridTemplateColumns = `auto repeat(${columns.length}, ${side + 4}px)`;
  items.push(document.createElement('span'));
  for (const c of columns) items.push(label(typeof c === 'number' ? `h${c}` : c));
  for (let l = 0; l < layers; l++) {
    items.push(label(`layer ${l}`));
    for (const c of columns) {
      const canvas = document.createElement('canvas');
      drawPicture(canvas, picture(view, data, l, c, sel), data, side, false);
      canvas.title = `layer ${l}, ${typeof c === 'number' ? `head ${c}` : c} (click to enlarge)`;
      canvas.classList.toggle('active', l === state.layer[view] && c === state.head[view]);
      canvas.addEventListener('click', () => {
        state.layer[view] = l;
        state.head[view] = c;
        syncControls();
        render().catch(showError);
      });
      items.push(canvas);
    }
  }
  thumbs.replaceChildren(...items);
}

/** @param {string} text */
function label(text) {
  const span = document.createElement('span');
  span.className = 'label';
  span.textContent = text;
  return span;
}

/** @type {ViewData | null} */
let thumbsFor = null;

/** Draws the current view; a newer call supersedes an older one still waiting for data. */
async function render() {
  if (state.image === null || !state.texts.length || !state.lut) return;
  const seq = ++state.renderSeq;
  const view = state.view;
  const data = view === 'gradcam' ? await gradcamData(state.image) : await attentionData(state.image);
  if (seq !== state.renderSeq) return;
  const layer = 'layer' in data ? data.layer : state.layer[view];
  const head = state.head[view];
  const showTokens = VIEWS[view].tokens;
  $('tokens').hidden = !showTokens;
  const sel = selection(data);
  if (showTokens) renderChips(data);
  const pic = picture(view, data, layer, head, sel);
  drawPicture(canvasEl('canvas'), pic, data, MAIN_SIDE, true);
  $('legend').hidden = Boolean(pic.matrix);
  state.redraws++;
  $('canvas').dataset.redraws = String(state.redraws);
  const zero = pic.map?.every((v) => v === 0);
  const zeroNote =
    view === 'gradcam'
      ? ' This map is zero everywhere: Grad-CAM keeps only positive gradients, and in the last text layer only [CLS] reaches the ITM head; pick an earlier layer.'
      : ' This map is zero everywhere.';
  $('describe').textContent = pic.describe + (pic.matrix ? '.' : '. Each map is min-max normalised on its own.') + (zero ? zeroNote : '');
  $('stage').classList.toggle('stacked', view !== 'gradcam');
  const prob = state.scores ? state.scores.probs[state.caption] : data.probability;
  $('caption-line').replaceChildren(
    document.createTextNode(`“${caption()}” · ITM p `),
    Object.assign(document.createElement('b'), { textContent: prob.toFixed(4) }),
  );
  state.shown = {
    view,
    layer,
    head: VIEWS[view].heads ? head : 'mean',
    selection: showTokens ? sel : null,
    ...(pic.matrix ? { matrix: pic.matrix } : { grid: data.grid, map: pic.map, frames: 'frames' in data ? data.frames : 1 }),
    tokens: data.tokens,
  };
  // While hovering, the thumbnails stay (rebuilding them under the mouse would flicker).
  if (!state.hover || thumbsFor !== data) thumbnailGrid(view, data, sel);
  thumbsFor = data;
}

// ---- controls ------------------------------------------------------------------------------

/**
 * @param {HTMLSelectElement} select
 * @param {(string | number)[]} values
 * @param {string[]} labels
 */
function options(select, values, labels) {
  select.replaceChildren(
    ...values.map((v, i) => Object.assign(document.createElement('option'), { value: String(v), textContent: labels[i] })),
  );
}

function syncControls() {
  const info = state.info;
  if (!info) return;
  const view = state.view;
  const spec = VIEWS[view];
  const layers = spec.layers === 'vision' ? info.visionLayers : info.textLayers;
  const layerValues = Array.from({ length: layers }, (_, i) => i);
  const demo = info.defaultGradcamLayer;
  options(
    selectEl('layer'),
    layerValues,
    layerValues.map((l) => (spec.layers === 'text' && l === demo ? `${l} (BLIP demo)` : String(l))),
  );
  selectEl('layer').value = String(state.layer[view]);
  $('head-control').hidden = !spec.heads;
  $('alpha-control').hidden = view === 'text';
  if (spec.heads) {
    const heads = view === 'vision' ? info.visionHeads : info.textHeads;
    const values = ['mean', ...Array.from({ length: heads }, (_, h) => h), ...(view === 'vision' ? ['rollout'] : [])];
    options(
      selectEl('head'),
      values,
      values.map((v) => (v === 'mean' ? 'mean of heads' : v === 'rollout' ? 'rollout from [CLS]' : String(v))),
    );
    selectEl('head').value = String(state.head[view]);
  }
  const video = Boolean(state.frameEls);
  for (const b of tabs()) {
    b.classList.toggle('active', b.dataset.view === view);
    // Attention maps come from one image's forward pass; a video has Grad-CAM per frame only.
    const imagesOnly = video && b.dataset.view !== 'gradcam';
    b.disabled = imagesOnly;
    b.title = imagesOnly ? 'attention maps are for images only; a video has Grad-CAM per sampled frame' : '';
  }
}

function tabs() {
  return /** @type {HTMLButtonElement[]} */ ([...$('tabs').children]);
}

/**
 * @param {Blob} blob
 * @param {string} name
 */
function download(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** @param {string} ext */
function exportName(ext) {
  const s = state.shown;
  const head = s && VIEWS[s.view].heads ? `-h${s.head}` : '';
  return `blip-itm-${s ? `${s.view}-l${s.layer}${head}` : 'scores'}.${ext}`;
}

function setUpControls() {
  selectEl('layer').addEventListener('change', () => {
    state.layer[state.view] = Number(selectEl('layer').value);
    render().catch(showError);
  });
  selectEl('head').addEventListener('change', () => {
    const v = selectEl('head').value;
    state.head[state.view] = v === 'mean' || v === 'rollout' ? v : Number(v);
    render().catch(showError);
  });
  inputEl('alpha').addEventListener('input', () => {
    state.alpha = Number(inputEl('alpha').value);
    render().catch(showError);
  });
  selectEl('colormap').addEventListener('change', () => {
    api
      .colormap(selectEl('colormap').value)
      .then(({ lut }) => {
        state.lut = lut;
        drawColourbar(canvasEl('colourbar'), lut);
        return render();
      })
      .catch(showError);
  });
  for (const b of tabs()) {
    b.addEventListener('click', () => {
      state.view = /** @type {ViewName} */ (b.dataset.view);
      state.hover = null;
      syncControls();
      render().catch(showError);
    });
  }
  inputEl('enc-token').addEventListener('change', () => {
    state.encToken = inputEl('enc-token').checked;
    rescore().catch(showError);
  });
  $('score-button').addEventListener('click', () => {
    state.texts = /** @type {HTMLTextAreaElement} */ ($('captions')).value
      .split(/\r?\n/)
      .map((t) => t.trim())
      .filter((t) => t.length);
    state.caption = 0;
    state.token = null;
    rescore().catch(showError);
  });
  $('export-png').addEventListener('click', () =>
    canvasEl('canvas').toBlob((blob) => {
      if (blob) download(blob, exportName('png'));
    }, 'image/png'),
  );
  $('export-json').addEventListener('click', () => {
    const image = state.images.find((i) => i.id === state.image);
    const json = {
      model: state.info,
      image,
      encToken: state.encToken,
      caption: caption(),
      scores: state.scores && rows(),
      shown: state.shown,
    };
    download(new Blob([JSON.stringify(json, null, 1)], { type: 'application/json' }), exportName('json'));
  });
}

async function start() {
  setUpTable();
  setUpControls();
  setUpDrop();
  const s = await api.session();
  state.info = s.model;
  state.images = s.images;
  state.texts = s.texts;
  inputEl('frames').max = String(s.limits.maxSampledFrames);
  state.layer = {
    gradcam: s.model.defaultGradcamLayer,
    cross: s.model.defaultGradcamLayer,
    vision: s.model.visionLayers - 1,
    text: s.model.defaultGradcamLayer,
  };
  $('model-info').textContent =
    `${s.model.source} · ${s.model.backend} · ViT ${s.model.visionLayers}x${s.model.visionHeads} heads, text ${s.model.textLayers}x${s.model.textHeads} heads, ${s.model.imageSize} px`;
  /** @type {HTMLTextAreaElement} */ ($('captions')).value = s.texts.join('\n');
  state.lut = (await api.colormap('jet')).lut;
  drawColourbar(canvasEl('colourbar'), state.lut);
  syncControls();
  renderImageList();
  if (s.images.length) await selectImage(s.images[0].id);
}

start().catch(showError);
