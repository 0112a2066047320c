import { RawImage, RgbImage } from '../image';
import { BlipItm, GradcamResult, MatchResult, TextOptions } from '../model/blip-itm';
import { ImageEmbedding } from '../model/image-embedding';
import { ImageIndex, RetrievalOptions, SearchHit } from '../retrieval';
import { Explanation, explainImage } from '../pictures/explain';
import { ServeMetrics } from './metrics';
import { Admission, Batcher, SerialExecutor, Ticket } from './scheduler';

export interface EngineOptions {
  /** Most images (or texts) per model call. */
  maxBatch: number;
  /** How long the first item of a batch waits for company. */
  batchWaitMs: number;
  /** Most requests waiting for the model before 429. */
  maxQueue: number;
  /** Images per vision-model pass inside an image batch (BlipItm's visionBatch; default 1). */
  visionBatch?: number | 'auto';
}

interface TextItem {
  text: string;
  maxLength?: number;
}

/**
 * The model behind the service: every model call goes through one serial executor; the images
 * of concurrent requests are encoded in one encodeImages call, their texts in one encodeTexts
 * call (per max_length), and the rest (ITM, Grad-CAM, search) runs per request in arrival order.
 * Embeddings returned are the caller's to dispose.
 */
export class ServeEngine {
  readonly admission: Admission;
  private readonly executor = new SerialExecutor();
  private readonly imageBatcher: Batcher<RawImage, ImageEmbedding>;
  private readonly textBatcher: Batcher<TextItem, Float32Array>;

  readonly metrics: ServeMetrics;

  constructor(
    readonly model: BlipItm,
    opts: EngineOptions,
    readonly index?: ImageIndex,
  ) {
    const metrics = new ServeMetrics(
      () => this.admission.waiting,
      () => this.admission.active - this.admission.waiting,
    );
    this.metrics = metrics;
    this.admission = new Admission(opts.maxQueue, { started: (s) => metrics.queueWait.observe(s) });
    this.imageBatcher = new Batcher(
      this.executor,
      opts.maxBatch,
      opts.batchWaitMs,
      (images) => this.model.encodeImages(images, { visionBatch: opts.visionBatch }),
      (n) => {
        metrics.batchSize.observe({ kind: 'image' }, n);
        metrics.images.inc(n);
      },
    );
    this.textBatcher = new Batcher(
      this.executor,
      opts.maxBatch,
      opts.batchWaitMs,
      (items) => this.encodeTextItems(items),
      (n) => {
        metrics.batchSize.observe({ kind: 'text' }, n);
        metrics.texts.inc(n);
      },
    );
  }

  encodeImages(images: RawImage[], ticket: Ticket): Promise<ImageEmbedding[]> {
    return this.imageBatcher.submit(images, ticket);
  }

  /** Normalised ITC text embeddings. */
  encodeTexts(texts: string[], maxLength: number | undefined, ticket: Ticket): Promise<Float32Array[]> {
    return this.textBatcher.submit(
      texts.map((text) => ({ text, maxLength })),
      ticket,
    );
  }

  match(embeddings: ImageEmbedding[], texts: string[], opts: TextOptions, ticket: Ticket): Promise<MatchResult> {
    return this.solo(ticket, () => this.model.match(embeddings, texts, opts), texts.length * embeddings.length);
  }

  gradcam(image: RawImage, text: string, opts: TextOptions & { layer?: number }, ticket: Ticket): Promise<GradcamResult> {
    return this.solo(ticket, () => this.model.gradcam(image, text, opts), 1, 1);
  }

  explain(image: RgbImage, text: string, opts: TextOptions & { layer?: number }, ticket: Ticket): Promise<Explanation> {
    return this.solo(ticket, () => explainImage(this.model, image, text, opts), 1, 1);
  }

  search(index: ImageIndex, query: string, opts: RetrievalOptions, ticket: Ticket): Promise<SearchHit[]> {
    return this.solo(ticket, () => index.search(this.model, query, opts), 1);
  }

  /** One request's own model call, in turn with the batches. */
  private solo<T>(ticket: Ticket, job: () => Promise<T>, texts: number, images = 0): Promise<T> {
    return this.executor.run(() => {
      ticket.start();
      this.metrics.texts.inc(texts);
      this.metrics.images.inc(images);
      return job();
    });
  }

  private async encodeTextItems(items: TextItem[]): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(items.length);
    const groups = new Map<number | undefined, number[]>();
    items.forEach((item, i) => {
      const g = groups.get(item.maxLength) ?? [];
      g.push(i);
      groups.set(item.maxLength, g);
    });
    for (const [maxLength, positions] of groups) {
      const texts = positions.map((i) => items[i].text);
      const embeds = await this.model.encodeTexts(texts, { maxLength, batchSize: texts.length });
      positions.forEach((i, k) => (out[i] = embeds[k]));
    }
    return out;
  }
}

/** ITC cosines: rows images, columns texts (the dot product of normalised embeddings, as BlipItm.similarity). */
export function cosines(images: Float32Array[], texts: Float32Array[]): number[][] {
  return images.map((im) =>
    texts.map((t) => {
      let s = 0;
      for (let i = 0; i < im.length; i++) s += im[i] * t[i];
      return s;
    }),
  );
}
