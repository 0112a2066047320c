import * as tf from '@tensorflow/tfjs-core';
import { BertTokenizer, Encoding } from '../tokenizer';

export interface TextOptions {
  /** Truncate texts to this many tokens ([CLS] and [SEP] included). Default: max_position_embeddings. BLIP's retrieval uses 35. */
  maxLength?: number;
  /** Put [ENC] at position 0 of the ITM input instead of [CLS], as BLIP's own retrieval evaluation does. */
  encToken?: boolean;
  /** Texts per forward batch (bounds memory for long lists). Default 32. */
  batchSize?: number;
}

/** Token ids as readable strings: vocabulary tokens, `[ENC]` for BLIP's extra id, else `[id]`. */
export function displayTokens(tokenizer: BertTokenizer, ids: readonly number[]): string[] {
  return ids.map((id) => tokenizer.idToToken(id) ?? (id === tokenizer.encId ? '[ENC]' : `[${id}]`));
}

/** The ITM input's ids: [ENC] replaces [CLS] at position 0 when asked (the only place this is done). */
export function itmIds(ids: readonly number[], tokenizer: BertTokenizer, encToken: boolean): number[] {
  return encToken ? [tokenizer.encId, ...ids.slice(1)] : [...ids];
}

export function itmEncoding(enc: Encoding, tokenizer: BertTokenizer, encToken: boolean): Encoding {
  return encToken ? { inputIds: enc.inputIds.map((r) => itmIds(r, tokenizer, true)), attentionMask: enc.attentionMask } : enc;
}

/** Tokenizes for the model: truncated to min(maxLength, max_position_embeddings), padded to the longest. */
export function tokenizeTexts(tokenizer: BertTokenizer, maxPositions: number, texts: string[], opts: TextOptions): Encoding {
  const maxLength = Math.min(opts.maxLength ?? Infinity, maxPositions);
  return tokenizer.encodeBatch(texts, { maxLength, padding: 'longest' });
}

/** ids and mask as int32 tensors [N, L]. */
export function encodingTensors(enc: Encoding): [tf.Tensor2D, tf.Tensor2D] {
  return [tf.tensor2d(enc.inputIds, undefined, 'int32'), tf.tensor2d(enc.attentionMask, undefined, 'int32')];
}

/** Throws unless `texts` is a non-empty array of strings. */
export function checkTexts(texts: unknown, call: string): string[] {
  if (typeof texts === 'string')
    throw new Error(`${call}: texts must be an array of strings, got the string ${JSON.stringify(texts)} (wrap one text as [text])`);
  if (!Array.isArray(texts) || texts.length === 0) throw new Error(`${call}: no text given`);
  texts.forEach((t, i) => {
    if (typeof t !== 'string') throw new Error(`${call}: text ${i} is not a string`);
  });
  return texts as string[];
}

/** Throws unless `images` is an array (of image inputs or embeddings, checked where used). */
export function checkImageList<T>(images: T[] | unknown, call: string): T[] {
  if (typeof images === 'string')
    throw new Error(`${call}: images must be an array, got the string ${JSON.stringify(images)} (wrap one image as [image])`);
  if (!Array.isArray(images)) throw new Error(`${call}: images must be an array of image inputs or ImageEmbeddings`);
  return images as T[];
}

/** Throws unless the numeric options are positive integers. */
export function checkTextOptions(opts: TextOptions, call: string): void {
  for (const key of ['batchSize', 'maxLength'] as const) {
    const v = opts[key];
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0))
      throw new Error(`${call}: ${key} must be a positive integer, got ${String(v)}`);
  }
}

/** The texts in chunks of opts.batchSize (default 32). */
export function* textChunks(texts: string[], opts: TextOptions): Generator<string[]> {
  const size = opts.batchSize ?? 32;
  for (let i = 0; i < texts.length; i += size) yield texts.slice(i, i + size);
}
