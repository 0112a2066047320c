// vocab.txt: one token a line, id = line index (as transformers' load_vocab reads it).

export interface Vocabulary {
  tokenToId: Map<string, number>;
  /** Index = id. */
  idToToken: string[];
}

export function parseVocab(text: string, source = 'vocab.txt'): Vocabulary {
  // Python's text mode reads '\r\n' and '\r' as line ends too; a final newline ends the last line.
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new Error(`${source}: the vocabulary is empty`);
  const tokenToId = new Map<string, number>();
  // A repeated token keeps its last line's id, as a Python dict built line by line would.
  lines.forEach((token, id) => tokenToId.set(token, id));
  return { tokenToId, idToToken: lines };
}
