/**
 * Reading the small JSON files of a model directory (config.json, tokenizer_config.json,
 * preprocessor_config.json, ...) with errors that name the file: one way, used everywhere.
 * Parsing only; src/node/json.ts reads the files.
 */

export type JsonObject = Record<string, unknown>;

/** JSON.parse with an error naming the source. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new Error(`${source}: invalid JSON (${(e as Error).message})`, { cause: e });
  }
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value as a JSON object, or an error saying what `where` holds instead. */
export function expectObject(v: unknown, where: string): JsonObject {
  if (!isJsonObject(v)) throw new Error(`${where} must be a JSON object, got ${describeJson(v)}`);
  return v;
}

/** A short description of a JSON value for messages: null, an array, a string "oops", 2.5. */
export function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 40 ? s.slice(0, 40) + '...' : s}`;
}
