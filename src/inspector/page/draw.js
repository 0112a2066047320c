// @ts-check
// Canvas drawing: heat maps over the image (LAVIS getAttMap's blend, alpha * m^0.7), and
// token x token matrices. Colour look-up tables come from the server's colormap.ts.

/** @typedef {number[]} Lut 256 RGB triples, 0..255 */

/**
 * Min-max to [0, 1]; a constant map (Grad-CAM with no positive gradient) becomes zeros.
 * @param {number[]} map
 */
export function normalise(map) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of map) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo;
  return map.map((v) => (span > 0 ? (v - lo) / span : 0));
}

/**
 * Element-wise mean of equally long rows (heads, or the tokens of a word).
 * @param {number[][]} rows
 * @returns {number[]}
 */
export function mean(rows) {
  const out = new Array(rows[0].length).fill(0);
  for (const row of rows) for (let i = 0; i < out.length; i++) out[i] += row[i] / rows.length;
  return out;
}

/**
 * @param {Lut} lut
 * @param {number} x in [0, 1]
 */
function colour(lut, x) {
  const i = Math.min(255, Math.max(0, Math.floor(x * 256))) * 3;
  return [lut[i], lut[i + 1], lut[i + 2]];
}

/**
 * The canvas's 2D context (a canvas that has one never returns null).
 * @param {HTMLCanvasElement} canvas
 */
export function context2d(canvas) {
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser gives no 2D canvas');
  return ctx;
}

/**
 * A grid x grid canvas of the map's colours with opacity alpha * m^0.7.
 * @param {number[]} map
 * @param {number} grid
 * @param {Lut} lut
 * @param {number} alpha
 */
function heatTile(map, grid, lut, alpha) {
  const tile = document.createElement('canvas');
  tile.width = grid;
  tile.height = grid;
  const ctx = context2d(tile);
  const pixels = ctx.createImageData(grid, grid);
  normalise(map).forEach((m, p) => {
    const [r, g, b] = colour(lut, m);
    pixels.data.set([r, g, b, Math.round(255 * alpha * Math.pow(m, 0.7))], p * 4);
  });
  ctx.putImageData(pixels, 0, 0);
  return tile;
}

/**
 * Draws the image scaled to the canvas, then the map upsampled smoothly over it.
 * @param {HTMLCanvasElement} canvas
 * @param {HTMLImageElement} image
 * @param {number[] | null | undefined} map
 * @param {number} grid
 * @param {Lut} lut
 * @param {number} alpha
 */
export function drawOverlay(canvas, image, map, grid, lut, alpha) {
  const ctx = context2d(canvas);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  if (map) ctx.drawImage(heatTile(map, grid, lut, alpha), 0, 0, canvas.width, canvas.height);
}

/**
 * Columns of a video's frame sheet: all in one row up to 4, else rows of at most 4, evenly filled.
 * @param {number} frames
 */
export function frameColumns(frames) {
  return frames <= 4 ? frames : Math.ceil(frames / Math.ceil(frames / 4));
}

/**
 * A video's sampled frames in a sheet, each with its own slice of the map (frame-major, grid x grid
 * each) over it, normalised on its own as `explain --video` draws them; `labels` under each frame.
 * @param {HTMLCanvasElement} canvas
 * @param {HTMLImageElement[]} frames
 * @param {number[] | null | undefined} map frames x grid x grid values, or none (the frames alone)
 * @param {number} grid
 * @param {Lut} lut
 * @param {number} alpha
 * @param {{ side: number, labels: string[] | null }} opts side: the sheet's width in CSS pixels
 */
export function drawFrames(canvas, frames, map, grid, lut, alpha, { side, labels }) {
  const columns = frameColumns(frames.length);
  const rows = Math.ceil(frames.length / columns);
  const gap = labels ? 6 : 2;
  const band = labels ? 16 : 0;
  const tileWidth = (side - gap * (columns - 1)) / columns;
  const tileHeight = (tileWidth * frames[0].naturalHeight) / frames[0].naturalWidth;
  const height = Math.round(rows * (tileHeight + band) + gap * (rows - 1));
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(side * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${side}px`;
  canvas.style.height = `${height}px`;
  const ctx = context2d(canvas);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, side, height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#222';
  ctx.textBaseline = 'top';
  const cells = grid * grid;
  frames.forEach((frame, f) => {
    const x = (f % columns) * (tileWidth + gap);
    const y = Math.floor(f / columns) * (tileHeight + band + gap);
    ctx.drawImage(frame, x, y, tileWidth, tileHeight);
    if (map) ctx.drawImage(heatTile(map.slice(f * cells, (f + 1) * cells), grid, lut, alpha), x, y, tileWidth, tileHeight);
    if (labels) ctx.fillText(labels[f], x, y + tileHeight + 2);
  });
}

/**
 * Sizes a canvas to the image's aspect with the longer side `side` (CSS pixels x devicePixelRatio).
 * @param {HTMLCanvasElement} canvas
 * @param {HTMLImageElement} image
 * @param {number} side
 */
export function fitCanvas(canvas, image, side) {
  const scale = side / Math.max(image.naturalWidth, image.naturalHeight);
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(image.naturalWidth * scale * ratio);
  canvas.height = Math.round(image.naturalHeight * scale * ratio);
  canvas.style.width = `${Math.round(image.naturalWidth * scale)}px`;
  canvas.style.height = `${Math.round(image.naturalHeight * scale)}px`;
}

/**
 * A query x key attention matrix with token labels (rows = queries attending, columns = keys),
 * coloured on 0..max of the matrix. `labels` false draws cells only (thumbnails).
 * @param {HTMLCanvasElement} canvas
 * @param {number[][]} matrix
 * @param {string[]} tokens
 * @param {Lut} lut
 * @param {{ side: number, labels: boolean }} opts
 */
export function drawMatrix(canvas, matrix, tokens, lut, { side, labels }) {
  const n = matrix.length;
  const ratio = window.devicePixelRatio || 1;
  const font = 12;
  const ctx = context2d(canvas);
  ctx.font = `${font}px system-ui, sans-serif`;
  const margin = labels ? Math.ceil(Math.max(...tokens.map((t) => ctx.measureText(t).width))) + 10 : 0;
  const cell = Math.max(2, Math.floor((side - margin) / n));
  const cssSide = margin + cell * n;
  canvas.width = Math.round(cssSide * ratio);
  canvas.height = Math.round(cssSide * ratio);
  canvas.style.width = `${cssSide}px`;
  canvas.style.height = `${cssSide}px`;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, cssSide, cssSide);
  let hi = 0;
  for (const row of matrix) for (const v of row) hi = Math.max(hi, v);
  matrix.forEach((row, q) =>
    row.forEach((v, k) => {
      const [r, g, b] = colour(lut, hi > 0 ? v / hi : 0);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(margin + k * cell, margin + q * cell, cell, cell);
    }),
  );
  if (!labels) return;
  ctx.font = `${font}px system-ui, sans-serif`;
  ctx.fillStyle = '#222';
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  tokens.forEach((t, i) => ctx.fillText(t, margin - 5, margin + (i + 0.5) * cell));
  tokens.forEach((t, i) => {
    ctx.save();
    ctx.translate(margin + (i + 0.5) * cell, margin - 5);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'left';
    ctx.fillText(t, 0, 0);
    ctx.restore();
  });
}

/**
 * A horizontal colour bar, low on the left.
 * @param {HTMLCanvasElement} canvas
 * @param {Lut} lut
 */
export function drawColourbar(canvas, lut) {
  const ctx = context2d(canvas);
  for (let x = 0; x < canvas.width; x++) {
    const [r, g, b] = colour(lut, x / (canvas.width - 1));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, 0, 1, canvas.height);
  }
}
