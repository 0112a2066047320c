import { BertTokenizer } from '../tokenizer';

/** Which token rows a picture shows, and how to name them. */
export interface TokenSelection {
  /** Positions in the ITM input ([CLS] = 0). */
  positions: number[];
  /** Human-readable description, e.g. 'word tokens (mean)' or 'cat'. */
  label: string;
}

/** Positions 1..L-2: every word piece, without [CLS]/[ENC] and [SEP]. */
export function wordPositions(tokens: string[]): number[] {
  return Array.from({ length: Math.max(0, tokens.length - 2) }, (_, i) => i + 1);
}

/**
 * The default picture for a whole caption: the mean over its word tokens, as LAVIS's
 * compute_gradcam row 1 (gradcam[1:token_length+1].mean) that BLIP's demo shows. An empty text
 * has no word tokens; then the [CLS] row stands in.
 */
export function defaultSelection(tokens: string[]): TokenSelection {
  const words = wordPositions(tokens);
  return words.length ? { positions: words, label: 'all words (mean)' } : { positions: [0], label: tokens[0] ?? '[CLS]' };
}

/**
 * The positions of `word` in the ITM input: every place a token equals it exactly (so '[CLS]' or
 * '##ing' work), else every run of the word pieces the tokenizer makes of it (so 'Tabby' finds
 * 'tab ##by', and a phrase finds its tokens). The caller averages the rows. A word the text does
 * not contain is an error listing the text's tokens.
 */
export function selectToken(tokens: string[], word: string, tokenizer: BertTokenizer): TokenSelection {
  const exact = tokens.flatMap((t, i) => (t === word ? [i] : []));
  if (exact.length) return { positions: exact, label: word };
  const pieces = tokenizer.tokenize(word);
  const positions: number[] = [];
  if (pieces.length) {
    for (let i = 1; i + pieces.length <= tokens.length - 1; i++) {
      if (pieces.every((p, k) => tokens[i + k] === p)) for (let k = 0; k < pieces.length; k++) positions.push(i + k);
    }
  }
  if (!positions.length) {
    const what = pieces.length && pieces.join(' ') !== word ? ` (word pieces: ${pieces.join(' ')})` : '';
    throw new Error(`--token ${JSON.stringify(word)}${what} is not in the text; its tokens are: ${tokens.join(' ')}`);
  }
  return { positions, label: pieces.length > 1 ? `${word} (${pieces.join(' ')})` : word };
}

/** Element-wise mean of the chosen rows. */
export function meanRows(rows: ArrayLike<number>[], positions: number[]): Float32Array {
  if (!positions.length) throw new Error('internal: no rows to average');
  const out = new Float32Array(rows[positions[0]].length);
  for (const p of positions) {
    const row = rows[p];
    for (let i = 0; i < out.length; i++) out[i] += row[i] / positions.length;
  }
  return out;
}
