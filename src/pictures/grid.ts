import { RgbImage } from '../image';
import { GLYPH_HEIGHT, drawText, fitText, textWidth } from './font';

/** One picture of a contact sheet and the label written under it. */
export interface Tile {
  image: RgbImage;
  label: string;
}

export interface GridLayout {
  columns: number;
  rows: number;
  /** Size of every cell: the tile plus its label strip. */
  cellWidth: number;
  cellHeight: number;
  width: number;
  height: number;
  /** Height of the title strip at the top (0 without a title). */
  titleHeight: number;
}

const PAD = 8;
const BACKGROUND: [number, number, number] = [255, 255, 255];
const INK: [number, number, number] = [20, 20, 20];

/** Text scale for a tile width: 2x glyphs when there is room for about ten characters. */
export function labelScale(tileWidth: number): number {
  return tileWidth >= 120 ? 2 : 1;
}

/** Columns ≈ sqrt(1.5 n) so that a sheet of landscape-ish tiles comes out roughly 4:3. */
export function gridLayout(count: number, tileWidth: number, tileHeight: number, title = false): GridLayout {
  if (count < 1) throw new Error('grid: no tiles');
  const columns = Math.min(count, Math.ceil(Math.sqrt(count * 1.5)));
  const rows = Math.ceil(count / columns);
  const scale = labelScale(tileWidth);
  const cellWidth = tileWidth;
  const cellHeight = tileHeight + GLYPH_HEIGHT * scale + 2 * scale + 4;
  const titleHeight = title ? GLYPH_HEIGHT * 2 + PAD : 0;
  return {
    columns,
    rows,
    cellWidth,
    cellHeight,
    titleHeight,
    width: PAD + columns * (cellWidth + PAD),
    height: PAD + titleHeight + rows * (cellHeight + PAD),
  };
}

export function blankImage(width: number, height: number, colour: [number, number, number] = BACKGROUND): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) data.set(colour, p * 3);
  return { data, width, height };
}

/** Copies src into dst with its top-left corner at (x, y), clipped to dst. */
export function paste(dst: RgbImage, src: RgbImage, x: number, y: number): void {
  for (let row = 0; row < src.height; row++) {
    const ty = y + row;
    if (ty < 0 || ty >= dst.height) continue;
    const from = Math.max(0, -x);
    const to = Math.min(src.width, dst.width - x);
    if (to <= from) continue;
    dst.data.set(src.data.subarray((row * src.width + from) * 3, (row * src.width + to) * 3), (ty * dst.width + x + from) * 3);
  }
}

/** Lays the tiles out in rows, each centred in its cell with its label underneath, under an optional title. */
export function composeGrid(tiles: Tile[], title?: string): { image: RgbImage; layout: GridLayout } {
  const tileWidth = Math.max(...tiles.map((t) => t.image.width));
  const tileHeight = Math.max(...tiles.map((t) => t.image.height));
  const layout = gridLayout(tiles.length, tileWidth, tileHeight, title !== undefined);
  const image = blankImage(layout.width, layout.height);
  if (title !== undefined) {
    const room = layout.width - 2 * PAD;
    const titleScale = textWidth(title, 2) <= room ? 2 : 1; // small glyphs before cutting the title short
    drawText(image, fitText(title, room, titleScale), PAD, PAD + (2 - titleScale) * 3, { scale: titleScale, colour: INK });
  }
  const scale = labelScale(tileWidth);
  tiles.forEach((tile, i) => {
    const x = PAD + (i % layout.columns) * (layout.cellWidth + PAD);
    const y = PAD + layout.titleHeight + Math.floor(i / layout.columns) * (layout.cellHeight + PAD);
    paste(image, tile.image, x + Math.floor((tileWidth - tile.image.width) / 2), y + Math.floor((tileHeight - tile.image.height) / 2));
    const label = fitText(tile.label, tileWidth, scale);
    const lw = textWidth(label, scale);
    drawText(image, label, x + Math.max(0, Math.floor((tileWidth - lw) / 2)), y + tileHeight + scale + 2, { scale, colour: INK });
  });
  return { image, layout };
}
