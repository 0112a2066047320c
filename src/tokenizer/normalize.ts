// BERT text normalisation, in the order transformers' BertTokenizer (tokenizers' BertNormalizer)
// applies it: clean -> pad CJK ideographs -> strip accents -> lower-case. Note that accents are
// stripped before lower-casing, unlike the old pure-Python BertTokenizer.
import { charFlags, codePointAt, CJK_CHAR, NFD_BARRIER, NONSPACING_MARK, REMOVED_CHAR, WHITESPACE_CHAR } from './char-table';

export interface NormalizeOptions {
  lowercase: boolean;
  /** NFD then drop non-spacing marks. */
  stripAccents: boolean;
  /** Put spaces around CJK ideographs so each becomes its own word. */
  tokenizeChineseChars: boolean;
}

const PRINTABLE_ASCII_RE = /^[\x20-\x7e]*$/;
/** Nothing below U+00C0 has a canonical decomposition, nothing below U+0300 is a mark. */
const FIRST_DECOMPOSABLE = 0xc0;
const FIRST_MARK = 0x300;

/** What one pass over the raw text found: the union of the character flags, the largest code point. */
interface Scan {
  flags: number;
  maxCodePoint: number;
}

function scan(text: string): Scan {
  let flags = 0;
  let maxCodePoint = 0;
  for (let i = 0; i < text.length; i++) {
    const cp = codePointAt(text, i);
    if (cp > 0xffff) i++;
    flags |= charFlags(cp);
    if (cp > maxCodePoint) maxCodePoint = cp;
  }
  return { flags, maxCodePoint };
}

/**
 * clean_text (drop controls, format characters, U+FFFD, private use; whitespace -> ' ') and, when
 * asked, spaces around CJK ideographs. Copies unchanged runs in one slice each.
 */
function cleanAndPad(text: string, mask: number): string {
  let out = '';
  let run = 0;
  for (let i = 0; i < text.length;) {
    const cp = codePointAt(text, i);
    const width = cp > 0xffff ? 2 : 1;
    const flags = charFlags(cp) & mask;
    if (flags !== 0) {
      out += text.slice(run, i);
      if (flags & WHITESPACE_CHAR) out += ' ';
      else if (flags & CJK_CHAR) out += ' ' + text.slice(i, i + width) + ' ';
      run = i + width;
    }
    i += width;
  }
  return out + text.slice(run);
}

/**
 * NFD as the reference computes it: characters newer than its Unicode tables (NFD_BARRIER) stay
 * as they are. The reference sees each of them as an undecomposed starter, so canonical
 * reordering never crosses one: normalising the pieces between them separately is equivalent.
 */
function referenceNfd(text: string, hasBarrier: boolean): string {
  if (!hasBarrier) return text.normalize('NFD');
  let out = '';
  let run = 0;
  for (let i = 0; i < text.length;) {
    const cp = codePointAt(text, i);
    const width = cp > 0xffff ? 2 : 1;
    if (charFlags(cp) & NFD_BARRIER) {
      out += text.slice(run, i).normalize('NFD') + text.slice(i, i + width);
      run = i + width;
    }
    i += width;
  }
  return out + text.slice(run).normalize('NFD');
}

/** Drops the reference's non-spacing marks (after NFD). */
function dropMarks(text: string): string {
  let out = '';
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) < FIRST_MARK) continue;
    const cp = codePointAt(text, i);
    const width = cp > 0xffff ? 2 : 1;
    if (charFlags(cp) & NONSPACING_MARK) {
      out += text.slice(run, i);
      run = i + width;
    }
    i += width - 1;
  }
  return run === 0 ? text : out + text.slice(run);
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
  const found = scan(text);
  let s = text;
  const mask = REMOVED_CHAR | WHITESPACE_CHAR | (opts.tokenizeChineseChars ? CJK_CHAR : 0);
  if (found.flags & mask) s = cleanAndPad(s, mask);
  // Cleaning only removes characters or adds spaces, so the scan still answers for `s`.
  if (opts.stripAccents && found.maxCodePoint >= FIRST_DECOMPOSABLE) {
    s = dropMarks(referenceNfd(s, (found.flags & NFD_BARRIER) !== 0));
  }
  return opts.lowercase ? lowercaseChars(s) : s;
}
