import { RgbImage, resizeBicubic } from '../image';
import { BlipItm, TextOptions } from '../model/blip-itm';
import { displayTokens, itmIds } from '../model/text-input';
import { AttentionKind, attentionMaps } from './attention';
import { Tile, composeGrid } from './grid';
import { drawMatrix } from './matrix';
import { OverlayOptions, overlayMap } from './overlay';
import { TokenSelection, defaultSelection, meanRows, selectToken } from './tokens';

/**
 * One picture explaining an image-text match: Grad-CAM (default) or raw attention, as a single
 * overlay, a contact sheet of every token (`grid`), or for text self-attention a token matrix.
 */
export interface ExplainOptions extends OverlayOptions, TextOptions {
  /** Raw attention of this kind instead of Grad-CAM. */
  attention?: AttentionKind;
  /** Text layer (Grad-CAM, 'cross', 'text') or ViT layer ('vision'). Default: defaultGradcamLayer / the last ViT layer. */
  layer?: number;
  /** Raw attention only: one head or the mean (default). Grad-CAM always averages heads, as LAVIS. */
  head?: number | 'mean';
  /** The map of this word (its word pieces averaged) instead of the mean over all words. */
  token?: string;
  /** One tile per token, plus the image and the all-words mean, in one picture. */
  grid?: boolean;
  /** Longer side in pixels: of the output (single map; default the image's), of each tile (grid; default 192), of the matrix ('text'). */
  size?: number;
}

export interface Explanation {
  image: RgbImage;
  method: 'gradcam' | 'attention';
  kind?: AttentionKind;
  layer: number;
  head?: number | 'mean';
  probability: number;
  tokens: string[];
  /** The token rows a single-map picture shows. */
  selection?: TokenSelection;
  /** The tile labels of a grid, in order. */
  tiles?: string[];
  /** Labels of the maps drawn that are zero everywhere (they show the plain image). */
  zeroMaps: string[];
}

const GRID_TILE = 192;

/** Image resized so that its longer side is `side` (aspect kept); the image itself when already so. */
export function fitImage(image: RgbImage, side: number | undefined): RgbImage {
  if (side === undefined || side === Math.max(image.width, image.height)) return image;
  if (!Number.isInteger(side) || side < 1) throw new Error(`size must be a positive integer, got ${side}`);
  const scale = side / Math.max(image.width, image.height);
  return resizeBicubic(image, Math.max(1, Math.round(image.width * scale)), Math.max(1, Math.round(image.height * scale)));
}

export async function explainImage(model: BlipItm, image: RgbImage, text: string, opts: ExplainOptions = {}): Promise<Explanation> {
  const kind = opts.attention;
  if (kind === 'vision' || kind === 'text') {
    if (opts.token !== undefined) throw new Error(`--token applies to Grad-CAM and cross attention, not ${kind} attention`);
    if (opts.grid) throw new Error(`--grid applies to Grad-CAM and cross attention, not ${kind} attention`);
  }
  // Fail on an unknown --token before the (slow, on a full model) gradient pass.
  if (opts.token !== undefined && !opts.grid) selectToken(previewTokens(model, text, opts), opts.token, model.tokenizer);
  const m = await tokenMaps(model, image, text, opts);
  if (m.matrix) {
    const title = `text self-attention, layer ${m.base.layer}, ${headName(m.base.head ?? 'mean')}`;
    const cell = opts.size === undefined ? undefined : opts.size / Math.max(1, m.maps.length);
    return { ...m.base, zeroMaps: [], image: drawMatrix(m.maps, m.base.tokens, title, { cell, colormap: opts.colormap }) };
  }
  if (opts.grid) return gridPicture(image, text, m, opts);
  const selection =
    kind === 'vision'
      ? { positions: [0], label: 'image [CLS] query' }
      : opts.token === undefined
        ? defaultSelection(m.base.tokens)
        : selectToken(m.base.tokens, opts.token, model.tokenizer);
  const map = toMap(meanRows(m.maps, selection.positions), m.grid);
  return {
    ...m.base,
    selection,
    zeroMaps: zeroLabels([[selection.label, map.data]]),
    image: overlayMap(fitImage(image, opts.size), map, opts),
  };
}

interface TokenMaps {
  base: Omit<Explanation, 'image' | 'zeroMaps'>;
  /** One map per query: per text token (Grad-CAM, cross), per image query (vision), token rows (text). */
  maps: ArrayLike<number>[];
  grid: number;
  /** Text self-attention: maps is a token x token matrix, not image maps. */
  matrix: boolean;
}

async function tokenMaps(model: BlipItm, image: RgbImage, text: string, opts: ExplainOptions): Promise<TokenMaps> {
  const input = { ...image, channels: 3 as const };
  const textOpts = { maxLength: opts.maxLength, encToken: opts.encToken };
  const kind = opts.attention;
  if (kind === undefined) {
    const g = await model.gradcam(input, text, { ...textOpts, layer: opts.layer });
    return {
      base: { method: 'gradcam', layer: g.layer, probability: g.probability, tokens: g.tokens },
      maps: g.maps,
      grid: g.grid,
      matrix: false,
    };
  }
  const a = await attentionMaps(model, input, text, { ...textOpts, kind, layer: opts.layer, head: opts.head });
  const base = { method: 'attention' as const, kind, layer: a.layer, head: a.head, probability: a.probability, tokens: a.tokens };
  return { base, maps: a.maps, grid: a.grid, matrix: kind === 'text' };
}

/** Contact sheet: the image, the all-words mean, then every token's map, under a title line. */
function gridPicture(image: RgbImage, text: string, m: TokenMaps, opts: ExplainOptions): Explanation {
  const { base, maps, grid } = m;
  const tile = fitImage(image, opts.size ?? GRID_TILE);
  const all = defaultSelection(base.tokens);
  const shown: [string, Float32Array][] = [
    [all.label === 'all words (mean)' ? 'all words' : all.label, meanRows(maps, all.positions)],
    ...base.tokens.map((t, i): [string, Float32Array] => [t, Float32Array.from(maps[i])]),
  ];
  const tiles: Tile[] = [
    { image: tile, label: 'image' },
    ...shown.map(([label, values]) => ({ image: overlayMap(tile, toMap(values, grid), opts), label })),
  ];
  const what = base.method === 'gradcam' ? 'Grad-CAM' : `cross-attention ${headName(base.head ?? 'mean')}`;
  const title = `${JSON.stringify(text)}  p=${base.probability.toFixed(3)}  ${what}, layer ${base.layer}`;
  return { ...base, tiles: tiles.map((t) => t.label), zeroMaps: zeroLabels(shown), image: composeGrid(tiles, title).image };
}

/** The ITM input's tokens as the model will make them (same truncation). */
function previewTokens(model: BlipItm, text: string, opts: TextOptions): string[] {
  const maxLength = Math.min(opts.maxLength ?? Infinity, model.config.text.maxPositionEmbeddings);
  const ids = model.tokenizer.encode(text, { maxLength: Number.isFinite(maxLength) ? maxLength : undefined });
  return displayTokens(model.tokenizer, itmIds(ids, model.tokenizer, !!opts.encToken));
}

function zeroLabels(maps: [string, Float32Array][]): string[] {
  return maps.filter(([, values]) => values.every((v) => v === 0)).map(([label]) => label);
}

function toMap(values: ArrayLike<number>, grid: number) {
  return { data: Float32Array.from(values), width: grid, height: grid };
}

function headName(head: number | 'mean'): string {
  return head === 'mean' ? 'mean of heads' : `head ${head}`;
}
