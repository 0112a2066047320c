import * as path from 'path';
import { BlipItm } from '../model/blip-itm';
import { RawImage } from '../image/types';
import { ImageEmbedding } from '../model/image-embedding';
import { modelRecord } from '../retrieval/fingerprint';
import { Shard, WHOLE, inShard } from '../retrieval/shard';
import { DecodePool, Decoded, decodeSpec, defaultDecoders } from './decode';
import { InputFile, TableColumns, expandInputs, readSamples } from './inputs';
import { FilterRow } from './parquet';
import { Sample } from './sample';
import { JobIdentity, ShardStore, Totals, totalsOf } from './store';
import { tarEntry } from './tar';

export interface FilterOptions {
  /** Output folder: rows are committed there as Parquet, resumably. Without it rows are only yielded. */
  out?: string;
  /** keep = itm_prob >= threshold (default 0.5, BLIP's CapFilt). */
  threshold?: number;
  /** Only the samples of part i of N, by a hash of the key (default: all). */
  shard?: Shard;
  /** Images per model batch and per commit (default 8). */
  batchSize?: number;
  /** Images per vision-model pass within a batch (BlipItm's visionBatch; default 1). */
  visionBatch?: number | 'auto';
  /** Also write the kept samples as WebDataset tars (original bytes) into this folder (needs `out`). */
  writeKept?: string;
  /** Table column names. */
  columns?: TableColumns;
  /** Largest tar member or image file read, in bytes (default 64 MiB); larger ones are error rows. */
  maxBytes?: number;
  /** Truncate captions to this many tokens (default: the model's max_position_embeddings). */
  maxLength?: number;
  /** Decoder threads (default: cores - 1, at most 4); 0 decodes on the calling thread. */
  decoders?: number;
  /** Discard earlier work in `out` for this shard instead of resuming it. */
  restart?: boolean;
  /** Stops after the batch in flight is committed; the call then throws FilterInterrupted. */
  signal?: AbortSignal;
  onProgress?: (p: FilterProgress) => void;
}

export interface FilterProgress {
  /** Samples done in this run. */
  samples: number;
  rows: number;
  errors: number;
  /** Samples committed by earlier runs and skipped. */
  resumed: number;
  /** Bytes of the inputs read so far, of `totalBytes`. */
  bytes: number;
  totalBytes: number;
}

export interface FilterReport extends Totals {
  /** Rows added by this run (0 when the shard was already done). */
  added: number;
  /** Samples committed by earlier runs. */
  resumed: number;
  /** The shard's Parquet file (with `out`). */
  file?: string;
  keptFile?: string;
  seconds: number;
}

export class FilterInterrupted extends Error {
  constructor(readonly report: FilterReport) {
    super(`interrupted: ${report.added} rows committed in this run; run the same command again to finish`);
  }
}

/** Where the samples come from: input paths (tars, folders, globs, tables) or samples you made. */
export type SampleSource = string | string[] | Iterable<Sample>;

const DEFAULT_MAX_BYTES = 64 << 20;

/**
 * BLIP's CapFilt filter over a dataset: every caption of every sample scored by the ITM head
 * (and the ITC cosine), kept when the match probability reaches the threshold. Yields each
 * committed batch's rows; returns the totals. Bad samples are error rows, never exceptions.
 */
export async function* filterPairs(
  model: BlipItm,
  source: SampleSource,
  opts: FilterOptions = {},
): AsyncGenerator<FilterRow[], FilterReport> {
  const started = Date.now();
  const threshold = opts.threshold ?? 0.5;
  const batchSize = opts.batchSize ?? 8;
  const shard = opts.shard ?? WHOLE;
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`filter: threshold must be 0..1, got ${threshold}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`filter: batchSize must be a positive integer, got ${batchSize}`);
  if (opts.writeKept && !opts.out) throw new Error('filter: writeKept needs out (the kept tars are committed with the rows)');
  const paths = typeof source === 'string' ? [source] : isPathList(source) ? source : undefined;
  const files = paths ? expandInputs(paths) : undefined;
  const fingerprint = modelRecord(model).fingerprint;
  const store = opts.out
    ? new ShardStore(opts.out, shard.index, shard.count, identity(files, opts, threshold, fingerprint), opts.writeKept)
    : undefined;
  const opened = store?.open(!!opts.restart) ?? { resumeAt: 0 };
  if ('done' in opened) {
    return { ...opened.done, added: 0, resumed: 0, file: store?.final, keptFile: store?.keptFinal, seconds: (Date.now() - started) / 1000 };
  }
  const progress: FilterProgress = { samples: 0, rows: 0, errors: 0, resumed: opened.resumeAt, bytes: 0, totalBytes: 0 };
  const samples = files
    ? readSamples(files, { columns: opts.columns, maxBytes: opts.maxBytes ?? DEFAULT_MAX_BYTES }, (b) => (progress.bytes = b))
    : (source as Iterable<Sample>)[Symbol.iterator]();
  progress.totalBytes = files?.reduce((s, f) => s + f.size, 0) ?? 0;
  const pool = new DecodePool(decodeSpec(model.processor), opts.decoders ?? defaultDecoders());
  const all: FilterRow[] = [];
  const queue = new Lookahead(samples, shard, opened.resumeAt, pool, batchSize * 3);
  try {
    for (;;) {
      queue.fill();
      const batch = queue.take(batchSize);
      if (!batch.length) break;
      queue.fill(); // the next batch decodes while this one runs through the model
      const rows = await scoreBatch(model, batch, { threshold, maxLength: opts.maxLength, fingerprint, visionBatch: opts.visionBatch });
      store?.commit(batch[0].ordinal, batch[batch.length - 1].ordinal + 1, rows, opts.writeKept ? keptRecords(batch, rows) : []);
      if (!store) all.push(...rows);
      progress.samples += batch.length;
      progress.rows += rows.length;
      progress.errors += rows.filter((r) => r.error !== null).length;
      opts.onProgress?.({ ...progress });
      yield rows;
      // The model's awaits can all resolve as microtasks: give the event loop a turn so that
      // signals (SIGINT/SIGTERM), decoder replies and timers are heard between batches.
      await new Promise((resolve) => setImmediate(resolve));
      if (opts.signal?.aborted) {
        throw new FilterInterrupted({
          ...totalsOf([]),
          added: progress.rows,
          resumed: progress.resumed,
          seconds: (Date.now() - started) / 1000,
        });
      }
    }
  } finally {
    await pool.close();
  }
  const totals = store ? store.finish() : totalsOf(all);
  return {
    ...totals,
    added: progress.rows,
    resumed: progress.resumed,
    file: store?.final,
    keptFile: store?.keptFinal,
    seconds: (Date.now() - started) / 1000,
  };
}

function isPathList(source: SampleSource): source is string[] {
  return Array.isArray(source) && source.every((s) => typeof s === 'string');
}

/** Runs filterPairs to the end and returns its report. */
export async function runFilter(model: BlipItm, source: SampleSource, opts: FilterOptions = {}): Promise<FilterReport> {
  const it = filterPairs(model, source, opts);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}

function identity(files: InputFile[] | undefined, opts: FilterOptions, threshold: number, model: string): JobIdentity {
  return {
    inputs: (files ?? []).map((f) => ({ path: path.resolve(f.path), size: f.size, mtimeMs: f.mtimeMs })),
    options: {
      threshold,
      batchSize: opts.batchSize ?? 8,
      columns: opts.columns ?? {},
      maxBytes: opts.maxBytes ?? DEFAULT_MAX_BYTES,
      maxLength: opts.maxLength ?? null,
      writeKept: opts.writeKept ? path.resolve(opts.writeKept) : null,
    },
    model,
  };
}

interface Pending {
  sample: Sample;
  ordinal: number;
  decoded?: Promise<Decoded>;
}

/** The next samples of the shard, their decoding started ahead of the model. */
class Lookahead {
  private readonly items: Pending[] = [];
  private ordinal = 0;
  private ended = false;

  constructor(
    private readonly samples: Iterator<Sample>,
    private readonly shard: Shard,
    private readonly resumeAt: number,
    private readonly pool: DecodePool,
    private readonly depth: number,
  ) {}

  fill(): void {
    while (!this.ended && this.items.length < this.depth) {
      const next = this.samples.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      const sample = next.value;
      if (!inShard(sample.key, this.shard)) continue;
      const ordinal = this.ordinal++;
      if (ordinal < this.resumeAt) continue;
      const scorable = sample.image && !sample.error && sample.captions.length;
      const decoded = scorable
        ? this.pool.decode(sample.image as Uint8Array, `${sample.source}: ${sample.key}.${sample.imageExt}`)
        : undefined;
      this.items.push({ sample, ordinal, decoded });
    }
  }

  take(n: number): Pending[] {
    return this.items.splice(0, n);
  }
}

interface ScoreSettings {
  threshold: number;
  maxLength?: number;
  fingerprint: string;
  visionBatch?: number | 'auto';
}

/**
 * One batch through the model: the images encoded once each (one image with several captions is
 * encoded once), all captions' ITC embeddings in one text batch, then each image's captions
 * through the ITM head against its embedding.
 */
async function scoreBatch(model: BlipItm, batch: Pending[], s: ScoreSettings): Promise<FilterRow[]> {
  const decoded = await Promise.all(batch.map((p) => p.decoded));
  const errors = batch.map(
    (p, i) => p.sample.error ?? (decoded[i] && 'error' in decoded[i] ? `image: ${(decoded[i] as { error: string }).error}` : undefined),
  );
  const good = batch.map((_, i) => i).filter((i) => !errors[i] && decoded[i]);
  const scores = new Map<number, { prob: number[]; logit: number[]; itc: number[] }>();
  if (good.length) {
    const textOpts = { maxLength: s.maxLength };
    const texts = good.flatMap((i) => batch[i].sample.captions);
    const textEmbeds = await model.encodeTexts(texts, textOpts);
    const embeddings = await encodeEach(
      model,
      good.map((i) => (decoded[i] as { image: RawImage }).image),
      s.visionBatch,
    );
    let t = 0;
    for (const [g, i] of good.entries()) {
      const captions = batch[i].sample.captions;
      const embedding = embeddings[g];
      try {
        if (embedding instanceof Error) throw embedding;
        const m = await model.match([embedding], captions, textOpts);
        const itcEmbedding = embedding.itcEmbedding;
        scores.set(i, {
          prob: m.probs[0],
          logit: m.logits[0].map(([no, yes]) => yes - no),
          itc: captions.map((_, c) => dot(itcEmbedding, textEmbeds[t + c])),
        });
      } catch (e) {
        errors[i] = `model: ${(e as Error).message}`;
      } finally {
        if (embedding instanceof ImageEmbedding) embedding.dispose();
        t += captions.length;
      }
    }
  }
  const rows: FilterRow[] = [];
  batch.forEach(({ sample }, i) => {
    const base = { key: sample.key, source: sample.source, model_fingerprint: s.fingerprint };
    const sc = scores.get(i);
    if (!sc) {
      const error = errors[i] ?? 'not scored';
      if (!sample.captions.length)
        rows.push({ ...base, caption: null, caption_index: null, itm_prob: null, itm_logit: null, itc: null, keep: false, error });
      sample.captions.forEach((caption, c) =>
        rows.push({ ...base, caption, caption_index: c, itm_prob: null, itm_logit: null, itc: null, keep: false, error }),
      );
      return;
    }
    sample.captions.forEach((caption, c) =>
      rows.push({
        ...base,
        caption,
        caption_index: c,
        itm_prob: sc.prob[c],
        itm_logit: sc.logit[c],
        itc: sc.itc[c],
        keep: sc.prob[c] >= s.threshold,
        error: null,
      }),
    );
  });
  return rows;
}

/**
 * The images' embeddings from one encodeImages call (the vision model runs them in batches);
 * should it fail, image by image, so that an error is its own image's and the others still score.
 */
async function encodeEach(model: BlipItm, images: RawImage[], visionBatch?: number | 'auto'): Promise<(ImageEmbedding | Error)[]> {
  try {
    return await model.encodeImages(images, { visionBatch });
  } catch {
    const out: (ImageEmbedding | Error)[] = [];
    for (const image of images)
      out.push(
        await model.encodeImages([image]).then(
          ([e]) => e,
          (e: Error) => e,
        ),
      );
    return out;
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * The batch's kept samples as tar records: a tar sample's members as they were (names and
 * bytes); a table row as KEY.<ext> (the image file's bytes), KEY.txt (its kept captions, one per
 * line) and KEY.json (the row), with dots in the key replaced so WebDataset reads it as one key.
 */
function keptRecords(batch: Pending[], rows: FilterRow[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const { sample } of batch) {
    const kept = rows.filter((r) => r.keep && r.key === sample.key && r.source === sample.source).map((r) => r.caption as string);
    if (!kept.length) continue;
    if (sample.members) {
      for (const m of sample.members) out.push(...tarEntry(m.name, m.data));
      continue;
    }
    const key = sample.key.replace(/^(\.\.?\/|\/)+/, '').replace(/\./g, '_');
    out.push(...tarEntry(`${key}.${sample.imageExt}`, sample.image as Uint8Array));
    out.push(...tarEntry(`${key}.txt`, Buffer.from(kept.join('\n'))));
    out.push(
      ...tarEntry(
        `${key}.json`,
        Buffer.from(JSON.stringify({ key: sample.key, captions: kept, source: sample.source, row: sample.row ?? null })),
      ),
    );
  }
  return out;
}
