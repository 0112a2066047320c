import { decodeImage } from '../../node/image';
import { ATTENTION_KINDS, AttentionKind } from '../../pictures/attention';
import { COLORMAPS, isColormapName } from '../../pictures/colormap';
import { ExplainOptions, Explanation, explainImage } from '../../pictures/explain';
import { encodePng } from '../../pictures/png';
import { Command, MODEL_OPTIONS, ParsedArgs, UsageError } from '../command';
import { checkOutputPath, imageInputs, writeFileAtomic } from '../io';
import { loadModel } from '../inputs';
import { VIDEO_DECODE_OPTIONS, checkVideoFiles, videoSettings } from '../video';
import { explainVideo } from '../video-explain';
import { StatusLine } from '../progress';

export const explain: Command = {
  name: 'explain',
  summary: 'Draws where in the image the text matches: Grad-CAM of the ITM score (or raw attention) over the image, as a PNG.',
  usage:
    'explain --model DIR|HUB_ID (--image IMG | --video V [--frames N]) --text TXT --out FILE.png [--layer L] [--token WORD | --grid] ' +
    '[--attention cross|vision|text [--head H]] [--alpha A] [--colormap NAME] [--size PX] [--json]',
  options: {
    ...MODEL_OPTIONS,
    image: { type: 'string', arg: 'IMG', help: 'image file (JPEG or PNG); - reads it from standard input' },
    video: { type: 'string', arg: 'V', help: 'a video instead of an image: one Grad-CAM heat map per sampled frame, in one picture' },
    ...VIDEO_DECODE_OPTIONS,
    text: { type: 'string', arg: 'TXT', help: 'the text to explain (optional with --attention vision)' },
    out: { type: 'string', arg: 'FILE', help: 'PNG file to write (the name must end in .png)' },
    layer: {
      type: 'string',
      arg: 'L',
      help: "text layer (ViT layer for --attention vision); default: 2/3 of the depth (8 of 12, as BLIP's demo), last ViT layer",
    },
    token: { type: 'string', arg: 'WORD', help: 'show the map of this word (its word pieces averaged) instead of the mean over all words' },
    grid: { type: 'boolean', help: 'one tile per token ([CLS] and [SEP] included), after the image and the all-words mean' },
    attention: {
      type: 'string',
      arg: 'KIND',
      help: 'raw attention instead of Grad-CAM: cross (text over image), vision (ViT [CLS] over patches) or text (token matrix)',
    },
    head: { type: 'string', arg: 'H', help: 'with --attention: one head (0-based) or mean (default)' },
    alpha: { type: 'string', arg: 'A', help: 'opacity of the colour where the map peaks, 0..1 (default 0.5; 1 = LAVIS getAttMap)' },
    colormap: { type: 'string', arg: 'NAME', help: `${COLORMAPS.join(', ')} (default jet)` },
    size: {
      type: 'string',
      arg: 'PX',
      help: "longer side of the output in pixels (default: the image's); with --grid, of each tile (default 192)",
    },
    'max-length': { type: 'string', arg: 'N', help: 'truncate the text to N tokens' },
    'enc-token': { type: 'boolean', help: "put [ENC] at position 0 of the ITM input, as BLIP's retrieval evaluation does" },
    json: { type: 'boolean', help: 'print the probability, layer, tokens and chosen map as JSON' },
  },
  details: [
    'The default picture is Grad-CAM over the cross-attention of one text layer (the positive part of the',
    'gradient of the ITM match logit times the attention, heads averaged; LAVIS compute_gradcam), averaged',
    "over the text's word tokens without [CLS] and [SEP]: the whole-caption map BLIP's demo shows",
    '(LAVIS gradcam[1]). Each map is min-max normalised on its own, upsampled bicubically with patch values at',
    'patch centres, blurred (sigma 2% of the longer side) and blended over the image with opacity',
    'alpha * m^0.7, as LAVIS getAttMap. Colours are therefore relative within one map, not across maps.',
  ].join('\n'),
  async run(args) {
    const opts = explainOptions(args);
    if (args.string('video') !== undefined) return explainVideoVerb(args, opts);
    const imageFile = args.required('image');
    const out = args.required('out');
    const text = args.string('text') ?? (opts.attention === 'vision' ? '' : undefined);
    if (text === undefined) throw new UsageError('explain: --text is required');
    checkOutputPath(out);
    if (!/\.png$/i.test(out)) throw new UsageError(`explain: --out ${out}: explain writes PNG; give a file name ending in .png`);
    const [input] = await imageInputs([imageFile], 'explain');
    const image = decodeImage(input, imageFile === '-' ? 'standard input' : imageFile);
    const status = StatusLine.forStderr(args.flag('quiet'));
    const model = await loadModel(args, status);
    let result: Explanation;
    try {
      status.stage(opts.attention ? 'reading attention…' : 'computing Grad-CAM…');
      result = await explainImage(model, image, text, opts);
    } finally {
      status.clear();
      model.dispose();
    }
    writeFileAtomic(out, encodePng(result.image));
    process.stdout.write(args.flag('json') ? JSON.stringify(summary(result, out)) + '\n' : describe(result, out));
    if (result.zeroMaps.length) process.stderr.write(zeroNote(result));
  },
};

async function explainVideoVerb(args: ParsedArgs, opts: ExplainOptions): Promise<void> {
  const video = args.required('video');
  if (args.string('image') !== undefined) throw new UsageError('explain: give --image or --video, not both');
  if (opts.attention !== undefined || opts.grid)
    throw new UsageError('explain: --video draws Grad-CAM per frame; --attention and --grid apply to images');
  const text = args.required('text');
  const out = args.required('out');
  checkOutputPath(out);
  const { decoder, frames } = videoSettings(args, 'explain');
  checkVideoFiles([video]);
  const model = await loadModel(args);
  let result: Explanation;
  try {
    result = await explainVideo(model, video, text, decoder, frames, opts);
  } finally {
    model.dispose();
  }
  writeFileAtomic(out, encodePng(result.image));
  process.stdout.write(args.flag('json') ? JSON.stringify(summary(result, out)) + '\n' : describe(result, out));
  if (result.zeroMaps.length) process.stderr.write(zeroNote(result));
}

function explainOptions(args: ParsedArgs): ExplainOptions {
  const attention = args.string('attention');
  if (attention !== undefined && !(ATTENTION_KINDS as readonly string[]).includes(attention)) {
    throw new UsageError(`explain: --attention must be ${ATTENTION_KINDS.join(', ')}, got "${attention}"`);
  }
  const headArg = args.string('head');
  let head: number | 'mean' | undefined;
  if (headArg !== undefined) {
    if (attention === undefined) throw new UsageError('explain: --head needs --attention (Grad-CAM averages the heads)');
    head = headArg === 'mean' ? 'mean' : args.integer('head');
  }
  const alpha = args.number('alpha');
  if (alpha !== undefined && !(alpha >= 0 && alpha <= 1)) throw new UsageError(`explain: --alpha must be in [0, 1], got ${alpha}`);
  const colormap = args.string('colormap') ?? 'jet';
  if (!isColormapName(colormap)) throw new UsageError(`explain: --colormap must be ${COLORMAPS.join(', ')}, got "${colormap}"`);
  const size = args.integer('size');
  if (size !== undefined && (size < 16 || size > 8192)) throw new UsageError(`explain: --size must be 16..8192 pixels, got ${size}`);
  args.bounded('layer', -1024, 1024);
  if (args.flag('grid') && args.string('token') !== undefined)
    throw new UsageError('explain: --grid shows every token; use it or --token, not both');
  return {
    attention: attention as AttentionKind | undefined,
    layer: args.integer('layer'),
    head,
    token: args.string('token'),
    grid: args.flag('grid'),
    alpha,
    colormap,
    size,
    maxLength: args.integer('max-length'),
    encToken: args.flag('enc-token'),
  };
}

function zeroNote(r: Explanation): string {
  const which = r.zeroMaps.map((l) => JSON.stringify(l)).join(', ');
  const hint =
    r.method === 'gradcam'
      ? ' (Grad-CAM keeps only positive gradients; in the last text layer only [CLS] reaches the ITM head, so try an earlier --layer)'
      : '';
  return `blip-itm: note: the map of ${which} is zero everywhere and shows the plain image${hint}\n`;
}

function methodName(r: Explanation): string {
  if (r.method === 'gradcam') return `Grad-CAM over the cross-attention of text layer ${r.layer} (heads averaged)`;
  const head = r.head === 'mean' || r.head === undefined ? 'mean of heads' : `head ${r.head}`;
  const where = r.kind === 'vision' ? `ViT layer ${r.layer}` : `text layer ${r.layer}`;
  return `${r.kind} attention, ${where}, ${head}`;
}

function describe(r: Explanation, out: string): string {
  const lines = [`match probability ${r.probability.toFixed(4)}`, methodName(r)];
  if (r.selection) {
    const shown = r.kind === 'vision' ? '' : `: ${r.selection.positions.map((p) => r.tokens[p]).join(' ')}`;
    lines.push(`map: ${r.selection.label}${shown}`);
  }
  if (r.tiles) lines.push(`tiles: ${r.tiles.join(' | ')}`);
  lines.push(`wrote ${out} (${r.image.width}x${r.image.height})`);
  return lines.join('\n') + '\n';
}

function summary(r: Explanation, out: string) {
  return {
    probability: r.probability,
    method: r.method,
    ...(r.kind ? { attention: r.kind, head: r.head } : {}),
    layer: r.layer,
    tokens: r.tokens,
    ...(r.selection ? { map: { label: r.selection.label, positions: r.selection.positions } } : {}),
    ...(r.tiles ? { tiles: r.tiles } : {}),
    zeroMaps: r.zeroMaps,
    out,
    width: r.image.width,
    height: r.image.height,
  };
}
