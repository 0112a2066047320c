import { randomUUID } from 'crypto';
import { RawImage } from '../image';
import { ImageEmbedding } from '../model/image-embedding';
import { encodePng } from '../pictures/png';
import { DEFAULT_RERANK, DEFAULT_TOP_K, RERANK_ORDERS, hitRecord } from '../retrieval';
import { ServeEngine, cosines } from './engine';
import { HttpError, fieldError } from './errors';
import {
  decodeDataImage,
  isImageString,
  objectBody,
  optionalBoolean,
  optionalChoice,
  optionalInteger,
  optionalString,
  requiredString,
  stringList,
} from './input';
import { Ticket } from './scheduler';

/** Most images or texts one request may carry (bounds one request's memory; the body limit bounds bytes). */
export const MAX_ITEMS = 1024;
const MAX_TOKENS = 1 << 20;

/** What a handler needs besides the body; `count` reports the images and texts for the request log. */
export interface Call {
  engine: ServeEngine;
  modelId: string;
  maxPixels: number;
  count(images: number, texts: number): void;
}

/** A JSON answer, or bytes of a content type. */
export type Answer = { json: unknown } | { bytes: Buffer; contentType: string };

/** Admits the request, runs `work` with its ticket, and frees its place whatever happens. */
async function admitted<T>(call: Call, work: (ticket: Ticket) => Promise<T>): Promise<T> {
  const ticket = call.engine.admission.enter();
  try {
    return await work(ticket);
  } finally {
    ticket.done();
  }
}

function decodeAll(values: string[], field: string, call: Call): RawImage[] {
  return values.map((v, i) => decodeDataImage(v, `${field}[${i}]`, call.maxPixels));
}

/** Settles both, then throws the first failure (so nothing runs on after its inputs are freed). */
async function both<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

function disposeAll(embeddings: ImageEmbedding[]): void {
  embeddings.forEach((e) => e.dispose());
}

function textOptions(body: Record<string, unknown>): { maxLength?: number; encToken?: boolean } {
  return { maxLength: optionalInteger(body, 'max_length', 1, MAX_TOKENS), encToken: optionalBoolean(body, 'enc_token') };
}

/** POST /v1/score: ITM probabilities and/or ITC cosines, rows images, columns texts (as `blip-itm score --json`). */
export async function score(raw: unknown, call: Call): Promise<Answer> {
  const body = objectBody(raw);
  const images = stringList(body, 'images', MAX_ITEMS);
  const texts = stringList(body, 'texts', MAX_ITEMS);
  const mode = optionalChoice(body, 'mode', ['itm', 'itc', 'both'] as const) ?? 'both';
  const opts = textOptions(body);
  call.count(images.length, texts.length);
  return admitted(call, async (ticket) => {
    const embeddings = await call.engine.encodeImages(decodeAll(images, 'images', call), ticket);
    try {
      const [itm, itc] = await both(
        mode === 'itc' ? Promise.resolve(undefined) : call.engine.match(embeddings, texts, opts, ticket),
        mode === 'itm' ? Promise.resolve(undefined) : call.engine.encodeTexts(texts, opts.maxLength, ticket),
      );
      const result: { itm?: number[][]; itc?: number[][] } = {};
      if (itm) result.itm = itm.probs;
      if (itc)
        result.itc = cosines(
          embeddings.map((e) => e.itcEmbedding),
          itc,
        );
      return { json: result };
    } finally {
      disposeAll(embeddings);
    }
  });
}

/** A rerank document: a string, or Cohere v1's {"text": ...}. */
function documentText(d: unknown, i: number): string {
  if (typeof d === 'string') return d;
  if (typeof d === 'object' && d !== null && typeof (d as { text?: unknown }).text === 'string') return (d as { text: string }).text;
  throw fieldError(`documents[${i}]`, 'must be a string or an object with a "text" string');
}

/** POST /v1/rerank and /v2/rerank (Cohere's shape): documents ordered by ITM match probability. */
export async function rerank(raw: unknown, call: Call, version: 1 | 2): Promise<Answer> {
  const body = objectBody(raw);
  const query = requiredString(body, 'query');
  if (!Array.isArray(body.documents)) throw fieldError('documents', 'must be an array of strings');
  if (body.documents.length === 0) throw fieldError('documents', 'must not be empty');
  if (body.documents.length > MAX_ITEMS)
    throw fieldError('documents', `has ${body.documents.length} items, at most ${MAX_ITEMS} are accepted`);
  const documents = body.documents.map(documentText);
  const topN = optionalInteger(body, 'top_n', 1, Number.MAX_SAFE_INTEGER) ?? documents.length;
  const returnDocuments = optionalBoolean(body, 'return_documents') ?? false;
  optionalString(body, 'model');
  const opts = textOptions(body);
  const queryIsImage = isImageString(query);
  documents.forEach((d, i) => {
    if (isImageString(d) === queryIsImage) {
      throw fieldError(
        `documents[${i}]`,
        `must be ${queryIsImage ? 'a text when the query is an image' : 'an image (data:image/...;base64) when the query is a text'}`,
      );
    }
  });
  call.count(queryIsImage ? 1 : documents.length, queryIsImage ? documents.length : 1);
  const { itm, itc } = await admitted(call, async (ticket) => {
    const imageStrings = queryIsImage ? [query] : documents;
    const texts = queryIsImage ? documents : [query];
    const embeddings = await call.engine.encodeImages(decodeAll(imageStrings, queryIsImage ? 'query' : 'documents', call), ticket);
    try {
      const [m, t] = await both(call.engine.match(embeddings, texts, opts, ticket), call.engine.encodeTexts(texts, opts.maxLength, ticket));
      const cos = cosines(
        embeddings.map((e) => e.itcEmbedding),
        t,
      );
      // One score per document: a row (image query) or a column (text query).
      return queryIsImage ? { itm: m.probs[0], itc: cos[0] } : { itm: m.probs.map((r) => r[0]), itc: cos.map((r) => r[0]) };
    } finally {
      disposeAll(embeddings);
    }
  });
  const order = documents.map((_, i) => i).sort((a, b) => itm[b] - itm[a] || a - b);
  const results = order.slice(0, topN).map((index) => ({
    index,
    relevance_score: itm[index],
    itc: itc[index],
    ...(returnDocuments ? { document: { text: documents[index] } } : {}),
  }));
  const units = { images: queryIsImage ? 1 : documents.length, texts: queryIsImage ? documents.length : 1 };
  return { json: { id: randomUUID(), results, meta: { api_version: { version: String(version) }, billed_units: units } } };
}

/** POST /v1/embeddings (OpenAI's shape): normalised ITC embeddings of texts and images. */
export async function embeddings(raw: unknown, call: Call): Promise<Answer> {
  const body = objectBody(raw);
  const input = typeof body.input === 'string' ? [body.input] : stringList(body, 'input', MAX_ITEMS);
  const format = optionalChoice(body, 'encoding_format', ['float', 'base64'] as const) ?? 'float';
  optionalString(body, 'model');
  const dim = call.engine.model.config.imageTextHiddenSize;
  const dimensions = optionalInteger(body, 'dimensions', 1, Number.MAX_SAFE_INTEGER);
  if (dimensions !== undefined && dimensions !== dim)
    throw fieldError('dimensions', `this model's embeddings have ${dim} dimensions, got ${dimensions}`);
  const imagePositions = input.flatMap((s, i) => (isImageString(s) ? [i] : []));
  const textPositions = input.flatMap((s, i) => (isImageString(s) ? [] : [i]));
  call.count(imagePositions.length, textPositions.length);
  const vectors = await admitted(call, async (ticket) => {
    const raws = imagePositions.map((i) => decodeDataImage(input[i], `input[${i}]`, call.maxPixels));
    const out: Float32Array[] = new Array(input.length);
    const [imageEmbeds, textEmbeds] = await both(
      raws.length
        ? call.engine.encodeImages(raws, ticket).then((es) => {
            const itc = es.map((e) => e.itcEmbedding);
            disposeAll(es);
            return itc;
          })
        : Promise.resolve([]),
      textPositions.length
        ? call.engine.encodeTexts(
            textPositions.map((i) => input[i]),
            undefined,
            ticket,
          )
        : Promise.resolve([]),
    );
    imagePositions.forEach((p, k) => (out[p] = imageEmbeds[k]));
    textPositions.forEach((p, k) => (out[p] = textEmbeds[k]));
    return out;
  });
  const maxLength = call.engine.model.config.text.maxPositionEmbeddings;
  const tokens = textPositions.reduce((n, i) => n + call.engine.model.tokenizer.encode(input[i], { maxLength }).length, 0);
  return {
    json: {
      object: 'list',
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: format === 'base64' ? float32Base64(v) : Array.from(v) })),
      model: call.modelId,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    },
  };
}

/** Little-endian float32 bytes in base64, as OpenAI's `encoding_format: "base64"`. */
export function float32Base64(v: Float32Array): string {
  const bytes = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}

/** GET /v1/models. */
export function models(call: Pick<Call, 'modelId'>): Answer {
  return { json: { object: 'list', data: [{ id: call.modelId, object: 'model', created: 0, owned_by: 'blip-itm' }] } };
}

/** POST /v1/search: the index's best images for a text (as `blip-itm search --json`). */
export async function search(raw: unknown, call: Call): Promise<Answer> {
  const index = call.engine.index;
  if (!index) throw new HttpError(404, 'not_found', 'no index: start the server with --index PATH|URI to search');
  const body = objectBody(raw);
  const query = requiredString(body, 'query');
  if (isImageString(query)) throw fieldError('query', 'must be a text (searching by image is not supported)');
  const rerankK = optionalInteger(body, 'rerank', 0, 4096) ?? DEFAULT_RERANK;
  const topK = optionalInteger(body, 'top_k', 1, 4096) ?? DEFAULT_TOP_K;
  const order = optionalChoice(body, 'order', RERANK_ORDERS) ?? 'itm';
  const opts = textOptions(body);
  call.count(0, 1);
  const hits = await admitted(call, (ticket) => call.engine.search(index, query, { rerank: rerankK, topK, order, ...opts }, ticket));
  return { json: hits.map(hitRecord) };
}

/** POST /v1/explain: the Grad-CAM picture (PNG), or the raw maps as JSON. */
export async function explain(raw: unknown, call: Call): Promise<Answer> {
  const body = objectBody(raw);
  const image = requiredString(body, 'image');
  const text = requiredString(body, 'text');
  if (isImageString(text)) throw fieldError('text', 'must be a text, not an image');
  const layers = call.engine.model.config.text.numHiddenLayers;
  const layer = optionalInteger(body, 'layer', 0, layers - 1);
  const format = optionalChoice(body, 'format', ['png', 'json'] as const) ?? 'png';
  const opts = textOptions(body);
  call.count(1, 1);
  return admitted(call, async (ticket) => {
    const decoded = decodeDataImage(image, 'image', call.maxPixels);
    if (format === 'json') {
      const g = await call.engine.gradcam(decoded, text, { ...opts, layer }, ticket);
      return {
        json: { probability: g.probability, layer: g.layer, grid: g.grid, tokens: g.tokens, maps: g.maps.map((m) => Array.from(m)) },
      };
    }
    const e = await call.engine.explain(decoded, text, { ...opts, layer }, ticket);
    return { bytes: encodePng(e.image), contentType: 'image/png' };
  });
}
