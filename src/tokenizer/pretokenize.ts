// Pre-tokenisation (BertPreTokenizer): split normalised text on whitespace and isolate every
// punctuation character as a word of its own.
import { WORD_RE } from './char-classes';

export function splitWords(normalized: string): string[] {
  return normalized.match(WORD_RE) ?? [];
}
