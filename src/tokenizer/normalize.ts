// BERT text normalisation, in the order transformers' BertTokenizer (tokenizers' BertNormalizer)
// applies it: clean -> pad CJK ideographs -> strip accents -> lower-case. Note that accents are
// stripped before lower-casing, unlike the old pure-Python BertTokenizer.
import {
  CJK_RE,
  NFD_BARRIER_SPLIT,
  NFD_BARRIER_TEST,
  NON_ASCII_RE,
  NONSPACING_MARK_RE,
  PRINTABLE_ASCII_RE,
  REMOVED_RE,
  WHITESPACE_RE,
} from './char-classes';

export interface NormalizeOptions {
  lowercase: boolean;
  /** NFD then drop non-spacing marks. */
  stripAccents: boolean;
  /** Put spaces around CJK ideographs so each becomes its own word. */
  tokenizeChineseChars: boolean;
}

/** NFD as the reference computes it: characters newer than its Unicode tables stay as they are. */
export function referenceNfd(text: string): string {
  if (!NFD_BARRIER_TEST.test(text)) return text.normalize('NFD');
  // The reference sees each barrier as an undecomposed starter, so canonical reordering never
  // crosses it: normalising the pieces between barriers separately gives the same result.
  const parts = text.split(NFD_BARRIER_SPLIT);
  for (let i = 0; i < parts.length; i += 2) parts[i] = parts[i].normalize('NFD');
  return parts.join('');
}

/**
 * Lower-cases code point by code point, like Rust's char::to_lowercase. String#toLowerCase is the
 * same except for the context-dependent final sigma (word-final 'Σ' -> 'ς'), so map every capital
 * sigma to 'σ' first. Length may change ('İ' -> 'i̇').
 */
export function lowercaseChars(text: string): string {
  return (text.includes('Σ') ? text.replaceAll('Σ', 'σ') : text).toLowerCase();
}

export function normalizeText(text: string, opts: NormalizeOptions): string {
  if (PRINTABLE_ASCII_RE.test(text)) return opts.lowercase ? text.toLowerCase() : text;
  let s = text.replace(REMOVED_RE, '').replace(WHITESPACE_RE, ' ');
  if (opts.tokenizeChineseChars) s = s.replace(CJK_RE, ' $& ');
  if (opts.stripAccents && NON_ASCII_RE.test(s)) s = referenceNfd(s).replace(NONSPACING_MARK_RE, '');
  return opts.lowercase ? lowercaseChars(s) : s;
}
