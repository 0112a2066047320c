// Special tokens written literally in the text ("[SEP]") are matched on the raw text, before any
// normalisation: case-sensitive, anywhere (also inside words: "x[SEP]y"), surrounding spaces left
// alone; at one position the longest token wins. This is how transformers treats its
// non-normalised special added tokens.

/** A piece of plain text, or the id of a special token. */
export type Segment = string | number;

export class SpecialTokenSplitter {
  private readonly tokens: string[];
  private readonly re: RegExp | null;

  constructor(private readonly ids: ReadonlyMap<string, number>) {
    this.tokens = [...ids.keys()].filter((t) => t.length > 0).sort((a, b) => b.length - a.length);
    const escaped = this.tokens.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.re = escaped.length > 0 ? new RegExp(escaped.join('|'), 'g') : null;
  }

  /** Cheap pre-check: false means split() would return the text unchanged. */
  mayMatch(text: string): boolean {
    for (const t of this.tokens) if (text.includes(t)) return true;
    return false;
  }

  split(text: string): Segment[] {
    if (this.re === null) return [text];
    const out: Segment[] = [];
    let last = 0;
    for (const m of text.matchAll(this.re)) {
      const at = m.index ?? 0;
      if (at > last) out.push(text.slice(last, at));
      out.push(this.ids.get(m[0]) as number);
      last = at + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }
}
