import { Command, MODEL_OPTIONS, ParsedArgs, UsageError } from '../command';
import { loadModel } from '../inputs';
import {
  DEFAULT_RERANK,
  DEFAULT_TOP_K,
  ImageIndex,
  MEDIA_KINDS,
  MediaKind,
  RERANK_ORDERS,
  RerankOrder,
  RetrievalOptions,
  SearchHit,
  hitRecord,
} from '../../retrieval';

/** Options search and rank share. */
export const RETRIEVAL_OPTIONS: Command['options'] = {
  rerank: {
    type: 'string',
    arg: 'K',
    help: `re-score the best K by ITC with the ITM head (default ${DEFAULT_RERANK}; BLIP's COCO evaluation uses 256; 0: ITC only)`,
  },
  'top-k': { type: 'string', arg: 'N', help: `print the best N (default ${DEFAULT_TOP_K}; at most K when re-ranking)` },
  order: {
    type: 'string',
    arg: 'HOW',
    help: "itm: by ITM match probability (default); blip: ITM match logit + ITC cosine, as BLIP's evaluation ranks",
  },
  'max-length': { type: 'string', arg: 'N', help: 'truncate texts to N tokens (BLIP retrieval uses 35; default: no truncation)' },
  'enc-token': { type: 'boolean', help: "put [ENC] at position 0 of the ITM input, as BLIP's retrieval evaluation does" },
  json: { type: 'boolean', help: 'print a JSON array, best first' },
};

export function retrievalOptions(args: ParsedArgs, verb: string): RetrievalOptions {
  const rerank = args.integer('rerank', DEFAULT_RERANK) as number;
  const topK = args.integer('top-k', DEFAULT_TOP_K) as number;
  const order = args.string('order') ?? 'itm';
  if (rerank < 0) throw new UsageError(`${verb}: --rerank must be 0 or more, got ${rerank}`);
  if (topK < 1) throw new UsageError(`${verb}: --top-k must be 1 or more, got ${topK}`);
  if (!RERANK_ORDERS.includes(order as RerankOrder))
    throw new UsageError(`${verb}: --order must be ${RERANK_ORDERS.join(' or ')}, got "${order}"`);
  return { rerank, topK, order: order as RerankOrder, maxLength: args.integer('max-length'), encToken: args.flag('enc-token') };
}

/** A plain table: rank, scores, the kind when given (e.g. "video 8f"), then the label (path or quoted text). */
export function resultTable(rows: { itc: number; itm?: number; kind?: string; label: string }[]): string {
  const withItm = rows.some((r) => r.itm !== undefined);
  const kindWidth = Math.max(0, ...rows.map((r) => r.kind?.length ?? 0));
  const kindHead = kindWidth ? ['kind'.padEnd(kindWidth)] : [];
  const head = [' #', ...(withItm ? ['itm   '] : []), 'itc    ', ...kindHead, ''].join('  ');
  const lines = rows.map((r, i) =>
    [
      String(i + 1).padStart(2),
      ...(withItm ? [r.itm === undefined ? '  -   ' : r.itm.toFixed(4)] : []),
      (r.itc < 0 ? '' : ' ') + r.itc.toFixed(4),
      ...(kindWidth ? [(r.kind ?? '').padEnd(kindWidth)] : []),
      r.label,
    ].join('  '),
  );
  return [head.trimEnd(), ...lines].join('\n') + '\n';
}

export const search: Command = {
  name: 'search',
  summary: 'Searches an image and video index by text: ITC shortlist, re-ranked by ITM match probability.',
  usage: 'search --model DIR|HUB_ID --index PATH|URI --text QUERY [--rerank K] [--top-k N] [--kind image|video] [--json]',
  options: {
    ...MODEL_OPTIONS,
    index: {
      type: 'string',
      arg: 'INDEX',
      help: 'an index made by blip-itm index (folder or URI such as s3://bucket/x; with the same model)',
    },
    text: { type: 'string', arg: 'QUERY', help: 'what to look for' },
    kind: { type: 'string', arg: 'KIND', help: 'only images, or only videos (default: both)' },
    ...RETRIEVAL_OPTIONS,
  },
  details:
    '--json prints [{"image": path, "kind": "image"|"video", "frames": N (videos), "itc": cosine, "itm": probability}, ...]\n' +
    '(no "itm" with --rerank 0); "image" is the path of the image or video file.',
  async run(args) {
    const dir = args.required('index');
    const query = args.required('text');
    const kind = args.string('kind');
    if (kind !== undefined && !MEDIA_KINDS.includes(kind as MediaKind)) {
      throw new UsageError(`search: --kind must be ${MEDIA_KINDS.join(' or ')}, got "${kind}"`);
    }
    const opts = { ...retrievalOptions(args, 'search'), kind: kind as MediaKind | undefined };
    const index = await ImageIndex.open(dir); // before loading the model: a bad index fails fast
    try {
      await index.requireImages();
      const model = await loadModel(args);
      try {
        const hits = await index.search(model, query, opts);
        if (args.flag('json')) {
          process.stdout.write(JSON.stringify(hits.map(hitRecord)) + '\n');
        } else {
          const videos = hits.some((h) => h.kind === 'video');
          const kindOf = (h: SearchHit) => (h.kind === 'video' ? `video ${h.frames}f` : 'image');
          process.stdout.write(
            resultTable(hits.map((h) => ({ itc: h.itc, itm: h.itm, kind: videos ? kindOf(h) : undefined, label: h.image }))),
          );
        }
      } finally {
        model.dispose();
      }
    } finally {
      index.close();
    }
  },
};
