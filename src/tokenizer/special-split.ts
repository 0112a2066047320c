// Special tokens written literally in the text ("[SEP]") are matched on the raw text, before any
// normalisation: case-sensitive, anywhere (also inside words: "x[SEP]y"), surrounding spaces left
// alone; at one position the longest token wins. This is how transformers treats its
// non-normalised special added tokens.

export type Segment = { text: string } | { id: number };

export class SpecialTokenSplitter {
  private readonly re: RegExp | null;

  constructor(private readonly ids: ReadonlyMap<string, number>) {
    const tokens = [...ids.keys()].filter((t) => t.length > 0).sort((a, b) => b.length - a.length);
    const escaped = tokens.map((t) => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
    this.re = escaped.length > 0 ? new RegExp(escaped.join('|'), 'g') : null;
  }

  split(text: string): Segment[] {
    if (this.re === null) return [{ text }];
    const out: Segment[] = [];
    let last = 0;
    for (const m of text.matchAll(this.re)) {
      const at = m.index ?? 0;
      if (at > last) out.push({ text: text.slice(last, at) });
      out.push({ id: this.ids.get(m[0]) as number });
      last = at + m[0].length;
    }
    if (last < text.length || out.length === 0) out.push({ text: text.slice(last) });
    return out;
  }
}
