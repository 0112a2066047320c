import { RawImage, RgbImage } from '../image/types';
import { decodeImage } from '../image/decode';
import { Explanation, ExplainOptions, fitImage } from '../pictures/explain';
import { Tile, composeGrid } from '../pictures/grid';
import { overlayMap } from '../pictures/overlay';
import { defaultSelection, meanRows, selectToken } from '../pictures/tokens';
import { NodeBlipItm as BlipItm } from '../node/platform';
import { FfmpegDecoder } from '../node/video';
import { uniformFrameIndices } from '../video/sampling';
import { VideoSource } from '../video/source';

const TILE = 192;

/**
 * `explain --video`: Grad-CAM of the ITM score per sampled frame. The video is encoded as
 * encodeVideos does (the frames it reads are kept for drawing); the text cross-attends to all
 * frames at once, so each frame's map is its share of one Grad-CAM, normalised per tile.
 */
export async function explainVideo(
  model: BlipItm,
  file: string,
  text: string,
  decoder: FfmpegDecoder,
  frames: number,
  opts: ExplainOptions,
): Promise<Explanation> {
  const read = new Map<number, RawImage>();
  let count = 0;
  const recording = {
    open: async (input: unknown, name: string): Promise<VideoSource> => {
      const source = await decoder.open(input, name);
      return {
        name: source.name,
        frameCount: async () => (count = await source.frameCount()),
        readFrames: async (indices: number[]) => {
          const got = await source.readFrames(indices);
          indices.forEach((i, k) => read.set(i, { ...got[k], data: got[k].data.slice() }));
          return got;
        },
        close: () => source.close(),
      };
    },
  };
  const [embedding] = await model.encodeVideos([file], { frames, decoder: recording });
  let g;
  try {
    g = await model.gradcam(embedding, text, { layer: opts.layer, maxLength: opts.maxLength, encToken: opts.encToken });
  } finally {
    embedding.dispose();
  }
  const sampled = uniformFrameIndices(count, frames); // what encodeVideos sampled: one map per entry, in order
  const selection = opts.token === undefined ? defaultSelection(g.tokens) : selectToken(g.tokens, opts.token, model.tokenizer);
  const cells = g.grid * g.grid;
  const tiles: Tile[] = [];
  const zeroMaps: string[] = [];
  sampled.forEach((index, f) => {
    const rows = g.maps.map((m) => m.subarray(f * cells, (f + 1) * cells));
    const values = meanRows(rows, selection.positions);
    const label = `frame ${index}`;
    if (values.every((v) => v === 0)) zeroMaps.push(label);
    const picture = fitImage(toRgb(read.get(index) as RawImage), opts.size ?? TILE);
    tiles.push({ image: overlayMap(picture, { data: values, width: g.grid, height: g.grid }, opts), label });
  });
  const title = `${JSON.stringify(text)}  p=${g.probability.toFixed(3)}  Grad-CAM, layer ${g.layer}, ${selection.label}`;
  return {
    image: composeGrid(tiles, title).image,
    method: 'gradcam',
    layer: g.layer,
    probability: g.probability,
    tokens: g.tokens,
    selection,
    tiles: tiles.map((t) => t.label),
    zeroMaps,
  };
}

function toRgb(frame: RawImage): RgbImage {
  return decodeImage(frame, 'frame', { maxPixels: Number.MAX_SAFE_INTEGER });
}
