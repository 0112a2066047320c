/**
 * Colour maps for heat maps, looked up the way matplotlib's `Colormap.__call__` does for floats:
 * 256 entries, entry floor(x * 256) (x = 1 takes the last), x clipped to [0, 1].
 */

export type Rgb = [number, number, number];

export const COLORMAPS = ['jet', 'viridis', 'inferno', 'gray'] as const;
export type ColormapName = (typeof COLORMAPS)[number];

/** A colour map as 256 RGB entries in 0..1, flattened (r, g, b, r, g, b, ...). */
export interface Colormap {
  name: ColormapName;
  lut: Float32Array;
}

const N = 256;

/** matplotlib's _jet_data: (x, value) breakpoints per channel, linear in between. */
const JET: Record<'r' | 'g' | 'b', [number, number][]> = {
  r: [
    [0, 0],
    [0.35, 0],
    [0.66, 1],
    [0.89, 1],
    [1, 0.5],
  ],
  g: [
    [0, 0],
    [0.125, 0],
    [0.375, 1],
    [0.64, 1],
    [0.91, 0],
    [1, 0],
  ],
  b: [
    [0, 0.5],
    [0.11, 1],
    [0.34, 1],
    [0.65, 0],
    [1, 0],
  ],
};

/**
 * matplotlib's 256-entry viridis and inferno (CC0, van der Walt & Smith), kept as every 8th entry
 * plus the last (33 colours, 8-bit hex); linear in between. Worst error vs the full table: 2/255.
 */
const LISTED: Record<'viridis' | 'inferno', string> = {
  viridis:
    '440154470d6048186a482374472d7b4537814240863e49893b528b375b8d33638d2f6b8e2c728e297a8e26828e23898e21918c1f988b1fa08822a78528ae8032b67a3fbc734ec36b5ec96270cf5784d44b98d83eaddc30c2df23d8e219ece51bfde725',
  inferno:
    '0000040403120b0724150b37210c4a2f0a5b3d09654a0c6b57106e64156e71196e7d1e6d8a226a972766a32c61b0315bbc3754c73e4cd24644db503be45a31eb6628f1731df68013f98e09fb9d07fcac11fbbc21f9cb35f5db4cf2ea69f3f68afcffa4',
};
const LISTED_INDEX = [...Array.from({ length: 32 }, (_, i) => i * 8), 255];

function piecewise(points: [number, number][], x: number): number {
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i];
    if (x <= x1) {
      const [x0, y0] = points[i - 1];
      return x1 === x0 ? y1 : y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
    }
  }
  return points[points.length - 1][1];
}

function listedColour(hex: string, entry: number): Rgb {
  let k = 1;
  while (LISTED_INDEX[k] < entry) k++;
  const [a, b] = [LISTED_INDEX[k - 1], LISTED_INDEX[k]];
  const t = (entry - a) / (b - a);
  const channel = (i: number, c: number) => parseInt(hex.slice(6 * i + 2 * c, 6 * i + 2 * c + 2), 16) / 255;
  return [0, 1, 2].map((c) => channel(k - 1, c) * (1 - t) + channel(k, c) * t) as Rgb;
}

const cache = new Map<ColormapName, Colormap>();

export function isColormapName(name: string): name is ColormapName {
  return (COLORMAPS as readonly string[]).includes(name);
}

export function getColormap(name: ColormapName): Colormap {
  let cmap = cache.get(name);
  if (cmap) return cmap;
  if (!isColormapName(name)) throw new Error(`unknown colour map "${name}" (choose ${COLORMAPS.join(', ')})`);
  const lut = new Float32Array(N * 3);
  for (let i = 0; i < N; i++) {
    const x = i / (N - 1);
    const rgb: Rgb =
      name === 'jet'
        ? [piecewise(JET.r, x), piecewise(JET.g, x), piecewise(JET.b, x)]
        : name === 'gray'
          ? [x, x, x]
          : listedColour(LISTED[name], i);
    lut.set(rgb, i * 3);
  }
  cmap = { name, lut };
  cache.set(name, cmap);
  return cmap;
}

/** The lookup-table entry for x in [0, 1] (NaN reads as 0). */
export function colourIndex(x: number): number {
  if (!(x > 0)) return 0;
  return Math.min(N - 1, Math.floor(x * N));
}

/** The colour of x in [0, 1], channels in 0..1. */
export function colourAt(cmap: Colormap, x: number): Rgb {
  const i = colourIndex(x) * 3;
  return [cmap.lut[i], cmap.lut[i + 1], cmap.lut[i + 2]];
}
