// Regular expressions built once from the generated code-point tables. Whole-string regex passes
// run in V8's compiled regex engine, which is much faster than classifying characters one by one.
import { CJK, CodePointRange, NFD_BARRIERS, NONSPACING_MARKS, PUNCTUATION, REMOVED, WHITESPACE } from './unicode-tables';

/** The body of a `[...]` class (for a regex with the `u` flag) matching the given ranges. */
export function rangesToClass(ranges: readonly CodePointRange[]): string {
  const hex = (cp: number): string => `\\u{${cp.toString(16)}}`;
  return ranges.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}-${hex(b)}`)).join('');
}

const removed = rangesToClass(REMOVED);
const whitespace = rangesToClass(WHITESPACE);
const punctuation = rangesToClass(PUNCTUATION);

/**
 * Characters clean_text drops, plus lone surrogates: a JS string can hold them but a Rust string
 * cannot (transformers refuses such input), so dropping them is the closest sensible behaviour.
 */
export const REMOVED_RE = new RegExp(`[${removed}\\u{d800}-\\u{dfff}]`, 'gu');
/** Whitespace that clean_text turns into ' '. */
export const WHITESPACE_RE = new RegExp(`[${whitespace}]`, 'gu');
export const CJK_RE = new RegExp(`[${rangesToClass(CJK)}]`, 'gu');
export const NONSPACING_MARK_RE = new RegExp(`[${rangesToClass(NONSPACING_MARKS)}]`, 'gu');
/** Non-global twin for `.test` (a global regex keeps lastIndex between calls). */
export const NFD_BARRIER_TEST = new RegExp(`[${rangesToClass(NFD_BARRIERS)}]`, 'u');
/** Splits around barriers, keeping them (odd indices of the split result). */
export const NFD_BARRIER_SPLIT = new RegExp(`([${rangesToClass(NFD_BARRIERS)}])`, 'u');
/**
 * One pre-tokenizer word: a single punctuation character, or a run of characters that are neither
 * punctuation nor whitespace. Spaces fall between matches and so vanish.
 */
export const WORD_RE = new RegExp(`[${punctuation}]|[^${punctuation}${whitespace} ]+`, 'gu');

/** Printable ASCII only: the common caption case, which needs nothing but lower-casing. */
export const PRINTABLE_ASCII_RE = /^[\x20-\x7e]*$/;
export const NON_ASCII_RE = /[^\x00-\x7f]/;
