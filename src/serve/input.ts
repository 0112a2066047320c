import { ImageDecodeError, RgbImage } from '../image';
import { decodeImage } from '../node/image';
import { HttpError, fieldError } from './errors';

/**
 * Request fields: one rule tells images from texts (a `data:image/...;base64,...` string is an
 * image, any other string a text), and each check names the field it refuses (422).
 */

const DATA_IMAGE = /^data:image\//i;
const DATA_IMAGE_BASE64 = /^data:image\/[a-z0-9.+-]+;base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function isImageString(s: string): boolean {
  return DATA_IMAGE.test(s);
}

/** A JSON object body, else 422 (a malformed one is already 400). */
export function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw fieldError('body', 'must be a JSON object');
  return body as Record<string, unknown>;
}

export function requiredString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (v === undefined) throw fieldError(field, 'is required');
  if (typeof v !== 'string') throw fieldError(field, `must be a string, got ${typeName(v)}`);
  return v;
}

export function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  return body[field] === undefined ? undefined : requiredString(body, field);
}

/** A non-empty array of strings, at most `max` long. */
export function stringList(body: Record<string, unknown>, field: string, max: number): string[] {
  const v = body[field];
  if (v === undefined) throw fieldError(field, 'is required');
  if (!Array.isArray(v)) throw fieldError(field, `must be an array of strings, got ${typeName(v)}`);
  if (v.length === 0) throw fieldError(field, 'must not be empty');
  if (v.length > max) throw fieldError(field, `has ${v.length} items, at most ${max} are accepted`);
  v.forEach((s, i) => {
    if (typeof s !== 'string') throw fieldError(`${field}[${i}]`, `must be a string, got ${typeName(s)}`);
  });
  return v as string[];
}

export function optionalInteger(body: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw fieldError(field, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw fieldError(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function optionalChoice<T extends string>(body: Record<string, unknown>, field: string, choices: readonly T[]): T | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw fieldError(field, `must be ${choices.map((c) => JSON.stringify(c)).join(' or ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

/**
 * Decodes a `data:image/...;base64,...` string with the project's own JPEG and PNG decoders and
 * the pixel limit; anything else is 422 naming `field`.
 */
/** Decoded pixels that are both a RawImage (model input) and an RgbImage (picture input). */
export type DecodedImage = RgbImage & { channels: 3 };

export function decodeDataImage(value: string, field: string, maxPixels: number): DecodedImage {
  const head = DATA_IMAGE_BASE64.exec(value);
  if (!head) throw fieldError(field, 'is not an image: expected data:image/<type>;base64,<data>');
  const payload = value.slice(head[0].length).replace(/\s+/g, '');
  if (!payload || payload.length % 4 === 1 || !BASE64.test(payload)) throw fieldError(field, 'is not an image: invalid base64 data');
  try {
    const rgb = decodeImage(Buffer.from(payload, 'base64'), field, { maxPixels });
    return { data: rgb.data, width: rgb.width, height: rgb.height, channels: 3 };
  } catch (e) {
    // Whatever the decoders refuse (or trip on) is this image's fault, not the server's.
    const message = e instanceof ImageDecodeError ? e.message : `${field}: cannot decode the image (${(e as Error).message})`;
    throw new HttpError(422, 'invalid_image', message);
  }
}
