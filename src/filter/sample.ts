/** One image with its captions, as read from a WebDataset tar or a table row. Platform-neutral. */
export interface Sample {
  /** The tar key, the table's key column, or the image path as the table writes it. */
  key: string;
  /** The file it came from, as given or found. */
  source: string;
  /** The encoded image as stored (JPEG or PNG bytes). */
  image?: Uint8Array;
  /** Extension of the image (jpg, jpeg, png), for --write-kept. */
  imageExt?: string;
  /** Its captions, in order (one output row each). */
  captions: string[];
  /** Why it cannot be scored: every row of the sample is an error row. */
  error?: string;
  /** Tar inputs: every member of the key as read, for --write-kept (original bytes). */
  members?: { name: string; data: Uint8Array }[];
  /** Table inputs: the row, for --write-kept's KEY.json. */
  row?: Record<string, unknown>;
}

export const IMAGE_EXTS = ['jpg', 'jpeg', 'png'];

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 text, or undefined when the bytes are not valid UTF-8 (a leading BOM is dropped). */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * WebDataset's split of a member name: the key is the path up to the first dot of the file
 * name, the extension the rest (lower-cased), e.g. "a/b/000123.seg.png" → "a/b/000123", "seg.png".
 */
export function splitMemberName(name: string): { key: string; ext: string } | undefined {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot <= slash + 1) return undefined;
  return { key: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

/**
 * The caption of a WebDataset sample from its members: `txt` (trailing newline and spaces
 * trimmed), an error when missing, empty or not UTF-8.
 */
export function captionFromText(bytes: Uint8Array | undefined, key: string): { caption?: string; error?: string } {
  if (!bytes) return { error: `no caption (${key}.txt missing)` };
  const text = decodeUtf8(bytes);
  if (text === undefined) return { error: `caption ${key}.txt is not valid UTF-8` };
  const caption = text.replace(/^\uFEFF/, '').trim();
  if (!caption) return { error: `caption ${key}.txt is empty` };
  return { caption };
}

/**
 * Captions from a table cell: a string, or a list of strings (one row per caption); a CSV cell
 * holding a JSON array counts as a list. Errors for a missing, empty or non-text cell.
 */
export function captionsFromCell(cell: unknown, column: string): { captions: string[]; error?: string } {
  if (cell === null || cell === undefined) return { captions: [], error: `no caption (column "${column}" is empty)` };
  let value = cell;
  if (typeof value === 'string' && value.trimStart().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) value = parsed;
    } catch {
      // not a JSON list: the text itself is the caption
    }
  }
  const list = Array.isArray(value) ? value : [value];
  if (!list.every((c) => typeof c === 'string'))
    return { captions: [], error: `caption column "${column}" holds ${describe(value)}, not text` };
  const captions = (list as string[]).map((c) => c.trim());
  if (captions.length === 0 || captions.some((c) => c === '')) return { captions: [], error: `no caption (column "${column}" is empty)` };
  return { captions };
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list with non-text items';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Samples of a WebDataset tar's members, grouped by consecutive key (the WebDataset convention). */
export function* groupMembers(
  members: Iterable<{ name: string; data?: Uint8Array; oversized?: boolean; size: number }>,
  source: string,
): Generator<Sample> {
  let key: string | undefined;
  let group: { ext: string; name: string; data?: Uint8Array; size: number }[] = [];
  const flush = function* (): Generator<Sample> {
    if (key !== undefined && group.length) yield sampleOf(key, group, source);
    group = [];
  };
  for (const m of members) {
    const split = splitMemberName(m.name);
    if (!split || split.key.split('/').pop()?.startsWith('__')) continue; // no extension; __MACOSX-style entries
    if (split.key !== key) {
      yield* flush();
      key = split.key;
    }
    group.push({ ext: split.ext, name: m.name, data: m.data, size: m.size });
  }
  yield* flush();
}

function sampleOf(key: string, group: { ext: string; name: string; data?: Uint8Array; size: number }[], source: string): Sample {
  const members = group.filter((m) => m.data).map((m) => ({ name: m.name, data: m.data as Uint8Array }));
  const image = IMAGE_EXTS.map((ext) => group.find((m) => m.ext === ext)).find((m) => m);
  const text = group.find((m) => m.ext === 'txt');
  const sample: Sample = { key, source, captions: [], members };
  if (text && !text.data) {
    sample.error = `caption ${text.name} is larger than the member limit (${text.size} bytes)`;
    return sample;
  }
  const { caption, error } = captionFromText(text?.data, key);
  if (caption !== undefined) sample.captions = [caption];
  if (!image) {
    sample.error = `no image (${key}.jpg, .jpeg or .png missing)`;
  } else if (!image.data) {
    sample.error = `image ${image.name} is larger than the member limit (${image.size} bytes)`;
  } else {
    sample.image = image.data;
    sample.imageExt = image.ext;
  }
  sample.error ??= error;
  return sample;
}
