// One flag byte per code point, built once from the generated range tables: a typed-array lookup
// for the Basic Multilingual Plane, binary search over the (few) astral ranges.
import { CJK, CodePointRange, NFD_BARRIERS, NONSPACING_MARKS, PUNCTUATION, REMOVED, WHITESPACE } from './unicode-tables';

export const REMOVED_CHAR = 1;
export const WHITESPACE_CHAR = 2;
export const CJK_CHAR = 4;
export const PUNCTUATION_CHAR = 8;
export const NONSPACING_MARK = 16;
export const NFD_BARRIER = 32;

const bmp = new Uint8Array(0x10000);
/** Astral ranges as [start, end, flag] triples, sorted by start, non-overlapping per flag. */
const astral: number[][] = [];

function add(ranges: readonly CodePointRange[], flag: number): void {
  for (const [a, b] of ranges) {
    for (let cp = a; cp <= Math.min(b, 0xffff); cp++) bmp[cp] |= flag;
    if (b > 0xffff) astral.push([Math.max(a, 0x10000), b, flag]);
  }
}

add(REMOVED, REMOVED_CHAR);
add(WHITESPACE, WHITESPACE_CHAR);
add(CJK, CJK_CHAR);
add(PUNCTUATION, PUNCTUATION_CHAR);
add(NONSPACING_MARKS, NONSPACING_MARK);
add(NFD_BARRIERS, NFD_BARRIER);
// Lone surrogates: a JS string can hold them, a Rust string cannot (transformers refuses such
// input), so clean_text drops them here.
for (let cp = 0xd800; cp <= 0xdfff; cp++) bmp[cp] |= REMOVED_CHAR;

// Merge all astral flags into disjoint segments so one binary search answers everything.
const bounds = [...new Set(astral.flatMap(([a, b]) => [a, b + 1]))].sort((x, y) => x - y);
const segStart = new Uint32Array(bounds.length);
const segFlags = new Uint8Array(bounds.length);
bounds.forEach((start, i) => {
  segStart[i] = start;
  for (const [a, b, flag] of astral) if (start >= a && start <= b) segFlags[i] |= flag;
});

/** The flags of a code point. */
export function charFlags(cp: number): number {
  if (cp < 0x10000) return bmp[cp];
  let lo = 0;
  let hi = segStart.length - 1;
  if (hi < 0 || cp < segStart[0]) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (segStart[mid] <= cp) lo = mid;
    else hi = mid - 1;
  }
  return segFlags[lo];
}

/** The code point at UTF-16 index i (a lone surrogate is returned as itself). */
export function codePointAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
  }
  return c;
}
