// Pre-tokenisation (BertPreTokenizer): split normalised text on whitespace and isolate every
// punctuation character as a word of its own.
import { charFlags, codePointAt, PUNCTUATION_CHAR, WHITESPACE_CHAR } from './char-table';

export function splitWords(normalized: string): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i < normalized.length;) {
    const cp = codePointAt(normalized, i);
    const width = cp > 0xffff ? 2 : 1;
    // ' ' is not in the table: clean_text has already turned every other whitespace into it.
    const flags = cp === 0x20 ? WHITESPACE_CHAR : charFlags(cp);
    if (flags & (WHITESPACE_CHAR | PUNCTUATION_CHAR)) {
      if (start >= 0) words.push(normalized.slice(start, i));
      start = -1;
      if (flags & PUNCTUATION_CHAR) words.push(normalized.slice(i, i + width));
    } else if (start < 0) {
      start = i;
    }
    i += width;
  }
  if (start >= 0) words.push(normalized.slice(start));
  return words;
}
