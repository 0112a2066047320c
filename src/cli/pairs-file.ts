/** Image-caption pairs from a CSV or JSONL file (score --pairs-file; caption validation lists). */

export interface PairRow {
  /** The image path as written in the file. */
  image: string;
  caption: string;
}

const CAPTION_KEYS = ['caption', 'text'];

/**
 * Reads pairs from `text`, the content of `file`: JSONL (one {"image": ..., "caption": ...} per
 * line; "text" for "caption" also accepted) when the name ends in .jsonl/.ndjson or the content
 * starts with '{', else CSV with a header row naming the image and caption (or text) columns.
 */
export function readPairsFile(file: string, text: string): PairRow[] {
  const jsonl = /\.(jsonl|ndjson)$/i.test(file) || (!/\.csv$/i.test(file) && text.trimStart().startsWith('{'));
  const rows = jsonl ? jsonlPairs(file, text) : csvPairs(file, text);
  if (!rows.length) throw new Error(`${file}: no pairs in the file`);
  return rows;
}

function jsonlPairs(file: string, text: string): PairRow[] {
  const rows: PairRow[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error(`${file}:${i + 1}: expected an object {"image": ..., "caption": ...}`);
    const record = value as Record<string, unknown>;
    const key = CAPTION_KEYS.find((k) => k in record);
    if (typeof record.image !== 'string' || record.image === '') throw new Error(`${file}:${i + 1}: "image" must be a non-empty string`);
    if (key === undefined || typeof record[key] !== 'string') throw new Error(`${file}:${i + 1}: "caption" must be a string`);
    rows.push({ image: record.image, caption: record[key] as string });
  });
  return rows;
}

/** RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks. Each with its first line number. */
export function csvRecords(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let atFieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && atFieldStart) {
      quoted = true;
      atFieldStart = false;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      if (fields.length > 1 || fields[0] !== '') records.push({ line: start, fields });
      fields = [];
      field = '';
      atFieldStart = true;
      start = ++line;
    } else {
      field += c;
      atFieldStart = false;
    }
  }
  if (quoted) throw new Error(`a quoted field starting on line ${start} is not closed`);
  fields.push(field);
  if (fields.length > 1 || fields[0] !== '') records.push({ line: start, fields });
  return records;
}

function csvPairs(file: string, text: string): PairRow[] {
  let records: { line: number; fields: string[] }[];
  try {
    records = csvRecords(text);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
  }
  const [header, ...body] = records;
  if (!header) return [];
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const imageCol = names.indexOf('image');
  const captionCol = names.findIndex((n) => CAPTION_KEYS.includes(n));
  if (imageCol < 0 || captionCol < 0)
    throw new Error(`${file}: the first line must name the columns, with "image" and "caption" (got ${header.fields.join(',')})`);
  return body.map(({ line, fields }) => {
    if (fields.length !== header.fields.length)
      throw new Error(`${file}:${line}: ${fields.length} fields, the header has ${header.fields.length}`);
    if (fields[imageCol] === '') throw new Error(`${file}:${line}: empty image path`);
    return { image: fields[imageCol], caption: fields[captionCol] };
  });
}
