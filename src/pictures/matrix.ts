import { RgbImage } from '../image';
import { ColormapName } from './colormap';
import { GLYPH_HEIGHT, drawText, fitText, textWidth } from './font';
import { blankImage, paste } from './grid';
import { colourise } from './overlay';

const PAD = 8;
const INK: [number, number, number] = [20, 20, 20];
const MAX_LABEL = 14;

/** Scales an image up by an integer factor, each pixel becoming a block. */
function blocks(img: RgbImage, factor: number): RgbImage {
  const width = img.width * factor;
  const height = img.height * factor;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (Math.floor(y / factor) * img.width + Math.floor(x / factor)) * 3;
      data.set(img.data.subarray(s, s + 3), (y * width + x) * 3);
    }
  }
  return { data, width, height };
}

/**
 * A square token-by-token matrix (rows = queries, columns = keys) as coloured cells, the tokens
 * written along the left and (turned) along the top, under a title. The colours span the
 * matrix's own min..max.
 */
export function drawMatrix(
  rows: ArrayLike<number>[],
  labels: string[],
  title: string,
  opts: { cell?: number; colormap?: ColormapName } = {},
): RgbImage {
  const n = rows.length;
  const cell = Math.max(4, Math.round(opts.cell ?? Math.min(40, Math.max(16, Math.floor(480 / Math.max(1, n))))));
  const scale = cell >= 16 ? 2 : 1;
  const names = labels.map((l) => fitText(l, textWidth('x'.repeat(MAX_LABEL), scale), scale));
  const labelSpace = Math.max(...names.map((l) => textWidth(l, scale))) + PAD;
  const titleHeight = GLYPH_HEIGHT * 2 + PAD;
  const width = Math.max(2 * PAD + labelSpace + n * cell, textWidth(title, 2) + 2 * PAD);
  const height = 2 * PAD + titleHeight + labelSpace + n * cell;
  const image = blankImage(width, height);
  drawText(image, title, PAD, PAD, { scale: 2, colour: INK });
  const x0 = PAD + labelSpace;
  const y0 = PAD + titleHeight + labelSpace;
  const values = new Float32Array(n * n);
  rows.forEach((row, i) => values.set(Array.from(row).slice(0, n), i * n));
  const cells = colourise({ data: values, width: n, height: n }, opts.colormap ?? 'jet');
  paste(image, blocks(cells, cell), x0, y0);
  const glyph = GLYPH_HEIGHT * scale;
  names.forEach((name, i) => {
    const w = textWidth(name, scale);
    const centre = Math.floor((cell - glyph) / 2);
    drawText(image, name, x0 - PAD / 2 - w, y0 + i * cell + centre, { scale, colour: INK });
    drawText(image, name, x0 + i * cell + centre, y0 - PAD / 2 - w, { scale, colour: INK, vertical: true });
  });
  return image;
}
