// WordPiece: greedy longest-match-first over a word's characters, later pieces prefixed '##'.
// A word that cannot be covered, or longer than maxInputChars code points, becomes [UNK].

const CONTINUATION = '##';
/** Cached words beyond this count are forgotten (all at once: cheap and good enough). */
const CACHE_LIMIT = 100_000;

export class WordPiece {
  /** Longest vocabulary entry in UTF-16 units, '##' not counted: no match can be longer. */
  private readonly maxPieceLength: number;
  private readonly cache = new Map<string, readonly number[]>();

  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    private readonly unkId: number,
    private readonly maxInputChars = 100,
  ) {
    let longest = 1;
    for (const token of vocab.keys()) {
      const len = token.startsWith(CONTINUATION) ? token.length - CONTINUATION.length : token.length;
      if (len > longest) longest = len;
    }
    this.maxPieceLength = longest;
  }

  /** Appends the ids of one pre-tokenised word to `out`. */
  encodeWord(word: string, out: number[]): void {
    let ids = this.cache.get(word);
    if (ids === undefined) {
      ids = this.split(word);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  private split(word: string): readonly number[] {
    // Cheap UTF-16 bound first; the limit itself counts code points, as the reference does.
    if (word.length > this.maxInputChars && countCodePoints(word) > this.maxInputChars) return [this.unkId];
    const ids: number[] = [];
    const n = word.length;
    let start = 0;
    while (start < n) {
      let end = Math.min(n, start + this.maxPieceLength);
      if (splitsPair(word, end)) end--;
      let id: number | undefined;
      while (end > start) {
        const piece = word.slice(start, end);
        id = this.vocab.get(start === 0 ? piece : CONTINUATION + piece);
        if (id !== undefined) break;
        end--;
        if (splitsPair(word, end)) end--;
      }
      if (id === undefined) return [this.unkId];
      ids.push(id);
      start = end;
    }
    return ids;
  }
}

/** True when index `i` falls between the two halves of a surrogate pair. */
function splitsPair(s: string, i: number): boolean {
  if (i <= 0 || i >= s.length) return false;
  const lo = s.charCodeAt(i);
  const hi = s.charCodeAt(i - 1);
  return lo >= 0xdc00 && lo <= 0xdfff && hi >= 0xd800 && hi <= 0xdbff;
}

export function countCodePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}
